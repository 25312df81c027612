"""Changes to a running round: amendments of its programme file (``round_amendment``) and
units' own deadlines (延期申请, ``unit_extension``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlmodel import Session, col, func, select

from qcycle.clock import now
from qcycle.crud.base import recorded_by
from qcycle.models import RoundAmendment, UnitExtension

__all__ = ["add_amendment", "grant_extension", "last_amendment_at", "list_amendments", "list_extensions"]


def add_amendment(*, session: Session, round_id: uuid.UUID, **fields: Any) -> RoundAmendment:
    """Record a change to the round's programme file (fields of :class:`RoundAmendmentBase`)."""
    row = RoundAmendment(round_id=round_id, **fields)
    session.add(row)
    session.flush()
    return row


def last_amendment_at(*, session: Session, round_id: uuid.UUID) -> dt.datetime | None:
    """When the round's latest amendment was recorded (None if it has none)."""
    return session.exec(select(func.max(RoundAmendment.recorded_at)).where(
        RoundAmendment.round_id == round_id)).one()


def list_amendments(*, session: Session, round_id: uuid.UUID) -> list[RoundAmendment]:
    """The round's amendments, oldest first."""
    return list(session.exec(select(RoundAmendment).where(RoundAmendment.round_id == round_id)
                             .order_by(col(RoundAmendment.recorded_at), col(RoundAmendment.id))).all())


# -- unit extensions (延期申请) -----------------------------------------------------------------


def grant_extension(*, session: Session, round_id: uuid.UUID, stage: str, unit_code: str, period: str | None,
                    deadline: dt.datetime, reason: str, actor: str) -> UnitExtension:
    """Give a unit its own deadline for one window; a later grant for the same window replaces it."""
    row = session.exec(select(UnitExtension).where(
        UnitExtension.round_id == round_id, UnitExtension.stage == stage, UnitExtension.unit_code == unit_code,
        UnitExtension.period == (period or ""))).first()
    if row is None:
        row = UnitExtension(round_id=round_id, stage=stage, unit_code=unit_code, period=period or "",
                            deadline=deadline, reason=reason, actor=actor)
    else:
        row.deadline, row.reason, row.actor, row.granted_at = deadline, reason, actor, now()
    session.add(row)
    session.flush()
    return row


def list_extensions(*, session: Session, round_id: uuid.UUID) -> list[UnitExtension]:
    """The round's unit extensions, by stage, period and unit (as granted by the moment of
    :func:`qcycle.crud.as_recorded_at`, inside one)."""
    return list(session.exec(select(UnitExtension).where(
        UnitExtension.round_id == round_id, *recorded_by(UnitExtension.granted_at)).order_by(
        col(UnitExtension.stage), col(UnitExtension.period), col(UnitExtension.unit_code))).all())
