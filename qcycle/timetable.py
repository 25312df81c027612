"""The timetable: a programme round expanded into every dated action.

:func:`expand` is the single place that decides *when* things happen (publications, window
openings and closings, each T-n working-day reminder, deadlines, overdue notices,
escalations, decisions, evaluation, assessment, notifications, 公示, follow-ups).
:func:`due` is the single place that decides *what is due* as of a moment, and which
missed actions no longer matter (a reminder for a deadline that has passed).

Deterministic: the same file and calendar give the same list, in the same order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from qcycle.clock import at
from qcycle.errors import TimetableError
from qcycle.schema import Deadline, Programme, ReminderPolicy, Stage, StageKind
from qcycle.workcal import WorkCalendar

__all__ = [
    "ACTION_LABELS",
    "Action",
    "Due",
    "ResolvedDeadline",
    "Timetable",
    "as_json",
    "due",
    "expand",
]

# Chinese labels of action kinds, for tables and messages.
ACTION_LABELS = {
    "publish": "发布",
    "window_open": "开始受理",
    "reminder": "提醒",
    "deadline": "截止",
    "overdue": "逾期提醒",
    "escalation": "督办上级",
    "decision_due": "待审核决定",
    "assess": "考核汇总",
    "notify": "结果通知",
    "notice_open": "公示开始",
    "notice_close": "公示结束",
    "followup_open": "整改开始",
}
# Order of actions that fall at the same moment: close before you open, remind before close.
_ORDER = {k: i for i, k in enumerate(
    ["deadline", "notice_close", "overdue", "escalation", "reminder", "window_open",
     "followup_open", "publish", "notice_open", "decision_due", "assess", "notify"]
)}


@dataclass(frozen=True)
class ResolvedDeadline:
    day: dt.date  # the deadline day after rolling
    cutoff: dt.datetime  # the last moment a submission is on time
    last_day: dt.date  # the last working day on which a unit can still submit
    rolled_from: dt.date | None  # the configured day, when it was not a working day


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

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, {}, [])}
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


@dataclass(frozen=True)
class Due:
    run: list[Action]  # due now, in order
    skipped: list[tuple[Action, str]]  # missed and no longer useful, with the reason


def expand(p: Programme, cal: WorkCalendar) -> Timetable:
    """Every dated action of the round, sorted by time (then by a fixed action order)."""
    return _Expander(p, cal).run()


def due(
    timetable: Timetable, as_of: dt.datetime, done: set[str] | frozenset[str] = frozenset()
) -> Due:
    """What should be carried out as of ``as_of``, given the keys already done.

    Reminders and window openings whose deadline has already passed are skipped (a reminder
    after the deadline would mislead); closings, overdue notices, escalations, decisions and
    everything else still matter after downtime and are run late.
    """
    run, skipped = [], []
    for action in timetable.actions:
        if action.key in done or action.at > as_of:
            continue
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


def _superseded(action: Action, timetable: Timetable, as_of: dt.datetime) -> bool:
    return any(
        other.action == "reminder"
        and other.at <= as_of
        and other.at > action.at
        and (other.stage, other.category, other.period) == (action.stage, action.category, action.period)
        for other in timetable.actions
    )


class _Expander:
    def __init__(self, p: Programme, cal: WorkCalendar):
        self.p, self.cal = p, cal
        self.actions: list[Action] = []
        self._dates: dict[tuple[str, str | None], dt.date] = {}
        self._resolving: set[str] = set()

    def run(self) -> Timetable:
        for stage in self.p.stages:
            for category in self._variants(stage):
                self._stage(stage, category)
        keys = [a.key for a in self.actions]
        if len(keys) != len(set(keys)):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise TimetableError(f"动作键重复：{dup[:5]}")
        self.actions.sort(key=lambda a: (a.at, _ORDER.get(a.action, 99), a.stage, a.category or "", a.period or "", a.key))
        return Timetable(self.p.round.code, self.actions, list(self.cal.warnings))

    # -- dates ---------------------------------------------------------------------------

    def _variants(self, stage: Stage) -> list[str | None]:
        """Categories a stage is expanded for: each one when overrides exist, else all at once."""
        if stage.per_category:
            return [c.code for c in self.p.categories]
        return [None]

    def stage_date(self, code: str, category: str | None) -> dt.date:
        """The day a stage happens (point stages) or is due (windows), per category."""
        stage = self.p.stage(code)
        if not stage.per_category:
            category = None
        memo = (code, category)
        if memo in self._dates:
            return self._dates[memo]
        if code in self._resolving:
            raise TimetableError(f"阶段 {code} 的相对日期互相引用，无法计算")
        self._resolving.add(code)
        try:
            override = stage.per_category.get(category) if category else None
            if override is not None and override.on is not None:
                day = override.on
            elif override is not None and override.deadline is not None:
                day = self.deadline(override.deadline, category).day
            elif stage.on is not None:
                day = stage.on
            elif stage.after is not None:
                day = self._relative(stage.after.stage, stage.after.workdays, stage.after.days, category)
            elif stage.deadline is not None:
                day = self.deadline(stage.deadline, category).day
            else:
                day = max(self.deadline(pr.deadline, category).day for pr in stage.periods)
        finally:
            self._resolving.discard(code)
        self._dates[memo] = day
        return day

    def _relative(self, code: str, workdays: int | None, days: int | None, category: str | None) -> dt.date:
        base = self.stage_date(code, category)
        if workdays is not None:
            return self.cal.add_workdays(base, workdays)
        return base + dt.timedelta(days=days or 0)

    def deadline(self, d: Deadline, category: str | None) -> ResolvedDeadline:
        if d.date is not None:
            day = d.date
        else:
            assert d.after is not None
            day = self._relative(d.after.stage, d.after.workdays, d.after.days, category)
        rolled_from = None
        if d.roll != "none" and not self.cal.is_workday(day):
            rolled_from = day
            day = (
                self.cal.next_workday(day)
                if d.roll == "next_workday"
                else self.cal.previous_workday(day)
            )
        if d.inclusive:
            cutoff = at(day, d.time)
            last_day = self.cal.previous_workday(day)
        else:
            # "X月X日前" read strictly: the day itself is too late.
            cutoff = at(day)
            last_day = self.cal.previous_workday(day, include_self=False)
        return ResolvedDeadline(day, cutoff, last_day, rolled_from)

    # -- actions -------------------------------------------------------------------------

    def _add(self, when: dt.datetime, action: str, stage: Stage, title: str, **kw: Any) -> None:
        # Deterministic and readable: stage:action[:period][:category][:T-n].
        parts = [stage.code, action, kw.get("period"), kw.get("category"), kw.pop("_k", None)]
        key = ":".join(p for p in parts if p)
        self.actions.append(Action(at=when, action=action, stage=stage.code, title=title, key=key, **kw))

    def _stage(self, stage: Stage, category: str | None) -> None:
        cat_name = f"（{self.p.category(category).name}）" if category else ""
        common = {"category": category}
        kind = stage.kind
        if kind in (StageKind.submission, StageKind.followup):
            self._windows(stage, category, cat_name)
            return
        day = self.stage_date(stage.code, category)
        nine = at(day, dt.time(9, 0))
        if kind is StageKind.publication:
            self._add(nine, "publish", stage, f"{stage.name}{cat_name}", **common)
        elif kind in (StageKind.review, StageKind.evaluation):
            action = "decision_due" if stage.decision else "publish"
            self._add(nine, action, stage, f"{stage.name}{cat_name}", **common)
        elif kind is StageKind.assessment:
            self._add(nine, "assess", stage, f"{stage.name}{cat_name}", **common)
        elif kind is StageKind.notification:
            self._add(nine, "notify", stage, f"{stage.name}{cat_name}",
                      owed_by=stage.notify.describe() if stage.notify else None, **common)
        elif kind is StageKind.notice:
            assert stage.days is not None
            end = day + dt.timedelta(days=stage.days - 1)
            close = at(end, dt.time(23, 59, 59))
            self._add(nine, "notice_open", stage, f"{stage.name}开始（{stage.days}天，可提出异议）",
                      deadline=close, **common)
            self._add(close, "notice_close", stage, f"{stage.name}结束，异议受理截止", **common)

    def _windows(self, stage: Stage, category: str | None, cat_name: str) -> None:
        assert stage.owed_by is not None
        periods = stage.periods or [None]
        policy = self.p.reminder_policies.get(stage.reminders) if stage.reminders else None
        condition = None
        if stage.kind is StageKind.followup and stage.owed_by.grades:
            condition = f"仅限考核等次为{'/'.join(stage.owed_by.grades)}的单位"
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
        opens = (period and period.opens) or (override and override.opens) or stage.opens
        if stage.kind is StageKind.followup and opens is None and stage.after is not None:
            opens = self._relative(stage.after.stage, stage.after.workdays, stage.after.days, category)
        d = self.deadline(deadline_spec, category)
        pcode = period.code if period else None
        label = f"{stage.name}{'·' + pcode if pcode else ''}{cat_name}"
        common = {"category": category, "period": pcode, "owed_by": stage.owed_by.describe(),
                  "submission": stage.submission.value if stage.submission else None,
                  "condition": condition}
        if opens is not None:
            kind = "followup_open" if stage.kind is StageKind.followup else "window_open"
            self._add(at(opens, dt.time(9, 0)), kind, stage, f"{label} 开始受理", deadline=d.cutoff, **common)
        rolled = f"（原定{d.rolled_from}，遇休息日顺延）" if d.rolled_from else ""
        self._add(d.cutoff, "deadline", stage, f"{label} 截止{rolled}",
                  detail={"inclusive": deadline_spec.inclusive, "lateness": stage.lateness,
                          **({"rolled_from": d.rolled_from.isoformat()} if d.rolled_from else {})},
                  **common)
        if policy is None:
            return
        reminder_time = policy.time
        first_day = opens or dt.date.min
        for n in policy.before_workdays:
            day = self.cal.add_workdays(d.last_day, -n)
            if day < first_day:
                continue
            self._add(at(day, reminder_time), "reminder", stage, f"{label} 提醒：还有{n}个工作日截止",
                      deadline=d.cutoff, workdays_left=n, _k=f"T-{n}", **common)
        if policy.on_deadline_day and d.last_day >= first_day:
            self._add(at(d.last_day, reminder_time), "reminder", stage, f"{label} 提醒：今日截止",
                      deadline=d.cutoff, workdays_left=0, _k="T-0", **common)
        over = self.cal.add_workdays(d.last_day, policy.overdue_after_workdays)
        self._add(at(over, reminder_time), "overdue", stage, f"{label} 逾期提醒", deadline=d.cutoff, **common)
        if policy.escalate_after_workdays is not None:
            esc = self.cal.add_workdays(d.last_day, policy.escalate_after_workdays)
            target = (
                "上级单位" if policy.escalate_to == "parent" else self.p.unit(policy.escalate_to).name
            )
            self._add(at(esc, reminder_time), "escalation", stage, f"{label} 逾期未交，督办{target}",
                      deadline=d.cutoff, detail={"escalate_to": policy.escalate_to}, **common)


def as_json(timetable: Timetable) -> list[dict[str, Any]]:
    return [a.to_json() for a in timetable.actions]

