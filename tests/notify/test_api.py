"""The public surface of the delivery layer, and what it must not drag in."""

from __future__ import annotations

import subprocess
import sys

import pytest

import qcycle.notify
from qcycle.errors import DeliveryError
from qcycle.notify.refs import resolve_url


def test_public_surface() -> None:
    assert set(qcycle.notify.__all__) == {
        "CHANNEL_KINDS", "DEFAULT_LIMITER", "Channel", "DingTalkChannel", "EmailChannel",
        "FeishuChannel", "Message", "Rate", "RateLimiter", "SendResult", "SinkChannel",
        "TokenBucket", "WeComChannel", "WebhookChannel", "backoff", "channel_for",
        "deliver_batch", "install_log_redaction", "open_channel", "redact",
        "register_secret", "resolve_url",
    }  # fmt: skip
    assert set(qcycle.notify.CHANNEL_KINDS) == {
        "email", "wecom", "dingtalk", "feishu", "webhook", "sink",
    }  # fmt: skip


def test_core_imports_without_prefect() -> None:
    code = (
        "import sys, qcycle.notify, qcycle.render, qcycle.notify.deliver; "
        "sys.exit(1 if any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_secret_reference_without_prefect_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prefect.blocks.system", None)  # import now fails
    with pytest.raises(DeliveryError, match="需要安装 Prefect"):
        resolve_url("secret:qcycle-wecom-bot")
