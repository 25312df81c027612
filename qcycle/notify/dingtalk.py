"""DingTalk (钉钉) custom robot: ``qdingtalk://TOKEN[/SECRET][?format=markdown]``.

Posts to ``<base>/robot/send?access_token=TOKEN`` (base: ``?base=`` or
``QCYCLE_DINGTALK_BASE_URL``), signed ("加签") when the URL carries the robot's secret.
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

__all__ = ["DINGTALK", "DingTalkChannel", "dingtalk_framing", "dingtalk_sign", "send_dingtalk"]

# 130101 "send too fast", 410100 rate-limited (20 a minute per robot), -1 busy.
DINGTALK = BotApi("dingtalk", ("errcode",), ("errmsg",), {130101: 60.0, 410100: 60.0, -1: None})


# The service takes a request body of at most 20,000 bytes: the text counted as it is in the JSON
# (json_size: line breaks and quotes escaped), with room for what is around it (a markdown title).
DINGTALK_TEXT_BYTES = 19000


def dingtalk_framing(markdown: bool) -> Framing:
    if markdown:
        return Framing(DINGTALK_TEXT_BYTES, lambda title, body: f"#### {title}\n\n{body}" if title else body,
                       json_size)
    return Framing(DINGTALK_TEXT_BYTES, plain_text, json_size)


def dingtalk_sign(secret: str) -> dict[str, str]:
    """The query of a signed request: HmacSHA256(key=secret, msg="timestamp\\nsecret"), base64,
    with a millisecond timestamp."""
    # Real wall time on purpose: the virtual clock would make the signature stale.
    timestamp = str(round(time.time() * 1000))
    sign = hmac_base64(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode())
    return {"timestamp": timestamp, "sign": sign}


def send_dingtalk(
    title: str, body: str, meta: Mapping[str, Any], call: Call | None
) -> SendResult:
    token = str(meta.get("host") or "")
    if not token:
        return SendResult.failure("dingtalk: URL has no access token", retryable=False)
    segments = path_segments(meta)
    params = {"access_token": token}
    if segments:
        params.update(dingtalk_sign(segments[0]))
    markdown = wants_markdown(meta)
    text = dingtalk_framing(markdown).fit(title, body)
    payload: dict[str, Any] = (
        {"msgtype": "markdown", "markdown": {"title": title or body.split("\n", 1)[0][:64], "text": text}}
        if markdown else {"msgtype": "text", "text": {"content": text}})
    return DINGTALK.post("/robot/send", payload, meta, params=params)


class DingTalkChannel(Channel, handler=send_dingtalk):
    """DingTalk (钉钉) custom robot, optionally signed. ``qdingtalk://TOKEN[/SECRET]``."""

    kind = "dingtalk"
    schemas = ("qdingtalk",)
    default_rate = Rate(20, 60.0)

    def framing(self) -> Framing:
        return dingtalk_framing(self.markdown)
