"""When each stage's events fall: the date arithmetic of :func:`~qcycle.timetable.expand`
(relative dates, rolling to working days, deadlines and their cut-offs), per category."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from qcycle.clock import at
from qcycle.errors import TimetableError
from qcycle.schema import Deadline, Programme, RelativeDate, Stage
from qcycle.timetable.actions import ResolvedDeadline
from qcycle.workcal import WorkCalendar

__all__ = ["StageDates", "add_months", "moved"]

_WINDOW_KINDS = ("submission", "followup")


class StageDates:
    """The days of a round's stage events, memoised; the base of the expander (and what
    :func:`~qcycle.timetable.checks.check_dates` reads)."""

    def __init__(self, p: Programme, cal: WorkCalendar):
        self.p, self.cal = p, cal
        self._dates: dict[tuple[str, str, str | None], dt.date] = {}
        self._resolving: set[tuple[str, str]] = set()

    def _variants(self, stage: Stage) -> list[str | None]:
        """Categories a stage is expanded for: each one when overrides exist, else all at once."""
        if stage.per_category:
            return [c.code for c in self.p.categories]
        return [None]

    def stage_date(self, code: str, category: str | None) -> dt.date:
        """The day a point stage happens, or a window is due (its deadline day), per category."""
        stage = self.p.stage(code)
        return self.event_date(code, "deadline" if stage.kind.value in _WINDOW_KINDS else "on", category)

    def event_date(self, code: str, event: str, category: str | None) -> dt.date:
        """The day of one event of a stage: ``on`` (a point stage's day; a window's deadline
        day), ``opens`` (a window's opening), ``deadline``, ``closes`` (the last day of a 公示)."""
        stage = self.p.stage(code)
        if not stage.per_category:
            category = None
        memo = (code, event, category)
        if memo in self._dates:
            return self._dates[memo]
        if (code, event) in self._resolving:
            raise TimetableError(f"阶段 {code} 的相对日期互相引用，无法计算")
        self._resolving.add((code, event))
        try:
            day = self._event_day(stage, event, category)
        finally:
            self._resolving.discard((code, event))
        self._dates[memo] = day
        return day

    def _event_day(self, stage: Stage, event: str, category: str | None) -> dt.date:
        override = stage.per_category.get(category) if category else None
        if stage.kind.value in _WINDOW_KINDS:
            if event == "opens":
                opens = self.window_opens(stage, None, category)
                if opens is None:
                    raise TimetableError(f"阶段 {stage.code} 没有受理开始日（opens），不能从其 opens 起算")
                return opens
            if override is not None and override.deadline is not None:
                return self.deadline(override.deadline, category).day
            if stage.deadline is not None:
                return self.deadline(stage.deadline, category).day
            return max(self.deadline(pr.deadline, category).day for pr in stage.periods)
        day = self.point_day(stage, category)[0]
        if event == "closes":
            return stage.last_day(day, self.cal) or day  # a 公示's, a 现场评审's last day
        return day

    def point_day(self, stage: Stage, category: str | None) -> tuple[dt.date, dt.date | None, str | None]:
        """(day, configured day when it was moved, roll) of a point stage."""
        override = stage.per_category.get(category) if category else None
        if override is not None and override.on is not None:
            day, roll = override.on, stage.roll or "none"
        elif stage.on is not None:
            day, roll = stage.on, stage.roll or "none"
        elif stage.by is not None:
            if stage.roll is None:  # "不晚于": the working day on or before it is the day, not a move
                # (a public call read "（原定3月1日，遇休息日提前）" where 3月1日 was only a limit)
                return self.cal.previous_workday(stage.by), None, None
            day, roll = stage.by, stage.roll
        else:
            assert stage.after is not None
            day, roll = self.relative(stage.after, category), stage.roll or "next_workday"
        return self._roll(day, roll)

    def _roll(self, day: dt.date, roll: str) -> tuple[dt.date, dt.date | None, str | None]:
        if roll == "none" or self.cal.is_workday(day):
            return day, None, None
        moved = self.cal.next_workday(day) if roll == "next_workday" else self.cal.previous_workday(day)
        return moved, day, roll

    def relative(self, rel: RelativeDate, category: str | None) -> dt.date:
        base = self.event_date(rel.stage, rel.event, category)
        if rel.workdays is not None:
            return self.cal.add_workdays(base, rel.workdays)
        if rel.months is not None:
            return add_months(base, rel.months)
        return base + dt.timedelta(days=rel.days or 0)

    def window_opens(self, stage: Stage, period: Any, category: str | None) -> dt.date | None:
        override = stage.per_category.get(category) if category else None
        opens = (period and period.opens) or (override and override.opens) or stage.opens
        if opens is None and stage.opens_after is not None:
            # A counted opening that falls on a day off opens the next working day: its letter had
            # gone out on a Saturday ("2028-10-14 周六 开始受理"). A written date is the officer's own.
            opens = self._roll(self.relative(stage.opens_after, category), "next_workday")[0]
        return opens

    def deadline(self, d: Deadline, category: str | None) -> ResolvedDeadline:
        day = d.date if d.date is not None else self.relative(d.after, category)  # type: ignore[arg-type]
        if d.date is not None and d.workdays:  # 季度结束后10个工作日内: counted past the calendar's days off
            day = self.cal.add_workdays(day, d.workdays)
        day, rolled_from, _ = self._roll(day, d.roll)
        if d.inclusive:
            cutoff = at(day, d.time)
            last_day = self.cal.previous_workday(day)
        else:
            # "X月X日前" read strictly: the day itself is too late.
            cutoff = at(day)
            last_day = self.cal.previous_workday(day, include_self=False)
        return ResolvedDeadline(day, cutoff, last_day, rolled_from, d.roll if rolled_from else None)


def moved(rolled_from: dt.date | None, roll: str | None, holiday: bool = False) -> str:
    """How a moved day is worded: 顺延 to the next working day, 提前 to the previous one; a day
    off that is a public holiday (``holiday``: 端午节) is a 节假日, a weekend a 休息日."""
    if rolled_from is None:
        return ""
    word = "顺延" if roll == "next_workday" else "提前"
    return f"（原定{rolled_from.month}月{rolled_from.day}日，遇{'节假日' if holiday else '休息日'}{word}）"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later; the month's last day when it is shorter (1月31日 + 1 → 2月28日)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_on(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` on; 29 February goes on to 1 March (a title named then is valid to the 28th: add_months,
    clamping to the 28th, had ended it a day early)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)
