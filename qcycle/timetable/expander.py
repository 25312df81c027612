"""The round expanded into every dated action (:func:`expand`): window openings, deadlines,
reminders, overdue notices, escalations, point stages, and what waits for a decision."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from qcycle.clock import at
from qcycle.errors import TimetableError
from qcycle.kinds import ORDER, STAGE_ACTIONS, action_kind
from qcycle.schema import Period, Programme, ReminderPolicy, Stage, StageKind, Who
from qcycle.timetable.actions import Action, ResolvedDeadline, Timetable, UnitDeadline
from qcycle.timetable.dates import _WINDOW_KINDS, StageDates, moved
from qcycle.workcal import WorkCalendar

__all__ = ["expand"]

# Actions keyed by the moment they serve: a window's deadline, the event a notice announces, the
# decision a review is asked for.
_SERVES_DEADLINE = ("window_open", "followup_open", "reminder", "overdue", "escalation", "event_notice",
                    "review_request", "decision_request")


def expand(p: Programme, cal: WorkCalendar, extensions: Sequence[UnitDeadline] = ()) -> Timetable:
    """Every dated action of the round, sorted by time (then by a fixed action order).

    ``extensions``: units with their own deadline for a window. That window's deadline,
    reminders, overdue notice and escalation leave them out (``detail["extended"]``), and each
    gets the same actions for its own deadline (``Action.unit``)."""
    return _Expander(p, cal, extensions).run()


# Notification templates whose letters say each unit's results (the default is ``result``).
_READS_RESULTS = (None, "result", "praise", "award", "summons", "circular")

class _Expander(StageDates):
    def __init__(self, p: Programme, cal: WorkCalendar, extensions: Sequence[UnitDeadline] = ()):
        super().__init__(p, cal)
        self.extensions = tuple(extensions)
        self.actions: list[Action] = []
        # Reminders a policy asks for that fall before their window opens (stage, deadline, n, day, opens):
        # not planned, and said by validate (timetable.checks).
        self.early_reminders: list[tuple[str, dt.datetime, int, dt.date, dt.date]] = []

    def run(self) -> Timetable:
        for stage in self.p.stages:
            for category in self._variants(stage):
                self._stage(stage, category)
        self._uncounted_lateness()
        self._with_needs()
        self._announced_together()
        self._what_follows()
        keys = [a.key for a in self.actions]
        if len(keys) != len(set(keys)):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise TimetableError(f"动作键重复：{dup[:5]}")
        # At one moment: by kind, then as the file lists its stages (焦作's results before its praise).
        place = self.p.stage_place
        self.actions.sort(key=lambda a: (a.at, ORDER[a.action], place.get(a.stage, len(place)), a.stage,
                                         a.category or "", a.period or "", a.key))
        return Timetable(self.p.round.code, self.actions, list(self.cal.warnings))

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
        title = f"{stage.name}{cat_name}{self.moved(moved_from, roll)}"
        common: dict[str, Any] = {"category": category}
        if moved_from is not None:
            common["detail"] = {"rolled_from": moved_from.isoformat(), "roll": roll}
        action = STAGE_ACTIONS[stage.kind.value]
        if stage.notify is not None:  # the 对象 column of the plan: who is written to
            common["owed_by"] = stage.notify.describe(self.p.stage_names, self.p.unit_names, self.p.level_names)
        if stage.kind is StageKind.notification:
            self._add(nine, action, stage, title, **common)
        elif stage.kind is StageKind.event:
            self._notice(stage, category, day, title, nine, common)
            # An event of several days (a 现场评审 visiting units over weeks) ends on its last day.
            until = at(last, dt.time(23, 59, 59)) if (last := stage.last_day(day, self.cal)) else None
            self._add(nine, action, stage, title, deadline=until, **{k: v for k, v in common.items() if k != "owed_by"})
        elif stage.kind is StageKind.decision:
            self._notice(stage, category, day, title, nine, common)  # a 陈述答辩 its candidates attend
            office = self.p.unit(self.p.sender(stage.code)).name  # the office decides: the plan names it, not blank
            office += "（汇总上级单位意见）" if stage.reviewed_by is not None else ""
            office += "（按规定决定：已提交的通过，未提交的不通过）" if stage.approves_handed_in else ""
            decides = self.p.stage(stage.decides) if stage.decides is not None else None
            if decides is not None and decides.kind is StageKind.decision and stage.reviewed_by is not None:
                # A second level (市级推荐 after the 县级初审): asked the working day after the step before.
                asked = self.cal.next_workday(self.point_day(decides, category)[0], include_self=False)
                if asked < day:
                    self._add(at(asked, dt.time(9, 0)), "review_request", stage,
                              f"{title}：请上级单位审核（{day:%Y-%m-%d}前报送意见）", deadline=nine,
                              **{**common, "owed_by": f"通过“{decides.name}”的单位的上级单位"})
                    self._review_reminders(stage, title, asked, day, nine, common)
            elif decides is not None and decides.kind.value in _WINDOW_KINDS:
                # Asked once the window has closed: the working day after its deadline, if that comes
                # before the decision's day (otherwise there is no time to ask). The parents review
                # (县级初审); or the office itself is told what it has to decide by when (it heard
                # only on the day the decision was due).
                # A decision on all categories of a window that closes per category: once the last has closed.
                cats = ([category] if category or not decides.per_category else [c.code for c in self.p.categories]) or [None]
                closes = max(self.event_date(decides.code, "deadline", c) for c in cats)
                asked = self.cal.next_workday(closes, include_self=False)
                if asked < day and stage.reviewed_by is not None:
                    # The deadline it follows (a window's third quarter, not its first): the call says it.
                    self._add(at(asked, dt.time(9, 0)), "review_request", stage,
                              f"{title}：请上级单位审核（{day:%Y-%m-%d}前报送意见）", deadline=nine,
                              detail={"closes": f"{closes:%Y-%m-%d}"},
                              # Late ones taken (accept_flag) are listed too, marked late: "按时" only where refused.
                              **{**common, "owed_by": f"{'按时' if decides.lateness == 'reject' else ''}提交“{decides.name}”"
                                                      "的单位的上级单位"})
                    self._review_reminders(stage, title, asked, day, nine, common)
                elif asked < day and not stage.approves_handed_in:  # the rule decides all: nobody to ask
                    self._add(at(asked, dt.time(9, 0)), "decision_request", stage,
                              f"{title}：待审核（{day:%Y-%m-%d}前完成）", deadline=nine, **{**common, "owed_by": office})
            self._add(nine, action, stage, title, **{**common, "owed_by": office})
        elif stage.kind is StageKind.notice:
            end = stage.last_day(day, self.cal) or day
            close = at(end, dt.time(23, 59, 59))
            self._add(nine, action, stage, f"{stage.name}{cat_name}开始（{stage.span}，可提出异议）",
                      deadline=close, **common)
            # Objections taken by a window of their own close at its deadline (17:30), which the plan lists.
            own_window = any(s.submission == "objection" and self.p.publicity_of(s.code) is stage for s in self.p.stages)
            self._add(close, "notice_close", stage, f"{stage.name}{cat_name}结束" + ("" if own_window else "，异议受理截止"),
                      category=category)
        else:
            self._add(nine, action, stage, title, **common)

    def _review_reminders(self, stage: Stage, title: str, asked: dt.date, day: dt.date, nine: dt.datetime,
                          common: dict[str, Any]) -> None:
        """Reviewers still owing their opinions are reminded ``before_workdays`` before the decision's
        day (某市's 区局 were asked once and never again), after they were asked."""
        policy = self.p.reminder_policies.get(stage.reminders) if stage.reminders else None
        if policy is None:
            return
        for n in policy.before_workdays:
            when = self.cal.add_workdays(day, -n)
            if asked < when < day:
                self._add(at(when, policy.time), "review_reminder", stage,
                          f"{title}：提醒上级单位报送意见（还有{n}个工作日）", deadline=nine, workdays_left=n,
                          _k=f"T-{n}", **{**common, "owed_by": "尚未报送意见的上级单位"})

    def _notice(self, stage: Stage, category: str | None, day: dt.date, title: str, nine: dt.datetime,
                common: dict[str, Any]) -> None:
        """An event's notice, some working days ahead, is what the units are sent; a moved event is
        another notice (keyed by the event's day, as a reminder by its deadline's)."""
        notice = self.event_notice_day(stage, category)
        if notice is not None:
            self._add(at(notice, dt.time(9, 0)), "event_notice", stage, f"{title}：提前通知（{day:%Y-%m-%d}）",
                      deadline=nine, **common)

    def moved(self, rolled_from: dt.date | None, roll: str | None, day: dt.date | None = None) -> str:
        """:func:`moved`, told by the calendar whether the day was a public holiday; a deadline ``day`` on a
        weekend that is a working day (调休) says so: "2026年9月20日（星期日）" read as a mistake."""
        if rolled_from is None and day is not None and day.weekday() >= 5 and self.cal.is_workday(day):
            return "（调休上班日）"
        return moved(rolled_from, roll, holiday=rolled_from is not None and self.cal.is_holiday(rolled_from))

    def event_notice_day(self, stage: Stage, category: str | None) -> dt.date | None:
        """The day an event's notice goes: ``notify_ahead`` working days before the event (``None``:
        nobody is told of it)."""
        ahead = stage.notice_workdays
        if ahead is None:
            return None
        return self.cal.add_workdays(self.point_day(stage, category)[0], -ahead)

    def _windows(self, stage: Stage, category: str | None, cat_name: str) -> None:
        assert stage.owed_by is not None
        periods: list[Period | None] = [*stage.periods] or [None]
        policy = self.p.reminder_policies.get(stage.reminders) if stage.reminders else None
        condition = None
        if stage.owed_by.dynamic:
            condition = f"仅限{stage.owed_by.describe(self.p.stage_names, self.p.unit_names, self.p.level_names)}"
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
        common = {"category": category, "period": pcode, "owed_by": stage.owed_by.describe(self.p.stage_names, self.p.unit_names, self.p.level_names),
                  "submission": stage.submission, "condition": condition}
        # A unit taken out of the file since keeps its record, not its actions; an extension the
        # window's own deadline has since overtaken (moved later for all) no longer applies: its unit
        # was chased and 督办'd as overdue while every other unit still had a week.
        own = [e for e in self.extensions if e.stage == stage.code and e.period == pcode and self.p.has_unit(e.unit)
               and e.cutoff > d.cutoff]
        extended = sorted({e.unit for e in own})
        if opens is not None:
            kind = "followup_open" if stage.kind is StageKind.followup else "window_open"
            # Everyone is told the window opens; a later notice that the window's deadline moved
            # is not for the units with their own deadline (``extended``). An objection window
            # is announced as the 公示 it belongs to (the day that 公示 began).
            opening: dict[str, Any] = {"extended": extended} if extended else {}
            if (notice := self.p.publicity_of(stage.code)) is not None:
                opening["publicity_on"] = self.point_day(notice, category)[0].isoformat()
            if said := self.moved(d.rolled_from, d.roll, d.day):  # the letter says the call's date and why it moved
                opening["rolled"] = said.strip("（）")
            self._add(at(opens, dt.time(9, 0)), kind, stage, f"{label} 开始受理", deadline=d.cutoff,
                      detail=opening, **common)
        detail = {"inclusive": deadline_spec.inclusive, "lateness": stage.lateness, "voluntary": stage.voluntary,
                  **({"rolled_from": d.rolled_from.isoformat(), "roll": d.roll} if d.rolled_from else {})}
        self._deadline_actions(stage, d, label, common, policy, opens, detail, extended)
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
        left_out: dict[str, Any] = {"extended": extended} if extended else {}
        said = self.moved(d.rolled_from, d.roll, d.day)
        self._add(d.cutoff, "deadline", stage, f"{label} 截止{said}", detail={**detail, **left_out}, **common)
        if said:  # each letter that gives the deadline says why it is that day (星期日, 调休)
            left_out = {**left_out, "rolled": said.strip("（）")}
        if policy is None:
            return
        reminder_time = policy.time
        first_day = opens or dt.date.min
        for n in policy.before_workdays:
            day = self.cal.add_workdays(d.last_day, -n)
            # Not before the window opens, nor on its first day: the opening letter gives the deadline (a
            # 受理 and a 提醒 of the same report had come the same morning).
            if day < first_day or (opens is not None and day == opens):
                if opens is not None and day < opens and "unit" not in common:
                    self.early_reminders.append((stage.code, d.cutoff, n, day, opens))
                continue
            self._add(at(day, reminder_time), "reminder", stage, f"{label} 提醒：还有{n}个工作日截止",
                      deadline=d.cutoff, workdays_left=n, _k=f"T-{n}", detail=dict(left_out), **common)
        if policy.on_deadline_day and d.last_day >= first_day and d.last_day != opens:
            # A deadline on a day off (not rolled) is reminded of on the last working day before it.
            today = "今日截止" if d.last_day == d.day else f"截止前最后一个工作日（{d.day:%m-%d}截止）"
            self._add(at(d.last_day, reminder_time), "reminder", stage, f"{label} 提醒：{today}",
                      deadline=d.cutoff, workdays_left=0, _k="T-0", detail=dict(left_out), **common)
        if stage.voluntary:
            return  # applying is a choice: nobody is overdue for not applying
        over = self.cal.add_workdays(d.last_day, policy.overdue_after_workdays)
        esc = (self.cal.add_workdays(d.last_day, policy.escalate_after_workdays)
               if policy.escalate_after_workdays is not None else None)
        # A window closed to late hand-ins whose miss a decision's rule has decided by then (取消帮扶资格 the day after):
        # nothing is left to warn of or urge. 湖州's firms were promised a 督办 that never came, in a 逾期提醒 sent the
        # same minute as the cancellation.
        ruled = min((self.point_day(x, common.get("category"))[0] for x in self.p.misses_decided.get(stage.code, ())),
                    default=None) if stage.lateness == "reject" else None
        ruled = ruled if ruled is not None and ruled > d.last_day else None  # not a unit's own later deadline (extend)
        if ruled is not None and ruled <= over:
            return
        esc = None if ruled is not None and esc is not None and ruled <= esc else esc
        # Urged (督办) the same morning: a unit the office urges itself gets that letter only. Urged
        # later: the overdue notice says when, and by whom (榆阳's 12月2日 notice did not say that
        # 区政府 would hear of it on 12月4日).
        after = {"escalate_to": policy.escalate_to} if esc == over else (
            {"escalates": {"on": esc.isoformat(), "to": policy.escalate_to}} if esc is not None and esc > over else {})
        # Those owing it as far as the file says (a window owed by a decision: those it may reach), so
        # that the plan names the same 督办 alike for every window owed by the same units.
        # A unit without a parent is the issuer's, as the handler urges it (lifecycle.handlers._urged).
        parents = ({self.p.unit(u).parent or self.p.round.issuer for u in self.p.reachable(stage.owed_by)}
                   if stage.owed_by else set())
        direct = policy.escalate_to in ("self", self.p.sender(stage.code)) or (
            policy.escalate_to == "parent" and parents == {self.p.sender(stage.code)})
        # Urged by the office itself that morning, no unit gets the notice: the plan says so (质量月's listed both).
        none_sent = "（当日直接督办，不另发）" if esc == over and direct else ""
        self._add(at(over, reminder_time), "overdue", stage, f"{label} 逾期提醒{none_sent}", deadline=d.cutoff,
                  detail={**left_out, **after}, **common)
        if esc is not None:
            # The overdue unit is reported to (报) whoever urges it: "督办淮安市人民政府" read as
            # if the government itself were being urged.
            if direct:  # the office that writes the letters urges the overdue units itself
                urged = f"由{self.p.unit(self.p.sender(stage.code)).name}直接督办" + (
                    "，抄送上级单位" if policy.escalate_cc == "parent" else
                    f"，抄送{self.p.unit(policy.escalate_cc).name}" if policy.escalate_cc else "")
            elif policy.escalate_to == "parent":
                urged = "报上级单位督办"
            else:
                urged = f"报{self.p.unit(policy.escalate_to).name}督办"
            cc = {"escalate_cc": policy.escalate_cc} if policy.escalate_cc else {}
            self._add(at(esc, reminder_time), "escalation", stage, f"{label} 逾期未交，{urged}",
                      deadline=d.cutoff, detail={"escalate_to": policy.escalate_to, **cc, **left_out}, **common)

    # -- what waits for a decision ---------------------------------------------------------

    def _uncounted_lateness(self) -> None:
        """Mark (``detail["uncounted"]``) the actions about a deadline that no assessment counts although
        the assessment deducts or vetoes for its window (``late_at``, ``missing_at``): one after the round's
        last assessment of its category. Their letters do not say what lateness costs (a 服务站's fourth
        quarter, due in January after the December scoring, read "逾期报送的，每次扣2分" and lost nothing)."""
        scheme = self.p.assessment
        counted = ({d.late_at for d in scheme.deductions if d.late_at} | {v.missing_at for v in scheme.vetoes if v.missing_at}
                   | {c.missing_at for c in scheme.components if c.missing_at}) if scheme else set()
        if not counted:
            return
        assessed = [a for a in self.actions if a.action == "assess"]

        def uncounted(a: Action) -> bool:
            cutoff = a.at if a.action == "deadline" else a.deadline
            return a.stage in counted and cutoff is not None and not any(
                x.at >= cutoff and (x.category is None or a.category in (None, x.category)) for x in assessed)

        self.actions = [replace(a, detail={**a.detail, "uncounted": True}) if uncounted(a) else a for a in self.actions]

    def _with_needs(self) -> None:
        """Give each action the decision and assessment actions it waits for: an action whose
        stage reads the outcome of a decision stage or the results of an assessment (its
        subjects, owers or recipients) waits until that is complete, so scoring, lists and
        letters never run on undecided subjects, nor results on an assessment that failed
        (its results letter went to the ungraded alone and was done, never to the graded)."""
        decisions: dict[str, list[Action]] = defaultdict(list)
        for a in self.actions:
            if a.action in ("decision_due", "assess"):
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

    def _announced_together(self) -> None:
        """A window opening the day a publication goes out is announced in that publication's letter
        (福州's 申报通知 and "申报材料开始受理" were two letters the same morning): the publication
        carries each such opening (``detail["openings"]``) and waits for what its windows wait for;
        the window writes only to those the publication does not reach (``detail["announced_by"]``).
        The first publication of the day in the file's order, of the window's category or of all."""
        calls = sorted((a for a in self.actions if a.action == "publish"), key=lambda a: self.p.stage_place[a.stage])
        openings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        needs: dict[str, set[str]] = defaultdict(set)
        out = []
        for a in self.actions:
            paired = a.action == "window_open" and a.deadline is not None and "publicity_on" not in a.detail
            call = next((c for c in calls if c.at.date() == a.at.date() and c.category in (None, a.category)),
                        None) if paired else None
            if call is None or a.deadline is None:
                out.append(a)
                continue
            openings[call.key].append({"stage": a.stage, "category": a.category, "period": a.period,
                                       "deadline": a.deadline.isoformat(), "rolled": a.detail.get("rolled"),
                                       **({"uncounted": True} if a.detail.get("uncounted") else {})})
            needs[call.key].update(a.needs)
            told = self.p.stage(call.stage).name
            out.append(replace(a, detail={**a.detail, "announced_by": {"stage": call.stage, "category": call.category}},
                               owed_by=f"{a.owed_by}（已随“{told}”告知的除外）" if a.owed_by else a.owed_by))
        self.actions = [replace(a, detail={**a.detail, "openings": openings[a.key]},
                                needs=tuple(sorted(set(a.needs) | needs[a.key]))) if a.key in openings else a
                        for a in out]

    def _what_follows(self) -> None:
        """A publication (揭榜名单, 试点名单, a task list), or an award, carries, as ``detail["later"]``, the deadlines
        of the windows of its category (or all, where it has none) that open after its day or never
        announce an opening, so it can tell each unit what it will owe and by when: a pilot named in
        May heard of its 中期报告 and 18-month 验收申请 only as each window opened. The handler keeps, per
        unit, those it owes; voluntary windows (an application) and objections invite, and are not listed."""
        due = [a for a in self.actions if a.action == "deadline" and a.unit is None  # its moment is the cut-off
               and not self.p.stage(a.stage).voluntary and self.p.stage(a.stage).submission != "objection"]
        invitations = [a for a in self.actions if a.action == "window_open" and a.unit is None and a.deadline
                       and self.p.stage(a.stage).voluntary and self.p.stage(a.stage).submission != "objection"]
        if not due and not invitations:
            return
        # A window already open was announced when it opened (and may be handed in already).
        opens = {(a.stage, a.category, a.period): a.at.date() for a in self.actions
                 if a.action in ("window_open", "followup_open") and a.unit is None}
        # A window owed by what a later decision or assessment decides is not owed yet: a round assessed
        # each year would have told last year's bottom units of this year's 整改报告.
        settled: dict[str, dt.datetime] = {}
        for x in self.actions:
            if x.action in ("assess", "decision_due"):
                settled[x.stage] = max(settled.get(x.stage, x.at), x.at)
        # A window owed by those who missed (or handed in) another is not owed before that one closes: 济南's labs were
        # all told of the 责令改正 owed only by those that would miss the 年度报告.
        closes: dict[str, dt.datetime] = {}
        for x in self.actions:
            if x.action == "deadline" and x.unit is None:
                closes[x.stage] = max(closes.get(x.stage, x.at), x.at)
        waits: dict[str, dt.datetime | None] = {}
        for code in {d.stage for d in due}:
            who = self.p.stage(code).owed_by
            read = [closes[r] for w in ((who, *who.any_of) if who is not None else ())
                    for r in (w.missing_at, w.submitted_at) if r and r != code and r in closes]
            waits[code] = max([*(settled[s] for s in self._deps(code, set()) if s in settled), *read], default=None)
        out = []
        for a in self.actions:
            # An award or a title brings duties too: 诚信计量示范单位 named on 9月30日 first heard of the yearly 自查报告
            # when its window opened in November.
            awarding = a.action == "notify" and self.p.stage(a.stage).template == "award"
            if a.action != "publish" and not awarding:
                out.append(a)
                continue
            told = {(o["stage"], o["category"], o["period"]) for o in a.detail.get("openings", ())}
            # Each deadline with why it is that day, as every later letter gives it (安庆's 方案 said 1月10日 and the
            # launch 1月11日 bare).
            later = [{"stage": d.stage, "category": d.category, "period": d.period, "deadline": d.at.isoformat(),
                      "rolled": self.moved(dt.date.fromisoformat(d.detail["rolled_from"]) if d.detail.get("rolled_from")
                                           else None, d.detail.get("roll"), d.at.date()).strip("（）") or None,
                      **({"uncounted": True} if d.detail.get("uncounted") else {})}
                     for d in due if d.at.date() > a.at.date()
                     and opens.get((d.stage, d.category, d.period), dt.date.max) > a.at.date()
                     and ((last := waits[d.stage]) is None or last <= a.at)
                     and (a.category is None or d.category in (None, a.category))
                     and (d.stage, d.category, d.period) not in told]
            # An application window opening after the call (标准化: the call of 2月24日, applications from 3月1日)
            # is an invitation: the call says when it opens and closes, apart from what must be handed in.
            invited = [{"stage": w.stage, "category": w.category, "period": w.period, "opens": w.at.isoformat(),
                        "deadline": w.deadline.isoformat(), "rolled": w.detail.get("rolled"),
                        **({"uncounted": True} if w.detail.get("uncounted") else {})}
                       for w in invitations if w.deadline and w.at.date() > a.at.date() and not awarding
                       and (a.category is None or w.category in (None, a.category))
                       and (w.stage, w.category, w.period) not in told]
            # A follow-up the publication opens the same day (整改 of the firms on a 不合格名单) is reviewed by their
            # superiors: the call tells them when (the 区县局 had read only another quarter's review dates).
            reviewed = [{"stage": d.stage, "category": d.category, "period": d.period, "deadline": d.at.isoformat()}
                        for d in due if opens.get((d.stage, d.category, d.period)) == a.at.date() and not awarding
                        and self.p.reviews_of(d.stage) and (a.category is None or d.category in (None, a.category))
                        and (d.stage, d.category, d.period) not in told]
            detail = {**a.detail, **({"later": later} if later else {}), **({"invited": invited} if invited else {}),
                      **({"reviewed": reviewed} if reviewed else {})}
            out.append(replace(a, detail=detail) if detail != a.detail else a)
        self.actions = out

    def _deps(self, code: str, seen: set[str]) -> set[str]:
        """Decision and assessment stages whose outcomes the stage ``code`` reads, directly or
        through others."""
        if code in seen:
            return set()
        seen.add(code)
        stage = self.p.stage(code)
        refs: set[str] = set()
        selectors = [stage.owed_by, stage.notify, stage.lists]
        if stage.kind is StageKind.assessment and self.p.assessment is not None:
            selectors.append(self.p.assessment.subjects)
        if stage.kind is StageKind.notification and stage.template in _READS_RESULTS:
            refs |= set(self.p.assessment_stages)  # its letters say the grades
        if stage.decides:
            refs.add(stage.decides)
        if stage.kind is StageKind.notification and stage.after is not None:
            # Dated after a decision, it reports it: it waits for it (某省's copies to the cities of the
            # 中期评估 went out before the decision they reported, with nothing in them).
            refs.add(stage.after.stage)
        if (notice := self.p.publicity_of(code)) is not None:
            refs.add(notice.code)  # its opening is written to those the 公示 did not tell
        for who in selectors:
            if who is None:
                continue
            refs |= who.stages()
            if _reads_results(who):
                refs |= set(self.p.assessment_stages)
        out = {code} if stage.kind in (StageKind.decision, StageKind.assessment) else set()
        for ref in refs:
            if self.p.has_stage(ref):
                out |= self._deps(ref, seen)
        return out


def _reads_results(who: Who) -> bool:
    return bool(who.grades or who.rank) or any(_reads_results(w) for w in who.any_of)
