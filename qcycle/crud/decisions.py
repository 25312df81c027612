"""Reviews and decisions: reviewers' values per component, and each decision stage's outcome
on each subject (a later one replaces it), with what the lifecycle asks of them.

Decision subjects are read as plain columns through Core (see
:func:`qcycle.crud.base.column_values`): a national round holds ~10,000 of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import Select

from qcycle.clock import now
from qcycle.crud.base import choice, column_values, complete, plain_rows, recorded_by, upsert
from qcycle.models import DECISION_OUTCOMES, Decision, DecisionRevision, Review

__all__ = [
    "GivenValue",
    "decided_subjects",
    "decision_list",
    "decisions_token",
    "decisions_with_outcome",
    "outcomes_at",
    "put_decision",
    "put_decisions",
    "put_review",
    "put_reviews",
    "review_notes",
    "reviews_of",
    "subject_outcomes",
    "subjects_with_outcome",
]


def put_review(
    *,
    session: Session,
    round_id: uuid.UUID,
    unit_code: str,
    reviewer: str,
    component_code: str,
    value: float,
    submitted_at: dt.datetime | None = None,
    stage: str = "",
) -> Review:
    """Set one reviewer's value for one component of one unit in the assessment ``stage``
    ("": the round's first); a later value replaces it."""
    put_reviews(session=session, round_id=round_id, submitted_at=submitted_at,
                rows=[{"stage": stage, "unit_code": unit_code, "reviewer": reviewer,
                       "component_code": component_code, "value": value}])
    stmt = (
        select(Review)
        .where(
            Review.round_id == round_id,
            Review.stage == stage,
            Review.unit_code == unit_code,
            Review.reviewer == reviewer,
            Review.component_code == component_code,
        )
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).one()


def put_decision(
    *,
    session: Session,
    round_id: uuid.UUID,
    stage: str,
    decides: str,
    subject: str,
    outcome: str,
    decided_by: str,
    note: str = "",
    decided_at: dt.datetime | None = None,
) -> Decision:
    """Set the decision of a stage (which decides on ``decides``' subjects) on a subject (a
    later decision replaces it; audit it)."""
    put_decisions(session=session, round_id=round_id, stage=stage, decides=decides, outcomes={subject: outcome},
                  decided_by=decided_by, note=note, decided_at=decided_at)
    stmt = (
        select(Decision)
        .where(Decision.round_id == round_id, Decision.stage == stage, Decision.subject == subject)
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).one()


def put_reviews(*, session: Session, round_id: uuid.UUID, rows: Iterable[Mapping[str, Any]],
                submitted_at: dt.datetime | None = None) -> int:
    """:func:`put_review` for many values at once (rows: ``unit_code``, ``reviewer``,
    ``component_code``, ``value``, and ``stage`` unless "", ``note`` where given); a later row for the same key wins.
    Returns how many keys."""
    stamp = submitted_at or now()
    latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r.get("stage") or "", r["unit_code"], str(r["reviewer"]), r["component_code"])
        latest[key] = complete(Review, {"round_id": round_id, "stage": key[0], "unit_code": key[1],
                                        "reviewer": key[2], "component_code": key[3],
                                        "value": float(r["value"]), "note": str(r.get("note") or ""),
                                        "submitted_at": stamp})
    upsert(session, Review, list(latest.values()),
           keys=["round_id", "stage", "unit_code", "reviewer", "component_code"],
           update_columns=["value", "note", "submitted_at"])
    return len(latest)


def put_decisions(*, session: Session, round_id: uuid.UUID, stage: str, decides: str, outcomes: Mapping[str, str],
                  decided_by: str, note: str = "", decided_at: dt.datetime | None = None) -> int:
    """:func:`put_decision` for many subjects of one stage at once (``{subject: outcome}``)."""
    stamp = decided_at or now()
    values = [complete(Decision, {"round_id": round_id, "stage": stage, "decides": decides, "subject": subject,
                                  "outcome": choice(outcome, DECISION_OUTCOMES, "outcome"),
                                  "decided_by": decided_by, "note": note, "decided_at": stamp})
              for subject, outcome in outcomes.items()]
    if not values:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # The round's token first: every writer of the round's decisions then takes that row's
        # lock before any decision's, in one order. Taken by the first row's trigger instead, two
        # writers of overlapping subjects deadlocked, each holding a decision the other wanted
        # and one of them the token. (SQLite's writers never overlap: one writes at a time.)
        session.execute(select(func.revise_decisions(round_id)))
    upsert(session, Decision, values, keys=["round_id", "stage", "subject"],
           update_columns=["decides", "outcome", "decided_by", "note", "decided_at"])
    return len(values)


class GivenValue(NamedTuple):
    """A value a reviewer (or a year's figure) gave a subject's component, as stored."""

    stage: str
    unit_code: str
    reviewer: str
    component_code: str
    value: float


def reviews_of(*, session: Session, round_id: uuid.UUID, subjects: Sequence[str], stages: Sequence[str]
               ) -> list[GivenValue]:
    """The values given for ``subjects`` (unit codes, or 'unit:item') in the assessment
    ``stages`` (its code, and "" for the round's first assessment, whose values stored
    before assessments had their own may carry no stage). Plain rows: a national assessment
    reads ~22,000."""
    # Select(...) is what select() builds for several columns; select() is typed for at most 4.
    query: Select[*tuple[Any, ...]] = Select(
        col(Review.stage), col(Review.unit_code), col(Review.reviewer), col(Review.component_code),
        col(Review.value)).where(
        Review.round_id == round_id, col(Review.stage).in_(stages), col(Review.unit_code).in_(subjects))
    return [GivenValue(*row) for row in plain_rows(session, query)]


def review_notes(*, session: Session, round_id: uuid.UUID, subjects: Sequence[str] | None = None,
                 components: Sequence[str] | None = None) -> dict[tuple[str, str, str, str], tuple[str, float]]:
    """(stage, subject, reviewer, component) → (note, value) of the values stored with a note (a veto's facts), of
    ``subjects`` and ``components`` where given."""
    query: Select[*tuple[Any, ...]] = Select(  # select() is typed for at most 4 columns
        col(Review.stage), col(Review.unit_code), col(Review.reviewer), col(Review.component_code),
        col(Review.note), col(Review.value)).where(Review.round_id == round_id, Review.note != "")
    if subjects is not None:
        query = query.where(col(Review.unit_code).in_(subjects))
    if components is not None:
        query = query.where(col(Review.component_code).in_(components))
    return {(stage or "", subject, reviewer, component): (note, float(value))
            for stage, subject, reviewer, component, note, value in plain_rows(session, query)}


# -- what the lifecycle asks ----------------------------------------------------------------


def decisions_token(*, session: Session, round_id: uuid.UUID) -> str | None:
    """The round's decisions' current token (:class:`qcycle.models.DecisionRevision`): it
    changes with every decision written, changed or deleted. None (nothing to keep values under)
    if the round never had one, or, on PostgreSQL, if this session's open transaction set it:
    there it changes once per transaction, so it does not yet stand for what is written."""
    if session.get_bind().dialect.name == "sqlite":
        # One row by its key, asked ~700 times a national year before each kept value is used: through the
        # driver, a statement built and compiled each time had cost ~0.3 ms, ten times the lookup.
        session.flush()  # decisions pending in the session reach their triggers first
        row = session.connection().exec_driver_sql(
            "SELECT token FROM decision_revision WHERE round_id = ?", (round_id.hex,)).first()
        return row[0] if row else None
    query = select(DecisionRevision.token).where(DecisionRevision.round_id == round_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.where(col(DecisionRevision.written_in).is_distinct_from(
            func.coalesce(func.txid_current_if_assigned(), -1)))
    found = column_values(session, query)
    return found[0] if found else None


def decided_subjects(*, session: Session, round_id: uuid.UUID, stage: str,
                     outcomes: Sequence[str]) -> list[str]:
    """Subjects the decision ``stage`` gave one of ``outcomes``."""
    return column_values(session, select(Decision.subject).where(
        Decision.round_id == round_id, Decision.stage == stage, col(Decision.outcome).in_(outcomes),
        *recorded_by(Decision.decided_at)))


def outcomes_at(*, session: Session, round_id: uuid.UUID, stage: str) -> dict[str, str]:
    """``{subject: outcome}`` of every decision the ``stage`` has made."""
    return dict(plain_rows(session, select(Decision.subject, Decision.outcome).where(
        Decision.round_id == round_id, Decision.stage == stage, *recorded_by(Decision.decided_at))))


def decisions_at(*, session: Session, round_id: uuid.UUID, stage: str) -> list[tuple[str, str, str]]:
    """(subject, outcome, note) of every decision the ``stage`` has made."""
    return plain_rows(session, select(Decision.subject, Decision.outcome, Decision.note).where(
        Decision.round_id == round_id, Decision.stage == stage, *recorded_by(Decision.decided_at)))


def decision_list(*, session: Session, round_id: uuid.UUID) -> list[tuple[str, str, str, str, str, dt.datetime]]:
    """(stage, subject, outcome, note, decided_by, decided_at) of every decision of the round."""
    query: Select[*tuple[Any, ...]] = Select(  # select() is typed for at most 4 columns
        col(Decision.stage), col(Decision.subject), col(Decision.outcome), col(Decision.note),
        col(Decision.decided_by), col(Decision.decided_at)).where(
        Decision.round_id == round_id, *recorded_by(Decision.decided_at))
    return plain_rows(session, query)


def subjects_with_outcome(*, session: Session, round_id: uuid.UUID, outcomes: Sequence[str],
                          stages: Sequence[str] | None = None, except_stages: Sequence[str] = ()) -> list[str]:
    """Subjects any decision stage (of ``stages``, if given; not of ``except_stages``) gave one of
    ``outcomes`` (each once)."""
    query = select(Decision.subject).distinct().where(Decision.round_id == round_id, col(Decision.outcome).in_(outcomes),
                                                      *recorded_by(Decision.decided_at))
    if stages is not None:
        query = query.where(col(Decision.stage).in_(stages))
    if except_stages:
        query = query.where(col(Decision.stage).not_in(except_stages))
    return column_values(session, query)


def subject_outcomes(*, session: Session, round_id: uuid.UUID, except_stages: Sequence[str] = ()
                     ) -> list[tuple[str, str, str]]:
    """(subject, stage, outcome) of every decision, but those of ``except_stages``."""
    query = select(Decision.subject, Decision.stage, Decision.outcome).where(
        Decision.round_id == round_id, *recorded_by(Decision.decided_at))
    if except_stages:
        query = query.where(col(Decision.stage).not_in(except_stages))
    return plain_rows(session, query)


def decisions_with_outcome(*, session: Session, round_id: uuid.UUID,
                           outcomes: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(subject, stage, decided_by, note) of every decision with one of ``outcomes``."""
    return list(session.exec(select(Decision.subject, Decision.stage, Decision.decided_by, Decision.note).where(
        Decision.round_id == round_id, col(Decision.outcome).in_(outcomes), *recorded_by(Decision.decided_at))).all())
