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
from qcycle.notify.parts import past_opening

__all__ = ["cancel_message", "requeue_message", "resolve_unknown"]


def requeue_message(*, session: Session, row: OutboxMessage, actor: str | None = None) -> bool:
    """Queue a dead, failed, cancelled or unknown message again with a fresh attempt count (a long
    message goes on after the posts that arrived; one out when it was held goes again)."""
    if row.status not in ("dead", "failed", "cancelled", "unknown"):
        return False
    before = row.status
    row.status, row.attempts, row.next_attempt_at, row.sending_chars = "queued", 0, None, None
    session.add(row)
    if actor:
        _audit_message(session, row, actor, "outbox.retry", was=before)
    return True


def resolve_unknown(*, session: Session, row: OutboxMessage, delivered: bool, actor: str,
                    note: str = "") -> None:
    """Close a message whose result is unknown, as ops found it: ``delivered`` records it as
    sent (never sent again); otherwise it is queued again for the next delivery. A long message
    whose post that was out arrived, with more of it after that post, is queued for the rest. One
    audit line says who decided what. :class:`StateError` if the message's result is not unknown."""
    if row.status != "unknown":
        raise StateError(f"消息 {crud.short_id(row.id)} 状态为{STATUS_LABELS.get(row.status, row.status)}，"
                         "只有结果未知的消息需要核实处理")
    rest = _after_post_out(row) if delivered else None
    if rest:
        said = f"运维核实长消息的第{row.parts_sent + 1}条已送达，其后{rest}重新排队"
        row.parts_sent, row.sent_chars = row.parts_sent + 1, row.sending_chars or 0
        row.status, row.attempts, row.next_attempt_at = "queued", 0, None
    elif delivered:
        said = "运维核实已送达"
        row.status, row.sent_at = "sent", clock.now()
    else:
        said = "运维核实未送达，重新排队"
        row.status, row.attempts, row.next_attempt_at = "queued", 0, None
    row.sending_chars = None
    row.last_error = f"{said}（{actor}{'：' + note if note else ''}）"
    session.add(row)
    _audit_message(session, row, actor, "outbox.resolve", delivered=delivered, note=note)


def _after_post_out(row: OutboxMessage) -> str | None:
    """What of a long message comes after the post that was out ("余下N个字"), or None: it was the last."""
    if row.sending_chars is None:
        return None
    left = past_opening(row.body, row.sending_chars).strip()
    return f"余下{len(left)}个字" if left else None


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
