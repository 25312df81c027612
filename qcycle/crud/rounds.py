"""Programme rounds: the round row by code, its creation from a programme file, its settable
fields, and a round's closing figures across its tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, func, select
from sqlmodel.sql.expression import Select

from qcycle.crud.base import insert_if_absent
from qcycle.crud.results import refused_result
from qcycle.models import (
    ActionRun,
    AssessmentResult,
    OutboxMessage,
    ProgrammeRound,
    QuarantinedRecord,
    Submission,
)

__all__ = [
    "get_or_create_round",
    "get_round",
    "lock_round",
    "round_code",
    "round_fingerprint",
    "round_tallies",
    "update_round",
]


def get_round(*, session: Session, code: str) -> ProgrammeRound | None:
    return session.exec(select(ProgrammeRound).where(ProgrammeRound.code == code)).first()


def get_or_create_round(
    *,
    session: Session,
    code: str,
    name: str,
    issuer_code: str,
    config_path: str,
    config_sha256: str,
    first_year: int,
    last_year: int,
    programme: str | None = None,
    config_text: str | None = None,
) -> tuple[ProgrammeRound, bool]:
    """The round with ``code``, created from the other arguments if missing.

    An existing round is returned unchanged: compare its ``config_sha256`` to notice an
    edited programme file, and call :func:`update_round` deliberately.
    """
    candidate = ProgrammeRound(
        code=code,
        name=name,
        issuer_code=issuer_code,
        config_path=config_path,
        config_sha256=config_sha256,
        first_year=first_year,
        last_year=last_year,
        programme=programme,
        config_text=config_text,
    )
    created = insert_if_absent(session, candidate, keys=["code"])
    found = get_round(session=session, code=code)
    assert found is not None  # inserted or already there
    return found, created


def update_round(*, session: Session, round_id: uuid.UUID, **changes: Any) -> ProgrammeRound:
    """Set fields of a round (e.g. ``current_stage``, ``config_sha256``); bumps updated_at."""
    rnd = session.get(ProgrammeRound, round_id)
    if rnd is None:
        raise LookupError(f"no programme round with id {round_id}")
    for field, value in changes.items():
        if field not in ProgrammeRound.model_fields or field in {"id", "created_at"}:
            raise ValueError(f"ProgrammeRound has no settable field {field!r}")
        setattr(rnd, field, value)
    session.add(rnd)
    session.flush()
    return rnd


def lock_round(*, session: Session, round_id: uuid.UUID) -> None:
    """Take the round's row lock for the rest of the transaction (PostgreSQL; SQLite's write
    transaction already holds the database): two runs of one round that check, then write (an
    action claimed, refusals answered) take turns, and the second sees what the first did."""
    session.exec(select(ProgrammeRound.id).where(ProgrammeRound.id == round_id).with_for_update()).first()


def round_code(*, session: Session, round_id: uuid.UUID) -> str | None:
    """The code of the round with this id (None if there is none): from the session's identity
    map when the round is loaded already."""
    found = session.get(ProgrammeRound, round_id)
    return found.code if found else None


def round_fingerprint(*, session: Session, code: str) -> tuple[uuid.UUID, str] | None:
    """The round's id and the sha256 of the file it last ran on, without loading the row."""
    row = session.exec(select(ProgrammeRound.id, ProgrammeRound.config_sha256).where(
        ProgrammeRound.code == code)).first()
    return (row[0], row[1]) if row is not None else None


def round_tallies(*, session: Session, round_id: uuid.UUID) -> dict[str, Any]:
    """A round's closing figures: actions by outcome, submissions by (status, late), quarantined
    records, results by grade (and those of them a decision on the result refused), messages by
    (channel, status), and the posts that sent them by channel (a group post carries several)."""
    def grouped(*columns: Any, table: Any) -> dict[Any, int]:
        # Select(...) is what select() builds for several columns; select() is typed for a fixed count.
        rows: Sequence[tuple[Any, ...]] = session.exec(
            Select(*columns, func.count()).where(table.round_id == round_id).group_by(*columns)).all()
        return {(tuple(r[:-1]) if len(r) > 2 else r[0]): r[-1] for r in rows}

    return {
        "actions": grouped(ActionRun.outcome, table=ActionRun),
        "submissions": grouped(Submission.status, Submission.late, table=Submission),
        "quarantined": int(session.exec(select(func.count()).select_from(QuarantinedRecord).where(
            QuarantinedRecord.round_id == round_id)).one()),
        "grades": grouped(AssessmentResult.grade, table=AssessmentResult),
        "refused": dict(session.exec(  # type: ignore[arg-type]
            select(AssessmentResult.grade, func.count()).where(AssessmentResult.round_id == round_id, refused_result())
            .group_by(AssessmentResult.grade)).all()),
        "messages": grouped(OutboxMessage.channel, OutboxMessage.status, table=OutboxMessage),
        "posts": dict(session.exec(  # type: ignore[arg-type]
            select(OutboxMessage.channel,
                   func.count(func.distinct(func.coalesce(OutboxMessage.posted_with, OutboxMessage.id))))
            .where(OutboxMessage.round_id == round_id, OutboxMessage.status == "sent")
            .group_by(OutboxMessage.channel)).all()),
    }
