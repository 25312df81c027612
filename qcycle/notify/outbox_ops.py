"""What ops do to one outbox message by hand (``qcycle outbox retry / cancel / resolve``):
queue it again, stop it, or close a message whose result is unknown; each writes an audit
line naming who did it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.errors import StateError
from qcycle.models import OUTBOX_STATUS_LABELS as STATUS_LABELS
from qcycle.models import OutboxMessage

__all__ = ["cancel_message", "requeue_message", "resolve_unknown"]


def requeue_message(*, session: Session, row: OutboxMessage, actor: str | None = None) -> bool:
    """Queue a dead, failed, cancelled or unknown message again with a fresh attempt count."""
    if row.status not in ("dead", "failed", "cancelled", "unknown"):
        return False
    before = row.status
    row.status, row.attempts, row.next_attempt_at = "queued", 0, None
    session.add(row)
    if actor:
        _audit_message(session, row, actor, "outbox.retry", was=before)
    return True


def resolve_unknown(*, session: Session, row: OutboxMessage, delivered: bool, actor: str,
                    note: str = "") -> None:
    """Close a message whose result is unknown, as ops found it: ``delivered`` records it as
    sent (never sent again); otherwise it is queued again for the next delivery. One audit
    line says who decided what. :class:`StateError` if the message's result is not unknown."""
    if row.status != "unknown":
        raise StateError(f"消息 {crud.short_id(row.id)} 状态为{STATUS_LABELS.get(row.status, row.status)}，"
                         "只有结果未知的消息需要核实处理")
    said = "运维核实已送达" if delivered else "运维核实未送达，重新排队"
    if delivered:
        row.status, row.sent_at = "sent", clock.now()
    else:
        row.status, row.attempts, row.next_attempt_at = "queued", 0, None
    row.last_error = f"{said}（{actor}{'：' + note if note else ''}）"
    session.add(row)
    _audit_message(session, row, actor, "outbox.resolve", delivered=delivered, note=note)


def _audit_message(session: Session, row: OutboxMessage, actor: str, action: str, **detail: Any) -> None:
    code = crud.round_code(session=session, round_id=row.round_id) if row.round_id is not None else None
    crud.audit(session=session, actor=actor, action=action, round_code=code,
               detail={"message": str(row.id), "unit": row.unit_code, "channel": row.channel,
                       "subject": row.subject, **detail})


def cancel_message(*, session: Session, row: OutboxMessage, actor: str | None = None) -> bool:
    """Stop a message that has not been sent (queued, failed, dead, or unknown: ops found a
    maybe-sent message needs no resend and no record as sent)."""
    if row.status not in ("queued", "failed", "dead", "unknown"):
        return False
    row.status = "cancelled"
    session.add(row)
    if actor:
        _audit_message(session, row, actor, "outbox.cancel")
    return True
