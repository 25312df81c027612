"""WeCom (企业微信) group bot: ``qwecom://KEY[?format=markdown]``.

Posts to ``<base>/cgi-bin/webhook/send?key=KEY`` (base: ``?base=`` or ``QCYCLE_WECOM_BASE_URL``).
The service takes text of at most 2,048 bytes, markdown of 4,096: a longer message goes as several
posts (:meth:`qcycle.notify.base.Channel.parts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qcycle.notify.base import Channel
from qcycle.notify.bots import BotApi, plain_text, wants_markdown
from qcycle.notify.parts import Framing
from qcycle.notify.ratelimit import Rate
from qcycle.notify.results import Call, SendResult

__all__ = ["WECOM", "WeComChannel", "send_wecom", "wecom_framing"]

# 45009 "api freq out of limit" (20 a minute per bot), -1 "system busy".
WECOM = BotApi("wecom", ("errcode",), ("errmsg",), {45009: 60.0, -1: None})


def wecom_framing(markdown: bool) -> Framing:
    if markdown:
        return Framing(4096, lambda title, body: f"**{title}**\n{body}" if title else body)
    return Framing(2048, plain_text)


def send_wecom(title: str, body: str, meta: Mapping[str, Any], call: Call | None) -> SendResult:
    key = str(meta.get("host") or "")
    if not key:
        return SendResult.failure("wecom: URL has no bot key", retryable=False)
    markdown = wants_markdown(meta)
    content = wecom_framing(markdown).fit(title, body)
    payload: dict[str, Any] = ({"msgtype": "markdown", "markdown": {"content": content}} if markdown
                               else {"msgtype": "text", "text": {"content": content}})
    return WECOM.post("/cgi-bin/webhook/send", payload, meta, params={"key": key})


class WeComChannel(Channel, handler=send_wecom):
    """WeCom (企业微信) group bot. ``qwecom://KEY``."""

    kind = "wecom"
    schemas = ("qwecom",)
    default_rate = Rate(20, 60.0)

    def framing(self) -> Framing:
        return wecom_framing(self.markdown)
