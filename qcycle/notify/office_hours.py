"""When a reminder may go out: on working days within office hours (``office_hours``), or on
its deadline's own day until the deadline (``office_hours_deadline_exception``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from qcycle import clock
from qcycle.errors import ConfigError, Problem
from qcycle.settings import get_settings

__all__ = ["OfficeHours", "next_send_time"]


@dataclass(frozen=True)
class OfficeHours:
    opens: dt.time
    closes: dt.time

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"09:00-17:30"``; :class:`ConfigError` naming the setting if it is not that."""
        try:
            start, end = (dt.time.fromisoformat(p.strip()) for p in text.split("-"))
        except ValueError as exc:
            raise _setting(f"office hours {text!r} are not HH:MM-HH:MM") from exc
        if start >= end:
            raise _setting(f"office hours {text!r} close before they open")
        return cls(start, end)


def _setting(message: str) -> ConfigError:
    return ConfigError([Problem("QCYCLE_OFFICE_HOURS", "office_hours", message)])


def next_send_time(now: dt.datetime, *, deadline: dt.datetime | None = None,
                   hours: OfficeHours | None = None, calendar: Any = None,
                   deadline_exception: bool | None = None) -> dt.datetime:
    """When a reminder may go out: ``now`` if allowed now, else the next working day's opening.

    Allowed: a working day within office hours; or, with the deadline exception, after opening
    time on the deadline's own day until the deadline.
    """
    from qcycle.workcal import default_calendar

    settings = get_settings()
    hours = hours or OfficeHours.parse(settings.office_hours)
    calendar = calendar or default_calendar()
    if deadline_exception is None:
        deadline_exception = settings.office_hours_deadline_exception
    now = clock.to_local(now)
    day = now.date()
    opens, closes = clock.at(day, hours.opens), clock.at(day, hours.closes)
    workday = calendar.is_workday(day)
    if workday and opens <= now < closes:
        return now
    if workday and now < opens:
        return opens
    if (deadline_exception and deadline is not None and clock.to_local(deadline).date() == day
            and opens <= now < clock.to_local(deadline)):
        return now
    return clock.at(calendar.next_workday(day, include_self=False), hours.opens)
