"""Feishu (飞书) custom bot: ``qfeishu://TOKEN[/SECRET][?format=markdown]``.

Posts to ``<base>/open-apis/bot/v2/hook/TOKEN`` (base: ``?base=`` or
``QCYCLE_FEISHU_BASE_URL``), signed ("签名校验") when the URL carries the bot's secret.
Markdown goes out as an interactive card.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from qcycle.notify.base import Channel
from qcycle.notify.bots import (
    BotApi,
    hmac_base64,
    path_segments,
    plain_text,
    wants_markdown,
)
from qcycle.notify.parts import Framing, json_size
from qcycle.notify.ratelimit import Rate
from qcycle.notify.results import Call, SendResult

__all__ = ["FEISHU", "FeishuChannel", "feishu_framing", "feishu_sign", "send_feishu"]

# 9499 "too many request", 11232 frequency limited (100 a minute, 5 a second per bot).
# Older replies carry StatusCode/StatusMessage instead of code/msg.
FEISHU = BotApi(
    "feishu", ("code", "StatusCode"), ("msg", "StatusMessage"), {9499: 10.0, 11232: 10.0}
)


def feishu_framing(markdown: bool) -> Framing:
    """18,000 bytes of text, or of a card's markdown (its title is the card's header), counted as
    they are in the JSON (json_size): the service takes a request of at most 20 KB, what is around
    the text included."""
    return Framing(18000, (lambda title, body: body) if markdown else plain_text, json_size)


def feishu_sign(secret: str) -> dict[str, str]:
    """The payload fields of a signed request: HmacSHA256(key="timestamp\\nsecret", msg=b""),
    base64, with a timestamp in seconds."""
    timestamp = str(int(time.time()))
    return {"timestamp": timestamp, "sign": hmac_base64(f"{timestamp}\n{secret}".encode(), b"")}


def send_feishu(title: str, body: str, meta: Mapping[str, Any], call: Call | None) -> SendResult:
    token = str(meta.get("host") or "")
    if not token:
        return SendResult.failure("feishu: URL has no hook token", retryable=False)
    segments = path_segments(meta)
    markdown = wants_markdown(meta)
    content = feishu_framing(markdown).fit(title, body)
    payload: dict[str, Any] = {
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": title or "通知"}},
            "elements": [{"tag": "markdown", "content": content}],
        },
    } if markdown else {"msg_type": "text", "content": {"text": content}}
    if segments:
        payload.update(feishu_sign(segments[0]))
    return FEISHU.post(f"/open-apis/bot/v2/hook/{token}", payload, meta)


class FeishuChannel(Channel, handler=send_feishu):
    """Feishu (飞书) custom bot, optionally signed. ``qfeishu://TOKEN[/SECRET]``."""

    kind = "feishu"
    schemas = ("qfeishu",)
    default_rate = Rate(100, 60.0, burst=5)

    def framing(self) -> Framing:
        return feishu_framing(self.markdown)
