"""WeCom (企业微信) group bot: ``qwecom://KEY[?format=markdown]``.

Posts to ``<base>/cgi-bin/webhook/send?key=KEY`` (base: ``?base=`` or ``QCYCLE_WECOM_BASE_URL``).
Text is cut to 2,048 bytes, markdown to 4,096: the service rejects longer messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qcycle.notify.base import Channel
from qcycle.notify.bots import BotApi, fit_bytes, plain_text, wants_markdown
from qcycle.notify.ratelimit import Rate
from qcycle.notify.results import Call, SendResult

__all__ = ["WECOM", "WeComChannel", "send_wecom"]

# 45009 "api freq out of limit" (20 a minute per bot), -1 "system busy".
WECOM = BotApi("wecom", ("errcode",), ("errmsg",), {45009: 60.0, -1: None})


def send_wecom(title: str, body: str, meta: Mapping[str, Any], call: Call | None) -> SendResult:
    key = str(meta.get("host") or "")
    if not key:
        return SendResult.failure("wecom: URL has no bot key", retryable=False)
    if wants_markdown(meta):
        content = fit_bytes(f"**{title}**\n{body}" if title else body, 4096)
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": content}}
    else:
        payload = {"msgtype": "text", "text": {"content": fit_bytes(plain_text(title, body), 2048)}}
    return WECOM.post("/cgi-bin/webhook/send", payload, meta, params={"key": key})


class WeComChannel(Channel, handler=send_wecom):
    """WeCom (企业微信) group bot. ``qwecom://KEY``."""

    kind = "wecom"
    schemas = ("qwecom",)
    default_rate = Rate(20, 60.0)
