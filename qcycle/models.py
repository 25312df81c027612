"""SQLModel tables: one ``XBase`` (the fields a caller supplies, validated when built
with ``model_validate``) and one ``X(XBase, table=True)`` (keys, timestamps, constraints)
per table, grouped under one-line comments.

Codes (units, items, stages) are plain strings, not foreign keys to code tables: a
programme file is the source of truth for codes, the database only records what happened.
Every timestamp is a :class:`LocalDateTime`: timezone-aware in, Asia/Shanghai out.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import JSON, DateTime, Index, Interval, Text, UniqueConstraint
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from qcycle.clock import TZ, now

__all__ = [
    "ACTION_OUTCOMES",
    "DECISION_OUTCOMES",
    "OUTBOX_STATUSES",
    "OUTBOX_STATUS_LABELS",
    "SUBMISSION_KINDS",
    "SUBMISSION_STATUSES",
    "ActionOutcome",
    "ActionRun",
    "ActionRunBase",
    "AssessmentResult",
    "AssessmentResultBase",
    "AuditLog",
    "AuditLogBase",
    "Decision",
    "DecisionBase",
    "DecisionOutcome",
    "ImportCheckpoint",
    "ImportCheckpointBase",
    "ListItem",
    "ListItemBase",
    "LocalDateTime",
    "OutboxMessage",
    "OutboxMessageBase",
    "OutboxStatus",
    "ProgrammeRound",
    "ProgrammeRoundBase",
    "QuarantinedRecord",
    "QuarantinedRecordBase",
    "Review",
    "ReviewBase",
    "RevisionFate",
    "RoundAmendment",
    "RoundAmendmentBase",
    "Submission",
    "SubmissionBase",
    "SubmissionKind",
    "SubmissionRevision",
    "SubmissionStatus",
    "Unit",
    "UnitBase",
    "UnitExtension",
    "UnitExtensionBase",
    "identity_text",
]

# Named constraints, so later migrations (SQLite batch mode included) can drop them by name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class LocalDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, Asia/Shanghai datetimes out, on every database.

    PostgreSQL keeps the instant (``timestamptz``) and answers in the session's zone;
    SQLite keeps only the wall-clock text, so we always write local wall-clock time there
    (what :func:`qcycle.clock.to_local` assumes). Naive values are refused: their zone is
    a guess. Migrations render this as ``sa.DateTime(timezone=True)`` (see env.py).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "LocalDateTime()"

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # Keep `column - timedelta` etc. working; compare datetimes through this type.
        if isinstance(value, dt.timedelta):
            return Interval()
        return self

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: use qcycle.clock.now() or "
                "qcycle.clock.at(day, time) for timezone-aware Asia/Shanghai times"
            )
        return value.astimezone(TZ)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.utcoffset() is None:  # SQLite: the local wall-clock time we wrote
            return value.replace(tzinfo=TZ)
        return value.astimezone(TZ)


# The allowed values of the status-like string columns (stored as text, checked in Base models).
# Built-in kinds; a programme file may declare more (``submission_kinds``), so the column is text.
SubmissionKind = str
BUILTIN_SUBMISSION_KINDS = (
    "application",
    "progress_report",
    "evaluation_request",
    "self_evaluation",
    "rectification_report",
    "objection",
    "score",
)
SubmissionStatus = Literal["accepted", "rejected_late", "withdrawn"]
DecisionOutcome = Literal["approved", "rejected", "confirmed", "returned"]
OutboxStatus = Literal["queued", "sending", "sent", "failed", "dead", "cancelled", "unknown"]
ActionOutcome = Literal["done", "skipped", "failed"]

SUBMISSION_KINDS: tuple[str, ...] = BUILTIN_SUBMISSION_KINDS
SUBMISSION_STATUSES: tuple[str, ...] = SubmissionStatus.__args__
DECISION_OUTCOMES: tuple[str, ...] = DecisionOutcome.__args__
OUTBOX_STATUSES: tuple[str, ...] = OutboxStatus.__args__
OUTBOX_STATUS_LABELS = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "待重试",
                        "dead": "已停止重试", "cancelled": "已取消", "unknown": "结果未知"}
ACTION_OUTCOMES: tuple[str, ...] = ActionOutcome.__args__


def _uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def _round_fk(*, nullable: bool = False, index: bool = False) -> Any:
    # Most tables lead a unique constraint with round_id, whose index serves lookups by round.
    return Field(
        default=None if nullable else ...,
        foreign_key="programme_round.id",
        index=index,
        nullable=nullable,
    )


def _stamp(**kwargs: Any) -> Any:
    """A LocalDateTime column defaulting to the clock's now (virtual time in simulations)."""
    return Field(default_factory=now, sa_type=LocalDateTime, **kwargs)


# -- programme rounds ------------------------------------------------------------------------


class ProgrammeRoundBase(SQLModel):
    code: str = Field(unique=True, description="e.g. 2023-zhiliang-jiebang")
    name: str
    issuer_code: str = Field(index=True)
    config_path: str
    config_sha256: str = Field(min_length=64, max_length=64)
    first_year: int
    last_year: int
    current_stage: str | None = None
    programme: str | None = Field(None, index=True, description="programme family, e.g. 区政府质量奖")
    # The file as the round last ran on it: the base a change is shown against (plan --diff).
    config_text: str | None = Field(None, sa_type=Text)


class ProgrammeRound(ProgrammeRoundBase, table=True):
    __tablename__ = "programme_round"

    id: uuid.UUID = _uuid_pk()
    created_at: dt.datetime = _stamp()
    updated_at: dt.datetime = _stamp(sa_column_kwargs={"onupdate": now})


class RoundAmendmentBase(SQLModel):
    actor: str = Field(description='"cli:alice" (qcycle amend), or the command that found the file changed')
    reason: str = Field("", sa_type=Text)
    sha_before: str
    sha_after: str
    config_before: str | None = Field(None, sa_type=Text)  # None: the round ran before versions were kept
    config_after: str = Field(sa_type=Text)
    changes: list[str] = Field(default_factory=list, sa_type=JSON)  # the plan diff, one line each


class RoundAmendment(RoundAmendmentBase, table=True):
    """A change to a running round's programme file (修改方案): who, when, why, what it did."""

    __tablename__ = "round_amendment"

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk(index=True)
    recorded_at: dt.datetime = _stamp()


class UnitExtensionBase(SQLModel):
    stage: str
    unit_code: str
    period: str = ""  # "" for a stage without periods (a unique key cannot hold NULLs alike)
    deadline: dt.datetime = Field(sa_type=LocalDateTime)  # the unit's own last moment to hand in
    reason: str = Field("", sa_type=Text)
    actor: str


class UnitExtension(UnitExtensionBase, table=True):
    """A unit's own deadline for one window (延期申请, granted by ops): its reminders, lateness
    and overdue notice follow it; the stage's deadline no longer applies to that unit."""

    __tablename__ = "unit_extension"
    __table_args__ = (UniqueConstraint("round_id", "stage", "unit_code", "period"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    granted_at: dt.datetime = _stamp()


# -- units (责任单位) ---------------------------------------------------------------------------


class UnitBase(SQLModel):
    code: str
    name: str
    level: str
    parent_code: str | None = None


class Unit(UnitBase, table=True):
    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("round_id", "code"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()


# -- list items (榜单项目) ---------------------------------------------------------------------


class ListItemBase(SQLModel):
    category_code: str = Field(index=True)
    code: str
    name: str


class ListItem(ListItemBase, table=True):
    __tablename__ = "list_item"
    __table_args__ = (UniqueConstraint("round_id", "code"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()


# -- submissions (揭榜书, 进展报告, 自评, 整改, 异议, 打分) -------------------------------------------------


class SubmissionBase(SQLModel):
    kind: SubmissionKind = Field(sa_type=AutoString)
    stage: str | None = Field(None, description="the stage it was handed in at (two stages may take one kind)")
    unit_code: str
    category_code: str | None = None
    item_code: str | None = None
    period: str | None = Field(None, description='e.g. "2023-07" for a mid-term check')
    external_id: str | None = None
    fingerprint: str = Field(description="sha256 of the normalised record")
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    submitted_at: dt.datetime = Field(sa_type=LocalDateTime)
    source: str = Field(description='"import:<path>", "http:<url>" or "simulate"')
    late: bool = False
    status: SubmissionStatus = Field("accepted", sa_type=AutoString)


class Submission(SubmissionBase, table=True):
    __tablename__ = "submission"
    # One record pulled twice is stored once; one key (the stage's identity) is one record,
    # whose earlier versions are kept in submission_revision.
    __table_args__ = (
        UniqueConstraint("round_id", "fingerprint"),
        UniqueConstraint("round_id", "identity"),
        Index("ix_submission_round_kind_unit", "round_id", "kind", "unit_code"),
        # Covers "which units handed in at this stage (period, category)": answered from the index,
        # already in unit order, so the planner prefers it to the one above for DISTINCT units.
        Index("ix_submission_handed_in", "round_id", "stage", "status", "unit_code", "period", "category_code",
              "item_code"),
    )

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    identity: str = Field(description='the stage and its key\'s values, e.g. ["application","510100","zlcx-01",null]')
    received_at: dt.datetime = _stamp()
    revisions: int = Field(0, description="how many earlier versions submission_revision keeps")


def identity_text(stage: str, values: Sequence[Any]) -> str:
    """``submission.identity``: the stage and its key's values, as compact JSON (readable in
    exports, and one text per key whatever the values hold)."""
    return json.dumps([stage, *(None if v is None else str(v) for v in values)],
                      ensure_ascii=False, separators=(",", ":"))


RevisionFate = Literal["superseded", "older", "refused_late"]


class SubmissionRevision(SubmissionBase, table=True):
    """A version of a submission that is not (or no longer) the one in force: replaced by a
    later version, received after a later one, or refused as a late change."""

    __tablename__ = "submission_revision"
    __table_args__ = (Index("ix_submission_revision_round_fingerprint", "round_id", "fingerprint"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    submission_id: uuid.UUID = Field(foreign_key="submission.id", index=True)
    fate: RevisionFate = Field(sa_type=AutoString)
    received_at: dt.datetime = Field(sa_type=LocalDateTime)
    recorded_at: dt.datetime = _stamp()


# -- quarantine (records that could not be read; kept verbatim) --------------------------------


class QuarantinedRecordBase(SQLModel):
    source: str
    raw: str = Field(sa_type=Text, description="the record exactly as received")
    reason: str = Field(sa_type=Text, description="why it was set aside, in Chinese")
    fingerprint: str = Field(unique=True)
    record: dict[str, Any] | None = Field(
        None, sa_type=JSON, description="a conflict: the record as read, which ops may put in force")
    resolved_at: dt.datetime | None = Field(None, sa_type=LocalDateTime)
    resolved_by: str | None = None


class QuarantinedRecord(QuarantinedRecordBase, table=True):
    __tablename__ = "quarantined_record"

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID | None = _round_fk(nullable=True, index=True)
    received_at: dt.datetime = _stamp()


# -- reviews (评审打分, one value per reviewer and component) --------------------------------------


class ReviewBase(SQLModel):
    unit_code: str
    reviewer: str
    component_code: str
    value: float


class Review(ReviewBase, table=True):
    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("round_id", "unit_code", "reviewer", "component_code"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    submitted_at: dt.datetime = _stamp()


# -- decisions (审核, 评价确认: a human says yes or no) ----------------------------------------------


class DecisionBase(SQLModel):
    stage: str
    subject: str = Field(description='a unit code or "unit:item"')
    outcome: DecisionOutcome = Field(sa_type=AutoString)
    decided_by: str
    note: str = Field("", sa_type=Text)


class Decision(DecisionBase, table=True):
    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("round_id", "stage", "subject"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    decided_at: dt.datetime = _stamp()


# -- assessment results (考核结果) ---------------------------------------------------------------


class AssessmentResultBase(SQLModel):
    # The assessment stage that produced the result: a round may assess every year (P3).
    stage: str = Field("", max_length=64)
    unit_code: str
    total: float
    components: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    bonus: float = 0.0
    deduction: float = 0.0
    veto: str | None = Field(None, description="code of the veto that applied, if any")
    grade: str
    rank: int


class AssessmentResult(AssessmentResultBase, table=True):
    __tablename__ = "assessment_result"
    __table_args__ = (UniqueConstraint("round_id", "stage", "unit_code"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    computed_at: dt.datetime = _stamp()


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
    # round's messages by status.
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),
                      Index("ix_outbox_message_round_status", "round_id", "status"))

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID | None = _round_fk(nullable=True, index=True)
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
    merge_items: list[dict[str, Any]] | None = Field(None, sa_type=JSON)


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
