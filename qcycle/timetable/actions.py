"""What a timetable is made of: dated actions (:class:`Action`), the timetable itself, what is
due as of a moment (:class:`Due`), a resolved deadline and a unit's own deadline."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from qcycle.kinds import ACTION_KINDS

__all__ = [
    "ACTION_LABELS",
    "Action",
    "Due",
    "ResolvedDeadline",
    "Timetable",
    "UnitDeadline",
    "as_json",
    "name_of",
]

# Chinese labels of action kinds, for tables and messages (from the one registry).
ACTION_LABELS = {name: kind.label for name, kind in ACTION_KINDS.items()}


def name_of(key: str) -> str:
    """``application:reminder:T-3@2023-04-20`` → ``application:reminder:T-3``."""
    return key.partition("@")[0]


@dataclass(frozen=True)
class ResolvedDeadline:
    day: dt.date  # the deadline day after rolling
    cutoff: dt.datetime  # the last moment a submission is on time
    last_day: dt.date  # the last working day on which a unit can still submit
    rolled_from: dt.date | None  # the configured day, when it was not a working day
    roll: str | None = None  # how it moved: next_workday (顺延) or previous_workday (提前)


@dataclass(frozen=True)
class Action:
    at: dt.datetime
    action: str
    stage: str
    title: str
    key: str
    category: str | None = None
    item: str | None = None
    unit: str | None = None
    period: str | None = None
    owed_by: str | None = None
    submission: str | None = None
    # The deadline a reminder or overdue notice is about; an event's notice: the event; an event of
    # several days: its last day.
    deadline: dt.datetime | None = None
    workdays_left: int | None = None
    condition: str | None = None  # e.g. follow-ups happen only for grade D
    detail: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # decision and assessment actions that must be complete first

    @property
    def name(self) -> str:
        """The key without the day it serves: ``application:reminder:T-3``."""
        return name_of(self.key)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, {}, [], ())}
        if self.needs:
            out["needs"] = list(self.needs)
        out["at"] = self.at.isoformat()
        if self.deadline is not None:
            out["deadline"] = self.deadline.isoformat()
        return out


@dataclass(frozen=True)
class Timetable:
    round: str
    actions: list[Action]
    warnings: list[str]

    def by_key(self) -> dict[str, Action]:
        return {a.key: a for a in self.actions}

    def by_name(self) -> dict[str, Action]:
        """Actions by key without the served day (``application:deadline``), for people and tests."""
        return {a.name: a for a in self.actions}

    def cutoff(self, stage: str, period: str | None, category: str | None,
               unit: str | None = None) -> dt.datetime | None:
        """The deadline that applies to a hand-in (the one place for dates): the unit's own (an
        extension) before the stage's, the category's before the stage's."""
        best, rank = None, 9
        for a in self.actions:
            if a.action == "deadline" and a.stage == stage and a.period == period and a.unit in (None, unit):
                if a.category not in (None, category):
                    continue
                r = (a.unit is None) * 2 + (a.category != category)
                if r < rank:
                    best, rank = a.at, r
        return best


@dataclass(frozen=True)
class Due:
    run: list[Action]  # due now, in order
    skipped: list[tuple[Action, str]]  # missed and no longer useful, with the reason


@dataclass(frozen=True)
class UnitDeadline:
    """A unit's own deadline for one window of a stage (延期申请, granted by ops)."""

    stage: str
    unit: str
    cutoff: dt.datetime
    period: str | None = None


def as_json(timetable: Timetable) -> list[dict[str, Any]]:
    return [a.to_json() for a in timetable.actions]
