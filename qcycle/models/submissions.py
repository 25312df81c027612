"""Tables of what units hand in: submissions, their earlier versions (revisions), and records
that could not be read (quarantine)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from qcycle.jsontext import compact
from qcycle.models.columns import LocalDateTime, _ordered_pk, _round_fk, _stamp, _uuid_pk
from qcycle.models.values import SubmissionKind, SubmissionStatus

__all__ = [
    "HandInRevision",
    "QuarantinedRecord",
    "QuarantinedRecordBase",
    "RevisionFate",
    "Submission",
    "SubmissionBase",
    "SubmissionRevision",
    "identity_text",
]

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
    # One key (the stage's identity) is one record, whose earlier versions are kept in
    # submission_revision. A record pulled twice has its key twice, so the key alone keeps it
    # once: a unique fingerprint too cost a third of a large import's writes (migration 0021).
    __table_args__ = (
        UniqueConstraint("round_id", "identity"),
        # Covers "which units handed in at this stage (period, category)": answered from the index,
        # already in unit order, so SQLite reads DISTINCT units from it without sorting.
        Index("ix_submission_handed_in", "round_id", "stage", "status", "unit_code", "period", "category_code",
              "item_code"),
    )

    id: uuid.UUID = _ordered_pk()  # time-ordered: an import's batch writes neighbouring keys
    round_id: uuid.UUID = _round_fk()
    identity: str = Field(description='the stage and its key\'s values, e.g. ["application","510100","zlcx-01",null]')
    received_at: dt.datetime = _stamp()
    revisions: int = Field(0, description="how many earlier versions submission_revision keeps")
    answered_at: dt.datetime | None = Field(
        None, sa_type=LocalDateTime, description="when the unit was told its late hand-in was refused (不予受理)")


def identity_text(stage: str, values: Sequence[Any]) -> str:
    """``submission.identity``: the stage and its key's values, as compact JSON (readable in
    exports, and one text per key whatever the values hold)."""
    return compact([stage, *(None if v is None else str(v) for v in values)])


RevisionFate = Literal["superseded", "older", "refused_late"]


class SubmissionRevision(SubmissionBase, table=True):
    """A version of a submission that is not (or no longer) the one in force: replaced by a
    later version, received after a later one, or refused as a late change."""

    __tablename__ = "submission_revision"
    __table_args__ = (Index("ix_submission_revision_round_fingerprint", "round_id", "fingerprint"),)

    id: uuid.UUID = _ordered_pk()
    round_id: uuid.UUID = _round_fk()
    submission_id: uuid.UUID = Field(foreign_key="submission.id", index=True)
    fate: RevisionFate = Field(sa_type=AutoString)
    received_at: dt.datetime = Field(sa_type=LocalDateTime)
    answered_at: dt.datetime | None = Field(
        None, sa_type=LocalDateTime, description="a late change refused: when its unit was told (不予受理)")
    recorded_at: dt.datetime = _stamp()


class HandInRevision(SQLModel, table=True):
    """A token that changes whenever what a round's stage was handed in does (SQLite; revision 0026), so a
    process may keep what it read of a window's hand-ins (who handed in, the accepted subjects) while it stands.
    Set by qcycle as it stores new submissions (:func:`qcycle.crud.add_submissions`, the bulk lane), and by
    triggers on every update of what the hand-ins are read by and on every delete, whoever writes; a row
    inserted by anyone else is seen by the stage's count of submissions, read with the token
    (:func:`qcycle.crud.hand_ins_token`). Not a trigger on insert: it made every row of an import cost
    60–80 % more (SQLite journals each row's pages for a statement that fires one); an outside ``REPLACE``
    of a row (no delete trigger fires, the count stays) is not seen (docs/runbook.md). A fresh random text each
    time, as :class:`qcycle.models.DecisionRevision`'s. Unused on PostgreSQL (nothing kept there: see
    ``hand_ins_token``)."""
    __tablename__ = "hand_in_revision"

    round_id: uuid.UUID = Field(primary_key=True)
    stage: str = Field(primary_key=True, description="the stage, '' for hand-ins of none")
    token: str


# -- quarantine (records that could not be read; kept verbatim) --------------------------------


class QuarantinedRecordBase(SQLModel):
    source: str
    raw: str = Field(sa_type=Text, description="the record exactly as received")
    reason: str = Field(sa_type=Text, description="why it was set aside, in Chinese")
    fingerprint: str = Field(unique=True)
    record: dict[str, Any] | None = Field(
        None, sa_type=JSON, description="a conflict: the record as read, which ops may put in force")
    resolved_at: dt.datetime | None = Field(default=None, sa_type=LocalDateTime)
    resolved_by: str | None = None


class QuarantinedRecord(QuarantinedRecordBase, table=True):
    __tablename__ = "quarantined_record"

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID | None = _round_fk(nullable=True, index=True)
    received_at: dt.datetime = _stamp()
