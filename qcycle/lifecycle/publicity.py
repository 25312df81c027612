"""A 公示: the list it publishes, where each unit scored and left off it stands, and when objections to it close."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.plan import round_timetable
from qcycle.lifecycle.remarks import graded_together, result_remarks
from qcycle.lifecycle.standing import (
    refusals_told,
    refused_as,
    rejections,
    steps_told_alone,
)
from qcycle.lifecycle.who import best_grades, in_category, p_item_name, results_of, select_subjects
from qcycle.lifecycle.wording import LISTS, counted_as, forced, listing_of
from qcycle.render import quoted
from qcycle.schema import Programme, Stage, StageKind, Who, grade_label

__all__ = ["left_off", "list_selector", "lists_nobody", "objection_cutoff", "on_list", "published_list"]


def list_selector(stage: Stage) -> Who | None:
    """Whom a 公示 lists: its selection by a decision or a grade, alone or beside others told of it (the 设区市局 told of
    a 拟确认名单 with ``any_of``: the list had gone from every letter, and the firms on it were not told so)."""
    return next((w for w in ((stage.notify, *stage.notify.any_of) if stage.notify else ()) if w.approved_at or w.grades),
                None)


def on_list(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, units: list[str],
            category: str | None) -> list[str]:
    """Those of ``units`` a 公示's list names (the others are told of it)."""
    who = list_selector(stage)
    on = _listed(session, p, round_id, who, units, category)[1] if who else set(units)
    return [u for u in units if u in on]


def _listed(session: Session, p: Programme, round_id: uuid.UUID, who: Who, units: list[str],
            category: str | None) -> tuple[list[str], set[str]]:
    """The subjects of ``units`` a list's selection names, and their units (a 设区市局 told of it is not on it)."""
    told = set(units)
    subjects = [s for s in select_subjects(session, p, round_id, who, category) if s.partition(":")[0] in told]
    return subjects, {s.partition(":")[0] for s in subjects}


def lists_nobody(stage: Stage, roster: list[str]) -> bool:
    """Whether a 公示 is of a list a decision or grade draws (its name a …名单) and nobody is on it: 湖州's 拟命名名单 of a
    year where none reached 85 went out empty to every unit, objections to it and all."""
    return not roster and list_selector(stage) is not None and listing_of(stage).endswith(LISTS)


def published_list(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, units: list[str],
                   category: str | None = None) -> tuple[list[str], dict[str, str], str]:
    """(the names a 公示 publishes, each unit's proposed award, how the list is counted) when the 公示 is
    of a list that a decision or grade put ``units`` on; ([], {}, "") otherwise. A 公示 is public: every
    letter about it gives the list (宝山's invited anyone to object to a list it never showed). A list
    of several list items names each beside its unit, in the programme's order of items: 某市's 13
    projects read as 12 units, one of them unable to tell which of its two was on it, and an award's
    two titles were listed mixed."""
    who = list_selector(stage)
    if who is None or not listing_of(stage).endswith(LISTS):
        return [], {}, ""
    # A list of several awards says which each candidate is proposed for (广州: 提名奖, not 市长质量奖).
    several = len(who.grades) > 1
    tiers = who.grades  # the award before its lower tiers (太仓 listed them mixed)
    assessed = who.assessed_at or p.decisions_on_results.get(who.approved_at or "")
    among = p.stage(who.approved_at).among if who.approved_at else None
    if not tiers and assessed and among is not None and len(among.grades) > 1:  # the awards a decision chose among (嘉善)
        tiers = among.grades
        several = len({g for u, g in best_grades(session, p, round_id, assessed, tiers, category).items() if u in units}) > 1
    proposed = best_grades(session, p, round_id, assessed, tiers, category) if several else {}
    subjects, on = _listed(session, p, round_id, who, units, category)
    items = {s.partition(":")[2] for s in subjects if ":" in s}
    if len(items) < 2:
        subjects = [u for u in units if u in on]
    order = {item.code: i for i, item in enumerate(x for c in p.categories for x in c.items)}
    # Best placed first within a tier, where scored (襄阳's 公示 listed 85.87 before 86.43), else in the file's order.
    scored_at = assessed or crud.latest_results_stage(session=session, round_id=round_id)
    ranked = {r.unit_code: r.rank for r in results_of(session, round_id, scored_at)} if scored_at else {}
    place = {u: i for i, u in enumerate(units)}
    def grade(s: str) -> str | None:  # the subject's own grade, else its unit's best (a list of units)
        return proposed.get(s) or proposed.get(s.partition(":")[0])

    listed = sorted(subjects, key=lambda s: (tiers.index(g) if (g := grade(s)) in tiers else len(tiers),
                                             order.get(s.partition(":")[2], -1), ranked.get(s) or len(ranked) + 1,
                                             place[s.partition(":")[0]]))
    # As every other letter says a grade ("拟获A级", "结果为：A级": the 公示 had read "拟获A").
    names = [p.unit(s.partition(":")[0]).name + (f"（拟获{grade_label(g)}）" if (g := grade(s)) else "")
             + (f"（{p_item_name(p, s)}）" if len(items) > 1 else "") for s in listed]
    return names, {u: grade_label(g) for u, g in proposed.items() if ":" not in u}, \
        counted_as(p, sorted(on)) if len(listed) == len(on) else "项"


def left_off(session: Session, p: Programme, round_id: uuid.UUID, notice: Stage, listed: list[str],
             category: str | None) -> dict[str, dict[str, str | None]]:
    """Units scored in the assessment a 公示's list comes from and not on it, each with where it
    stands, as the 公示's letter to it says: its score and rank, and why the score did not place it
    ("名额不超过2个"), or the later step that refused it (that it is told apart, if a letter of its own
    tells it). Told while they may still object: 天水's third, 0.11 points behind the last winner,
    first heard of its place at the award, weeks after the 公示 had closed, and then learned nothing
    it could object on. One told its result by a letter before the 公示 gets ``told`` alone (not told twice);
    its rank only where a place decides anything (:attr:`Programme.places_decide`)."""
    # The assessment the list comes from: the one its selection names, else the latest.
    who = list_selector(notice)
    if who is not None and who.approved_at and who.approved_at not in p.decisions_on_results:
        # A list a decision on hand-ins draws (those passing the 复验): not those the assessment scored and left off
        # (长丰, named the year before, had been told it was not on the 复验's list).
        return {}
    assessed = (who.assessed_at if who is not None and who.assessed_at
                else crud.latest_results_stage(session=session, round_id=round_id))
    if assessed is None:
        return {}
    # The lowest grade a list by grades names: the line a score left off missed.
    grades = p.assessment.grades if p.assessment else []
    lowest = max((g for g in grades if who is not None and g.name in who.grades), key=grades.index, default=None)
    rows = results_of(session, round_id, assessed)
    sizes = graded_together(p, rows)
    # A rejection that kept the subject in the round (eliminates: false: a 核查 of its earlier listing) is no reason it
    # is off this list, unless the list is drawn by that step.
    # (Each subject's first rejection among the others: one rejected at a kept 中期 and then at 审定 is told the 审定.)
    steps = {s.code for s in p.stages if s.kind is StageKind.decision} - p.keeping_decisions
    refused = rejections(session, p, round_id, at=frozenset(steps | ({who.approved_at} if who and who.approved_at else set())))
    apart = steps_told_alone(p)
    gone = refusals_told(session, p, round_id) if refused else set()
    vacated = {(r.grade, p.item_category.get(r.unit_code.partition(":")[2])) for r in rows if r.unit_code in refused}
    mine: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        if in_category(p, r.unit_code, category) and r.unit_code.partition(":")[0] not in listed:
            mine[r.unit_code.partition(":")[0]].append(r)
    out: dict[str, dict[str, str | None]] = {}
    # Told its result (of this assessment, in this category; a letter not cancelled) before the 公示, a unit is told
    # only that it is not listed (the 评审结果 of 7月28日, score and reason, had come again on 8月3日 with a rank).
    place = p.stage_place
    results_told = {unit for _, unit in crud.units_written_by(session=session, round_id=round_id, stages=[
        s.code for s in p.stages if s.kind is StageKind.notification and s.template == "result"
        and place[s.code] > place[assessed]], category=category, told=True)} if mine else set()
    for unit, results in sorted(mine.items()):
        if unit in results_told and not any(r.unit_code in refused for r in results):
            out[unit] = {"standing": None, "remarks": None, "told": "yes"}
            continue
        # A refused result is not explained by result_remarks: its step is said in the standing, or
        # said to be told apart.
        kept = [r for r in results if r.unit_code not in refused]
        said, apart_items, to_tell = [], [], False
        for r in results:
            item = p_item_name(p, r.unit_code)
            # "名额不超过2个，贵单位得分排名第3": the rank once, where the remark gives it. A vetoed
            # result has none to give: placed last whatever its score, "得分73.88、排名第6" read as
            # beaten by 69.03 and 67.18 (the remark says the veto).
            ranked = forced(p, r) or (r in kept and "排名第" in (result_remarks(p, [r], vacated, sizes=sizes) or ""))
            # Refused at a later step: its score and rank alone would read as why it is not listed
            # (天水's 2nd, one award listed: "排名第2，未列入"; 广州's 5th of 5 places, refused by 市政府审定
            # the same morning). The step is said, with its reason unless a letter of its own tells
            # it (not told twice: 温州).
            verdict, step = refused.get(r.unit_code, ("", ""))
            bare = refused_as(p, p.stage(step), unit) if step else ""
            told_apart = step in apart
            said.append(f"{'申报的' + quoted(item) if item else ''}得分{r.total:.2f}"
                        + ("" if ranked or not p.places_decide else f"、排名第{r.rank}")
                        + (f"，{bare if told_apart else verdict}" if step else ""))
            # Its step's letter gives a reason (the officer's, told, or a rule's) only where the
            # verdict says more than the step: else "具体原因另行告知" would promise what never comes.
            if told_apart and verdict != bare:
                apart_items.append(item)
                to_tell |= (step, unit) not in gone
        remarks = result_remarks(p, kept, vacated, sizes=sizes, listed=lowest) if kept else None
        if apart_items:
            named = "、".join(quoted(i) for i in apart_items if i)
            remarks = (remarks or "") + (f"申报的{named}" if named else "") + (
                "未列入的具体原因另行告知。" if to_tell else "未列入的具体原因已另行告知。")
        out[unit] = {"standing": "；".join(said), "remarks": remarks}
    return out


def objection_cutoff(session: Session, p: Programme, round_id: uuid.UUID, notice: Stage,
                     category: str | None) -> dt.datetime | None:
    """When the objection window that belongs to a 公示 closes (its own deadline: 17:30, or rolled
    past a weekend), or None where the programme has none: the 公示 then takes objections while it
    runs, and its letter said "23:59前" for the end of its last day."""
    window = next((s for s in p.stages if p.publicity_of(s.code) is notice), None)
    return round_timetable(session, p, round_id).cutoff(window.code, None, category) if window else None
