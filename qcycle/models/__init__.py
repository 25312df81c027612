"""SQLModel tables: one ``XBase`` (the fields a caller supplies, validated when built
with ``model_validate``) and one ``X(XBase, table=True)`` (keys, timestamps, constraints)
per table, grouped under one-line comments.

Codes (units, items, stages) are plain strings, not foreign keys to code tables: a
programme file is the source of truth for codes, the database only records what happened.
Every timestamp is a :class:`LocalDateTime`: timezone-aware in, Asia/Shanghai out.

One module per concern: :mod:`~qcycle.models.columns` (column types and helpers),
:mod:`~qcycle.models.values` (allowed values), :mod:`~qcycle.models.rounds`,
:mod:`~qcycle.models.submissions`, :mod:`~qcycle.models.outcomes` and
:mod:`~qcycle.models.operations`. Importing ``qcycle.models`` registers every table on
``SQLModel.metadata`` (what Alembic compares). Import from ``qcycle.models``.
"""

from __future__ import annotations

from qcycle.models.columns import LocalDateTime, ordered_hex_ids, ordered_uuid
from qcycle.models.operations import (
    ActionRun,
    ActionRunBase,
    AuditLog,
    AuditLogBase,
    ImportCheckpoint,
    ImportCheckpointBase,
    OutboxMessage,
    OutboxMessageBase,
)
from qcycle.models.outcomes import (
    AssessmentResult,
    AssessmentResultBase,
    Decision,
    DecisionBase,
    DecisionRevision,
    ResultRow,
    Review,
    ReviewBase,
)
from qcycle.models.rounds import (
    ListItem,
    ListItemBase,
    ProgrammeRound,
    ProgrammeRoundBase,
    RoundAmendment,
    RoundAmendmentBase,
    Unit,
    UnitBase,
    UnitExtension,
    UnitExtensionBase,
)
from qcycle.models.submissions import (
    HandInRevision,
    QuarantinedRecord,
    QuarantinedRecordBase,
    RevisionFate,
    Submission,
    SubmissionBase,
    SubmissionRevision,
    identity_text,
)
from qcycle.models.values import (
    ACTION_OUTCOMES,
    DECISION_OUTCOMES,
    NEGATIVE_OUTCOMES,
    OUTBOX_STATUS_LABELS,
    OUTBOX_STATUSES,
    POSITIVE_OUTCOMES,
    SUBMISSION_KINDS,
    SUBMISSION_STATUSES,
    YES_NO_OUTCOMES,
    ActionOutcome,
    DecisionOutcome,
    OutboxStatus,
    SubmissionKind,
    SubmissionStatus,
)

# Importable, not in __all__, as before the split.
from qcycle.models.values import BUILTIN_SUBMISSION_KINDS as BUILTIN_SUBMISSION_KINDS

__all__ = [
    "ACTION_OUTCOMES",
    "DECISION_OUTCOMES",
    "NEGATIVE_OUTCOMES",
    "OUTBOX_STATUSES",
    "OUTBOX_STATUS_LABELS",
    "POSITIVE_OUTCOMES",
    "SUBMISSION_KINDS",
    "SUBMISSION_STATUSES",
    "YES_NO_OUTCOMES",
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
    "DecisionRevision",
    "HandInRevision",
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
    "ResultRow",
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
    "ordered_hex_ids",
    "ordered_uuid",
]
