"""qcycle's own apprise schemas: the send handler behind each, and their registration.

``qwecom://``, ``qdingtalk://``, ``qfeishu://``, ``qhook(s)://`` and ``qsink://`` are apprise
custom schemas whose handlers are ours. Why not apprise's ``wecombot://``, ``dingtalk://``,
``feishu://``: those treat HTTP 200 with a non-zero ``errcode`` (e.g. 45009, rate limited) as
delivered, post only to the public hosts, and sleep ~5.5 s between messages.

A channel class names its handler (``class WeComChannel(Channel, handler=send_wecom)``), which
is registered here for each of its schemas; the first channel made registers them with apprise.
Apprise passes a handler's outcome on as a bool, so the adapter leaves the handler's detailed
:class:`~qcycle.notify.results.SendResult` in the current :class:`~qcycle.notify.results.Call`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import apprise

from qcycle.notify.redact import LOGGER_NAME, install_log_redaction
from qcycle.notify.results import CURRENT_CALL, Call, SendResult, failure_from_exception

__all__ = ["HANDLERS", "Handler", "apprise_asset", "ensure_schemas", "register_handler"]

log = logging.getLogger(LOGGER_NAME)

# (title, body, apprise's parsed URL, the current call or None) -> the detailed result
Handler = Callable[[str, str, Mapping[str, Any], "Call | None"], SendResult]

# schema -> (channel kind, handler); looked up at call time, so a replaced entry takes effect.
HANDLERS: dict[str, tuple[str, Handler]] = {}


def register_handler(schema: str, kind: str, send: Handler) -> None:
    """Name ``send`` as the handler of ``schema`` (registered with apprise on first use)."""
    HANDLERS[schema] = (kind, send)


def _apprise_handler(schema: str) -> Callable[..., bool]:
    kind, _ = HANDLERS[schema]

    def handler(
        body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
    ) -> bool:
        call = CURRENT_CALL.get()
        # Looked up at call time so tests and reloads see the current function.
        send = HANDLERS[schema][1]
        try:
            result = send(title or "", body or "", meta, call)
        except Exception as exc:  # a bug of ours: report it, do not let apprise swallow it blind
            log.exception("%s handler failed", kind)
            result = failure_from_exception(kind, exc)
        if call is not None:
            call.result = result
        return result.ok

    handler.__name__ = f"qcycle_{schema}_handler"
    return handler


_schemas_lock = threading.Lock()
_registered: set[str] = set()


def ensure_schemas() -> None:
    """Register our schemas with apprise (deferred: loading apprise's plugins takes ~0.5 s)."""
    with _schemas_lock:
        if _registered.issuperset(HANDLERS):
            return
        install_log_redaction()
        from apprise.decorators import notify
        from apprise.manager_plugins import NotificationManager

        manager = NotificationManager()
        for schema, (kind, _) in HANDLERS.items():
            if schema not in _registered and schema not in manager:
                notify(on=schema, name=f"qcycle {kind}")(_apprise_handler(schema))
            _registered.add(schema)


_asset_lock = threading.Lock()
_asset: apprise.AppriseAsset | None = None


def apprise_asset() -> apprise.AppriseAsset:
    """The one AppriseAsset every channel uses."""
    global _asset
    with _asset_lock:
        if _asset is None:
            # async_mode=False: a one-URL notify then runs in the calling thread, where the
            # context variable holding the per-call result is visible. Memory storage: no
            # apprise cache files on disk.
            _asset = apprise.AppriseAsset(app_id="qcycle", async_mode=False, storage_mode="memory")
        return _asset
