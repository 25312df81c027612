"""What each timetable action does to a round's data, and the letters it drafts.

:data:`HANDLERS` maps each action kind to its handler; :func:`carry_out` runs one. A handler
finds the units concerned (through :mod:`qcycle.lifecycle.who`), records what the action
establishes (decisions by rule, assessment results) and returns an :class:`Outcome` with its
message drafts. Carrying out the same action twice gives the same drafts and writes nothing new."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.errors import TimetableError
from qcycle.lifecycle.assessing import assess_action
from qcycle.lifecycle.calls import barred, publish
from qcycle.lifecycle.changes import moved_deadline, told_before
from qcycle.lifecycle.drafting import (
    draft_letters,
    late_note,
    naming_owed,
    reviewed_by_whom,
    reviewer_step,
    written_on,
)
from qcycle.lifecycle.eligibility import ineligible
from qcycle.lifecycle.escalating import escalation, overdue
from qcycle.lifecycle.followups import followup_open, owing_reasons, report_due, units_below
from qcycle.lifecycle.notifying import notify_action
from qcycle.lifecycle.outcome import Draft, Outcome
from qcycle.lifecycle.publicity import (
    left_off,
    lists_nobody,
    objection_cutoff,
    on_list,
    published_list,
)
from qcycle.lifecycle.quota_wording import quota_tasks
from qcycle.lifecycle.remarks import places_rule
from qcycle.lifecycle.requests import (
    LISTED_IN_DECISION_REQUEST,
    decision_letter,
    review_letters,
)
from qcycle.lifecycle.standing import missed_subjects, passed, scored_for
from qcycle.lifecycle.summaries import published_results
from qcycle.lifecycle.who import (
    NEGATIVE,
    POSITIVE,
    decided,
    outstanding,
    owed_items,
    owing_at,
    p_item_name,
    pending_decisions,
    resolve,
    select_subjects,
)
from qcycle.lifecycle.wording import (
    REFUSED_LATE,
    belonging,
    judged_by,
    notice_name,
    result_label,
)
from qcycle.render import quoted
from qcycle.schema import Programme, Stage, StageKind, Who
from qcycle.timetable import Action
from qcycle.workcal import default_calendar

__all__ = ["HANDLERS", "LISTED_IN_DECISION_REQUEST", "carry_out"]

# -- carrying out an action -------------------------------------------------------------------


def carry_out(session: Session, p: Programme, round_id: uuid.UUID, action: Action, *,
              as_of: dt.datetime | None = None) -> Outcome:
    """Do what an action establishes and return the messages it owes. Idempotent.
    ``as_of``: the moment the run carries it out (letters written for it are dated then)."""
    handler = HANDLERS.get(action.action)
    if handler is None:  # the registry and the handlers are kept complete by a test
        raise TimetableError(f"动作种类 {action.action!r} 没有处理程序")
    with clock.carrying_out(as_of):
        outcome = handler(session, p, round_id, action)
    stage = p.stage(action.stage)
    if outcome.drafts and (stage.kind is StageKind.followup or action.unit is not None
                           or stage.owed_by is not None and stage.owed_by.by_standing):
        # Who owes a 整改报告 is who came last: its reminders and overdue notices say as much as the
        # order itself, so none goes to a group its peers read (淮安's eight counties shared one). So
        # for any window owed by standing (a 复验申请 of those who failed 验收: a group of 40 was
        # invited to apply, then read one station's reminder). A unit's own deadline (延期) is its
        # own too: a group of 21 read one unit's extended date.
        outcome = replace(outcome, drafts=[replace(d, private=True) for d in outcome.drafts])
    return outcome


def _event_notice(session, p, round_id, action) -> Outcome:
    """The units an event concerns are told its day ahead (定于某日组织现场评审)."""
    if told_before(session, round_id, action):  # moved after its notice: told then (changes._event_moves)
        return Outcome(action, note=f"{action.title}：改期已于登记修改时通知，不再另发")
    stage = p.stage(action.stage)
    units = resolve(session, p, round_id, stage.notify, action.category)
    assert action.deadline is not None  # the event's own moment
    on = action.deadline.date()
    # A unit taking part with some of the list items it applied for is told which (江州化工's two 成果: one
    # failed 初审; 温州's firms whose second application came late and was refused could not tell which award
    # the visit was for); one that applied for one item knows it.
    entries: dict[str, list[str]] = defaultdict(list)
    for s in select_subjects(session, p, round_id, stage.notify, action.category) if stage.notify else []:
        if ":" in s and (name := p_item_name(p, s)):
            entries[s.partition(":")[0]].append(quoted(name))
    applied = Counter(s.partition(":")[0] for s in {  # the distinct subjects each unit handed in, at any window
        s for window in (p.stages if entries else []) if window.kind is StageKind.submission
        for status in ("accepted", "rejected_late")
        for s in crud.handed_in_subjects(session=session, round_id=round_id, stage=window.code, period=None,
                                         category=None, item_category=p.item_category, status=status)})
    # An event for those graded or placed low, rejected or in default (约谈) is each one's own: not in the group.
    own_news = stage.notify is not None and any(w.grades or w.rank is not None or w.rejected_at or w.missing_at
                                                for w in (stage.notify, *stage.notify.any_of))
    own: dict[str, dict[str, Any]] = {u: {"entries": names} for u, names in entries.items() if applied[u] > 1}
    for u, said in _reviewed_through(session, p, round_id, stage.notify, units).items():
        own.setdefault(u, {}).update(said)
    # A superior told of its units' event is told which (the cities were asked to prepare for a 现场验收核查 of
    # counties they were not named).
    below: dict[str, list[str]] = defaultdict(list)
    for inner in (w.superiors_of for w in ((stage.notify, *stage.notify.any_of) if stage.notify else ()) if w.superiors_of):
        for u, kids in units_below(session, p, round_id, inner, action.category, units).items():
            below[u] += [k for k in kids if k not in below[u]]
    # A superior with an entry of its own prepares for it too (a city's own 验收 beside its counties').
    part = stage.notify.taking_part() if stage.notify is not None and stage.notify.any_of else None
    taking_part = set(resolve(session, p, round_id, part, action.category)) if part else set()
    for u, kids in below.items():
        own.setdefault(u, {}).update(below=f"{belonging(p, kids)}{'、'.join(p.unit(k).name for k in kids)}",
                                     self_too=u in taking_part)
    return Outcome(action, draft_letters(units, "event_notice.j2", p, action, event_on=on, event_until=stage.last_day(on, default_calendar()),
                                         time_of_day=stage.time_of_day, place=stage.place, private=own_news, own=own),
                   note=f"{action.title}：通知 {len(units)} 个单位")


def _window_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    if (moved := moved_deadline(session, p, round_id, action)) is not None:
        return moved
    units = owing_at(session, p, round_id, stage, action.category, action.at)  # not one whose part a grade ended
    if (call := action.detail.get("announced_by")) is not None:  # told by that day's publication
        told = set(resolve(session, p, round_id, p.stage(call["stage"]).notify, call["category"]))
        return Outcome(action, draft_letters([u for u in units if u not in told], "window_open.j2", p, action,
                                             rolled=action.detail.get("rolled")) + _receivers_told(p, action, stage, units),
                       note=f"{action.title}：应提交单位 {len(units)} 个，其中 {len(told & set(units))} 个已随"
                            f"“{p.stage(call['stage']).name}”告知")
    notice = p.publicity_of(stage.code)
    if notice is not None and "publicity_on" in action.detail:
        # The 公示's own letter tells those on its list how and by when to object; the others
        # are sent the 公示 itself, not a bare "公示异议开始受理" (宝山 wrote both, the same day).
        on_list = resolve(session, p, round_id, notice.notify, action.category)
        roster, _, word = published_list(session, p, round_id, notice, on_list, action.category)
        if lists_nobody(notice, roster):  # no 公示, nothing to object to (湖州's empty list drew nine objections)
            return Outcome(action, note=f"{action.title}：{notice.name}上没有单位，不发公示")
        # Candidates scored and left off the list are told by the 公示's own letter, as being left off.
        told_by_notice = set(on_list) | set(left_off(session, p, round_id, notice, on_list, action.category) if roster else [])
        others = [u for u in units if u not in told_by_notice]
        began = clock.at(dt.date.fromisoformat(action.detail["publicity_on"]), action.at.time())
        name = notice_name(p, notice, action.category)
        # A 公示 of results shows them to those it invites to object too (江西's firms had been asked to object to
        # results their letter never showed).
        drafts = draft_letters(others, "notice.j2", p, action, notice_name=name,
                               notice_days=notice.days, notice_span=notice.span, objection_deadline=action.deadline, objection_window=True,
                               notice_until=notice.last_day(began.date(), default_calendar()) or began.date(),
                               listed=False, at=began, roster=roster, roster_word=word,
                               **_results_shown(session, p, round_id, name, roster, action.category))
        return Outcome(action, drafts, note=f"{action.title}：{len(told_by_notice & set(units))} 个单位已由公示告知，"
                                            f"另函告其余 {len(others)} 个单位")
    # Those the programme's eligibility rule bars are told so when the window opens, not left
    # to apply and be refused months later (福州's winner of 2025 applied again in 2026).
    refused = barred(session, p, round_id, stage, action.category)
    own: dict[str, dict[str, Any]] = {u: {"barred": why} for u, why in refused.items()}
    if p.quotas and stage.code == p.quotas.progress_stage:  # what the progress report is measured against
        own |= {u: {"quotas": quota_tasks(p, u)} for u in units}
    for u, said in _reviewed_through(session, p, round_id, stage.owed_by, units).items():
        own.setdefault(u, {}).update(said)
    reason = None
    if stage.owed_by is not None and stage.owed_by.superiors_of is None and any(
            w.grades or w.rank is not None or w.rejected_at for w in (stage.owed_by, *stage.owed_by.any_of)):
        # Owed for a result (补测 of a 不满意 project, 复检申请 of a 不合格 one): the opening says which and why, as an
        # 整改通知 does (能力验证's "补测结果开始受理" had told 29 laboratories nothing of why).
        reason, why = owing_reasons(session, p, round_id, stage, action.category, units)
        for u, said in why.items():
            own.setdefault(u, {}).update(said)
    drafts = draft_letters(units + sorted(refused), "window_open.j2", p, action, rolled=action.detail.get("rolled"), reason=reason,
                           private=any("quotas" in mine for mine in own.values()), own=own)
    drafts += _receivers_told(p, action, stage, units)
    return Outcome(action, drafts, note=f"{action.title}：应提交单位 {len(units)} 个"
                                        + (f"，告知不符合申报条件的 {len(refused)} 个" if refused else "") + late_note(action))


def _receivers_told(p: Programme, action: Action, stage: Stage, units: list[str]) -> list[Draft]:
    """The unit a window's hand-ins go to, told who owes them (:func:`report_due`), where it reviews none of them and the
    window is owed (a publication announcing the window the same day tells the owers, not the receiver)."""
    return report_due(p, action, stage, units, lambda u: None) if not (stage.voluntary or p.reviews_of(stage.code)) else []


def _reminder(session, p, round_id, action) -> Outcome:
    owed = owed_items(session, p, round_id, action)
    units = outstanding(session, p, round_id, action, owed=owed)
    return Outcome(action, draft_letters(units, "reminder.j2", p, action, own=naming_owed(p, action, owed)),
                   note=f"{action.title}：尚未提交 {len(units)} 个单位", counts={"outstanding": len(units)})


def _deadline(session, p, round_id, action) -> Outcome:
    if p.stage(action.stage).voluntary:  # an invitation closes: whoever did not apply is not late
        return Outcome(action, note=f"{action.title}：受理结束")
    units = outstanding(session, p, round_id, action)
    names = "、".join(p.unit(u).name for u in units[:10]) + ("等" if len(units) > 10 else "")
    note = f"{action.title}：逾期未交 {len(units)} 个单位" + (f"（{names}）" if units else "")
    return Outcome(action, note=note, counts={"overdue": len(units)})


def _to_decide(session, p, round_id, action) -> tuple[Stage, list[str], dict[str, str]]:
    """The action's decision stage, what it has still to decide less those the programme's
    eligibility rule refuses, and those, each with the rule's reason."""
    stage = p.stage(action.stage)
    pending = pending_decisions(session, p, round_id, stage, action.category)
    refused = ineligible(session, p, p.stage(stage.decides), pending) if stage.decides else {}
    return stage, [x for x in pending if x not in refused], refused


def _decision_due(session, p, round_id, action) -> Outcome:
    stage, pending, refused = _to_decide(session, p, round_id, action)
    missed = _missing(session, p, round_id, action, stage)
    # Those who handed it in, where that is all the stage asks (approves_handed_in): approved by the same rule.
    handed = {x: "" for x in pending if x not in missed} if stage.approves_handed_in else {}
    # Decided by a rule (the eligibility rule; 逾期未报送的视为不合格), audited like any decision.
    for rule, decided_now, outcome in (("rule:eligibility", refused, "rejected"), ("rule:missing", missed, "rejected"),
                                       ("rule:handed_in", handed, "approved")):
        for subject, reason in decided_now.items():
            crud.put_decision(session=session, round_id=round_id, stage=stage.code, decides=stage.decides or "",
                              subject=subject, outcome=outcome, decided_by=rule, note=reason, decided_at=action.at)
            crud.audit(session=session, actor=rule, action=f"decide:{stage.code}",
                       round_code=p.round.code, detail={"subject": subject, "outcome": outcome, "note": reason})
    pending = [x for x in pending if x not in handed]
    drafts = decision_letter(session, p, round_id, action, pending, due=action.at, ruled=missed) if pending else []
    # Once all is decided the action completes: its record says so, not "0 pending".
    note = (f"{action.title}：待决定 {len(pending)} 项" if pending else f"{action.title}：已全部决定") + (
        f"，不符合申报条件自动不予通过 {len(refused)} 项" if refused else "") + (
        f"，未提交视为不通过 {len(missed)} 项" if missed else "") + (f"，已提交按规定通过 {len(handed)} 项" if handed else "")
    counts = {"pending": len(pending), **({"ineligible": len(refused)} if refused else {}),
              **({"missing": len(missed)} if missed else {}), **({"approved_by_rule": len(handed)} if handed else {})}
    return Outcome(action, drafts, pending=pending, note=note, counts=counts)


def _missing(session, p: Programme, round_id, action, stage: Stage) -> dict[str, str]:
    """Subject → the rule's reason, for those owing the window a ``rejects_missing`` decision decides on that never
    handed it in and are not decided yet: 不同意 on the decision's day (逾期未报送的视为不合格); one refused as late handed
    it in ("未提交…；…逾期提交，不予受理" had said both of one unit)."""
    if not stage.rejects_missing or stage.decides is None:
        return {}
    window = p.stage(stage.decides)
    done = decided(session, round_id, stage.code, POSITIVE + NEGATIVE)
    refused = set(crud.handed_in_subjects(session=session, round_id=round_id, stage=window.code, period=None, category=action.category,
                                          item_category=p.item_category, status="rejected_late")) if window.lateness == "reject" else set()
    return {x: p.material(window) + REFUSED_LATE if x in refused else f"未提交{p.material(window)}"
            for x in missed_subjects(session, p, round_id, window, action.category) if x not in done}


def _decision_request(session, p, round_id, action) -> Outcome:
    """The office is told what it has to decide, and by when, once the window it decides on has
    closed (天水's 资格审查 was asked for on the day it was due); those the programme's eligibility
    rule refuses are left out (the rule decides them on the day)."""
    _, pending, _ = _to_decide(session, p, round_id, action)
    drafts = decision_letter(session, p, round_id, action, pending, due=action.deadline) if pending else []
    return Outcome(action, drafts, note=f"{action.title}：待决定 {len(pending)} 项")


def _review_request(session, p, round_id, action) -> Outcome:
    """A 县级初审: each subject's parent is asked to review its own before the decision's day (those
    the programme's eligibility rule refuses are left out: the rule decides them on the day); one told
    with the call that has none hears so (:func:`review_letters`)."""
    stage, pending, refused = _to_decide(session, p, round_id, action)
    drafts, parents, subjects = review_letters(session, p, round_id, action, stage, pending, refused=refused)
    return Outcome(action, drafts, note=f"{action.title}：{parents} 个上级单位，{subjects} 项")


def _review_reminder(session, p, round_id, action) -> Outcome:
    """Reviewers with subjects still undecided are reminded of the day their opinions are due."""
    stage, pending, _ = _to_decide(session, p, round_id, action)
    drafts, parents, subjects = review_letters(session, p, round_id, action, stage, pending, reminding=True)
    return Outcome(action, drafts, note=f"{action.title}：{parents} 个上级单位，{subjects} 项")


def _notice_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = resolve(session, p, round_id, stage.notify, action.category)
    name = notice_name(p, stage, action.category)
    late = (f"；晚于日程（{action.at:%Y-%m-%d}），公示期仍至 {action.deadline:%Y-%m-%d}，如需顺延请用 qcycle amend 修改周期"
            if written_on(action) > action.at.date() and action.deadline else "")
    roster, proposed, word = published_list(session, p, round_id, stage, units, action.category)
    if lists_nobody(stage, roster):
        return Outcome(action, note=f"{action.title}：{name}上没有单位，不发公示")
    listed = set(on_list(session, p, round_id, stage, units, action.category)) if roster else set()
    others = left_off(session, p, round_id, stage, sorted(listed), action.category) if roster else {}
    window = objection_cutoff(session, p, round_id, stage, action.category)  # None: objections while it runs
    common = {"notice_name": name, "notice_days": stage.days, "notice_span": stage.span, "notice_until": action.deadline, "roster": roster,
              "objection_deadline": window or action.deadline, "objection_window": window is not None,
              "roster_word": word, **_results_shown(session, p, round_id, name, roster, action.category)}
    under = p.under_each(sorted(listed))  # once for the notice, not once per unit it goes to
    drafts = [d for u in units for d in draft_letters([u], "notice.j2", p, action, listed=u in listed, proposed=proposed.get(u),
                                                      **common, **_below_on(p, under.get(u, []) if u not in listed else [],
                                                                            roster))]
    # Being left off is the unit's own news: not posted where its peers read.
    judged = judged_by(p) if others else None
    drafts += [d for u, why in others.items()
               for d in draft_letters([u], "notice.j2", p, action, private=True, listed=False, judged_by=judged,
                                      left_off=why["standing"], remarks=why["remarks"],
                                      told_before=result_label(p) if why.get("told") else None, **common)]
    told = f"，并告知 {len(others)} 个未列入名单的参评单位" if others else ""
    return Outcome(action, drafts, note=f"{action.title}：通知 {len(units)} 个单位{told}{late}")


def _below_on(p: Programme, mine: list[str], roster: list[str]) -> dict[str, Any]:
    """For a superior not on a 公示's list, its units on it (``mine``: at any depth, as a 公布 letter counts them) in the
    list's order (北岭's 公示 had listed 6 firms without saying which 2 were its own recommendations)."""
    if not mine:
        return {}
    # In the list's order: an entry is the unit's name, with what it is proposed for after it ("某（集团）有限公司（拟获…）").
    place = {x: next((i for i, entry in enumerate(roster) if entry.startswith(p.unit(x).name)), len(roster)) for x in mine}
    return {"below": [p.unit(x).name for x in sorted(mine, key=place.__getitem__)], "below_word": belonging(p, mine)}


def _results_shown(session, p: Programme, round_id, name: str, roster: list[str], category: str | None) -> dict[str, Any]:
    """A 公示 of results publishes them: every graded unit's result, as a 通报 lists them, with the rule of places."""
    results, graded_all = ([], True) if roster or "结果" not in name else published_results(session, p, round_id, category)
    return {"results": results, "results_graded": graded_all, "places_rule": places_rule(p) if results else None}


def _reviewed_through(session, p: Programme, round_id, who: Who | None, units: list[str]) -> dict[str, dict[str, str]]:
    """unit → how it was chosen by ``who`` (a window's owers, an event's), as the letter says it: the review by its
    parent it passed (passed_step "获东城区市场监督管理局推荐": QC小组's recommended teams were asked for their 成果报告, and
    诚信计量's for their 现场评审, never told they had been recommended), or its score where grades chose it (scored)."""
    step = p.stage(who.approved_at) if who and who.approved_at else None
    if step is None or step.reviewed_by is None:
        return {u: {"scored": said} for u, said in scored_for(session, p, round_id, who, units).items()}
    approved = {x.partition(":")[0] for x in decided(session, round_id, step.code, POSITIVE)}
    # A verdict in the step's own words (同意推荐) is said as such: "已通过某区局初审" had been read of it; one naming the
    # step itself is the reviewer's ("已获某区局同意推荐", not "已经某区局推荐，结论为同意推荐").
    said = step.verdicts.approved if step.verdicts and "通过" not in step.verdicts.approved else None
    word = reviewer_step(step.name)

    def told(by: str) -> str:
        if not said:
            return passed(by)
        return f"获{by.removesuffix(word)}{said}" if word in said and by.endswith(word) else f"经{by}，结论为{said}"
    return {u: {"passed_step": told(by)} for u in units if u in approved and (by := reviewed_by_whom(p, step, u))}


HANDLERS = {
    "publish": publish,
    "event_notice": _event_notice,
    "event": lambda s, p, r, a: Outcome(a, note=a.title),  # a node of the timeline: its notice went ahead
    "window_open": _window_open,
    "followup_open": followup_open,
    "reminder": _reminder,
    "deadline": _deadline,
    "overdue": overdue,
    "escalation": escalation,
    "review_request": _review_request,
    "review_reminder": _review_reminder,
    "decision_request": _decision_request,
    "decision_due": _decision_due,
    "assess": assess_action,
    "notify": notify_action,
    "notice_open": _notice_open,
    "notice_close": lambda s, p, r, a: Outcome(a, note=f"{a.title}"),
}
