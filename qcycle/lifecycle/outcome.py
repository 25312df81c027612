"""What carrying out an action gives back: the :class:`Outcome` (note, counts, results,
decisions pending) and the message :class:`Draft` s it owes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from qcycle.scoring import UnitResult
from qcycle.timetable import Action

__all__ = ["Draft", "Outcome"]


@dataclass(frozen=True)
class Draft:
    """A message to queue: one unit, one template, one action."""

    unit: str
    template: str
    context: dict[str, Any]
    action_key: str
    logical_date: dt.date  # the day the letter bears
    # The day its idempotency key is made of (default ``logical_date``): the action's own day, so
    # the same action carried out again on a later day (a decision request while decisions are
    # pending; two runs for different days at once) queues nothing new.
    key_day: dt.date | None = None
    # About the unit's own standing (where it stands on a published list) although its template is
    # not one of the private ones: kept out of group bots its peers read.
    private: bool = False
    # The context this draft's was made from, shared with the other drafts of its letter
    # (:func:`qcycle.lifecycle.drafting.draft_letters`): letters differing from it in nothing but the
    # addressee are rendered once (:class:`qcycle.render.Letters`).
    alike: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class Outcome:
    action: Action
    drafts: list[Draft] = field(default_factory=list)
    note: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    results: list[UnitResult] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # decisions still waiting for ops
