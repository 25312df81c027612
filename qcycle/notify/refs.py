"""Channel references: where a channel's URL (and so its secret) comes from.

Configuration and flow parameters never hold a channel URL, only a reference to one:

- ``env:NAME``     the URL is in environment variable ``NAME``;
- ``secret:NAME``  the URL is in the Prefect Secret block ``NAME`` (read lazily: the core
  imports without Prefect);
- ``sink`` or ``sink:FOLDER``  the local file sink (no secret), for development and simulation.

A resolved URL's credentials are registered for redaction before it is returned.
"""

from __future__ import annotations

import os
from typing import cast
from urllib.parse import quote

from qcycle.errors import DeliveryError
from qcycle.notify.redact import register_secret, register_url_secrets

__all__ = ["read_secret_block", "resolve_url"]


def resolve_url(ref: str) -> str:
    """The channel URL a reference points to; :class:`DeliveryError` if it cannot be found.

    Errors name the variable or block, never its value.
    """
    ref = (ref or "").strip()
    kind, sep, name = ref.partition(":")
    if ref == "sink" or (kind == "sink" and sep):
        folder = name.strip()
        return f"qsink://local{quote(_sink_path(folder))}" if folder else "qsink://local"
    if "://" in ref:
        # Someone pasted a URL where a reference belongs: refuse without echoing it.
        raise DeliveryError(
            "渠道引用应为 env:NAME、secret:NAME 或 sink，不能直接写地址；"
            "请把地址放进环境变量或 Prefect Secret 块"
        )
    if not sep or not name.strip():
        # Not echoed: a bare value here may well be a pasted key.
        raise DeliveryError("渠道引用应为 env:NAME、secret:NAME 或 sink")
    name = name.strip()
    if kind == "env":
        value = os.environ.get(name, "").strip()
        if not value:
            raise DeliveryError(f"环境变量 {name}（渠道地址）未设置或为空；设置后用 qcycle outbox retry --all-dead 重新发送")
    elif kind == "secret":
        value = read_secret_block(name).strip()
        if not value:
            raise DeliveryError(f"Prefect Secret 块 {name!r}（渠道地址）为空")
    else:
        raise DeliveryError(f"渠道引用的种类 {kind!r} 不是 env、secret 或 sink")
    register_secret(value)
    register_url_secrets(value)
    return value


def read_secret_block(name: str) -> str:
    """The string value of Prefect Secret block ``name`` (imports Prefect only here)."""
    try:
        from prefect.blocks.system import Secret
    except ImportError as exc:
        raise DeliveryError(
            f"渠道引用 secret:{name} 需要安装 Prefect；请改用 env:NAME"
        ) from exc
    try:
        # Called outside any event loop, Block.load returns the block, not a coroutine.
        block = cast("Secret[str]", Secret.load(name))
    except ValueError:
        # Prefect says "Unable to find block document named ..."; say it our way.
        raise DeliveryError(f"Prefect Secret 块 {name!r} 不存在") from None
    except Exception as exc:  # noqa: BLE001 - server unreachable and the like
        raise DeliveryError(
            f"Prefect Secret 块 {name!r} 读取失败（{type(exc).__name__}）"
        ) from None
    value = block.get()
    if not isinstance(value, str):
        raise DeliveryError(f"Prefect Secret 块 {name!r} 存的不是地址字符串")
    return value


def _sink_path(folder: str) -> str:
    # qsink://local/<absolute folder>: the URL path is the folder.
    return "/" + os.path.abspath(os.path.expanduser(folder)).lstrip("/")
