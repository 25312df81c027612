"""What follows a missed deadline: the overdue notice to the units still owing (逾期提醒), and the 督办 — by the office
itself, through each unit's superior, or reported to the office's own superior (报请督办) — with the copies (抄送) a policy
asks for."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from qcycle.lifecycle.answers import refused_on
from qcycle.lifecycle.costs import missing_rule
from qcycle.lifecycle.drafting import (
    base_context,
    draft_letters,
    items_named,
    naming_owed,
    written_on,
)
from qcycle.lifecycle.outcome import Outcome
from qcycle.lifecycle.who import outstanding, owed_items, owed_subjects
from qcycle.lifecycle.wording import belonging, names_short
from qcycle.render import cn_date
from qcycle.schema import Programme
from qcycle.timetable import Action
from qcycle.workcal import default_calendar

__all__ = ["days_overdue", "escalation", "overdue"]


def days_overdue(action: Action) -> int:
    assert action.deadline is not None
    return max(1, default_calendar().workdays_between(action.deadline.date(), written_on(action)))


def overdue(session, p, round_id, action) -> Outcome:
    owed = owed_items(session, p, round_id, action, less_refused=True)
    units = outstanding(session, p, round_id, action, less_refused=True, owed=owed)
    later = action.detail.get("escalates")
    # The escalation falls on this day too (the timetable says), or it is written on or after its
    # day (a run caught up, a unit's own deadline): those the office urges itself get the 督办 alone,
    # nobody warned of a day gone by ("如在2026年7月14日前仍未提交…" had gone out on 26 November).
    past = later is not None and written_on(action) >= dt.date.fromisoformat(later["on"])
    target = action.detail.get("escalate_to") or (later["to"] if past else None)
    urged = _urged(p, action, target, units).get(p.sender(action.stage), []) if target else []
    urging = set(urged)
    notified = [u for u in units if u not in urging]
    note = f"{action.title}：{len(units)} 个单位逾期" + (f"，其中 {len(urged)} 个当日直接督办，不另发逾期提醒"
                                                          if urged else "")
    own = naming_owed(p, action, owed)
    if target:  # urged today (or already) by a superior: the notice says so (it had said nothing of a 督办 that day)
        sender = p.sender(action.stage)
        for superior, children in _urged(p, action, target, notified).items():  # those the office urges itself are not here
            for u in children:
                if u != sender:
                    own.setdefault(u, {}).update(escalated_to=p.unit(superior).name)
    later = None if past else later
    if later:  # "如在2024年12月4日前仍未提交，将提请榆阳区人民政府督办"
        on = dt.date.fromisoformat(later["on"])
        sender = p.sender(action.stage)
        for target, children in _urged(p, action, later["to"], notified).items():
            for u in children:
                if u != sender:  # the office does not report itself (as the escalation does not)
                    own.setdefault(u, {}).update(escalate_on=on, escalate_to=(
                        None if target == sender else p.unit(target).name))
    return Outcome(action, draft_letters(notified, "overdue.j2", p, action, days_overdue=days_overdue(action),
                                         own=own),
                   note=note, counts={"overdue": len(units)})


def _urged(p: Programme, action: Action, target: str, units: list[str]) -> dict[str, list[str]]:
    """Overdue units by the unit an escalation urges about them: their superior (the policy's
    ``escalate_to`` ``target``, or each unit's parent: ``parent``), the issuer for a unit without one; the office
    itself where it urges them directly (``self``)."""
    by_parent: dict[str, list[str]] = defaultdict(list)
    for u in units:
        parent = p.unit(u).parent if target == "parent" else p.sender(action.stage) if target == "self" else target
        by_parent[parent or p.round.issuer].append(u)
    return by_parent


def escalation(session, p, round_id, action) -> Outcome:
    sender = p.sender(action.stage)
    # The office may owe the report itself (榆阳's 市场监管局 is one of the departments assessed):
    # it does not report itself overdue to its superior.
    owed = owed_items(session, p, round_id, action, less_refused=True)
    units = [u for u in outstanding(session, p, round_id, action, less_refused=True, owed=owed) if u != sender]
    # A hand-in refused as late counts as none: its superior is urged all the same, as the overdue notice said it would
    # be (a 所 never heard of its station's refused 自查报告); the unit itself has its refusal letter, not a 督办.
    refusing = p.stage(action.stage).lateness == "reject"
    counted = owed_items(session, p, round_id, action) if refusing else owed  # a refused hand-in counting as none
    refused = [u for u in outstanding(session, p, round_id, action, owed=counted)
               if u != sender and u not in units] if refusing else []
    # In one order, refused or not (the selections' own: by code). A refused one is named with the day it handed in: 黄山's
    # 区县局 had been told of the refusal two days before a 督办 that called the same unit's report 逾期未交 and no more.
    by_parent = _urged(p, action, action.detail.get("escalate_to", "parent"), sorted(units + refused))
    refused_at = refused_on(session, round_id, action.stage, action.period, refused) if refused else {}
    # Owed item by item, each unit with the items it still owes: those it handed some of, and all of those that sent none.
    every: dict[str, list[str]] = defaultdict(list)
    for subject in owed_subjects(session, p, round_id, action) if by_parent.keys() - {sender} else ():
        every[subject.partition(":")[0]].append(subject.partition(":")[2])
    drafts = []
    for parent, children in sorted(by_parent.items()):
        if parent == sender:  # the office is the superior: it urges (督办) the overdue units itself
            own = naming_owed(p, action, owed)
            urged = [c for c in children if c not in refused]
            cc = action.detail.get("escalate_cc")  # the office does not copy itself
            copied = {x: k for x, k in _urged(p, action, cc, urged).items() if x != sender} if cc else {}
            for child in urged:
                # A superior urged itself the same day hears of its units in its own 督办: a second letter to it would
                # share its key and be dropped, while its units' letters said "抄送" to it.
                kids = copied.get(child, [])
                drafts += draft_letters([child], "escalation.j2", p, action, parent_name=p.unit(child).name,
                                        child_name=p.unit(child).name, direct=True, days_overdue=days_overdue(action), own=own,
                                        cc_name=next((p.unit(x).name for x, k in copied.items() if child in k), None),
                                        copy_below=f"贵单位{belonging(p, kids)}{'、'.join(p.unit(k).name for k in kids)}同样逾期"
                                                   f"未交，已直接督办，特此抄送。" if kids else None)
            for superior, kids in ((x, k) for x, k in copied.items() if x not in urged):  # 抄送 (鄞州's 所 had heard nothing)
                drafts += draft_letters([superior], "escalation.j2", p, action, parent_name=p.unit(superior).name,
                                        child_name="、".join(p.unit(k).name for k in kids), direct=False, copied=True,
                                        received=cc == "parent" and p.stage(action.stage).report_to == "parent",
                                        days_overdue=days_overdue(action), owned=all(p.unit(k).parent == superior for k in kids),
                                        whose=belonging(p, kids), children_short=names_short(p, kids), contact=p.round.contact)
            continue
        names = [p.unit(c).name for c in children]
        owing = [n + (f"（{items_named(p, c, items)}）" if (items := (counted if c in refused else owed).get(c) or every.get(c))
                      else "") for n, c in zip(names, children, strict=True)]
        late = "、".join(f"{p.unit(c).name}于{cn_date(refused_at[c])}" for c in children if c in refused_at)
        # Subject: two names at most; 贵单位所属 only for its own; to the office's superior: 报请督办.
        drafts += draft_letters([parent], "escalation.j2", p, action, parent_name=p.unit(parent).name,
                                child_name="、".join(owing), direct=False, days_overdue=days_overdue(action),
                                refused_said=f"其中{late}逾期提交，不予受理。" if late else None,
                                children_short=names_short(p, children),
                                owned=all(p.unit(c).parent == parent for c in children), whose=belonging(p, children),
                                superior=p.unit(sender).parent == parent,
                                # What missing it costs them, as their own letters say (一站式's 主管单位 had not been told
                                # the veto its station faced).
                                costs_below=_costs_below(p, action, children),
                                # The window's 联系人 is for those owing it (江州's read "所在区县市场监督管理局
                                # 质量股" to that very 区县局); a superior asks the round's.
                                contact=p.round.contact)
    direct = len([c for c in by_parent.get(sender, ()) if c not in refused])
    # The office's own superior is asked to urge (报请督办), any other superior is told to.
    mine = p.unit(sender).parent
    reported = [p.unit(x).name for x in by_parent if x == mine and x != sender]
    superiors = len(by_parent) - (sender in by_parent) - len(reported)
    note = (f"{action.title}：{len(units) + len(refused)} 个单位逾期" + (f"（{len(refused)} 个逾期提交，不予受理）" if refused else "")
            + (f"，直接督办 {direct} 个" if direct else "") + (f"，督办 {superiors} 个上级" if superiors else "")
            + (f"，报请{reported[0]}督办" if reported else ""))
    return Outcome(action, drafts, note=note, counts={"escalated": len(units)})


def _costs_below(p: Programme, action: Action, children: list[str]) -> str | None:
    """What missing the window costs the units a superior is urged about, as their own letters say it: the deductions or
    veto of an assessment that counts this deadline and grades them, else the rule a decision holds every ower to."""
    counted = base_context(p, action)["lateness_costs"]  # None for a deadline no assessment counts
    return counted if counted and any(c in p.assessed_units for c in children) else missing_rule(p, action.stage,
                                                                                               written_on(action))
