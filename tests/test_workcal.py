"""The working-day calendar: official data, operator files, the fallback and its warnings."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import textwrap
from pathlib import Path

import chinese_calendar
import pytest

from qcycle import workcal
from qcycle.errors import ConfigError
from qcycle.settings import REPO_ROOT, get_settings
from qcycle.workcal import WorkCalendar, default_calendar

D = dt.date.fromisoformat
CALENDAR_DIR = REPO_ROOT / "config" / "calendar"


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def cal(empty_dir: Path) -> WorkCalendar:
    """A calendar with no operator files: only the package data and the fallback."""
    return WorkCalendar(empty_dir)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def days_of(year: int) -> list[dt.date]:
    first = dt.date(year, 1, 1)
    return [first + dt.timedelta(days=i) for i in range((dt.date(year + 1, 1, 1) - first).days)]


# --------------------------------------------------------------------------- official data


def test_2026_spring_festival_make_up_saturday_and_break(cal: WorkCalendar) -> None:
    assert D("2026-02-14").weekday() == 5
    assert cal.is_workday(D("2026-02-14"))
    assert cal.is_workday(D("2026-02-28"))
    for day in ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23"]:
        assert D(day).weekday() < 5
        assert not cal.is_workday(D(day)), day
    assert cal.source(2026) == "official"
    assert cal.warnings == []


def test_a_public_holiday_is_told_from_a_weekend(cal: WorkCalendar) -> None:
    """A deadline moved off 端午节 reads 遇节假日顺延, one moved off a Saturday 遇休息日顺延."""
    assert cal.is_holiday(dt.date(2024, 6, 10))  # 端午节, a Monday
    assert cal.is_holiday(dt.date(2023, 10, 1))  # 国庆节, a Sunday
    assert not cal.is_holiday(dt.date(2024, 6, 8))  # a plain Saturday
    assert not cal.is_holiday(dt.date(2024, 6, 11))  # a working day


def test_2023_make_up_saturday(cal: WorkCalendar) -> None:
    assert D("2023-01-28").weekday() == 5
    assert cal.is_workday(D("2023-01-28"))
    assert not cal.is_workday(D("2023-01-27"))  # Friday inside the Spring Festival break


def test_matches_chinese_calendar_for_every_covered_day(cal: WorkCalendar) -> None:
    for year in (2004, 2020, 2023, 2025, 2026):
        for day in days_of(year):
            assert cal.is_workday(day) == chinese_calendar.is_workday(day), day


def test_add_workdays_across_2023_national_day(cal: WorkCalendar) -> None:
    # Holidays 09-29 (Fri) .. 10-06 (Fri); Saturday 10-07 and Sunday 10-08 are make-up days.
    assert cal.add_workdays(D("2023-09-28"), 1) == D("2023-10-07")
    assert cal.add_workdays(D("2023-09-27"), 3) == D("2023-10-08")
    assert cal.add_workdays(D("2023-09-28"), 3) == D("2023-10-09")
    assert cal.add_workdays(D("2023-10-07"), -1) == D("2023-09-28")
    assert cal.add_workdays(D("2023-10-04"), -1) == D("2023-09-28")  # from inside the break
    assert cal.add_workdays(D("2023-10-09"), -2) == D("2023-10-07")
    assert cal.workdays_between(D("2023-09-28"), D("2023-10-08")) == 2
    assert cal.workdays_between(D("2023-09-28"), D("2023-10-06")) == 0


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_add_workdays_never_lands_on_a_day_off(cal: WorkCalendar, n: int) -> None:
    for day in days_of(2023):
        back = cal.add_workdays(day, -n)
        forth = cal.add_workdays(day, n)
        assert back < day < forth
        assert chinese_calendar.is_workday(back), (day, n, back)
        assert chinese_calendar.is_workday(forth), (day, n, forth)
        # (day, forth] holds exactly n working days; (back, day) holds n - 1
        assert cal.workdays_between(day, forth) == n
        assert cal.workdays_between(back, day) == n - 1 + cal.is_workday(day)


def test_add_workdays_zero_and_crossing_years(cal: WorkCalendar) -> None:
    assert cal.add_workdays(D("2023-10-01"), 0) == D("2023-10-01")
    # 2022-12-30 (Fri) -> next working day is 2023-01-03 (New Year holidays 12-31 .. 01-02)
    assert cal.add_workdays(D("2022-12-30"), 1) == D("2023-01-03")
    assert cal.add_workdays(D("2023-01-03"), -1) == D("2022-12-30")
    assert cal.workdays_between(D("2022-12-30"), D("2023-01-03")) == 1
    # a year of working days from 2023-01-01 lands on the last working day of 2023
    total = cal.workdays_between(D("2022-12-31"), D("2023-12-31"))
    assert total == sum(chinese_calendar.is_workday(d) for d in days_of(2023))
    assert cal.add_workdays(D("2022-12-31"), total) == D("2023-12-29")


def test_next_and_previous_workday(cal: WorkCalendar) -> None:
    assert cal.next_workday(D("2023-09-29")) == D("2023-10-07")
    assert cal.next_workday(D("2023-09-28")) == D("2023-09-28")
    assert cal.next_workday(D("2023-09-28"), include_self=False) == D("2023-10-07")
    assert cal.previous_workday(D("2023-10-06")) == D("2023-09-28")
    assert cal.previous_workday(D("2023-10-07")) == D("2023-10-07")
    assert cal.previous_workday(D("2023-10-07"), include_self=False) == D("2023-09-28")


def test_workdays_between_is_half_open(cal: WorkCalendar) -> None:
    mon, fri = D("2023-03-06"), D("2023-03-10")
    assert cal.workdays_between(mon, fri) == 4  # Tue..Fri
    assert cal.workdays_between(fri, mon) == 0
    assert cal.workdays_between(mon, mon) == 0
    for n in range(1, 40):
        assert cal.workdays_between(mon, cal.add_workdays(mon, n)) == n


def test_datetime_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        cal.is_workday(dt.datetime(2023, 1, 28, 9, 0))  # type: ignore[arg-type]


def test_each_year_is_built_once(cal: WorkCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = chinese_calendar.is_workday

    def counting(day: dt.date) -> bool:
        nonlocal calls
        calls += 1
        return real(day)

    monkeypatch.setattr(workcal.chinese_calendar, "is_workday", counting)
    workcal._official_flags.cache_clear()  # what earlier tests asked is asked again here
    start = D("2024-01-01")
    for i in range(5000):
        cal.add_workdays(start + dt.timedelta(days=i % 700), (i % 7) - 3)
    assert calls == 366 + 365 + 365  # 2024, 2025, 2026: each day asked once
    # Another calendar of the process (the CLI's next command, a test's own) asks chinese-calendar nothing again.
    other = WorkCalendar(cal.calendar_dir)
    assert other.add_workdays(start, 30) == cal.add_workdays(start, 30) and calls == 366 + 365 + 365


# --------------------------------------------------------------------------- fallback


def test_2027_falls_back_to_the_statutory_holidays_with_one_warning(
    cal: WorkCalendar, empty_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="qcycle.workcal")
    assert cal.source(2027) == "fallback"
    # 元旦 is a Friday: off by law even before the year's notice is out.
    assert not cal.is_workday(D("2027-01-01")) and cal.is_holiday(D("2027-01-01"))
    assert not cal.is_workday(D("2027-01-02"))  # Saturday
    assert cal.add_workdays(D("2026-12-31"), 1) == D("2027-01-04")
    off = {day for day in days_of(2027) if day.weekday() < 5 and not cal.is_workday(day)}
    assert off == {
        D("2027-01-01"),  # 元旦
        D("2027-02-05"), D("2027-02-08"),  # 除夕 (Fri), 正月初三 (Mon); 初一, 初二 a weekend
        D("2027-02-09"), D("2027-02-10"),  # 补休 for 初一 and 初二
        D("2027-04-05"),  # 清明
        D("2027-05-03"), D("2027-05-04"),  # 5月1日、2日 a weekend: 补休
        D("2027-06-09"),  # 端午 (农历五月初五)
        D("2027-09-15"),  # 中秋 (农历八月十五)
        D("2027-10-01"), D("2027-10-04"), D("2027-10-05"),  # 国庆 Fri, and 补休 for Sat, Sun
    }
    # No 调休 is guessed: every weekend day stays off.
    assert not any(cal.is_workday(day) for day in days_of(2027) if day.weekday() >= 5)
    assert not cal.is_holiday(D("2027-01-09")) and cal.is_holiday(D("2027-10-02"))
    assert len(cal.warnings) == 1
    warning = cal.warnings[0]
    assert warning.startswith(
        "2027年的官方节假日安排未收录（chinese-calendar 1.11.0 仅含2004–2026年）"
    )
    assert "备用规则“法定节假日（元旦、春节、清明、劳动节、端午、中秋、国庆，逢周末顺延补休），不含调休”" in warning
    assert str(empty_dir / "2027.yaml") in warning
    assert "（或用环境变量 QCYCLE_CONFIG_DIR 指定另一个配置目录，日历放在其下的 calendar/）" in warning  # the shipped folder may be read-only
    logged = [r for r in caplog.records if r.name == "qcycle.workcal"]
    assert [r.getMessage() for r in logged] == [warning]
    assert logged[0].levelno == logging.WARNING


def test_the_statutory_rule_makes_up_a_weekend_holiday_and_knows_a_spring_festival_in_january(
    cal: WorkCalendar,
) -> None:
    # 2028: 元旦 a Saturday (补休 Monday 3 January); 春节 26 January, 除夕 the 25th; 端午 a Sunday;
    # 国庆 from a Sunday (补休 the 4th), 中秋 (3 October) inside it, made up on the 5th as 2020's was.
    off = {day for day in days_of(2028) if day.weekday() < 5 and not cal.is_workday(day)}
    assert off == {
        D("2028-01-03"), D("2028-01-25"), D("2028-01-26"), D("2028-01-27"), D("2028-01-28"),
        D("2028-04-04"), D("2028-05-01"), D("2028-05-02"), D("2028-05-29"),
        D("2028-10-02"), D("2028-10-03"), D("2028-10-04"), D("2028-10-05"),
    }


def test_one_warning_per_fallback_year(cal: WorkCalendar) -> None:
    # stepping from late 2026 across 2027 into 2028 touches two uncovered years
    end = cal.add_workdays(D("2026-12-01"), 300)
    assert end.year == 2028
    cal.add_workdays(end, -300)
    cal.workdays_between(D("2026-01-01"), D("2028-12-31"))
    assert len(cal.warnings) == 2
    assert cal.warnings[0].startswith("2027年") and cal.warnings[1].startswith("2028年")
    assert cal.source(2026) == "official"


def test_years_before_the_package_also_fall_back_to_weekends_only(cal: WorkCalendar) -> None:
    # The statutory rule read for later years is the one amended for 2025; earlier years had others.
    assert cal.source(2003) == "fallback"
    assert cal.is_workday(D("2003-01-01")) and not cal.is_holiday(D("2003-10-01"))
    assert cal.warnings[0].startswith("2003年") and "备用规则“仅周末休息”" in cal.warnings[0]


# --------------------------------------------------------------------------- operator files

GOOD_2027 = """
year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知
holidays:
  - 2027-01-01
  - {from: 2027-02-06, to: 2027-02-12, name: 春节}
  - {date: 2027-06-09, name: 端午节}
workdays:
  - 2027-02-20
"""


def test_operator_file_for_2027_takes_precedence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "2027.yaml", GOOD_2027)
    caplog.set_level(logging.WARNING, logger="qcycle.workcal")
    cal = WorkCalendar(tmp_path)
    assert cal.source(2027) == "operator"
    assert not cal.is_workday(D("2027-01-01"))  # a Friday holiday
    assert not cal.is_workday(D("2027-02-08"))  # a Monday in the Spring Festival break
    assert not cal.is_workday(D("2027-06-09"))  # a Wednesday
    assert cal.is_workday(D("2027-02-20"))  # make-up Saturday
    assert not cal.is_workday(D("2027-02-21"))  # an ordinary Sunday
    assert cal.is_workday(D("2027-02-05"))  # an ordinary Friday
    assert cal.add_workdays(D("2027-02-05"), 1) == D("2027-02-15")
    assert cal.add_workdays(D("2027-02-19"), 1) == D("2027-02-20")
    assert cal.is_holiday(D("2027-02-06")) and not cal.is_holiday(D("2027-02-21"))  # a break's Saturday; a Sunday
    assert cal.warnings == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_operator_file_overrides_package_data(tmp_path: Path) -> None:
    # A deliberately different 2025: only New Year off, no make-up days.
    write(
        tmp_path,
        "2025.yaml",
        """
        year: 2025
        source: 测试：覆盖官方数据
        holidays: [2025-01-01, 2025-03-03]
        """,
    )
    cal = WorkCalendar(tmp_path)
    assert cal.source(2025) == "operator"
    assert chinese_calendar.is_workday(D("2025-10-01")) is False
    assert cal.is_workday(D("2025-10-01"))  # National Day is not in the file
    assert chinese_calendar.is_workday(D("2025-01-26")) is True
    assert not cal.is_workday(D("2025-01-26"))  # the package's make-up Sunday is gone
    assert not cal.is_workday(D("2025-03-03"))  # the file's own holiday, a Monday
    assert cal.source(2024) == "official"
    assert cal.warnings == []


def test_example_sample_file_is_valid(tmp_path: Path) -> None:
    shutil.copy(CALENDAR_DIR / "example-2027.yaml.sample", tmp_path / "2027.yaml")
    cal = WorkCalendar(tmp_path)
    assert cal.source(2027) == "operator"
    assert not cal.is_workday(D("2027-10-04"))
    assert cal.is_workday(D("2027-10-09"))


def test_shipped_calendar_folder_loads() -> None:
    # README.md and the .sample file sit there and must not be read as operator files.
    cal = WorkCalendar(CALENDAR_DIR)
    assert cal.source(2026) == "official"


def test_missing_folder_means_no_operator_files(tmp_path: Path) -> None:
    cal = WorkCalendar(tmp_path / "nowhere")
    assert cal.source(2023) == "official"


def test_default_calendar_is_cached_and_uses_settings() -> None:
    assert default_calendar() is default_calendar()
    assert default_calendar().calendar_dir == get_settings().calendar_dir


# --------------------------------------------------------------------------- broken files

BASE = "year: 2027\nsource: 通知\n"

# (case, file name, text, expected path, expected line, words expected in the message)
BROKEN = [
    (
        "impossible date in a range",
        "2027.yaml",
        BASE + "holidays:\n  - 2027-01-01\n  - {from: 2027-02-06, to: 2027-02-30}\n",
        "holidays[1].to",
        5,
        "2027-02-30",
    ),
    (
        "impossible single date",
        "2027.yaml",
        BASE + "holidays:\n  - 2027-13-01\n",
        "holidays[0]",
        4,
        "2027-13-01",
    ),
    (
        "date outside the declared year",
        "2027.yaml",
        BASE + "holidays:\n  - 2027-01-01\nworkdays:\n  - 2026-02-14\n",
        "workdays[0]",
        6,
        "2027",
    ),
    (
        "range end outside the year",
        "2027.yaml",
        BASE + "holidays:\n  - {from: 2027-12-31, to: 2028-01-01}\n",
        "holidays[0].to",
        4,
        "2027",
    ),
    (
        "from after to",
        "2027.yaml",
        BASE + "holidays:\n  - {from: 2027-02-12, to: 2027-02-06, name: 春节}\n",
        "holidays[0].to",
        4,
        "早于",
    ),
    (
        "range far too long",
        "2027.yaml",
        BASE + "holidays:\n  - {from: 2027-02-06, to: 2027-12-12}\n",
        "holidays[0].to",
        4,
        "笔误",
    ),
    (
        "both holiday and workday",
        "2027.yaml",
        BASE + "holidays:\n  - {from: 2027-02-06, to: 2027-02-12}\nworkdays:\n  - 2027-02-20\n"
        "  - 2027-02-06\n",
        "workdays[1]",
        7,
        "holidays[0]",
    ),
    (
        "weekday listed as make-up day",
        "2027.yaml",
        BASE + "holidays: [2027-01-01]\nworkdays:\n  - 2027-02-17\n",
        "workdays[0]",
        5,
        "星期三",
    ),
    (
        "malformed YAML",
        "2027.yaml",
        BASE + "holidays:\n  - 2027-01-01\n  - from: 2027-02-06 to: 2027-02-12\n",
        "",
        5,
        "YAML",
    ),
    (
        "unclosed bracket",
        "2027.yaml",
        BASE + "holidays:\n  - {from: 2027-02-06, to: 2027-02-12\n  - 2027-01-01\n",
        "",
        6,
        "第 4 行",
    ),
    (
        "year differs from file name",
        "2027.yaml",
        "year: 2028\nsource: 通知\nholidays: [2028-01-01]\n",
        "year",
        1,
        "2027.yaml",
    ),
    (
        "year is not a number",
        "2027.yaml",
        "year: 二〇二七\nsource: 通知\nholidays: [2027-01-01]\n",
        "year",
        1,
        "整数",
    ),
    (
        "missing source",
        "2027.yaml",
        "year: 2027\nholidays: [2027-01-01]\n",
        "source",
        1,
        "缺少",
    ),
    (
        "unknown key (typo)",
        "2027.yaml",
        BASE + "holidays: [2027-01-01]\nworkday:\n  - 2027-02-20\n",
        "workday",
        4,  # the misspelt key's own line
        "不认识",
    ),
    (
        "unknown key in an entry",
        "2027.yaml",
        BASE + "holidays:\n  - {from: 2027-02-06, till: 2027-02-12}\n",
        "holidays[0].till",
        4,
        "不认识",
    ),
    (
        "range without end",
        "2027.yaml",
        BASE + "holidays:\n  - 2027-01-01\n  - {from: 2027-02-06, name: 春节}\n",
        "holidays[1].to",
        5,
        "to",
    ),
    (
        "date with a time",
        "2027.yaml",
        BASE + "holidays:\n  - 2027-01-01 09:00\n",
        "holidays[0]",
        4,
        "YYYY-MM-DD（如 2027-01-01），实际为 '2027-01-01 09:00'",
    ),
    (
        "holidays not a list",
        "2027.yaml",
        BASE + "holidays: 2027-01-01\n",
        "holidays",
        3,
        "列表",
    ),
    (
        "repeated key",
        "2027.yaml",
        BASE + "holidays: [2027-01-01]\nholidays: [2027-10-01]\n",
        "holidays",
        4,
        "重复",
    ),
    (
        "top level is a list",
        "2027.yaml",
        "- 2027-01-01\n",
        "",
        1,
        "映射",
    ),
    (
        "empty file",
        "2027.yaml",
        "# nothing yet\n",
        "",
        None,
        "为空",
    ),
    (
        "misnamed file",
        "2027.yml",
        GOOD_2027,
        "",
        None,
        "YYYY.yaml",
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "path", "line", "words"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_operator_file(
    tmp_path: Path, name: str, text: str, path: str, line: int | None, words: str
) -> None:
    file = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        WorkCalendar(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file == str(file)
    assert problem.path == path
    assert problem.line == line
    assert words in problem.message
    assert file.name in str(caught.value)


def test_all_problems_of_all_files_are_reported_together(tmp_path: Path) -> None:
    write(
        tmp_path,
        "2027.yaml",
        BASE + "holidays:\n  - 2027-02-30\n  - {from: 2027-05-05, to: 2027-05-01}\n",
    )
    write(tmp_path, "2028.yaml", "year: 2028\nsource: 通知\nholidays: [2027-01-01]\n")
    with pytest.raises(ConfigError) as caught:
        WorkCalendar(tmp_path)
    where = [(Path(p.file).name, p.path, p.line) for p in caught.value.problems]
    # 2027.yaml stops at its unreadable date; 2028.yaml is still checked and reported
    assert where == [("2027.yaml", "holidays[0]", 4), ("2028.yaml", "holidays[0]", 3)]
