"""Where a record belongs: the stage it was handed in at (of several that take its kind), the
assessment a reviewer's value is for, the deadline that applies to it and whether it is late,
and why a record fits no window of its stage (no or an unknown period, no item where the stage
is per item)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from qcycle.schema import Programme, Stage
from qcycle.timetable import Timetable

__all__ = ["assessment_of", "in_own_words", "lateness_of", "misnamed_stage", "own_deadlines", "stage_of", "stages_for",
           "unplaced"]


def in_own_words(p: Programme, record: Mapping[str, Any]) -> Mapping[str, Any]:
    """A record with the file's own words read: its kind word as its kind ("申报材料" means the
    application); a kind word naming one of several stages of a kind (年终自评 beside 半年自评) as
    that stage too; a stage given by name as its code."""
    words = p.kind_words
    if isinstance(word := record.get("kind"), str) and word in words:
        named = p.stage_words.get(word)
        record = {**record, "kind": words[word]} | ({"stage": named} if named and not record.get("stage") else {})
    if isinstance(stage := record.get("stage"), str) and not p.has_stage(stage):
        by_name = [s.code for s in stages_for(p, str(record.get("kind"))) if stage in (s.name, s.handed_in)]
        record = {**record, "stage": by_name[0]} if len(by_name) == 1 else record
    return record


def stages_for(p: Programme, kind: str) -> list[Stage]:
    return p.submission_stages.get(kind, [])


def _first_not_past(codes: Sequence[str], timetable: Timetable, action: str, at: dt.datetime,
                    windows: dict) -> int | None:
    """Index of the first of the stages ``codes`` whose last round-wide ``action`` (deadline,
    assess) is not before ``at``; None when every one is. ``windows`` caches those moments."""
    for i, code in enumerate(codes):
        key = (action, code)
        if key not in windows:
            windows[key] = max((a.at for a in timetable.actions
                                if a.stage == code and a.action == action and a.unit is None), default=None)
        if windows[key] is not None and at <= windows[key]:
            return i
    return None


def _window(code: str, timetable: Timetable, windows: dict) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first opening, last round-wide deadline) of a window stage, kept in ``windows``."""
    key = ("window", code)
    if key not in windows:
        own = [a for a in timetable.actions if a.stage == code and a.unit is None]
        windows[key] = (min((a.at for a in own if a.action in ("window_open", "followup_open")), default=None),
                        max((a.at for a in own if a.action == "deadline"), default=None))
    return windows[key]


def stage_of(p: Programme, timetable: Timetable, record: Mapping[str, Any], submitted_at: dt.datetime,
             windows: dict) -> Stage:
    """The stage a record was handed in at: the one it names (``stage``), the only stage that
    takes its kind, or, when several do (a mid-term and a final 自评, a 整改报告 each year), the
    window open when it was handed in; else the nearer in time of the window closed last (a late
    hand-in answers it: 柳泉乡's late 2025 整改报告 was filed under the 2026 one, months before it
    opened, and its unit was reported for 督办 as missing the 2025 one) and the window opening next
    (an early one); else the first not yet past."""
    stages = stages_for(p, record["kind"])
    named = record.get("stage")
    if named:
        return next(s for s in stages if s.code == named)
    if len(stages) > 1:
        # Only the windows its unit may owe (团体标准培优's city societies and provincial ones apply at two windows of
        # the application: a city's was filed under the provincial one, skipped its city's recommendation, and won).
        stages = [s for s in stages if _may_owe(p, s, record.get("unit"), windows)] or stages
    if len(stages) == 1:
        return stages[0]
    spans = [(s, *_window(s.code, timetable, windows)) for s in stages]
    open_now = [s for s, opens, closes in spans if (opens is None or opens <= submitted_at)
                and closes is not None and submitted_at <= closes]
    if open_now:
        return open_now[0]
    # Between windows (2026-01-25: three days after the 2025 整改报告's deadline, eleven months before the
    # 2026 one opens; a 年终自评 of 11-28: four days before its window, months after the 半年自评's).
    closed = max(((closes, i) for i, (s, opens, closes) in enumerate(spans)
                  if closes is not None and closes < submitted_at and (opens is None or opens <= submitted_at)),
                 default=None)
    coming = min(((opens, i) for i, (s, opens, closes) in enumerate(spans) if opens is not None and opens > submitted_at),
                 default=None)
    if closed is not None and coming is not None:
        if _answers_miss(stages[coming[1]], stages[closed[1]]):  # a late one of the window missed, not an early 补报
            return stages[closed[1]]
        return stages[closed[1] if submitted_at - closed[0] <= coming[0] - submitted_at else coming[1]]
    if (either := closed if closed is not None else coming) is not None:
        return stages[either[1]]
    found = _first_not_past([s.code for s in stages], timetable, "deadline", submitted_at, windows)
    return stages[-1 if found is None else found]


def _may_owe(p: Programme, stage: Stage, unit: Any, windows: dict) -> bool:
    """Whether ``unit`` is among those ``stage`` may be owed by (all, where it names nobody), kept in ``windows``."""
    if stage.owed_by is None:
        return True
    key = ("reach", stage.code)
    if key not in windows:
        windows[key] = frozenset(p.reachable(stage.owed_by))
    return unit in windows[key]


def _answers_miss(later: Stage, earlier: Stage) -> bool:
    """Whether ``later`` is owed for missing ``earlier`` (责令限期改正（补报统计数据表）after 报送统计数据表): what is handed
    in before it opens is ``earlier``'s, late. Filed under the order three days ahead, 临江's late 统计数据表 were set
    aside and their units ordered to hand in what they had."""
    return later.owed_by is not None and earlier.code in later.owed_by.windows_missed()


def misnamed_stage(p: Programme, timetable: Timetable, record: Mapping[str, Any], submitted_at: dt.datetime,
                   windows: dict) -> str:
    """Why a record naming its stage is set aside ("" when it is not): handed in before that window
    opened, where its time places it at another window of its kind. 某县's 2026 整改报告 named in
    January 2026 was taken on time, eleven months before that window opened, its 2025 one still
    chased as missing."""
    named = record.get("stage")
    if not named or len(stages_for(p, record["kind"])) < 2:
        return ""
    opens, _ = _window(named, timetable, windows)
    placed = stage_of(p, timetable, {**record, "stage": None}, submitted_at, windows)
    if opens is None or submitted_at >= opens or placed.code == named:
        return ""
    return (f"注明的阶段“{p.stage(named).name}”自{opens:%Y-%m-%d %H:%M}起受理，提交时间 {submitted_at:%Y-%m-%d %H:%M} "
            f"早于受理开始；按提交时间应属“{placed.name}”：请核对阶段后重新导入")


def assessment_of(p: Programme, timetable: Timetable, at: dt.datetime, windows: dict) -> str:
    """The assessment a reviewer's value received at ``at`` is for, when the record does not
    name it: the first assessment stage not yet due by then (a round assessed each year is
    scored each year), else the last. ``windows``: see :func:`_first_not_past`."""
    stages = p.assessment_stages
    if len(stages) <= 1:
        return stages[0] if stages else ""
    found = _first_not_past(stages[:-1], timetable, "assess", at, windows)
    return stages[-1 if found is None else found]


def own_deadlines(timetable: Timetable) -> set[str]:
    """Units with a deadline of their own (extensions): few, often none."""
    return {a.unit for a in timetable.actions if a.unit is not None and a.action == "deadline"}


def lateness_of(timetable: Timetable, stage: Stage, record: Mapping[str, Any], category: str | None,
                submitted_at: dt.datetime, cutoffs: dict) -> tuple[bool, str, dt.datetime | None]:
    """(late, status, cutoff) of a submission under the stage's lateness rule; ``cutoffs``
    keeps the deadlines found so far (a batch asks about the same few thousands of times)."""
    if "own" not in cutoffs:
        cutoffs["own"] = own_deadlines(timetable)
    unit = record.get("unit")
    key = (stage.code, record.get("period"), category, unit if unit in cutoffs["own"] else None)
    if key not in cutoffs:
        cutoffs[key] = timetable.cutoff(*key)
    cutoff = cutoffs[key]
    # Deadlines are given to the minute: a hand-in stamped 17:30:30 was handed in at 17:30, on
    # any officer's clock, and by a 17:30 deadline.
    late = cutoff is not None and submitted_at.replace(second=0, microsecond=0) > cutoff
    return late, "rejected_late" if late and stage.lateness == "reject" else "accepted", cutoff


def unplaced(p: Programme, timetable: Timetable, stage: Stage, record: Mapping[str, Any], category: str | None,
             cutoffs: dict) -> str:
    """Why a record of a stage with deadlines fits none of its windows (no or an unknown period,
    no item where each category has its own deadline), or "" when the stage has no deadline at
    all. Such a record is not a hand-in of any window: counted as one, it was 按时受理 and its
    unit then chased and 督办'd for the window it did not name."""
    key = ("dated", stage.code)
    if key not in cutoffs:
        cutoffs[key] = any(a.stage == stage.code and a.action == "deadline" for a in timetable.actions)
    if not cutoffs[key]:
        return ""
    where = f"“{stage.name}”（阶段 {stage.code}）"
    period, codes = record.get("period"), [x.code for x in stage.periods]
    if codes and not period:
        return f"缺少期次（period）：{where}分期提交（可选：{'、'.join(codes)}）"
    if codes and period not in codes:
        return f"期次 {period!r} 不是{where}的期次（可选：{'、'.join(codes)}）"
    if not codes and period:
        return f"期次 {period!r}：{where}不分期提交（不写期次，或注明所属阶段）"
    if category is None:
        return f"缺少榜单项目（item）或类别（category）：{where}按项目类别分别截止"
    name = next((c.name for c in p.categories if c.code == category), None)
    if name is None:
        return f"类别 {category!r} 不存在"
    when = f"期次 {period} " if period else ""
    return f"{where}{when}不收类别 {name}（{category}）的材料"
