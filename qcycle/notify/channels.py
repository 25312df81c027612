"""Channels: one class per way of reaching people, each configured by one URL.

This module is the registry (:data:`CHANNEL_KINDS`, :func:`channel_for`, :func:`open_channel`)
and the import surface; each channel lives in a module of its own:

- email:    ``mailto://[user:pass@]host[:port]?from=ADDR&mode=insecure|starttls|ssl[&name=NAME]``
            or ``mailtos://user:pass@host?from=ADDR`` (STARTTLS on 587); apprise's own mailto
            plugin over kept connections. :mod:`qcycle.notify.mail`, :mod:`qcycle.notify.smtp`.
            The recipient comes with each message.
- wecom:    ``qwecom://KEY[?format=markdown]``                  :mod:`qcycle.notify.wecom`
- dingtalk: ``qdingtalk://TOKEN[/SECRET][?format=markdown]``    :mod:`qcycle.notify.dingtalk`
- feishu:   ``qfeishu://TOKEN[/SECRET][?format=markdown]``      :mod:`qcycle.notify.feishu`
- webhook:  ``qhook://host[:port]/path`` (http), ``qhooks://...`` (https): JSON POST, 2xx is ok;
            :mod:`qcycle.notify.webhook`
- sink:     ``qsink://local`` (the settings' sink folder) or ``qsink://local/ABSOLUTE/FOLDER``;
            :mod:`qcycle.notify.sink`

The three group bots also take ``?base=http://127.0.0.1:PORT`` (a stand-in server; otherwise the
setting ``<kind>_base_url``, e.g. ``QCYCLE_WECOM_BASE_URL``, whose default is the public host);
bots and webhooks take ``?timeout=SECONDS`` (otherwise ``QCYCLE_NOTIFY_TIMEOUT``); every URL
takes ``?rate=COUNT/SECONDS[/BURST]`` (the per-endpoint limit).

The bots, webhooks and the sink are apprise custom schemas with handlers of ours
(:mod:`qcycle.notify.handlers` says why); the base class is :mod:`qcycle.notify.base`, results
:mod:`qcycle.notify.results`, the shared HTTP plumbing :mod:`qcycle.notify.http` and
:mod:`qcycle.notify.bots`.

``send`` never raises: every failure is a :class:`SendResult` with ``ok=False``, ``retryable``
saying whether trying again later may help, and an ``error`` with secrets masked.
Constructing a channel from a bad URL raises :class:`~qcycle.errors.DeliveryError`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from qcycle.errors import DeliveryError
from qcycle.notify.base import Channel
from qcycle.notify.bots import DEFAULT_BASES
from qcycle.notify.dingtalk import DingTalkChannel
from qcycle.notify.feishu import FeishuChannel
from qcycle.notify.handlers import HANDLERS as _HANDLERS  # noqa: F401 - tests swap a handler here
from qcycle.notify.http import DEFAULT_TIMEOUT
from qcycle.notify.mail import EmailChannel
from qcycle.notify.redact import register_url_secrets
from qcycle.notify.refs import resolve_url
from qcycle.notify.results import SendResult
from qcycle.notify.sink import SinkChannel, label_sink_messages
from qcycle.notify.webhook import WebhookChannel
from qcycle.notify.wecom import WeComChannel

__all__ = [
    "CHANNEL_KINDS",
    "DEFAULT_BASES",
    "DEFAULT_TIMEOUT",
    "Channel",
    "DingTalkChannel",
    "EmailChannel",
    "FeishuChannel",
    "SendResult",
    "SinkChannel",
    "WeComChannel",
    "WebhookChannel",
    "channel_for",
    "label_sink_messages",
    "open_channel",
]

CHANNEL_KINDS: dict[str, type[Channel]] = {
    cls.kind: cls
    for cls in (
        EmailChannel,
        WeComChannel,
        DingTalkChannel,
        FeishuChannel,
        WebhookChannel,
        SinkChannel,
    )
}

_BY_SCHEMA = {schema: cls for cls in CHANNEL_KINDS.values() for schema in cls.schemas}

_APPRISE_NATIVE = {"wecombot", "wxbot", "dingtalk", "feishu", "lark"}


def channel_for(url: str) -> Channel:
    """The channel a resolved URL describes; :class:`DeliveryError` if unsupported or invalid."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    cls = _BY_SCHEMA.get(scheme)
    if cls is None:
        register_url_secrets(url)
        if scheme in _APPRISE_NATIVE:
            raise DeliveryError(
                f"不使用 apprise 自带的 {scheme}://（它把带错误码的 HTTP 200 当作已发送）；"
                f"请写作 qwecom://、qdingtalk:// 或 qfeishu://"
            )
        raise DeliveryError(
            f"不支持渠道地址类型 {scheme!r}；可用："
            f"{'、'.join(sorted(_BY_SCHEMA))}"
        )
    return cls(url)


def open_channel(ref: str) -> Channel:
    """The channel behind a reference (``env:NAME``, ``secret:NAME`` or ``sink``)."""
    return channel_for(resolve_url(ref))
