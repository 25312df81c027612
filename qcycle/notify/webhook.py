"""Generic webhook: any HTTP endpoint taking a JSON POST; 2xx is success.

``qhook://[user:pass@]host[:port]/path[?query]`` posts over http, ``qhooks://`` over https.
The body is ``{"title", "body", "tag", "message_id", "recipient"}``; the URL's own query goes
along, except the options that are ours or apprise's. ``?timeout=`` (else
``QCYCLE_NOTIFY_TIMEOUT``) bounds each request; user and password become HTTP basic auth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qcycle.notify.base import Channel
from qcycle.notify.http import post_json, request_timeout, status_failure
from qcycle.notify.results import Call, SendResult

__all__ = ["WebhookChannel", "send_webhook"]

# Query options that are ours or apprise's, not the webhook's own.
_RESERVED_QUERY = {
    "timeout",
    "rate",
    "format",
    "overflow",
    "verify",
    "cto",
    "rto",
    "retry",
    "wait",
    "optional",
    "tz",
    "emojis",
    "tag",
    "store",
    "base",
}


def send_webhook(title: str, body: str, meta: Mapping[str, Any], call: Call | None) -> SendResult:
    scheme = "https" if meta.get("schema") == "qhooks" else "http"
    host = meta.get("host")
    if not host:
        return SendResult.failure("webhook: URL has no host", retryable=False)
    port = f":{meta['port']}" if meta.get("port") else ""
    query = {k: v for k, v in meta.get("qsd", {}).items() if k not in _RESERVED_QUERY}
    target = f"{scheme}://{host}{port}{meta.get('fullpath') or '/'}"
    auth = None
    if meta.get("user"):
        auth = (str(meta["user"]), str(meta.get("password") or ""))
    payload = {
        "title": title,
        "body": body,
        "tag": call.tag if call else None,
        "message_id": call.message_id if call else None,
        "recipient": call.recipient if call else None,
    }
    response = post_json(
        "webhook", target, payload=payload, params=query or None, auth=auth,
        timeout=request_timeout(meta),
    )
    if isinstance(response, SendResult):
        return response
    return status_failure("webhook", response) or SendResult.success(response.status_code)


class WebhookChannel(Channel, handler=send_webhook):
    """Any HTTP endpoint taking a JSON POST; 2xx is success. ``qhook://`` / ``qhooks://``."""

    kind = "webhook"
    schemas = ("qhook", "qhooks")
    parallel = 4
