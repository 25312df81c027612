"""Statutory public holidays (法定节假日) of a year the official calendar does not cover yet.

The rule is the law's, not a year's notice: 《全国年节及纪念日放假办法》 as amended in 2024 (in
force 2025-01-01) gives every citizen 元旦 1 day, 春节 4 (除夕 to 正月初三), 清明节 1, 劳动节 2
(5月1日、2日), 端午节 1, 中秋节 1 and 国庆节 3 (10月1日至3日); a holiday that falls on a
Saturday or Sunday is made up on the following working day (补休). What the State Council adds
each year, the 调休 that joins them into longer breaks, cannot be known before its notice, so a
year read by this rule is still a fallback (:mod:`qcycle.workcal` warns), but 2027-10-01 is no
longer a working day in it.

The lunar dates (春节, 端午, 中秋) and the solar term 清明 come from ``lunar_python``.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from lunar_python import Lunar

__all__ = ["FIRST_YEAR_OF_THE_RULE", "RULE", "statutory_holidays"]

# The amended rule applies from this year; earlier uncovered years (before the official data)
# are not guessed at.
FIRST_YEAR_OF_THE_RULE = 2025
RULE = "法定节假日（元旦、春节、清明、劳动节、端午、中秋、国庆，逢周末顺延补休），不含调休"


def _festivals(year: int) -> tuple[dict[dt.date, str], list[tuple[dt.date, str]]]:
    """The festival days of ``year`` with their names, and the festivals that fell on a day already
    off for another (中秋 on 10月3日, inside 国庆): each of those is made up like a weekend one (the
    2020 arrangement gave the eighth day)."""
    def solar(lunar: Lunar) -> dt.date:
        s = lunar.getSolar()
        return dt.date(s.getYear(), s.getMonth(), s.getDay())

    days: dict[dt.date, str] = {}
    overlaps: list[tuple[dt.date, str]] = []

    def add(day: dt.date, name: str) -> None:
        if day.year != year:
            return
        if day in days and days[day] != name:
            overlaps.append((day, name))
        else:
            days[day] = name

    add(dt.date(year, 1, 1), "元旦")
    # This year's 春节, and the next one's 除夕 when it falls in late December of this year.
    for new_year in (solar(Lunar.fromYmd(year, 1, 1)), solar(Lunar.fromYmd(year + 1, 1, 1))):
        for offset in range(-1, 3):
            add(new_year + dt.timedelta(days=offset), "春节")
    qingming = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    add(dt.date(qingming.getYear(), qingming.getMonth(), qingming.getDay()), "清明节")
    add(dt.date(year, 5, 1), "劳动节")
    add(dt.date(year, 5, 2), "劳动节")
    add(solar(Lunar.fromYmd(year, 5, 5)), "端午节")
    for d in (1, 2, 3):
        add(dt.date(year, 10, d), "国庆节")
    add(solar(Lunar.fromYmd(year, 8, 15)), "中秋节")
    return days, overlaps


@lru_cache
def statutory_holidays(year: int) -> dict[dt.date, str]:
    """Every day of ``year`` off by the statutory rule, with its name: the holidays themselves
    (weekend days included) and the 补休 for those on a weekend or on another holiday ("<节日>补休"),
    in date order. Empty for a year before :data:`FIRST_YEAR_OF_THE_RULE`."""
    if year < FIRST_YEAR_OF_THE_RULE:
        return {}
    festivals, overlaps = _festivals(year)
    off = dict(festivals)
    owed = sorted([(day, name) for day, name in festivals.items() if day.weekday() >= 5] + overlaps)
    for day, name in owed:
        # 补休: the first weekday after the holiday that is neither a holiday nor made up already.
        make_up = day + dt.timedelta(days=1)
        while make_up.weekday() >= 5 or make_up in off:
            make_up += dt.timedelta(days=1)
        if make_up.year == year:
            off[make_up] = name + "补休"
    return dict(sorted(off.items()))
