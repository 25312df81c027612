"""The official working-day calendar (工作日历), 调休 included.

Where a year's answer comes from, first match wins:

1. ``operator``: an operator file ``<calendar_dir>/YYYY.yaml`` (the State Council notice for
   the year, typed in by staff). It replaces the package data for that year entirely.
2. ``official``: the ``chinese_calendar`` package (its data, not a copy of it).
3. ``fallback``: a declared rule, the statutory holidays of :mod:`qcycle.holidays` (元旦, 春节,
   清明, 劳动节, 端午, 中秋, 国庆 and their 补休, no 调休) and weekends, with a Chinese warning
   collected on the calendar (:attr:`WorkCalendar.warnings`) and logged once per year. A year
   before the amended rule (before the package's data) is read as weekends only.

Every year is expanded once into a per-day table and a sorted list of working days, so counting
and stepping over working days is a bisection, not a day-by-day walk.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import chinese_calendar
from chinese_calendar import constants as cc_constants
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from qcycle import holidays, yamlfile
from qcycle.errors import CalendarError, ConfigError, Problem
from qcycle.settings import get_settings
from qcycle.yamlfile import Document, Loc, path_str

__all__ = ["Source", "WorkCalendar", "default_calendar"]

logger = logging.getLogger("qcycle.workcal")

Source = Literal["operator", "official", "fallback"]

# Derived from the package's own data so that an upgrade widens coverage by itself.
_CC_VERSION = getattr(chinese_calendar, "__version__", "?")
_CC_FIRST_YEAR = min(cc_constants.holidays).year
_CC_LAST_YEAR = max(cc_constants.holidays).year

# A holiday break longer than this is almost certainly a typo (2027-12-12 for 2027-02-12).
_MAX_RANGE_DAYS = 31
_FILE_NAME = re.compile(r"^\d{4}\.yaml$")
_WEEKDAY_ZH = "一二三四五六日"


# --------------------------------------------------------------------------- operator files


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_format", "应为日期（YYYY-MM-DD），不能带时间")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError(
                "date_impossible",
                "日期不存在：{value}（应为日历上真实存在的日期）",
                {"value": value},
            ) from None
    raise PydanticCustomError(
        "date_format",
        "应为日期，格式 YYYY-MM-DD（如 2027-01-01），实际为 {value}",
        {"value": repr(value)},
    )


_Date = Annotated[dt.date, BeforeValidator(_parse_date)]


def _entry_from_scalar(value: Any) -> Any:
    # "- 2027-01-01" is shorthand for "- {date: 2027-01-01}".
    return value if isinstance(value, dict) else {"date": value}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    date: _Date | None = None
    from_: _Date | None = Field(None, alias="from")
    to: _Date | None = None
    name: str | None = None


_EntryField = Annotated[_Entry, BeforeValidator(_entry_from_scalar)]


class _OperatorFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int
    source: str = Field(min_length=1)
    holidays: list[_EntryField] = Field(min_length=1)
    workdays: list[_EntryField] = Field(default_factory=list)


@dataclass(frozen=True)
class _OperatorYear:
    year: int
    file: Path
    source: str
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]


_LOC = Loc


def _pydantic_message(err: Any) -> str:
    kind, loc = err["type"], err["loc"]
    if kind == "missing":
        return "缺少必填字段"
    if kind == "extra_forbidden":
        allowed = (
            "year、source、holidays、workdays" if len(loc) == 1 else "date 或 from/to，以及 name"
        )
        return f"不认识的字段（此处只允许 {allowed}）"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"应为整数年份（如 2027），实际为 {err.get('input')!r}"
    if kind == "list_type":
        return "应为列表（每项一行，以 - 开头）"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "应为日期（YYYY-MM-DD）或区间 {from: YYYY-MM-DD, to: YYYY-MM-DD, name: …}"
    if kind == "string_type":
        return f"应为文字，实际为 {err.get('input')!r}"
    if kind == "too_short" and loc == ("holidays",):
        return "至少要列出一个假日"
    if kind == "too_short" and loc == ("source",):
        return "不能为空：写明依据的通知（如 国务院办公厅关于2027年部分节假日安排的通知）"
    return err["msg"]


def _entry_days(
    where: Document, section: str, index: int, entry: _Entry, year: int
) -> tuple[list[dt.date], list[Problem]]:
    """The days one entry stands for, or the problems that keep it from standing for any."""
    loc: _LOC = (section, index)
    problems: list[Problem] = []
    if entry.date is not None and (entry.from_ is not None or entry.to is not None):
        return [], [where.problem(loc, "单日写 date，区间写 from/to，二者不能同时出现")]
    if entry.date is not None:
        first = last = entry.date
        first_loc = last_loc = (*loc, "date")
    elif entry.from_ is not None and entry.to is not None:
        first, last = entry.from_, entry.to
        first_loc, last_loc = (*loc, "from"), (*loc, "to")
    elif entry.from_ is not None:
        return [], [where.problem((*loc, "to"), "区间缺少结束日期 to（单日请直接写日期）")]
    elif entry.to is not None:
        return [], [where.problem((*loc, "from"), "区间缺少开始日期 from")]
    else:
        return [], [where.problem(loc, "应写日期，或 from/to 区间")]
    ends = [(first, first_loc)] if first_loc == last_loc else [(first, first_loc), (last, last_loc)]
    for day, day_loc in ends:
        if day.year != year:
            problems.append(
                where.problem(day_loc, f"{day.isoformat()} 不在本文件声明的 {year} 年内")
            )
    if first > last:
        problems.append(
            where.problem(last_loc, f"结束日期 {last.isoformat()} 早于开始日期 {first.isoformat()}")
        )
    elif (last - first).days + 1 > _MAX_RANGE_DAYS:
        problems.append(
            where.problem(
                last_loc,
                f"区间长达 {(last - first).days + 1} 天，超过 {_MAX_RANGE_DAYS} 天，疑似笔误",
            )
        )
    if problems:
        return [], problems
    return _span(first, last), []


def _load_operator_file(file: Path) -> _OperatorYear:
    """Read and check one ``YYYY.yaml``; raise ConfigError with every problem found."""
    where = yamlfile.read(file)
    root, data = where.root, where.data
    if root is None:
        raise ConfigError([where.problem((), "文件为空：应含 year、source、holidays、workdays")])
    if not isinstance(data, dict):
        raise ConfigError(
            [where.problem((), "应为映射，含 year、source、holidays、workdays 四个字段")]
        )
    problems = where.duplicate_keys()
    try:
        parsed = _OperatorFile.model_validate(data)
    except ValidationError as exc:
        problems += [where.problem(e["loc"], _pydantic_message(e)) for e in exc.errors()]
        raise ConfigError(problems) from exc

    stem_year = int(file.stem)
    if parsed.year != stem_year:
        problems.append(
            where.problem(("year",), f"year 为 {parsed.year}，与文件名 {file.name} 不一致")
        )
    holiday_at: dict[dt.date, _LOC] = {}
    for i, entry in enumerate(parsed.holidays):
        days, found = _entry_days(where, "holidays", i, entry, parsed.year)
        problems += found
        for day in days:
            holiday_at.setdefault(day, ("holidays", i))
    workdays: set[dt.date] = set()
    for i, entry in enumerate(parsed.workdays):
        days, found = _entry_days(where, "workdays", i, entry, parsed.year)
        problems += found
        for day in days:
            if day in holiday_at:
                problems.append(
                    where.problem(
                        ("workdays", i),
                        f"{day.isoformat()} 同时列为假日（{path_str(holiday_at[day])}）"
                        "和调休上班日",
                    )
                )
            elif day.weekday() < 5:
                problems.append(
                    where.problem(
                        ("workdays", i),
                        f"{day.isoformat()} 是星期{_WEEKDAY_ZH[day.weekday()]}，本来就上班；"
                        "workdays 只列调休上班的周六、周日",
                    )
                )
            workdays.add(day)
    if problems:
        raise ConfigError(problems)
    return _OperatorYear(
        year=parsed.year,
        file=file,
        source=parsed.source,
        holidays=frozenset(holiday_at),
        workdays=frozenset(workdays),
    )


def _load_operator_dir(calendar_dir: Path) -> dict[int, _OperatorYear]:
    """Every ``YYYY.yaml`` in the folder, all checked up front so a bad file fails loudly at
    start, not months later when its year is first asked about."""
    if not calendar_dir.is_dir():
        return {}
    years: dict[int, _OperatorYear] = {}
    problems: list[Problem] = []
    for file in sorted(calendar_dir.iterdir()):
        if file.suffix.lower() not in {".yaml", ".yml"}:
            continue  # README.md, *.sample and the like
        if not _FILE_NAME.match(file.name):
            # A misnamed file would otherwise be ignored and its year silently fall back.
            problems.append(
                Problem(str(file), "", "日历文件应命名为 YYYY.yaml（如 2027.yaml），否则不会被读取")
            )
            continue
        try:
            loaded = _load_operator_file(file)
        except ConfigError as exc:
            problems += exc.problems
            continue
        years[loaded.year] = loaded
    if problems:
        raise ConfigError(problems)
    return years


# --------------------------------------------------------------------------- the calendar


@dataclass(frozen=True)
class _Year:
    source: Source
    first_ordinal: int  # ordinal of 1 January
    flags: bytes  # one byte per day of the year, 1 = working day
    ordinals: list[int]  # ordinals of the working days, ascending


def _span(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _days(year: int) -> list[dt.date]:
    """Every day of ``year``, from 1 January."""
    return _span(dt.date(year, 1, 1), dt.date(year, 12, 31))


@cache
def _official_flags(year: int) -> tuple[bool, ...] | None:
    """chinese-calendar's working days of ``year``, one flag a day from 1 January (None: a year it does not
    cover). Asked once a process: every calendar (the CLI's, a test's) had asked it again, day by day (7 ms a year)."""
    try:
        return tuple(chinese_calendar.is_workday(d) for d in _days(year))
    except NotImplementedError:
        return None


class WorkCalendar:
    """Working days by the official calendar; see the module docstring for the sources."""

    def __init__(self, calendar_dir: Path | None = None) -> None:
        self._dir = Path(calendar_dir) if calendar_dir is not None else get_settings().calendar_dir
        self._operator = _load_operator_dir(self._dir)
        self._years: dict[int, _Year] = {}
        self._warnings: list[str] = []
        # Flows may ask from several threads; a year is built and warned about once.
        self._lock = threading.Lock()

    @property
    def calendar_dir(self) -> Path:
        return self._dir

    @property
    def warnings(self) -> list[str]:
        """Fallback warnings so far, one per year, in the order the years were first used."""
        return list(self._warnings)

    def source(self, year: int) -> Source:
        return self._year(year).source

    def is_workday(self, day: dt.date) -> bool:
        _check_date(day)
        year = self._year(day.year)
        return year.flags[day.toordinal() - year.first_ordinal] == 1

    def is_holiday(self, day: dt.date) -> bool:
        """Whether ``day`` is a public holiday (节假日, 端午节 or a day of the 国庆 break), not just a
        weekend: the operator's file where it covers the year, else chinese-calendar."""
        _check_date(day)
        operator = self._operator.get(day.year)
        if operator is not None:
            return day in operator.holidays
        if self._year(day.year).source == "fallback":
            return day in holidays.statutory_holidays(day.year)
        return chinese_calendar.get_holiday_detail(day)[1] is not None

    def next_workday(self, day: dt.date, *, include_self: bool = True) -> dt.date:
        if include_self and self.is_workday(day):
            return day
        return self.add_workdays(day, 1)

    def previous_workday(self, day: dt.date, *, include_self: bool = True) -> dt.date:
        if include_self and self.is_workday(day):
            return day
        return self.add_workdays(day, -1)

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day after ``day`` (n > 0) or before it (n < 0); ``day`` itself is
        not counted, so ``add_workdays(deadline, -1)`` is the working day before the deadline.
        ``n == 0`` returns ``day`` unchanged, working day or not."""
        _check_date(day)
        ordinal, remaining, year_no = day.toordinal(), abs(n), day.year
        if n > 0:
            while True:
                year = self._year(year_no)
                start = bisect.bisect_right(year.ordinals, ordinal)
                if remaining <= len(year.ordinals) - start:
                    return dt.date.fromordinal(year.ordinals[start + remaining - 1])
                remaining -= len(year.ordinals) - start
                year_no += 1
        elif n < 0:
            while True:
                year = self._year(year_no)
                end = bisect.bisect_left(year.ordinals, ordinal)
                if remaining <= end:
                    return dt.date.fromordinal(year.ordinals[end - remaining])
                remaining -= end
                year_no -= 1
        return day

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]: ``start`` excluded, ``end`` included; 0 if end <= start."""
        _check_date(start)
        _check_date(end)
        if end <= start:
            return 0
        lo, hi, total = start.toordinal(), end.toordinal(), 0
        for year_no in range(start.year, end.year + 1):
            ords = self._year(year_no).ordinals
            total += bisect.bisect_right(ords, hi) - bisect.bisect_right(ords, lo)
        return total

    # ------------------------------------------------------------------ internals

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._years.get(year)
            if cached is None:
                cached = self._years[year] = self._build(year)
            return cached

    def _build(self, year: int) -> _Year:
        if not dt.MINYEAR <= year <= dt.MAXYEAR:
            raise CalendarError(f"{year}年超出可计算的日期范围")
        days = _days(year)
        source: Source
        flags: Sequence[bool]
        operator = self._operator.get(year)
        if operator is not None:
            source = "operator"
            flags = [
                d in operator.workdays or (d.weekday() < 5 and d not in operator.holidays)
                for d in days
            ]
            logger.info(
                "%d年工作日按运营方文件 %s 计算（依据：%s）", year, operator.file, operator.source
            )
        elif (official := _official_flags(year)) is not None:
            flags = official
            source = "official"
        else:
            source = "fallback"
            off = holidays.statutory_holidays(year)
            flags = [d.weekday() < 5 and d not in off for d in days]
            self._warn(year)
        return _Year(
            source=source,
            first_ordinal=days[0].toordinal(),
            flags=bytes(flags),
            ordinals=[d.toordinal() for d, work in zip(days, flags, strict=True) if work],
        )

    def _warn(self, year: int) -> None:
        message = (
            f"{year}年的官方节假日安排未收录（chinese-calendar {_CC_VERSION} 仅含"
            f"{_CC_FIRST_YEAR}–{_CC_LAST_YEAR}年），已按备用规则“{_rule(year)}”计算；"
            f"请在 {self._dir / f'{year}.yaml'} 提供当年安排"
            # The shipped folder may be read-only (an installed package, a shared checkout).
            "（或用环境变量 QCYCLE_CONFIG_DIR 指定另一个配置目录，日历放在其下的 calendar/）。"
        )
        if message not in self._warnings:
            self._warnings.append(message)
        if message not in _LOGGED:  # once a process: commands build several calendars (ops read it 2–10 times)
            _LOGGED.add(message)
            logger.warning(message)


_LOGGED: set[str] = set()


def _rule(year: int) -> str:
    return holidays.RULE if year >= holidays.FIRST_YEAR_OF_THE_RULE else "仅周末休息"


def _check_date(day: object) -> None:
    # A datetime would silently drop its time zone here; callers convert with clock.to_local.
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"expected datetime.date, got {type(day).__name__}")


@lru_cache
def default_calendar() -> WorkCalendar:
    """The process-wide calendar from settings (``config/calendar/``), built once."""
    return WorkCalendar(get_settings().calendar_dir)
