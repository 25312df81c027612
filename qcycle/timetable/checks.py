"""Checks of a programme that need the calendar (:func:`check_dates`): stages planned before
what they read, assessments inside their period, actions outside ``round.years``."""

from __future__ import annotations

import datetime as dt

from qcycle.errors import TimetableError
from qcycle.schema import Programme, Stage, StageKind, Who
from qcycle.timetable.actions import Timetable
from qcycle.timetable.dates import _WINDOW_KINDS
from qcycle.timetable.expander import _Expander
from qcycle.workcal import WorkCalendar

__all__ = ["check_dates", "earliest_days"]

_WEEKDAYS = "一二三四五六日"


def check_dates(p: Programme, cal: WorkCalendar | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Checks that need the calendar: (errors, warnings) as (field path, message).

    Errors: a decision, list or letter planned before the window or decision it reads has
    closed (naming both dates); an assessment before its period ends; stage dates outside
    ``round.years``. Warnings: a point stage fixed on a day off without ``roll``.
    """
    from qcycle.workcal import default_calendar

    ex = _Expander(p, cal or default_calendar())
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    try:
        timetable = ex.run()
    except TimetableError as exc:
        return [("stages", str(exc))], []
    # One helper per check; per stage in file order, as messages have always been listed.
    for i, stage in enumerate(p.stages):
        errors += _before_what_it_reads(ex, i, stage)
        warnings += _assessed_before_period_ends(ex, i, stage)
        errors += _counted_from_days_per_category(ex, i, stage)
        warnings += _on_a_day_off(ex, i, stage)
    errors += _outside_years(p, timetable)
    errors += _results_before_any(p, timetable)
    errors += _due_before_it_opens(p, timetable)
    warnings += _late_at_counts_nothing(p, timetable)
    warnings += _taken_late_after_the_rule(p)
    warnings += _taken_late_never_reviewed(p)
    warnings += _graded_beyond_the_step(p)
    warnings += _reminders_before_opening(p, ex)
    warnings += _due_before_the_call(p, timetable)
    return errors, warnings


def _results_before_any(p: Programme, timetable: Timetable) -> list[tuple[str, str]]:
    """A result letter (``template: result``) planned before any assessment or decision, and not to those who missed a
    window: it has nothing to tell and sends nothing, while the plan lists it (a 县局's 年中检查结果 on 7月30日, the year's only scoring in January)."""
    first = min((a.at for a in timetable.actions if a.action in ("assess", "decision_due")), default=None)
    if not p.assessment_stages:  # a round without an assessment tells what was owed and missed (lifecycle.missed)
        owed = [a.at for a in timetable.actions if a.action == "deadline" and not p.stage(a.stage).voluntary]
        first = min([x for x in (first, *owed) if x is not None], default=None)
    out: dict[str, tuple[str, str]] = {}
    for a in timetable.actions:
        stage = p.stage(a.stage)
        if (a.action == "notify" and (stage.template or "result") == "result" and (first is None or a.at < first)
                and a.stage not in out and not _tells_misses(stage.notify)):
            out[a.stage] = ((f"stages[{p.stage_place[a.stage]}]", (
                f"结果通知“{stage.name}”定于 {a.at:%Y-%m-%d}，此前没有任何考核（assessment）或决定（decision）："
                "没有可告知的结果，不会发出函件；告知活动安排用 kind: event，告知每个单位的检查结论须先有对它作出决定或考核的阶段")))
    return list(out.values())


def _tells_misses(who: Who | None) -> bool:
    """Whether a selection reaches those who missed a window (what a result letter before any result still tells)."""
    return who is not None and who.any_part(lambda w: bool(w.missing_at))


def _due_before_it_opens(p: Programme, timetable: Timetable) -> list[tuple[str, str]]:
    """A counted deadline (N working days after a date) that falls before its window opens: written, the file's
    own check compares them (checks._window_order); counted, only the calendar says it."""
    opens = {(a.stage, a.period, a.category): a.at.date() for a in timetable.actions if a.action == "window_open" and not a.unit}
    out = []
    for a in timetable.actions:
        day = opens.get((a.stage, a.period, a.category))
        if a.action == "deadline" and not a.unit and day is not None and a.at.date() < day:
            said = f"“{p.stage(a.stage).name}”{f'（{a.period}）' if a.period else ''}截止于 {a.at:%Y-%m-%d}"
            out.append((f"stages[{p.stage_place[a.stage]}]", f"{said}，早于开始受理日 {day}（截止应不早于开始）"))
    return out


def _reminders_before_opening(p: Programme, ex: _Expander) -> list[tuple[str, str]]:
    """Reminders a policy asks for that fall before their window opens, and so are not sent (as the
    expander skipped them): an officer found the missing T-3 of two monthly reports only by reading
    the plan line by line."""
    out = []
    for i, stage in enumerate(p.stages):
        missed = [f"{cutoff:%Y-%m-%d}截止的截止前{n}个工作日（{day}，受理{opens}开始）"
                  for code, cutoff, n, day, opens in ex.early_reminders if code == stage.code]
        if missed:
            more = f"等{len(missed)}次" if len(missed) > 3 else ""
            out.append((f"stages[{i}].reminders", f"“{stage.name}”的提醒早于受理开始日，不发：{'；'.join(missed[:3])}{more}"))
    return out


def _due_before_the_call(p: Programme, timetable: Timetable) -> list[tuple[str, str]]:
    """A window due before the round's first publication (its 方案 or call): its letters, overdue
    notices and 督办 go out before units were told of it (镇（街道）考核's January report was chased
    three weeks before the 方案 came out)."""
    calls = [a.at for a in timetable.actions if a.action == "publish"]
    if not calls:
        return []
    first = min(calls)
    early: dict[str, set[dt.datetime]] = {}  # stage → its deadlines before the first publication, one pass
    for a in timetable.actions:
        if a.action == "deadline" and a.at < first:
            early.setdefault(a.stage, set()).add(a.at)
    return [(f"stages[{i}]", (f"“{stage.name}”有{len(days)}个截止时间（最早{min(days):%Y-%m-%d}）早于本周期的第一次"
                              f"发布（{first:%Y-%m-%d}）：受理、提醒、逾期通知和督办将在各单位收到通知之前发出"))
            for i, stage in enumerate(p.stages) if (days := early.get(stage.code))]


def _taken_late_after_the_rule(p: Programme) -> list[tuple[str, str]]:
    """A window taking late hand-ins (``accept_flag``) that a decision's rule decides on (``rejects_missing``): one handed
    in after the rule decided is taken and changes nothing (示范县复核's county reported the day after, was accepted,
    and still read "未提交…，视为自动放弃" in the 通报)."""
    out = []
    for i, s in enumerate(p.stages):
        window = p.stage(s.decides) if s.rejects_missing and s.decides and p.has_stage(s.decides) else None
        if window is not None and window.lateness == "accept_flag":
            out.append((f"stages[{i}].rejects_missing", (
                f"“{window.name}”逾期提交的仍受理（lateness: accept_flag），而“{s.name}”之日按规定判定未提交的为不通过："
                f"此后收到的材料受理，但不改变该决定；逾期不再受理的，“{window.name}”用 lateness: reject")))
    return out


def _taken_late_never_reviewed(p: Programme) -> list[tuple[str, str]]:
    """A review by the units' superiors (``reviewed_by``) of a window taking late hand-ins, with no reminder: one handed in
    after the request reaches no reviewer (鄞州's 所 were never asked about two 自查报告 accepted late, and a 审查 result
    was recorded for them); the reminder before the decision's day lists them."""
    out = []
    for i, s in enumerate(p.stages):
        window = p.stage(s.decides) if s.reviewed_by and s.decides and p.has_stage(s.decides) else None
        if (window is not None and window.kind in (StageKind.submission, StageKind.followup) and not window.voluntary
                and window.lateness == "accept_flag" and not s.reminders):
            out.append((f"stages[{i}].reminders", (
                f"“{window.name}”逾期提交的仍受理，而“{s.name}”只在截止后请上级审核一次：此后逾期受理的材料不会告知上级；"
                f"写 reminders，决定日前的提醒会列出这些新受理的材料")))
    return out


def _graded_beyond_the_step(p: Programme) -> list[tuple[str, str]]:
    """A decision on the results taking the first N places (a 答辩 of the top 8) where the grades above the last may take
    more: those past the N-th reach a grade without the step (标准创新贡献奖's ninth read "三等奖" without any 答辩)."""
    scheme = p.assessment
    if scheme is None or scheme.rank_within != "all":
        return []
    above = scheme.grades[:-1]
    places = None if any(g.max_count is None for g in above) else sum(g.max_count or 0 for g in above)
    out = []
    for i, s in enumerate(p.stages):
        top = s.among.rank.top if s.among is not None and s.among.rank is not None else None
        if top is None or s.code not in p.decisions_on_results or (places is not None and places <= top):
            continue
        said = f"等次名额合计{places}个" if places is not None else f"等次名额可能多于{top}个"
        out.append((f"stages[{i}].among", (
            f"“{s.name}”只对前{top}名作决定，而{said}：第{top + 1}名起可不经“{s.name}”获评{scheme.grades[-2].name}；"
            f"请使等次名额合计不超过{top}个，或让“{s.name}”对更多名次作决定")))
    return out


def _late_at_counts_nothing(p: Programme, timetable: Timetable) -> list[tuple[str, str]]:
    """A ``late_at`` deduction whose window has no deadline by the last assessment: it never deducts; and a
    window with some deadlines after it (a fourth quarter due in January), once for its deductions."""
    assessed = max((a.at for a in timetable.actions if a.action == "assess"), default=None)
    out = []
    after: dict[str, list[tuple[int, str]]] = {}  # window → (index, name) of its deductions counting nothing late
    for k, item in enumerate(p.assessment.deductions if p.assessment else []):
        if item.late_at and assessed is not None and not any(
                a.action == "deadline" and a.stage == item.late_at and a.at <= assessed for a in timetable.actions):
            out.append((f"assessment.deductions[{k}].late_at", (
                f"“{p.stage(item.late_at).name}”在考核之前没有截止时间，扣分项“{item.name}”不会扣分")))
        elif item.late_at:
            after.setdefault(item.late_at, []).append((k, item.name))
    for code, items in after.items():
        stage = p.stage(code)
        late = [a for a in timetable.actions if a.action == "deadline" and a.stage == code and a.detail.get("uncounted")
                and a.unit is None]
        if not late or assessed is None:
            continue
        said = "、".join(f"{stage.period_label(a.period) + '（' if a.period else ''}{a.at:%Y-%m-%d}截止"
                        f"{'）' if a.period else ''}" for a in late)
        names = "、".join(f"“{name}”" for _, name in items)
        out.append((f"assessment.deductions[{items[0][0]}].late_at", (
            f"“{stage.name}”{said}在最后一次考核（{assessed:%Y-%m-%d}）之后：扣分项{names}不计这{'一期' if len(late) == 1 else f'{len(late)}期'}，"
            f"其受理、提醒、逾期函件不写扣分规定")))
    return out


def _reads(p: Programme, stage: Stage) -> list[tuple[str, str]]:
    """The stages whose outcome ``stage`` reads, each with the field that reads it."""
    reads: list[tuple[str, str]] = []
    if stage.decides:
        reads.append((stage.decides, "decides"))
    for field_name, who in (("notify", stage.notify), ("owed_by", stage.owed_by), ("lists", stage.lists)):
        if who is not None:
            reads += [(code, field_name) for code in sorted(who.stages())]
    if stage.kind is StageKind.assessment and p.assessment is not None:
        reads += [(code, "assessment.subjects") for code in sorted(p.assessment.subjects.stages())]
    return reads


def _ready_after(ex: _Expander, code: str, category: str | None) -> tuple[dt.date, str]:
    """The day a stage's outcome exists: a window's deadline, a decision's or assessment's day."""
    stage = ex.p.stage(code)
    if stage.kind.value in _WINDOW_KINDS:
        return ex.event_date(code, "deadline", category), "截止"
    return ex.stage_date(code, category), "日期"


def earliest_days(p: Programme, cal: WorkCalendar) -> dict[str, dt.date]:
    """The first day each stage that reads others (its own day, not a category's) may be
    planned on, once what it reads exists (:func:`_before_what_it_reads`): the working day
    after a window's deadline, a decision's own day."""
    ex = _Expander(p, cal)
    earliest: dict[str, dt.date] = {}
    for stage in p.stages:
        for code, _ in _reads(p, stage):
            if p.has_stage(code):
                ready, _ = _ready_after(ex, code, None)
                if p.stage(code).kind.value in _WINDOW_KINDS:
                    ready = cal.next_workday(ready, include_self=False)
                earliest[stage.code] = max(ready, earliest.get(stage.code, ready))
    return earliest


def _before_what_it_reads(ex: _Expander, i: int, stage: Stage) -> list[tuple[str, str]]:
    """A decision, list or letter planned before the window or decision it reads has closed."""
    p = ex.p
    errors = []
    reads = _reads(p, stage)
    for category in ex._variants(stage):
        cat = f"（{p.category(category).name}）" if category else ""
        when = (ex.window_opens(stage, None, category) or ex.event_date(stage.code, "deadline", category)) \
            if stage.kind.value in _WINDOW_KINDS else ex.stage_date(stage.code, category)
        what, fix = f"“{stage.name}”{cat}", "应安排在其后"
        if (notice := ex.event_notice_day(stage, category)) is not None:
            # Those an event concerns are told when its notice goes, days ahead of it.
            when, what = notice, f"“{stage.name}”{cat}的提前通知（提前{stage.notice_workdays}个工作日）"
            fix += "，或减少 notify_ahead"
        for code, via in reads:
            if not p.has_stage(code):
                continue
            # A stage for every category reads each category's own date of a stage that has them: 某市's
            # review of 2027-02 passed, the 服务业 window it read closing in 2028.
            for of in [category] if category is not None else ex._variants(p.stage(code)):
                ready, word = _ready_after(ex, code, of)
                theirs = f"（{p.category(of).name}）" if of and not category else ""
                if when < ready or (when == ready and p.stage(code).kind.value in _WINDOW_KINDS):
                    # The same day as a window's deadline is too early too (hand-ins count until its time).
                    how, tail = ("早于", f"（{via}）") if when < ready else ("与", f" 同日（截止时间前仍可提交；{via}）")
                    errors.append((f"stages[{i}]", (
                        f"{what}定于 {when}，{how}它所依据的“{p.stage(code).name}”{theirs}{word} {ready}{tail}：{fix}")))
                    break
    return errors


def _assessed_before_period_ends(ex: _Expander, i: int, stage: Stage) -> list[tuple[str, str]]:
    """An assessment before its period ends: a hint, not an error (常德's counties are assessed on 12月20日 for their
    year, as is common; refusing it left the file without its period)."""
    period = ex.p.round.period
    if stage.kind is not StageKind.assessment or period is None:
        return []
    hints = []
    for category in ex._variants(stage):
        day = ex.stage_date(stage.code, category)
        if day <= period.end:
            hints.append((f"stages[{i}]", (
                f"考核“{stage.name}”定于 {day}，考核期到 {period.end} 才结束：考核日之后的报送和截止不计入本次考核")))
    return hints


def _counted_from_days_per_category(ex: _Expander, i: int, stage: Stage) -> list[tuple[str, str]]:
    """A stage without ``per_category`` is planned once, its relative days counted from the base
    stage's common day: where that stage has a day of its own per category (a second batch named in
    October), one 验收申请 deadline counted from May's would be a different rule, so it is refused."""
    if stage.per_category or len(ex.p.categories) < 2:
        return []
    relative = [("after", stage.after), ("opens_after", stage.opens_after),
                ("deadline.after", stage.deadline.after if stage.deadline else None)]
    relative += [(f"periods[{k}].deadline.after", x.deadline.after) for k, x in enumerate(stage.periods)]
    errors = []
    for where, rel in relative:
        if rel is None or not ex.p.stage(rel.stage).per_category:
            continue
        days = {c.code: ex.relative(rel, c.code) for c in ex.p.categories}
        if len(set(days.values())) > 1:
            each = "、".join(f"{ex.p.category(c).name} {day}" for c, day in days.items())
            errors.append((f"stages[{i}].{where}", (
                f"“{stage.name}”从“{ex.p.stage(rel.stage).name}”起算，而后者各类别日期不同（按类别起算为：{each}）；"
                "本阶段只排一次，只能取一个日期。请用 per_category 为各类别分别写出日期"
                "（本阶段有了 per_category，其相对日期即按各类别分别起算）")))
    return errors


def _on_a_day_off(ex: _Expander, i: int, stage: Stage) -> list[tuple[str, str]]:
    """A point stage fixed on a day off without ``roll``, or a window opening on one (its
    letters go out that day: 国庆 2025-10-01): warnings, as it may be meant."""
    if stage.kind.value in _WINDOW_KINDS:
        days = ([(stage.opens, "opens")] + [(o.opens, f"per_category.{c}.opens") for c, o in stage.per_category.items()]
                + [(x.opens, f"periods[{k}].opens") for k, x in enumerate(stage.periods)])
        fix = "开始受理的通知将在当天发出；如不宜，请改为工作日"
    elif stage.roll is None:
        days = [(stage.on, "on")] + [(o.on, f"per_category.{c}.on") for c, o in stage.per_category.items()]
        fix = "如应顺延或提前，请写 roll: next_workday 或 roll: previous_workday"
    else:
        return []
    return [(f"stages[{i}].{where}", f"{day}（周{_WEEKDAYS[day.weekday()]}）不是工作日；{fix}")
            for day, where in days if day is not None and not ex.cal.is_workday(day)]


def _outside_years(p: Programme, timetable: Timetable) -> list[tuple[str, str]]:
    """The first action outside ``round.years``, if any."""
    years = set(p.round.years)
    for a in timetable.actions:
        if a.at.year not in years:
            return [("round.years", (
                f"阶段 {a.stage} 的“{a.title}”在 {a.at:%Y-%m-%d}，不在 years {sorted(years)} 之内"
                f"（应把 {a.at.year} 加入 years）"))]
    return []
