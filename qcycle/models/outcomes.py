"""Tables of what the round decides: reviewers' scores, decisions (审核, 评价确认) and
assessment results (考核结果)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NamedTuple

from sqlalchemy import JSON, BigInteger, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from qcycle.models.columns import _round_fk, _stamp, _uuid_pk
from qcycle.models.values import DecisionOutcome

__all__ = [
    "AssessmentResult",
    "AssessmentResultBase",
    "Decision",
    "DecisionBase",
    "DecisionRevision",
    "ResultRow",
    "Review",
    "ReviewBase",
]

# -- reviews (评审打分, one value per assessment, reviewer and component) ---------------------------


class ReviewBase(SQLModel):
    # A round assessed twice (榆阳: 2024 and 2025) is scored twice: each assessment reads only
    # its own values, so one not yet scored says so instead of reusing the other's.
    stage: str = Field("", description='the assessment stage scored ("": the round\'s first)')
    unit_code: str
    reviewer: str
    component_code: str
    value: float
    # What the value stands for where a letter says it: a veto's facts (因2025年8月12日…起重机械倒塌较大事故，实行一票否决).
    note: str = Field("", sa_type=Text)


class Review(ReviewBase, table=True):
    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("round_id", "stage", "unit_code", "reviewer", "component_code"),)

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    submitted_at: dt.datetime = _stamp()


# -- decisions (审核, 评价确认: a human says yes or no) ----------------------------------------------


class DecisionBase(SQLModel):
    stage: str
    # What the decision is on: an application, an earlier decision, or an assessment's result.
    # A result rejected here (a committee refusing a graded candidate) is not an award, and a
    # later round's eligibility reads it so ("" for rows stored before revision 0015 that no
    # stored programme could name).
    decides: str = Field("", description="the stage whose subjects this stage decides on")
    subject: str = Field(description='a unit code or "unit:item"')
    outcome: DecisionOutcome = Field(sa_type=AutoString)
    decided_by: str
    note: str = Field("", sa_type=Text)


class Decision(DecisionBase, table=True):
    __tablename__ = "decision"
    # The second: whether a result (or a decision) was refused by a decision on it, asked for
    # every result row (crud.results.refused_result).
    __table_args__ = (UniqueConstraint("round_id", "stage", "subject"),
                      Index("ix_decision_round_decides_subject", "round_id", "decides", "subject"))

    id: uuid.UUID = _uuid_pk()
    round_id: uuid.UUID = _round_fk()
    decided_at: dt.datetime = _stamp()


class DecisionRevision(SQLModel, table=True):
    """A token that changes whenever a round's decisions do: set by triggers on ``decision``
    (insert, update, delete; revision 0023), whoever writes, so a process may keep what it read
    from the decisions (the takers, who was eliminated) for as long as the token stands.
    A fresh random text each time, never a counter: a database made again from nothing (a test,
    a rebuilt demo) cannot repeat a token an old reader kept. No row: the round never had a
    decision (rounds with decisions before 0023 were given a token then)."""
    __tablename__ = "decision_revision"

    # No foreign key: a round deleted with its decisions fires the triggers as they go.
    round_id: uuid.UUID = Field(primary_key=True)
    token: str
    # PostgreSQL: the transaction that set the token, which changes it once (SQLite: None, the
    # token changing with every row).
    written_in: int | None = Field(None, sa_type=BigInteger)


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


class ResultRow(NamedTuple):
    """An assessment result as letters, selections and reports read it: the columns of
    :class:`AssessmentResult`, read-only, without the ORM's bookkeeping (a national year's result
    letters read ~13,000 results as ORM objects: a tenth of their time)."""

    stage: str
    unit_code: str
    total: float
    components: dict[str, Any]
    bonus: float
    deduction: float
    veto: str | None
    grade: str
    rank: int
    id: uuid.UUID
    round_id: uuid.UUID
    computed_at: dt.datetime
