"""Dates in a programme file: a day counted from another stage's event, a deadline with
explicit semantics, the period a round assesses and how often the programme runs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from qcycle.schema.base import Code, _Model

__all__ = ["Cadence", "ClockTime", "Deadline", "Event", "RelativeDate", "Roll", "RoundPeriod"]


def _clock_text(value: Any) -> Any:
    """A time of day is written "17:30"; a number is not one (pydantic would read 1700 as
    seconds after midnight, 00:28, and a deadline moves without a word)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("应为时刻 HH:MM（如 \"17:30\"），不是数字")  # noqa: TRY004 (pydantic reports ValueError)
    return value


ClockTime = Annotated[dt.time, BeforeValidator(_clock_text)]

Roll = Literal["next_workday", "previous_workday", "none"]
# The events of a stage a date can be counted from: the day a point stage happens (on), the day
# a window opens or is due, the day a 公示 ends.
Event = Literal["on", "opens", "deadline", "closes"]


class RelativeDate(_Model):
    """A date counted from an event of another stage, e.g. 1 month after results are published.

    ``event`` is explicit: "20 working days after the results" (``on``) and "after the
    rectification window" (``deadline``) are different dates, and the file must say which.
    """

    stage: Code
    event: Event = Field(description="on｜opens｜deadline｜closes：从该阶段的哪个时点起算")
    workdays: int | None = Field(None, ge=0)
    days: int | None = Field(None, ge=0)
    months: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_offset(self) -> RelativeDate:
        given = [x for x in (self.workdays, self.days, self.months) if x is not None]
        if len(given) != 1:
            raise ValueError("需要且只能给出 workdays（工作日）、days（自然日）或 months（月）之一")
        return self


class Deadline(_Model):
    """When something is due, with explicit semantics.

    ``inclusive``: the deadline day itself still counts (submissions until ``time`` that day);
    when false, the cut-off is the start of that day ("X月X日前" read strictly).
    ``roll``: what happens when the day is not a working day (顺延 to the next, 提前 to the
    previous working day, or none).
    """

    date: dt.date | None = None
    after: RelativeDate | None = None
    workdays: int | None = Field(None, ge=1, le=60, description=(
        "with date: due this many working days after it, the date not counted (季度结束后10个工作日内: "
        "date: 2025-03-31, workdays: 10 → 4月15日, past 清明), following the calendar's 调休"))
    time: ClockTime = dt.time(17, 30)
    inclusive: bool = True
    roll: Roll = "next_workday"
    assumption: str | None = Field(None, description="why this value, where the source is silent")

    @model_validator(mode="after")
    def _one_anchor(self) -> Deadline:
        if (self.date is None) == (self.after is None):
            raise ValueError("截止时间需要且只能给出 date（具体日期）或 after（相对某阶段）之一")
        if self.workdays is not None and self.date is None:
            raise ValueError("workdays（自某日起的第几个工作日）与 date 同用：date 写起算日（如季度最后一天），"
                             "相对某阶段的写 after: {stage, event, workdays}")
        return self


class RoundPeriod(_Model):
    """The period a round is about (考核期), separate from when its actions happen."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> RoundPeriod:
        if self.end < self.start:
            raise ValueError(f"考核期结束日 {self.end} 早于开始日 {self.start}")
        return self


class Cadence(_Model):
    """How often the programme runs (iCalendar FREQ=YEARLY;INTERVAL=n)."""

    every_years: int = Field(ge=1, le=10)
