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
    logical_date: dt.date


@dataclass
class Outcome:
    action: Action
    drafts: list[Draft] = field(default_factory=list)
    note: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    results: list[UnitResult] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # decisions still waiting for ops
