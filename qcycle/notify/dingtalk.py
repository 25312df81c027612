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
    fit_bytes,
    hmac_base64,
    path_segments,
    plain_text,
    wants_markdown,
)
from qcycle.notify.ratelimit import Rate
from qcycle.notify.results import Call, SendResult

__all__ = ["DINGTALK", "DingTalkChannel", "dingtalk_sign", "send_dingtalk"]

# 130101 "send too fast", 410100 rate-limited (20 a minute per robot), -1 busy.
DINGTALK = BotApi("dingtalk", ("errcode",), ("errmsg",), {130101: 60.0, 410100: 60.0, -1: None})


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
    if wants_markdown(meta):
        text = fit_bytes(f"#### {title}\n\n{body}" if title else body, 20000)
        payload: dict[str, Any] = {
            "msgtype": "markdown",
            "markdown": {"title": title or body.split("\n", 1)[0][:64], "text": text},
        }
    else:
        payload = {"msgtype": "text", "text": {"content": fit_bytes(plain_text(title, body), 20000)}}
    return DINGTALK.post("/robot/send", payload, meta, params=params)


class DingTalkChannel(Channel, handler=send_dingtalk):
    """DingTalk (钉钉) custom robot, optionally signed. ``qdingtalk://TOKEN[/SECRET]``."""

    kind = "dingtalk"
    schemas = ("qdingtalk",)
    default_rate = Rate(20, 60.0)
