"""Tables of what the system itself does: the outbox of messages, timetable actions carried
out, checkpoints of large imports, and the audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from qcycle.models.columns import LocalDateTime, _ordered_pk, _round_fk, _stamp, _uuid_pk
from qcycle.models.values import ActionOutcome, OutboxStatus

__all__ = [
    "ActionRun",
    "ActionRunBase",
    "AuditLog",
    "AuditLogBase",
    "ImportCheckpoint",
    "ImportCheckpointBase",
    "OutboxMessage",
    "OutboxMessageBase",
]

# -- outbox (messages to send; delivery retries from here) ------------------------------------


class OutboxMessageBase(SQLModel):
    idempotency_key: str = Field(unique=True)
    action: str
    unit_code: str
    channel: str
    logical_date: dt.date
    tag: str | None = None
    subject: str
    body: str = Field(sa_type=Text)


class OutboxMessage(OutboxMessageBase, table=True):
    __tablename__ = "outbox_message"
    # Delivery asks "what is queued and due now" on every pass; status reports count a
    # round's messages by status up to a day (from the index alone). The round's index serves
    # every lookup by round: round_id has no index of its own (one more to write per message).
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),
                      Index("ix_outbox_message_round_status", "round_id", "status", "logical_date"))

    # Time-ordered: a fan-out's thousands of rows land side by side in the primary key (random
    # ids spread each batch over the whole index: 2.5 % of a national year). Ops name a message
    # by the last 8 hex digits, the random ones (crud.short_id).
    id: uuid.UUID = _ordered_pk()
    round_id: uuid.UUID | None = _round_fk(nullable=True)
    status: OutboxStatus = Field("queued", sa_type=AutoString)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = Field(None, sa_type=LocalDateTime)
    # Set just before the request leaves: after a crash, a claimed message without it was
    # never sent (safe to send), one with it may have arrived (held for ops, status unknown).
    started_at: dt.datetime | None = Field(None, sa_type=LocalDateTime)
    # The lease of a ``sending`` row: when it was claimed (real time, not the run's logical
    # time) and by whom ("host:pid:pass"), so a later run, whatever its as-of, takes over a
    # lease whose process is gone, or one older than notify_stale_sending_seconds.
    leased_at: dt.datetime | None = Field(None, sa_type=LocalDateTime)
    leased_by: str | None = None
    last_error: str | None = Field(None, sa_type=Text)
    created_at: dt.datetime = _stamp()
    sent_at: dt.datetime | None = Field(None, sa_type=LocalDateTime)
    # Merged reminders only: what each merged item was rendered from (template, action key,
    # context), so a reminder queued later the same day is merged in and the message re-rendered
    # while it is still queued, and delivery knows the earliest deadline (office-hours rule).
    # SQL NULL on every other row (not JSON null), so "is a reminder" is IS NOT NULL (0022).
    merge_items: list[dict[str, Any]] | None = Field(None, sa_type=JSON(none_as_null=True))
    # Group bots: the row whose post to the group carried this one with the other units' rows
    # (one post addressed to them all); None when it went out alone. Reset at each claim.
    posted_with: uuid.UUID | None = None
    # Bots: a message longer than the service takes goes as several posts in order. How many have
    # arrived and how far into the text past its opening line they reach (a group post's names
    # vary from try to try, what follows them does not): a later try sends the rest, not these
    # again. ``sending_chars``: how far the post out now reaches (ops who find it arrived have the
    # rest sent); None when none is out.
    parts_sent: int = 0
    sent_chars: int = 0
    sending_chars: int | None = None


# -- action runs (timetable actions carried out, so reconciling is idempotent) ----------------


class ActionRunBase(SQLModel):
    action_key: str
    action: str
    due_at: dt.datetime = Field(sa_type=LocalDateTime)
    outcome: ActionOutcome = Field("done", sa_type=AutoString)
    note: str = Field("", sa_type=Text)


class ActionRun(ActionRunBase, table=True):
    __tablename__ = "action_run"
    __table_args__ = (UniqueConstraint("round_id", "action_key"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    done_at: dt.datetime = _stamp()


# -- import checkpoints (a killed import of a large file resumes where it stopped) ----------


class ImportCheckpointBase(SQLModel):
    # sha256 of the file's bytes (with --sheet/--kind when given): the same file resumes,
    # an edited or re-exported one starts over.
    fingerprint: str
    source: str
    rows_done: int = 0  # rows of the file counted and committed, in file order
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    finished: bool = False


class ImportCheckpoint(ImportCheckpointBase, table=True):
    __tablename__ = "import_checkpoint"
    __table_args__ = (UniqueConstraint("round_id", "fingerprint"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    started_at: dt.datetime = _stamp()
    updated_at: dt.datetime = _stamp()


# -- audit log (who did what, append-only) -----------------------------------------------------


class AuditLogBase(SQLModel):
    actor: str = Field(description='"cli:alice", "flow:reconcile", "schedule", ...')
    action: str
    round_code: str | None = Field(None, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AuditLog(AuditLogBase, table=True):
    __tablename__ = "audit_log"

    id: uuid.UUID = _uuid_pk()
    at: dt.datetime = _stamp(index=True)
