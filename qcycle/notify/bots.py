"""What the three group-bot protocols (WeCom, DingTalk, Feishu) share.

Where each service is (a URL's ``?base=``, else the setting ``<kind>_base_url``, e.g.
``QCYCLE_WECOM_BASE_URL``: a gateway in a closed network; its default is the public host), how
a reply is judged (:class:`BotApi`: HTTP 200 with a non-zero result code is a failure, the
services' "too fast" codes are retryable), message text within the byte limits, and signing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from qcycle.errors import DeliveryError
from qcycle.notify.http import post_json, request_timeout, status_failure
from qcycle.notify.ratelimit import retry_after
from qcycle.notify.redact import LOGGER_NAME
from qcycle.notify.results import SendResult
from qcycle.settings import Settings, get_settings

__all__ = [
    "DEFAULT_BASES",
    "BotApi",
    "base_url",
    "hmac_base64",
    "path_segments",
    "plain_text",
    "wants_markdown",
]

log = logging.getLogger(LOGGER_NAME)

# The public hosts: the defaults of the settings ``<kind>_base_url``.
DEFAULT_BASES = {
    kind: Settings.model_fields[f"{kind}_base_url"].default
    for kind in ("wecom", "dingtalk", "feishu")
}


def base_url(kind: str, meta: Mapping[str, Any]) -> str:
    """The service's host: the URL's ``?base=``, else the setting ``<kind>_base_url``."""
    base = meta.get("qsd", {}).get("base") or getattr(get_settings(), f"{kind}_base_url")
    base = str(base).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise DeliveryError(f"{kind} base URL must start with http:// or https://")
    return base


def wants_markdown(meta: Mapping[str, Any]) -> bool:
    return str(meta.get("qsd", {}).get("format", "")).lower() == "markdown"


def path_segments(meta: Mapping[str, Any]) -> list[str]:
    """The URL's path segments, unquoted (DingTalk and Feishu: the signing secret)."""
    return [unquote(s) for s in str(meta.get("fullpath") or "").split("/") if s]


def plain_text(title: str, body: str) -> str:
    return f"{title}\n{body}" if title else body


def hmac_base64(key: bytes, message: bytes) -> str:
    """Base64 of HmacSHA256: both DingTalk's and Feishu's signature (over different inputs)."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


@dataclass(frozen=True)
class BotApi:
    """How one bot service answers: where the code is and which codes mean "too fast"."""

    kind: str
    code_fields: tuple[str, ...]
    message_fields: tuple[str, ...]
    # code -> retry_after seconds (None: let the caller back off)
    retryable_codes: Mapping[int, float | None]

    def post(
        self,
        path: str,
        payload: Mapping[str, Any],
        meta: Mapping[str, Any],
        params: Mapping[str, str] | None = None,
    ) -> SendResult:
        """POST ``payload`` to ``path`` on the service's host and judge the reply."""
        response = post_json(
            self.kind,
            f"{base_url(self.kind, meta)}{path}",
            payload=payload,
            params=params,
            timeout=request_timeout(meta),
        )
        return response if isinstance(response, SendResult) else self.judge(response)

    def judge(self, response: httpx.Response) -> SendResult:
        data = _json_reply(self.kind, response)
        if isinstance(data, SendResult):
            return status_failure(self.kind, response) or data
        code = next((data[f] for f in self.code_fields if f in data), None)
        message = next((str(data[f]) for f in self.message_fields if f in data), "")
        http_failure = status_failure(self.kind, response)
        if code is None:
            if http_failure:
                return http_failure
            return SendResult.failure(
                f"{self.kind}: reply has no result code: "
                f"{json.dumps(data, ensure_ascii=False)[:160]}",
                retryable=False,
                status_code=response.status_code,
            )
        try:
            code = int(code)
        except (TypeError, ValueError):
            code = -999999
        if code == 0 and http_failure is None:
            return SendResult.success(response.status_code)
        if code in self.retryable_codes:
            wait = retry_after(response.headers)
            if wait is None:
                wait = self.retryable_codes[code]
            return SendResult.failure(
                f"{self.kind}: code {code} {message}",
                retryable=True,
                retry_after=wait,
                status_code=response.status_code,
            )
        if http_failure is not None:
            # 429/5xx carrying a JSON body: the status decides, the body explains.
            return SendResult.failure(
                f"{http_failure.error} (code {code} {message})",
                retryable=http_failure.retryable,
                retry_after=http_failure.retry_after,
                status_code=response.status_code,
            )
        return SendResult.failure(
            f"{self.kind}: code {code} {message}",
            retryable=False,
            status_code=response.status_code,
        )


def _json_reply(kind: str, response: httpx.Response) -> dict[str, Any] | SendResult:
    try:
        data = response.json()
    except ValueError:
        return SendResult.failure(
            f"{kind}: HTTP {response.status_code} reply is not JSON: {response.text[:120]}",
            retryable=False,
            status_code=response.status_code,
        )
    if not isinstance(data, dict):
        return SendResult.failure(
            f"{kind}: unexpected reply {str(data)[:120]}",
            retryable=False,
            status_code=response.status_code,
        )
    return data
