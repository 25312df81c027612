"""The httpx plumbing the HTTP channels share (group bots and webhooks).

One pooled client for every thread, the per-request timeout (a URL's ``?timeout=``, else the
setting ``notify_timeout``, i.e. ``QCYCLE_NOTIFY_TIMEOUT``), a JSON POST whose transport
failures come back as results instead of exceptions, and how an HTTP status reads as a result.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx

from qcycle.notify.ratelimit import retry_after
from qcycle.notify.results import SendResult
from qcycle.settings import Settings, get_settings

__all__ = ["DEFAULT_TIMEOUT", "client", "post_json", "request_timeout", "status_failure"]

DEFAULT_TIMEOUT: float = Settings.model_fields["notify_timeout"].default

_client_lock = threading.Lock()
_client: httpx.Client | None = None


def client() -> httpx.Client:
    """The process's pooled client (made on first use)."""
    global _client
    with _client_lock:
        if _client is None:
            # Redirects are not followed: a bot API never redirects, and a redirect could carry
            # the key to another host.
            _client = httpx.Client(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
        return _client


def request_timeout(meta: Mapping[str, Any]) -> float:
    """Seconds per request: the URL's ``?timeout=``, else the setting ``notify_timeout``.

    ``meta`` is apprise's parsed URL (query options under ``qsd``)."""
    raw = meta.get("qsd", {}).get("timeout") or get_settings().notify_timeout
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT


def post_json(
    kind: str,
    url: str,
    *,
    payload: Mapping[str, Any],
    timeout: float,
    params: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response | SendResult:
    """POST JSON; transport failures become retryable results (the message may or may not
    have arrived after a read timeout; bots have no idempotency key, so a retry can duplicate)."""
    try:
        return client().post(
            url,
            json=payload,
            params=params,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )
    except httpx.TimeoutException as exc:
        return SendResult.failure(
            f"{kind}: no reply within {timeout:g}s ({type(exc).__name__})", retryable=True
        )
    except httpx.TransportError as exc:
        return SendResult.failure(f"{kind}: {type(exc).__name__}: {exc}", retryable=True)


def status_failure(kind: str, response: httpx.Response) -> SendResult | None:
    """A result for non-2xx replies (429 and 5xx retryable), None for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = response.text[:200].replace("\n", " ")
    if status == 429:
        return SendResult.failure(
            f"{kind}: HTTP 429 too many requests {detail}",
            retryable=True,
            retry_after=retry_after(response.headers),
            status_code=status,
        )
    if status >= 500:
        return SendResult.failure(
            f"{kind}: HTTP {status} {detail}",
            retryable=True,
            retry_after=retry_after(response.headers),
            status_code=status,
        )
    return SendResult.failure(
        f"{kind}: HTTP {status} {detail}", retryable=False, status_code=status
    )
