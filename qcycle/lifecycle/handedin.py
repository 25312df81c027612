"""What a window was handed in with: the accepted subjects, the units and subjects that handed it in. Read
from the database once per pass (:func:`qcycle.lifecycle.memo.remembered`) and, outside a pass, kept while
the stage's hand-ins stand (:func:`qcycle.lifecycle.memo.from_hand_ins`): a national round asks at every
moment about windows closed months before (the pending decisions of the application window, ~10,000
applications): its accepted subjects are read 29 times a year instead of 156. The values are frozensets."""

from __future__ import annotations

import functools
import uuid

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.memo import from_hand_ins, identity
from qcycle.schema import Programme, Stage

__all__ = ["accepted_subjects", "handed_in_subjects", "handed_in_units"]


def accepted_subjects(session: Session, p: Programme, round_id: uuid.UUID, stage: str, category: str | None,
                      *, uncategorised: bool = True) -> frozenset[str]:
    """The decision subjects of the stage's accepted hand-ins (:func:`qcycle.crud.accepted_subjects`)."""
    return from_hand_ins(session, round_id, stage, ("accepted", round_id, identity(p), stage, category, uncategorised),
                         lambda: frozenset(crud.accepted_subjects(
                             session=session, round_id=round_id, stage=stage, category=category,
                             item_category=p.item_category, uncategorised=uncategorised)))


def handed_in_units(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, period: str | None,
                    category: str | None, status: str = "accepted") -> frozenset[str]:
    """The units that handed the stage's submission in for a period and category, with ``status``."""
    return from_hand_ins(session, round_id, stage.code,
                         ("submitted", round_id, identity(p), stage.code, period, category, status),
                         lambda: frozenset(crud.handed_in_units(
                             session=session, round_id=round_id, stage=stage.code, period=period, category=category,
                             item_category=p.item_category, status=status)))


def handed_in_subjects(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, period: str | None,
                       category: str | None, statuses: list[str]) -> frozenset[str]:
    """The subjects ('unit:item', or 'unit') that handed the stage's submission in, with any of ``statuses``."""
    def read(status: str) -> frozenset[str]:
        return frozenset(crud.handed_in_subjects(session=session, round_id=round_id, stage=stage.code, period=period,
                                                 category=category, item_category=p.item_category, status=status))

    found = [from_hand_ins(session, round_id, stage.code,
                           ("handed_subjects", round_id, identity(p), stage.code, period, category, status),
                           functools.partial(read, status)) for status in statuses]
    return found[0] if len(found) == 1 else frozenset().union(*found)  # the kept set itself, not a copy
