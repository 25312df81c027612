"""The outbox: every message is written to the database first, then delivered.

Queuing is idempotent on a key of (round, action, unit, channel, logical date), so the same
message queued twice is stored once. Delivery claims due rows, sends them through
:func:`qcycle.notify.deliver.deliver_batch` (bounded concurrency, per-endpoint limits) and
records the truth: sent, failed (retried later with exponential back-off and jitter), or
dead (after the last attempt, or at once for an error that retrying cannot fix).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, or_, select

from qcycle import clock, crud, db
from qcycle.notify.deliver import Message, deliver_batch
from qcycle.notify.ratelimit import backoff
from qcycle.render import render_message
from qcycle.schema import Programme

__all__ = ["DeliveryReport", "queue_drafts", "deliver_due", "idempotency_key", "MAX_ATTEMPTS"]

MAX_ATTEMPTS = 5
# A row left in "sending" this long ago belongs to a run that died; it is tried again.
STALE_SENDING = dt.timedelta(minutes=10)


def idempotency_key(round_code: str, action_key: str, unit: str, channel: str, day: dt.date) -> str:
    return f"{round_code}|{action_key}|{unit}|{channel}|{day.isoformat()}"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    by_channel: dict[str, Counter] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        return f"发送成功 {self.sent} 条，待重试 {self.failed} 条，最终失败 {self.dead} 条"

    def as_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "dead": self.dead,
                "by_channel": {k: dict(v) for k, v in self.by_channel.items()}}


def queue_drafts(*, session: Session, programme: Programme, round_id: uuid.UUID,
                 drafts: Iterable, template_dir: Path | None = None) -> int:
    """Render each draft once and queue it on every channel of its unit; returns how many are new."""
    code = programme.round.code
    channels = {c.name: c for c in programme.channels}
    new = 0
    override = template_dir if template_dir and template_dir.is_dir() else None
    for d in drafts:
        unit = programme.unit(d.unit)
        subject = body = None
        for name in unit.channels:
            key = idempotency_key(code, d.action_key, d.unit, name, d.logical_date)
            if subject is None:
                subject, body = render_message(d.template, d.context, override)
            _, created = crud.enqueue_message(
                session=session, idempotency_key=key, action=d.action_key, unit_code=d.unit,
                channel=name, logical_date=d.logical_date, subject=subject, body=body,
                round_id=round_id, tag=",".join(channels[name].tags) or None,
            )
            new += created
    return new


def _claim(session: Session, round_id: uuid.UUID | None, now: dt.datetime, limit: int) -> list:
    from qcycle.models import OutboxMessage

    query = select(OutboxMessage).where(
        or_(
            col(OutboxMessage.status).in_(["queued", "failed"]),
            (OutboxMessage.status == "sending") & (col(OutboxMessage.next_attempt_at) <= now - STALE_SENDING),
        ),
        or_(col(OutboxMessage.next_attempt_at).is_(None), col(OutboxMessage.next_attempt_at) <= now),
    ).order_by(OutboxMessage.created_at).limit(limit)
    if round_id is not None:
        query = query.where(OutboxMessage.round_id == round_id)
    rows = list(session.exec(query).all())
    for row in rows:
        row.status = "sending"
        row.attempts += 1
        row.next_attempt_at = now
        session.add(row)
    session.flush()
    return rows


def deliver_due(*, programme: Programme, round_id: uuid.UUID | None, now: dt.datetime | None = None,
                channel_override: str | None = None, batch: int = 2000, max_workers: int = 8) -> DeliveryReport:
    """Deliver every due message of a round; never raises for a failing channel."""
    now = now or clock.now()
    report = DeliveryReport()
    refs = {c.name: c.url for c in programme.channels}
    emails = {u.code: u.email for u in programme.units}
    while True:
        with db.session_scope() as session:
            rows = _claim(session, round_id, now, batch)
            claimed = [(r.id, r.channel, r.unit_code, r.subject, r.body, r.tag, r.attempts) for r in rows]
        if not claimed:
            return report
        messages = [
            Message(id=str(rid), channel=channel_override or refs.get(ch, "sink"), subject=subj, body=body,
                    recipient=emails.get(unit), tag=tag)
            for rid, ch, unit, subj, body, tag, _ in claimed
        ]
        results = dict(deliver_batch(messages, max_workers=max_workers))
        with db.session_scope() as session:
            from qcycle.models import OutboxMessage

            for rid, ch, unit, subj, _body, _tag, attempts in claimed:
                row = session.get(OutboxMessage, rid)
                result = results[str(rid)]
                stats = report.by_channel.setdefault(ch, Counter())
                if result.ok:
                    row.status, row.sent_at, row.last_error = "sent", clock.now(), None
                    report.sent += 1
                    stats["sent"] += 1
                elif result.retryable and attempts < MAX_ATTEMPTS:
                    wait = max(result.retry_after or 0.0, backoff(attempts, base=60.0, cap=3600.0))
                    row.status, row.last_error = "failed", result.error
                    row.next_attempt_at = now + dt.timedelta(seconds=wait)
                    report.failed += 1
                    stats["failed"] += 1
                else:
                    row.status, row.last_error = "dead", result.error
                    report.dead += 1
                    stats["dead"] += 1
                    report.failures.append({"unit": unit, "channel": ch, "subject": subj,
                                            "attempts": attempts, "error": result.error})
                session.add(row)
        if len(claimed) < batch:
            return report
