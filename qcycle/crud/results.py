"""Assessment results: saved per (round, assessment stage, subject), replaced by scope, read in
rank order; awards won in other rounds of a programme family."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, delete, select

from qcycle.clock import now, to_local
from qcycle.crud.base import (
    column_values,
    complete,
    fields_of,
    plain_rows,
    recorded_by,
    to_json,
    upsert,
)
from qcycle.models import NEGATIVE_OUTCOMES, AssessmentResult, Decision, ProgrammeRound, ResultRow

__all__ = [
    "earlier_awards",
    "graded_subjects",
    "latest_results_stage",
    "list_results",
    "refused_result",
    "result_subjects",
    "save_results",
    "stage_results",
]


def list_results(*, session: Session, round_id: uuid.UUID, stage: str | None = None) -> list[AssessmentResult]:
    """The round's assessment results (of one assessment stage), in rank order."""
    stmt = select(AssessmentResult).where(AssessmentResult.round_id == round_id)
    if stage is not None:
        stmt = stmt.where(AssessmentResult.stage == stage)
    return list(session.exec(stmt.order_by(col(AssessmentResult.stage), col(AssessmentResult.rank),
                                           col(AssessmentResult.unit_code))).all())


def save_results(
    *,
    session: Session,
    round_id: uuid.UUID,
    results: Iterable[Any],
    computed_at: dt.datetime | None = None,
    scope: Iterable[str] | None = None,
    stage: str = "",
) -> list[ResultRow]:
    """Replace the assessment results of ``scope`` (default: the whole round) with ``results``.

    Each result is a mapping or object with ``unit_code``, ``total``, ``grade``, ``rank``
    and optionally ``components``, ``bonus``, ``deduction``, ``veto``. Subjects in scope but
    absent from ``results`` lose their old result; subjects outside the scope (another
    category assessed on another day) are kept. Results of another ``stage`` (another year's
    assessment in the same round) are never touched. Returns the scope's results by rank.
    """
    computed_at = computed_at or now()
    rows = []
    for item in results:
        f = fields_of(item)
        # Values, not objects: a national assessment saves ~7,500 results.
        rows.append(complete(AssessmentResult, {
            "round_id": round_id, "stage": stage, "unit_code": f["unit_code"], "total": float(f["total"]),
            "components": to_json(dict(f.get("components") or {})), "bonus": float(f.get("bonus") or 0.0),
            "deduction": float(f.get("deduction") or 0.0), "veto": f.get("veto"), "grade": str(f["grade"]),
            "rank": int(f["rank"]), "computed_at": computed_at}))
    updated = ["total", "components", "bonus", "deduction", "veto", "grade", "rank"]
    upsert(
        session,
        AssessmentResult,
        rows,
        keys=["round_id", "stage", "unit_code"],
        update_columns=[*updated, "computed_at"],
    )
    # Row by row upserts (not delete-all-then-insert) keep two concurrent saves from colliding.
    stale = delete(AssessmentResult).where(
        col(AssessmentResult.round_id) == round_id,
        col(AssessmentResult.stage) == stage,
        col(AssessmentResult.unit_code).not_in([r["unit_code"] for r in rows]),
    )
    stmt = _RESULTS.where(col(AssessmentResult.round_id) == round_id, col(AssessmentResult.stage) == stage)
    if scope is not None:
        scope = list(scope)
        stale = stale.where(col(AssessmentResult.unit_code).in_(scope))
        stmt = stmt.where(col(AssessmentResult.unit_code).in_(scope))
    session.exec(stale.execution_options(synchronize_session="fetch"))
    return _rows(session, stmt)


def latest_results_stage(*, session: Session, round_id: uuid.UUID) -> str | None:
    """The assessment stage whose results are the newest (None if the round has none)."""
    return session.exec(select(AssessmentResult.stage).where(AssessmentResult.round_id == round_id,
                                                             *recorded_by(AssessmentResult.computed_at))
                        .order_by(col(AssessmentResult.computed_at).desc()).limit(1)).first()


def stage_results(*, session: Session, round_id: uuid.UUID, stage: str | None) -> list[ResultRow]:
    """The results of one assessment stage, by rank and subject."""
    return _rows(session, _RESULTS.where(col(AssessmentResult.round_id) == round_id, col(AssessmentResult.stage) == stage,
                                         *recorded_by(AssessmentResult.computed_at)))


# Every column, in :class:`ResultRow`'s order (select() is typed for at most 4 columns).
_RESULTS: Any = Select(*(AssessmentResult.__table__.c[name] for name in ResultRow._fields))  # type: ignore[attr-defined]


def _rows(session: Session, query: Any) -> list[ResultRow]:
    """Results of ``query`` (of :data:`_RESULTS`) by rank and subject, as plain rows."""
    ordered = query.order_by(col(AssessmentResult.rank), col(AssessmentResult.unit_code))
    return [ResultRow._make(row) for row in plain_rows(session, ordered)]


def result_subjects(*, session: Session, round_id: uuid.UUID, stage: str) -> list[str]:
    """The subjects an assessment stage has results for."""
    return column_values(session, select(AssessmentResult.unit_code).where(
        AssessmentResult.round_id == round_id, AssessmentResult.stage == stage, *recorded_by(AssessmentResult.computed_at)))


def graded_subjects(*, session: Session, round_id: uuid.UUID, grades: Sequence[str] | None = None) -> list[str]:
    """The round's assessed subjects (of any stage), each time it was graded one of ``grades``
    (every result when none are given) and not refused afterwards (:func:`refused_result`)."""
    query = select(AssessmentResult.unit_code).where(AssessmentResult.round_id == round_id, ~refused_result())
    if grades:
        query = query.where(col(AssessmentResult.grade).in_(grades))
    return list(session.exec(query).all())


def refused_result() -> Any:
    """SQL condition on an assessment_result row: a decision on that result (its stage's
    ``decides``), or a decision on that decision, said no: a committee refusing a graded
    candidate, or the government not approving what the committee passed. Its award then
    stays vacant."""
    return _said_no(AssessmentResult.round_id, AssessmentResult.unit_code, AssessmentResult.stage, _CHAIN)


# How many decisions following one another on a result are read (committee → government is two
# in the shipped programmes); each is one nested EXISTS, so the bound is generous, not endless.
_CHAIN = 4


def _said_no(round_id: Any, subject: Any, decided: Any, depth: int) -> Any:
    d = aliased(Decision)
    no: Any = col(d.outcome).in_(NEGATIVE_OUTCOMES)
    if depth > 1:
        no = or_(no, _said_no(d.round_id, d.subject, d.stage, depth - 1))
    return select(d.id).where(d.round_id == round_id, d.decides == decided, d.subject == subject, no).exists()


def earlier_awards(*, session: Session, programme: str, grades: Sequence[str], before_round: str,
                   ) -> list[tuple[str, int, str]]:
    """(unit code, year, grade) of every subject graded one of ``grades`` in another round of the
    same programme family and not refused afterwards (:func:`refused_result`): who won what, and
    when (the year it was graded: the moment of its assessment's action, not the round's last year,
    which a 督办 in the January after moves on)."""
    rows = session.exec(
        select(AssessmentResult.unit_code, AssessmentResult.computed_at, AssessmentResult.grade)
        .join(ProgrammeRound, col(AssessmentResult.round_id) == ProgrammeRound.id)
        .where(ProgrammeRound.programme == programme, ProgrammeRound.code != before_round,
               col(AssessmentResult.grade).in_(list(grades)), ~refused_result())
    ).all()
    return [(subject.partition(":")[0], to_local(graded).year, grade) for subject, graded, grade in rows]
