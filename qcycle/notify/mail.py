"""The email channel: apprise's mailto plugin over kept SMTP connections.

``mailto://[user:pass@]host[:port]?from=ADDR&mode=insecure|starttls|ssl[&name=NAME]`` or
``mailtos://user:pass@host?from=ADDR`` (STARTTLS on 587). The recipient comes with each
message. The transport (kept connections, one SSL context per process) is
:mod:`qcycle.notify.smtp`; this module builds each message's URL, refuses bad recipients before
sending, and reads the outcome from what the plugin logged (it reports SMTP errors only there).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from qcycle.notify.base import Channel
from qcycle.notify.handlers import apprise_asset
from qcycle.notify.ratelimit import Rate
from qcycle.notify.redact import LOGGER_NAME, redact
from qcycle.notify.results import Call, SendResult

__all__ = ["EmailChannel"]

log = logging.getLogger(LOGGER_NAME)

_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
# SMTP reply codes as smtplib's exceptions print them: (550, b'...') or {'a@b': (550, b'...')}.
_SMTP_CODE = re.compile(r"\((\d{3}),")


class EmailChannel(Channel):
    """Email through apprise's mailto plugin; the recipient comes with each message.

    ``mailto://127.0.0.1:2525?from=qcycle@example.gov.cn&mode=insecure`` reaches a plain SMTP
    server; add ``user:password@`` for AUTH (over plain text only if the server allows it);
    ``mailtos://user:password@smtp.example.gov.cn?from=...`` uses STARTTLS on 587
    (``&mode=ssl`` for 465). Messages are text/plain unless the URL says ``format=html``.
    Connections stay open between sends (:class:`~qcycle.notify.smtp.KeptEmail`) until the
    delivery batch ends.
    """

    kind = "email"
    schemas = ("mailto", "mailtos")
    default_rate = Rate(300, 60.0)
    parallel = 4
    reuse_sender = False  # the recipient is part of the URL, and _prepare captures each call's log
    _body_format = "text"

    def _endpoint_id(self, parts: Any) -> str:
        query = dict(parse_qsl(parts.query))
        host = query.get("smtp") or parts.hostname or ""
        return f"{host}:{parts.port or ''}"

    def _apprise_url(self, recipient: str | None) -> str:
        parts = urlsplit(self._url())
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        path = parts.path
        if recipient:
            # The message's recipient replaces any fixed one in the URL (path or to=).
            query = [(k, v) for k, v in query if k.lower() != "to"]
            query.append(("to", recipient))
            path = ""
        if not any(k.lower() == "format" for k, _ in query):
            query.append(("format", "text"))
        if not any(k.lower() == "tz" for k, _ in query):
            query.append(("tz", "Asia/Shanghai"))  # the Date header in local time
        return urlunsplit(parts._replace(path=path, query=urlencode(query)))

    def _has_fixed_recipient(self) -> bool:
        parts = urlsplit(self._url())
        return bool(parts.path.strip("/")) or any(
            k.lower() == "to" for k, _ in parse_qsl(parts.query)
        )

    def _refuse(self, recipient: str | None) -> SendResult | None:
        if not recipient:
            if self._has_fixed_recipient():
                return None
            # Without one, apprise would mail the sender itself.
            return SendResult.failure("email: message has no recipient address", retryable=False)
        addresses = [a.strip() for a in re.split(r"[,;]", recipient) if a.strip()]
        bad = [a for a in addresses if not _ADDRESS.match(a)]
        if bad or not addresses:
            return SendResult.failure(
                f"email: invalid recipient address {', '.join(bad) or recipient!r}", retryable=False
            )
        return None

    def _instantiate(self, url: str) -> Any:
        # Apprise's own URL parsing and message building, over kept SMTP connections: its
        # plugin opens a connection and builds an SSL context per message (~25 messages/s).
        # Imported here, not at the top: apprise's email plugin takes ~0.2 s to load, and only
        # an email channel needs it.
        from apprise.plugins import url_to_dict

        from qcycle.notify.smtp import KeptEmail

        asset = apprise_asset()
        results = url_to_dict(url, secure_logging=asset.secure_logging)
        if not results:
            return None
        results.update(tag=set(), asset=asset)
        try:
            plugin = KeptEmail(**results)
        except Exception as exc:  # noqa: BLE001 - apprise's instantiate treats these as invalid
            log.error("could not load the email URL: %s", redact(str(exc)))
            return None
        return plugin if plugin.enabled else None

    def close(self) -> None:
        from qcycle.notify.smtp import close_kept_connections

        close_kept_connections()

    def _prepare(self, plugin: Any, call: Call) -> None:
        plugin.logger = _RecordingLogger(plugin.logger, call.notes)
        plugin.request_rate_per_sec = 0  # our limiter paces; apprise would sleep 5.5 s

    def _unexplained_failure(self, call: Call) -> SendResult:
        notes = call.explain()
        codes = _SMTP_CODE.findall(notes)
        if "no Email recipients" in notes:
            return SendResult.failure(f"email: {notes}", retryable=False)
        if codes:
            code = int(codes[-1])
            # 4xx: try again later; 5xx: the server refuses (bad address, bad login, policy).
            return SendResult.failure(
                f"email: SMTP {code}: {notes}", retryable=400 <= code < 500, status_code=code
            )
        return SendResult.failure(f"email: {notes}", retryable=True)


class _RecordingLogger:
    """Stands in for an apprise plugin's ``logger``: notes each message for the current call
    (the mailto plugin reports SMTP errors only by logging them), then logs it as usual."""

    _LEVELS = frozenset(
        {"trace", "debug", "info", "warning", "error", "exception", "critical", "deprecate"}
    )

    def __init__(self, target: logging.Logger, notes: list[tuple[str, str]]) -> None:
        self._target = target
        self._notes = notes

    def _note(self, level: str, msg: object, args: tuple[Any, ...]) -> None:
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = str(msg)
        self._notes.append((level, redact(text)))

    def __getattr__(self, name: str) -> Any:
        target_method = getattr(self._target, name)
        if name not in self._LEVELS:
            return target_method

        def method(msg: object, *args: Any, **kwargs: Any) -> None:
            self._note(name, msg, args)
            target_method(msg, *args, **kwargs)

        return method
