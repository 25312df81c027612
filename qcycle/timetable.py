"""The timetable: a programme round expanded into every dated action.

:func:`expand` is the single place that decides *when* things happen (publications, window
openings and closings, each T-n working-day reminder, deadlines, overdue notices,
escalations, decisions, evaluation, assessment, notifications, 公示, follow-ups).
:func:`due` is the single place that decides *what is due* as of a moment, and which
missed actions no longer matter (a reminder for a deadline that has passed).

Deterministic: the same file and calendar give the same list, in the same order.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from qcycle.clock import at
from qcycle.errors import TimetableError
from qcycle.kinds import ACTION_KINDS, ORDER, STAGE_ACTIONS, action_kind
from qcycle.schema import Deadline, Programme, RelativeDate, ReminderPolicy, Stage, StageKind, Who
from qcycle.workcal import WorkCalendar

__all__ = [
    "ACTION_LABELS",
    "CHAIN_PASSES",
    "Action",
    "Due",
    "ResolvedDeadline",
    "Timetable",
    "UnitDeadline",
    "as_json",
    "due",
    "expand",
    "name_of",
    "released",
]

# Chinese labels of action kinds, for tables and messages (from the one registry).
ACTION_LABELS = {name: kind.label for name, kind in ACTION_KINDS.items()}
_WINDOW_KINDS = ("submission", "followup")
_SERVES_DEADLINE = ("window_open", "followup_open", "reminder", "overdue", "escalation")


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
    deadline: dt.datetime | None = None  # the deadline a reminder or overdue notice is about
    workdays_left: int | None = None
    condition: str | None = None  # e.g. follow-ups happen only for grade D
    detail: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # decision actions that must be complete first

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


def expand(p: Programme, cal: WorkCalendar, extensions: Sequence[UnitDeadline] = ()) -> Timetable:
    """Every dated action of the round, sorted by time (then by a fixed action order).

    ``extensions``: units with their own deadline for a window. That window's deadline,
    reminders, overdue notice and escalation leave them out (``detail["extended"]``), and each
    gets the same actions for its own deadline (``Action.unit``)."""
    return _Expander(p, cal, extensions).run()


def due(
    timetable: Timetable, as_of: dt.datetime, done: set[str] | frozenset[str] = frozenset()
) -> Due:
    """What should be carried out as of ``as_of``, given the keys already done.

    An action waits (neither run nor skipped) while a decision it needs is not complete.

    Reminders and window openings whose deadline has already passed are skipped (a reminder
    after the deadline would mislead); closings, overdue notices, escalations, decisions and
    everything else still matter after downtime and are run late.
    """
    run, skipped = [], []
    for action in timetable.actions:
        if action.key in done or action.at > as_of:
            continue
        if any(key not in done for key in action.needs):
            continue  # waits for a decision still pending (see Action.needs)
        if action.action in ("reminder", "window_open") and action.deadline is not None:
            if action.deadline <= as_of:
                skipped.append((action, f"截止时间 {action.deadline:%Y-%m-%d %H:%M} 已过，不再发送"))
                continue
            # A reminder that missed its own working day is stale once a later one is due.
            if action.action == "reminder" and _superseded(action, timetable, as_of):
                skipped.append((action, "已有更近的提醒到期，合并为最新一条"))
                continue
        run.append(action)
    return Due(run, skipped)


# How many passes one moment takes at most: each completed decision may release the actions
# that waited for it, and a chain of decisions due at once has few steps.
CHAIN_PASSES = 6


def released(timetable: Timetable, as_of: dt.datetime, completed: set[str]) -> set[str]:
    """Keys of the actions due by ``as_of`` that waited for one of the ``completed`` decisions:
    what a run does in another pass of the same moment."""
    return {a.key for a in timetable.actions if a.at <= as_of and completed.intersection(a.needs)}


def _superseded(action: Action, timetable: Timetable, as_of: dt.datetime) -> bool:
    return any(
        other.action == "reminder"
        and other.at <= as_of
        and other.at > action.at
        and (other.stage, other.category, other.period, other.unit)
        == (action.stage, action.category, action.period, action.unit)
        for other in timetable.actions
    )


class _Expander:
    def __init__(self, p: Programme, cal: WorkCalendar, extensions: Sequence[UnitDeadline] = ()):
        self.p, self.cal, self.extensions = p, cal, tuple(extensions)
        self.actions: list[Action] = []
        self._dates: dict[tuple[str, str, str | None], dt.date] = {}
        self._resolving: set[tuple[str, str]] = set()

    def run(self) -> Timetable:
        for stage in self.p.stages:
            for category in self._variants(stage):
                self._stage(stage, category)
        self._with_needs()
        keys = [a.key for a in self.actions]
        if len(keys) != len(set(keys)):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise TimetableError(f"动作键重复：{dup[:5]}")
        self.actions.sort(key=lambda a: (a.at, ORDER[a.action], a.stage, a.category or "", a.period or "", a.key))
        return Timetable(self.p.round.code, self.actions, list(self.cal.warnings))

    # -- dates ---------------------------------------------------------------------------

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
            if stage.kind is StageKind.notice and stage.days is not None:
                return day + dt.timedelta(days=stage.days - 1)
            return day
        return day

    def point_day(self, stage: Stage, category: str | None) -> tuple[dt.date, dt.date | None, str | None]:
        """(day, configured day when it was moved, roll) of a point stage."""
        override = stage.per_category.get(category) if category else None
        if override is not None and override.on is not None:
            day, roll = override.on, stage.roll or "none"
        elif stage.on is not None:
            day, roll = stage.on, stage.roll or "none"
        elif stage.by is not None:
            day, roll = stage.by, stage.roll or "previous_workday"
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
            opens = self.relative(stage.opens_after, category)
        return opens

    def deadline(self, d: Deadline, category: str | None) -> ResolvedDeadline:
        day = d.date if d.date is not None else self.relative(d.after, category)  # type: ignore[arg-type]
        day, rolled_from, _ = self._roll(day, d.roll)
        if d.inclusive:
            cutoff = at(day, d.time)
            last_day = self.cal.previous_workday(day)
        else:
            # "X月X日前" read strictly: the day itself is too late.
            cutoff = at(day)
            last_day = self.cal.previous_workday(day, include_self=False)
        return ResolvedDeadline(day, cutoff, last_day, rolled_from, d.roll if rolled_from else None)

    # -- actions -------------------------------------------------------------------------

    def _add(self, when: dt.datetime, action: str, stage: Stage, title: str, **kw: Any) -> None:
        action_kind(action)  # only registered kinds are planned
        # An action is identified by what it is for: stage:action[:period][:category][:T-n]
        # [:unit, for one unit's own deadline], then @ the day of the deadline it serves (window
        # work) or of its own event. A reminder for a deadline that moved is another action
        # than the one already sent.
        parts = [stage.code, action, kw.get("period"), kw.get("category"), kw.pop("_k", None), kw.get("unit")]
        served = kw["deadline"] if action in _SERVES_DEADLINE and kw.get("deadline") else when
        key = ":".join(p for p in parts if p) + f"@{served:%Y-%m-%d}"
        self.actions.append(Action(at=when, action=action, stage=stage.code, title=title, key=key, **kw))

    def _stage(self, stage: Stage, category: str | None) -> None:
        cat_name = f"（{self.p.category(category).name}）" if category else ""
        if stage.kind.value in _WINDOW_KINDS:
            self._windows(stage, category, cat_name)
            return
        day, moved_from, roll = self.point_day(stage, category)
        nine = at(day, dt.time(9, 0))
        title = f"{stage.name}{cat_name}{moved(moved_from, roll)}"
        common: dict[str, Any] = {"category": category}
        if moved_from is not None:
            common["detail"] = {"rolled_from": moved_from.isoformat(), "roll": roll}
        action = STAGE_ACTIONS[stage.kind.value]
        if stage.notify is not None:  # the 对象 column of the plan: who is written to
            common["owed_by"] = stage.notify.describe(self.p.stage_names)
        if stage.kind is StageKind.notification:
            self._add(nine, action, stage, title, **common)
        elif stage.kind is StageKind.notice:
            assert stage.days is not None
            end = day + dt.timedelta(days=stage.days - 1)
            close = at(end, dt.time(23, 59, 59))
            self._add(nine, action, stage, f"{stage.name}{cat_name}开始（{stage.days}天，可提出异议）",
                      deadline=close, **common)
            self._add(close, "notice_close", stage, f"{stage.name}{cat_name}结束，异议受理截止", category=category)
        else:
            self._add(nine, action, stage, title, **common)

    def _windows(self, stage: Stage, category: str | None, cat_name: str) -> None:
        assert stage.owed_by is not None
        periods = stage.periods or [None]
        policy = self.p.reminder_policies.get(stage.reminders) if stage.reminders else None
        condition = None
        if stage.owed_by.dynamic:
            condition = f"仅限{stage.owed_by.describe(self.p.stage_names)}"
        for period in periods:
            if period is not None and period.categories and category is None:
                # A period for some categories only: expand it per listed category.
                for code in period.categories:
                    self._window(stage, period, code, f"（{self.p.category(code).name}）", policy, condition)
            elif period is not None and period.categories and category not in period.categories:
                continue
            else:
                self._window(stage, period, category, cat_name, policy, condition)

    def _window(self, stage, period, category, cat_name, policy: ReminderPolicy | None, condition) -> None:
        override = stage.per_category.get(category) if category else None
        if period is not None:
            deadline_spec = period.deadline
        elif override is not None and override.deadline is not None:
            deadline_spec = override.deadline
        else:
            deadline_spec = stage.deadline
        opens = self.window_opens(stage, period, category)
        d = self.deadline(deadline_spec, category)
        pcode = period.code if period else None
        label = f"{stage.name}{'·' + pcode if pcode else ''}{cat_name}"
        common = {"category": category, "period": pcode, "owed_by": stage.owed_by.describe(self.p.stage_names),
                  "submission": stage.submission, "condition": condition}
        if opens is not None:
            kind = "followup_open" if stage.kind is StageKind.followup else "window_open"
            self._add(at(opens, dt.time(9, 0)), kind, stage, f"{label} 开始受理", deadline=d.cutoff, **common)
        detail = {"inclusive": deadline_spec.inclusive, "lateness": stage.lateness, "voluntary": stage.voluntary,
                  **({"rolled_from": d.rolled_from.isoformat(), "roll": d.roll} if d.rolled_from else {})}
        # A unit taken out of the file since keeps its record, not its actions.
        own = [e for e in self.extensions if e.stage == stage.code and e.period == pcode and self.p.has_unit(e.unit)]
        self._deadline_actions(stage, d, label, common, policy, opens, detail, sorted({e.unit for e in own}))
        for e in own:
            day = e.cutoff.date()
            mine = ResolvedDeadline(day, e.cutoff, self.cal.previous_workday(day), None)
            self._deadline_actions(stage, mine, f"{label}（{self.p.unit(e.unit).name}延期）", {**common, "unit": e.unit},
                                   policy, opens, {**detail, "extension": True}, [])

    def _deadline_actions(self, stage: Stage, d: ResolvedDeadline, label: str, common: dict[str, Any],
                          policy: ReminderPolicy | None, opens: dt.date | None, detail: dict[str, Any],
                          extended: list[str]) -> None:
        """A window's deadline and what follows from it: reminders, overdue notice, escalation.
        ``extended``: units with their own deadline, left out of these."""
        left_out = {"extended": extended} if extended else {}
        self._add(d.cutoff, "deadline", stage, f"{label} 截止{moved(d.rolled_from, d.roll)}",
                  detail={**detail, **left_out}, **common)
        if policy is None:
            return
        reminder_time = policy.time
        first_day = opens or dt.date.min
        for n in policy.before_workdays:
            day = self.cal.add_workdays(d.last_day, -n)
            if day < first_day:
                continue
            self._add(at(day, reminder_time), "reminder", stage, f"{label} 提醒：还有{n}个工作日截止",
                      deadline=d.cutoff, workdays_left=n, _k=f"T-{n}", detail=dict(left_out), **common)
        if policy.on_deadline_day and d.last_day >= first_day:
            self._add(at(d.last_day, reminder_time), "reminder", stage, f"{label} 提醒：今日截止",
                      deadline=d.cutoff, workdays_left=0, _k="T-0", detail=dict(left_out), **common)
        if stage.voluntary:
            return  # applying is a choice: nobody is overdue for not applying
        over = self.cal.add_workdays(d.last_day, policy.overdue_after_workdays)
        self._add(at(over, reminder_time), "overdue", stage, f"{label} 逾期提醒", deadline=d.cutoff,
                  detail=dict(left_out), **common)
        if policy.escalate_after_workdays is not None:
            esc = self.cal.add_workdays(d.last_day, policy.escalate_after_workdays)
            target = (
                "上级单位" if policy.escalate_to == "parent" else self.p.unit(policy.escalate_to).name
            )
            self._add(at(esc, reminder_time), "escalation", stage, f"{label} 逾期未交，督办{target}",
                      deadline=d.cutoff, detail={"escalate_to": policy.escalate_to, **left_out}, **common)

    # -- what waits for a decision ---------------------------------------------------------

    def _with_needs(self) -> None:
        """Give each action the decision actions it waits for: an action whose stage reads the
        outcome of a decision stage (its subjects, owers or recipients) waits until that
        decision is complete, so scoring, lists and letters never run on undecided subjects."""
        decisions: dict[str, list[Action]] = defaultdict(list)
        for a in self.actions:
            if a.action == "decision_due":
                decisions[a.stage].append(a)
        if not decisions:
            return
        deps = {s.code: self._deps(s.code, set()) - {s.code} for s in self.p.stages}
        out = []
        for a in self.actions:
            needs = tuple(sorted(
                d.key for code in deps[a.stage] for d in decisions.get(code, ())
                if d.at <= a.at and (d.category is None or a.category is None or d.category == a.category)
            ))
            out.append(replace(a, needs=needs) if needs else a)
        self.actions = out

    def _deps(self, code: str, seen: set[str]) -> set[str]:
        """Decision stages whose outcomes the stage ``code`` reads, directly or through others."""
        if code in seen:
            return set()
        seen.add(code)
        stage = self.p.stage(code)
        refs: set[str] = set()
        selectors = [stage.owed_by, stage.notify]
        if stage.kind is StageKind.assessment and self.p.assessment is not None:
            selectors.append(self.p.assessment.subjects)
        if stage.decides:
            refs.add(stage.decides)
        for who in selectors:
            if who is None:
                continue
            refs |= who.stages()
            if _reads_results(who):
                refs |= {s.code for s in self.p.stages if s.kind is StageKind.assessment}
        out = {code} if stage.kind is StageKind.decision else set()
        for ref in refs:
            if self.p.has_stage(ref):
                out |= self._deps(ref, seen)
        return out


def _reads_results(who: Who) -> bool:
    return bool(who.grades or who.rank) or any(_reads_results(w) for w in who.any_of)


def moved(rolled_from: dt.date | None, roll: str | None) -> str:
    """How a moved day is worded: 顺延 to the next working day, 提前 to the previous one."""
    if rolled_from is None:
        return ""
    word = "顺延" if roll == "next_workday" else "提前"
    return f"（原定{rolled_from.month}月{rolled_from.day}日，遇休息日{word}）"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later; the month's last day when it is shorter (1月31日 + 1 → 2月28日)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def as_json(timetable: Timetable) -> list[dict[str, Any]]:
    return [a.to_json() for a in timetable.actions]



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

    def day_of(code: str, category: str | None) -> dt.date:
        return ex.stage_date(code, category)

    def ready_after(code: str, category: str | None) -> tuple[dt.date, str]:
        """The day a stage's outcome exists: a window's deadline, a decision's or assessment's day."""
        stage = p.stage(code)
        if stage.kind.value in _WINDOW_KINDS:
            return ex.event_date(code, "deadline", category), "截止"
        return day_of(code, category), "日期"

    for i, stage in enumerate(p.stages):
        for category in ex._variants(stage):
            cat = f"（{p.category(category).name}）" if category else ""
            reads: list[tuple[str, str]] = []
            if stage.decides:
                reads.append((stage.decides, "decides"))
            for field_name, who in (("notify", stage.notify), ("owed_by", stage.owed_by)):
                if who is not None:
                    reads += [(code, field_name) for code in sorted(who.stages())]
            if stage.kind is StageKind.assessment and p.assessment is not None:
                reads += [(code, "assessment.subjects") for code in sorted(p.assessment.subjects.stages())]
            when = (ex.window_opens(stage, None, category) or ex.event_date(stage.code, "deadline", category)) \
                if stage.kind.value in _WINDOW_KINDS else day_of(stage.code, category)
            for code, via in reads:
                if not p.has_stage(code):
                    continue
                ready, word = ready_after(code, category)
                if when < ready or (when == ready and p.stage(code).kind.value in _WINDOW_KINDS):
                    errors.append((f"stages[{i}]", (
                        f"“{stage.name}”{cat}定于 {when}，早于它所依据的“{p.stage(code).name}”{word} {ready}"
                        f"（{via}）：应安排在其后")))
        if stage.kind is StageKind.assessment and p.round.period is not None:
            for category in ex._variants(stage):
                day = day_of(stage.code, category)
                if day <= p.round.period.end:
                    errors.append((f"stages[{i}]", (
                        f"考核“{stage.name}”定于 {day}，考核期到 {p.round.period.end} 才结束：考核应在考核期结束之后")))
        if stage.kind.value not in _WINDOW_KINDS and stage.roll is None:
            days = [(stage.on, "on")] + [(o.on, f"per_category.{c}.on") for c, o in stage.per_category.items()]
            for day, where in days:
                if day is not None and not ex.cal.is_workday(day):
                    warnings.append((f"stages[{i}].{where}", (
                        f"{day}（周{_WEEKDAYS[day.weekday()]}）不是工作日；如应顺延或提前，请写 roll: next_workday 或 "
                        "roll: previous_workday")))
    years = set(p.round.years)
    for a in timetable.actions:
        if a.at.year not in years:
            errors.append(("round.years", (
                f"阶段 {a.stage} 的“{a.title}”在 {a.at:%Y-%m-%d}，不在 years {sorted(years)} 之内"
                f"（应把 {a.at.year} 加入 years）")))
            break
    return errors, warnings
