"""The next round's programme file from this one (``qcycle new-round FILE --year Y``).

Text in, text out, so the officer's comments and layout stay: every date outside comments
moves by whole years; a point day or window opening that lands on a day off moves to the next
working day of the official calendar (the previous one when the next is in another year), and
one that would no longer follow what it reads moves after it; the round's code, name and years follow. What a person
should look at is listed: moved days, deadlines that will roll, years the installed calendar
does not cover yet (the declared fallback is used), 29 February, references to other rounds,
and a year that does not fit the programme's cadence.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from qcycle.schema import Programme
from qcycle.workcal import WorkCalendar

__all__ = ["NewRound", "next_round"]

_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")
_YEAR = re.compile(r"(?<!\d)(20\d{2}|19\d{2})(?!\d)")
# Keys whose day is when something happens, not a cut-off: moved onto a working day.
_EVENT_KEYS = re.compile(r"\b(on|by|opens):\s*$")


@dataclass
class NewRound:
    text: str
    code: str
    notes: list[str] = field(default_factory=list)  # dates and facts that need a human eye


def _code_part(line: str) -> tuple[str, str]:
    """(code, comment) of a YAML line: a '#' starts a comment unless inside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote == ch else ch
        elif ch == "#" and quote is None and (i == 0 or line[i - 1] in " \t"):
            return line[:i], line[i:]
    return line, ""


def _shift(day: dt.date, years: int) -> tuple[dt.date, bool]:
    try:
        return day.replace(year=day.year + years), False
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28), True


def next_round(text: str, p: Programme, year: int, cal: WorkCalendar) -> NewRound:
    """The programme text moved to the round that starts in ``year``."""
    # The round's year: the period it assesses when it has one (2015 work assessed in 2016).
    first = p.round.period.start.year if p.round.period else p.round.years[0]
    shift = year - first
    notes: list[str] = []
    if shift <= 0:
        notes.append(f"新一届年份 {year} 不晚于本届（{first}）")
    every = p.round.cadence.every_years if p.round.cadence else None
    if every and shift % every:
        notes.append(f"方案每{every}年一届（cadence），{year} 年与本届相隔 {shift} 年，不是整届")
    covered_warnings = len(cal.warnings)
    code = p.round.code
    new_code = _new_code(code, shift, year)
    old_code = re.compile(rf"(\bcode:\s*[\"']?){re.escape(code)}(?=[\"']?\s*(,|}}|$))")
    out_lines = []
    in_round, notes_indent = False, None
    for line in text.splitlines(keepends=True):
        body, comment = _code_part(line)
        if re.match(r"^round:", body):
            in_round = True
        elif re.match(r"^\S", body) and not body.startswith("round"):
            in_round = False
        indent = len(body) - len(body.lstrip())
        if notes_indent is not None and body.strip() and indent <= notes_indent:
            notes_indent = None
        if re.match(r"^\s*notes:", body):
            notes_indent = indent
        # Prose keeps its dates: assumptions, sources and notes cite the source documents.
        prose = re.search(r"\b(assumption|source|description):|^\s*notes:", body)
        head, tail = (body[:prose.start()], body[prose.start():]) if prose else (body, "")
        if notes_indent is not None:
            head, tail = "", body
        body = _DATE.sub(functools.partial(_move, line=head, shift=shift, cal=cal, notes=notes), head) + tail
        if in_round:
            # The new round's own code (a code without a year gets one), then its name and years.
            body = old_code.sub(lambda m: m.group(1) + new_code, body)
        if in_round and re.match(r"^\s*(name|years):|^round:\s*\{", body):
            body = re.sub(rf"\b{re.escape(new_code)}\b|" + _YEAR.pattern, lambda m: m.group(0) if m.group(0) == new_code
                          else str(int(m.group(0)) + shift)
                          if min(first, p.round.years[0]) - 1 <= int(m.group(0)) <= p.round.years[-1] + 1
                          else m.group(0), body)
        # Period codes named by their year ("2023-07", "2025-Q1", "2025H1") follow the dates: a 2026
        # round's letters had read "质量强市工作进展（2025年第一季度）".
        body = re.sub(r'(\bcode:\s*["\']?)(\d{4})(?=[-_QqHh年])', lambda m: f"{m.group(1)}{int(m.group(2)) + shift}",
                      body)
        if "source_round:" in body:
            notes.append(f"引用了其他周期的结果（{body.strip()}）：请确认新一届应引用哪一届")
        out_lines.append(body + comment)
    new_text = _after_what_they_read("".join(out_lines), cal, notes)
    notes += [f"日历：{w}" for w in cal.warnings[covered_warnings:]]
    return NewRound(new_text, new_code, notes + _left_for_review(p))


def _after_what_they_read(text: str, cal: WorkCalendar, notes: list[str]) -> str:
    """Point days moved a year can land on or before what they read: a review set for "the
    working day after the deadline" (Sunday 21 April → Monday 22) falls on the deadline's own
    day once the deadline rolls (Saturday 20 April → Monday 22). Each such day moves to the
    first day the stage may fall on (:func:`~qcycle.timetable.checks.earliest_days`), noted; a
    move can leave a later stage too early in turn, so it is repeated until nothing moves."""
    from qcycle import yamlfile
    from qcycle.errors import ConfigError
    from qcycle.loader import read_schema
    from qcycle.timetable.checks import earliest_days

    for _ in range(10):  # a chain of stages each reading the one before: one move per pass
        doc = yamlfile.parse(text, "new-round")
        try:
            p, _ = read_schema(doc)
        except ConfigError:
            return text  # not a valid programme for other reasons: the validation says which
        lines = text.splitlines(keepends=True)
        earliest = earliest_days(p, cal)
        for i, stage in enumerate(p.stages):
            first = earliest.get(stage.code)
            if first is None or stage.on is None or stage.on >= first:
                continue
            line = doc.problem(("stages", i, "on"), "").line
            if line is None:
                continue
            moved = re.sub(rf"(\bon:\s*[\"']?){stage.on.isoformat()}", rf"\g<1>{first.isoformat()}",
                           lines[line - 1], count=1)
            if moved == lines[line - 1]:  # not where the file says: left to the validation
                continue
            lines[line - 1] = moved
            notes.append(f"“{stage.name}”{stage.on} 不晚于它所依据的阶段，已改为 {first}（请核对）")
            break
        else:
            return text
        text = "".join(lines)
    return text


def _new_code(code: str, shift: int, year: int) -> str:
    """The new round's code: its year moved, or the year appended to a code without one."""
    new_code = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), code) if _YEAR.search(code) else f"{code}-{year}"
    return f"{code}-{year}" if new_code == code else new_code


def _left_for_review(p: Programme) -> list[str]:
    """What the move leaves as it was, for the officer to check."""
    notes = [f"阶段名称“{s.name}”含年份或届次，未改动：请核对" for s in p.stages
             if _YEAR.search(s.name) or "届" in s.name]
    if p.assessment is not None and any(i.year or i.cumulative_years for i in p.assessment.indicators):
        notes.append("指标的 year / cumulative_years 未改动：请按新一届的考核期核对")
    if not _YEAR.search(p.round.name):
        notes.append(f"周期名称“{p.round.name}”不含年份，未改动：请核对届次等文字")
    return notes


def _move(m: re.Match[str], line: str, shift: int, cal: WorkCalendar, notes: list[str]) -> str:
    old = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    day, clipped = _shift(old, shift)
    if clipped:
        notes.append(f"{old} 为2月29日，新一届改为 {day}，请核对")
    before = line[:m.start()]
    key = re.search(r"(\w+):\s*\{?\s*$", before)
    if _EVENT_KEYS.search(before) and not cal.is_workday(day):
        moved = cal.next_workday(day)
        # "by" is "不晚于": the working day before (a call due by 3月1日 had gone out on 3月2日); a
        # year-end event (通报 on 31 December) stays in its year.
        if key and key.group(1) == "by" or moved.year != day.year:
            moved = cal.previous_workday(day)
        notes.append(f"{key.group(1) if key else '日期'} {old} → {day} 不是工作日，已改为 {moved}（请核对）")
        day = moved
    elif key and key.group(1) == "date" and not cal.is_workday(day) and not re.search(r"\bworkdays:", line):
        if re.search(r"\broll:\s*[\"']?none\b", line):  # not moved: said so, not "将按 roll 规则顺延"
            notes.append(f"截止日 {old} → {day} 不是工作日，roll: none 不顺延，截止日仍为 {day}（请核对是否改为工作日）")
        else:
            notes.append(f"截止日 {old} → {day} 不是工作日，将按 roll 规则顺延或提前（请核对）")
    return day.isoformat()
