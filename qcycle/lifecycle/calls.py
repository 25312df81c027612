"""A publication's letters (发布: a call, a list, a task list): what it announces to each unit, the windows opening with it
and those each unit owes or reviews later, its place on a list, and what its superiors are to see to."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import replace
from typing import Any

from sqlmodel import Session

from qcycle import clock
from qcycle.lifecycle.drafting import base_context, costs_told, draft_letters, owed_later
from qcycle.lifecycle.eligibility import INELIGIBLE, ineligible
from qcycle.lifecycle.listing import list_told
from qcycle.lifecycle.outcome import Outcome
from qcycle.lifecycle.plan import round_timetable
from qcycle.lifecycle.quota_wording import quota_tasks
from qcycle.lifecycle.requests import reviewers_of
from qcycle.lifecycle.who import owers, resolve
from qcycle.lifecycle.wording import belonging, call_subject
from qcycle.schema import Programme, Stage
from qcycle.timetable import Action

__all__ = ["barred", "publish"]


def publish(session, p, round_id, action) -> Outcome:
    """A publication's letters to the units it notifies (see the module's docstring)."""
    stage = p.stage(action.stage)
    units = resolve(session, p, round_id, stage.notify, action.category)
    extra: dict[str, Any] = {}
    who = stage.notify
    own: dict[str, dict[str, Any]] = defaultdict(lambda: {"openings": []})
    if (listed := list_told(session, p, round_id, who, units, action.category, own, stage.lists)) is not None:
        takers, extra["items_count"] = listed
        extra["takers"] = takers
        # Whether the unit is on the list, said to its own letter (the template compares no codes: the
        # letters of those on it are then one letter but for the addressee, rendered once).
        on_list = set(takers)
        for u in units:
            own[u]["in_list"] = u in on_list
        extra["takers_names"] = [p.unit(t).name for t in takers]  # a 通报 of the list names them
        # An inspected laboratory is not one "参加" an inspection: it is drawn for it (检查对象).
        extra["takers_as"] = next((f"{w}对象" for w in ("抽查", "检查", "督查") if p.round.name.endswith(w)), None)
    # Windows opening today are announced here, to the units that owe them (the expander pairs them);
    # one already closed when a late run writes this is not (as its own opening letter is skipped).
    moment = clock.run_moment()
    addressed = set(units)
    for o in action.detail.get("openings", ()):
        opening = _opening(p, action, o)
        if moment is not None and opening["deadline"] <= moment:
            continue
        window = p.stage(o["stage"])
        owing = owers(session, p, round_id, window, o["category"])
        for u in addressed & set(owing):
            own[u]["openings"].append(costs_told(p, u, opening))
        _below_openings(p, window, owing, addressed, opening, own)
        for u, why in barred(session, p, round_id, window, o["category"]).items():
            if u in addressed:
                own[u]["barred"] = why
        for u, review in reviewers_of(session, p, round_id, window, o["category"]).items():
            if u in addressed:
                own[u].setdefault("reviews", []).append({**review, "closes": review["closes"] or opening["deadline"]})
    for u, later in owed_later(session, p, round_id, action, addressed).items():
        own[u]["later"] = later
    _later_reviews(session, p, round_id, action, addressed, own)
    for o in action.detail.get("invited", ()):  # an application window opening after the call
        opening = {**_opening(p, action, o), "opens": dt.datetime.fromisoformat(o["opens"])}
        if moment is not None and opening["opens"].date() <= moment.date():
            continue  # a call written late: the window has opened, and its own letter said so
        for u in addressed & set(owers(session, p, round_id, p.stage(o["stage"]), o["category"])):
            own[u].setdefault("invited", []).append(costs_told(p, u, opening))
    opened = sum(1 for mine in own.values() if mine["openings"])  # not those told only of items left off
    for u in units if p.quotas else ():  # a plan's launch tells each unit its tasks
        own[u]["quotas"] = quota_tasks(p, u)
    # Where each unit stands on a list (its items on it, those left off, "贵单位未列入") is its own:
    # told to it, not in a group its peers read ("各单位未列入" in 四川's group).
    # Each unit's own tasks (quotas) are its own letter too: a group had read eleven posts, one county's tasks each.
    drafts = draft_letters(units, "publication.j2", p, action, private="takers" in extra or bool(p.quotas), own=dict(own),
                           called=call_subject(p, action.title), **extra)
    # That a unit may not apply this time is its own news: a group of 300 enterprises read "按规定，各
    # 单位本届不符合申报条件：2025年已获…" addressed to three of them.
    drafts = [replace(d, private=True) if own.get(d.unit, {}).get("barred") else d for d in drafts]
    return Outcome(action, drafts,
                   note=f"{action.title}：通知 {len(units)} 个单位" + (f"（其中 {opened} 个同时告知开始受理）" if opened else ""))


def _later_reviews(session, p: Programme, round_id, call: Action, addressed: set[str],
                   own: dict[str, dict[str, Any]]) -> None:
    """Reviewers of a window opening after the publication are told of their review with it (江西's cities first
    heard of their 初审 eight working days before it was due, the application window having opened on its own)."""
    later = [d for k in ("later", "invited", "reviewed") for d in call.detail.get(k, ())]  # owed, invited, opened today
    # When a window received by the reviewer itself opens, as its units' letters say it (黄山's 区县局 read only its close).
    opening = {(a.stage, a.category, a.period): a.at for a in round_timetable(session, p, round_id).actions
               if a.action == "window_open" and a.at.date() > call.at.date()} if later else {}
    for d in {(d["stage"], d["category"]): d for d in reversed(later)}.values():
        for u, review in reviewers_of(session, p, round_id, p.stage(d["stage"]), d["category"]).items():
            if u in addressed:
                opens = opening.get((d["stage"], d["category"], d["period"])) if review.get("received") else None
                deadline = dt.datetime.fromisoformat(d["deadline"])
                own[u].setdefault("reviews", []).append(
                    {**review, "closes": deadline if opens else review["closes"] or deadline, "opens": opens})


def _below_openings(p: Programme, window: Stage, owing: list[str], addressed: set[str], opening: dict[str, Any],
                    own: dict[str, dict[str, Any]]) -> None:
    """A superior told the call, owing nothing itself, is told by when its units owe the window (街道所 read no date),
    and which (up to 10); not of applications (voluntary) nor where it reviews them (its own request says when)."""
    if window.voluntary or p.reviews_of(window.code):
        return
    office = p.sender(window.code)  # its own superior (市政府) is not asked by it to see to anything
    skip = {*owing, office, *p.ancestors(office)}
    for u, kids in p.under_each(owing).items():
        if u in addressed and u not in skip:
            own[u].setdefault("below_openings", []).append({**opening, "count": len(kids), "word": belonging(p, kids),
                                                           "names": [p.unit(k).name for k in kids] if len(kids) <= 10 else []})


def _opening(p: Programme, call: Action, o: dict[str, Any]) -> dict[str, Any]:
    """A window's opening, as a publication of the same day announces it."""
    deadline = dt.datetime.fromisoformat(o["deadline"])
    window = Action(at=call.at, action="window_open", stage=o["stage"], title="", key="", category=o["category"],
                    period=o["period"], deadline=deadline, detail={"uncounted": True} if o.get("uncounted") else {})
    ctx = base_context(p, window)
    # With the rule a decision holds every ower to (missing_rule): 鄞州's call opened the 自查报告 and never said what
    # missing it brings, for want of it here.
    told = ("item", "voluntary", "objection", "review_step", "submit_via", "lateness_costs", "missing_rule", "second_chance",
            "review_stage", "review_named", "report_to", "report_parent_of", "handed_to")
    return {**{key: ctx[key] for key in told}, "deadline": deadline, "rolled": o.get("rolled")}


def barred(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, category: str | None) -> dict[str, str]:
    """Units the window's eligibility rule bars (the rest of those it is owed by), with why in the
    words a letter uses: "2025年已获…，获奖满5年后（2030年起）方可再次申报"."""
    if stage.eligibility is None or stage.owed_by is None:
        return {}
    called = resolve(session, p, round_id, stage.owed_by, category)
    return {u: why.removeprefix(f"{INELIGIBLE}：") for u, why in ineligible(session, p, stage, called).items()}
