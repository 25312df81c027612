"""The round's timetable as it stands: the programme's dates and the units' own deadlines
(extensions granted by ops)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.lifecycle.memo import remembered
from qcycle.schema import Programme
from qcycle.timetable import Timetable, UnitDeadline, expand
from qcycle.workcal import default_calendar

__all__ = ["recorded_extensions", "round_timetable", "unit_deadlines"]


def unit_deadlines(session: Session, round_id: uuid.UUID) -> tuple[UnitDeadline, ...]:
    """The round's unit extensions, as the timetable takes them."""
    return tuple(UnitDeadline(e.stage, e.unit_code, clock.to_local(e.deadline), e.period or None)
                 for e in crud.list_extensions(session=session, round_id=round_id))


def recorded_extensions(session: Session, round_code: str) -> tuple[UnitDeadline, ...]:
    """The unit extensions recorded for a round by its code; none for a round not begun."""
    row = crud.get_round(session=session, code=round_code)
    return unit_deadlines(session, row.id) if row is not None else ()


def round_timetable(session: Session, p: Programme, round_id: uuid.UUID) -> Timetable:
    """The round's timetable as it stands: the programme's dates and the units' own deadlines."""
    return expand(p, default_calendar(), unit_deadlines(session, round_id))


def kept_timetable(session: Session, p: Programme, round_id: uuid.UUID) -> Timetable:
    """:func:`round_timetable`, expanded once for the actions of one moment (:mod:`~qcycle.lifecycle.memo`)."""
    return remembered(("timetable", round_id, id(p)), lambda: round_timetable(session, p, round_id))
