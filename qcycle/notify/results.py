"""Send results: what one send came to, and the per-call holder a handler reports into.

Apprise passes a handler's outcome on as a bool, so each of our handlers leaves its detailed
:class:`SendResult` in the :class:`Call` found through :data:`CURRENT_CALL` (a one-URL apprise
object calls the handler in the caller's thread, where the context variable is visible).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from qcycle.notify.redact import redact

__all__ = ["CURRENT_CALL", "Call", "SendResult", "failure_from_exception"]


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send. ``error`` is already redacted."""

    ok: bool
    retryable: bool = False
    error: str | None = None
    retry_after: float | None = None
    status_code: int | None = None
    # False when the message was held back unsent (time budget spent, endpoint rate-limited):
    # not an attempt. Held back because its endpoint is down, it is one (a failed delivery).
    attempted: bool = True
    # Written on this machine (the sink): nothing was in flight over a network.
    local: bool = False
    # A long bot message's posts that arrived before this failure, and how far into its text past
    # the opening line they reach (``Message.parts_sent``, ``sent_chars`` next time).
    parts_sent: int = 0
    sent_chars: int = 0

    @classmethod
    def success(cls, status_code: int | None = None) -> SendResult:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def failure(
        cls,
        error: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
        attempted: bool = True,
    ) -> SendResult:
        return cls(
            ok=False,
            retryable=retryable,
            error=redact(error),
            retry_after=retry_after,
            status_code=status_code,
            attempted=attempted,
        )


def failure_from_exception(kind: str, exc: Exception) -> SendResult:
    """The result for an exception caught where a send must not raise: a bug of ours or a
    broken URL, which trying again will not fix."""
    return SendResult.failure(f"{kind}: {type(exc).__name__}: {exc}", retryable=False)


@dataclass
class Call:
    """What one send knows beyond apprise's (body, title), and where its handler reports."""

    kind: str
    message_id: str | None = None
    tag: str | None = None
    recipient: str | None = None
    result: SendResult | None = None
    # (level name, redacted text) of what the apprise plugin logged during the call
    notes: list[tuple[str, str]] = field(default_factory=list)

    def explain(self) -> str:
        """The telling part of what apprise logged: warnings and the exception it swallowed."""
        telling = [
            text
            for level, text in self.notes
            if level in {"warning", "error", "exception", "critical"} or "Exception" in text
        ]
        return " | ".join(telling[-3:]) or "no detail"


CURRENT_CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "qcycle_notify_call", default=None
)
