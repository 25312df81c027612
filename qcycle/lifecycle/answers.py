"""Answers to what units hand in: a hand-in refused as late (不予受理) is told to its unit.

Intake decides the refusal (the window's ``lateness: reject``) and keeps the record (or, for a
late change of a record handed in on time, keeps the change in its history); the next
run of the round writes the unit one letter for what it refused since the last run, dated that
run's day. Without it a unit that applied after the deadline heard nothing, ever: a voluntary
window (an award) has no overdue notice, and the results name only the candidates.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Collection
from itertools import groupby
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.lifecycle.drafting import item_name
from qcycle.lifecycle.outcome import Draft
from qcycle.lifecycle.wording import belonging
from qcycle.render import quoted
from qcycle.schema import Programme, Stage, category_label
from qcycle.timetable import Timetable

__all__ = ["REFUSED_LATE_TEMPLATE", "refusal_letters", "refused_on"]

REFUSED_LATE_TEMPLATE = "refused_late.j2"


def refusal_letters(session: Session, p: Programme, timetable: Timetable, round_id: uuid.UUID,
                    as_of: dt.datetime) -> list[Draft]:
    """One letter per unit and stage for the late hand-ins refused and not yet answered (handed
    in and received by ``as_of``): records, and late changes of records whose version in force
    stands. The hand-ins are marked answered in the caller's transaction: queue the letters in
    it too, so the two stand or fall together."""
    if not p.refusing_stages:
        return []
    rows = crud.refusals_to_answer(session=session, round_id=round_id, stages=p.refusing_stages, until=as_of)
    if not rows:
        return []
    on = clock.to_local(as_of).date()
    drafts = []
    # The unit a hand-in went to (report_to), told of those it holds that do not count.
    held: dict[tuple[str, str], list[tuple[str, list[dict[str, Any]]]]] = defaultdict(list)
    for (unit, stage_code), group in groupby(sorted(rows, key=lambda r: (r.unit_code, r.stage)),
                                             key=lambda r: (r.unit_code, r.stage)):
        mine = list(group)
        stage = p.stage(stage_code)
        sender = p.sender(stage_code)
        if not p.has_unit(unit) or unit == sender:  # a unit taken out of the file; an office's own part
            continue
        items = [{"item": _what(p, r) + ("修改稿" if r.in_force_at else ""), "submitted_at": r.submitted_at,
                  # In the subject beside the round's name: 温州's "2021年度温州市市长质量奖评审：“温州市市长质量奖”申报材料…"
                  "headed": _what(p, r, beside=p.round.name) + ("修改稿" if r.in_force_at else ""),
                  "in_force_at": r.in_force_at,
                  # None only if an amendment took the deadline out since: the letter then omits it
                  "deadline": timetable.cutoff(stage_code, r.period, r.category_code, unit)} for r in mine]
        ctx = {"programme_name": p.round.name, "round_code": p.round.code, "sender_name": p.unit(sender).name,
               "stage_name": stage.name, "unit_name": p.unit(unit).name, "unit_code": unit, "today": on,
               "items": items, "contact": stage.contact or p.round.contact}
        # Keyed by the first refusal it answers (what and when, not a random id: the same round
        # played again writes the same key): never twice, and a later refusal gets its own.
        first = mine[0]
        what = ":".join(x for x in (first.item_code, first.period) if x)
        key = f"{stage_code}:refused_late{':' + what if what else ''}@{clock.to_local(first.submitted_at).isoformat()}"
        drafts.append(Draft(unit, REFUSED_LATE_TEMPLATE, ctx, key, on))
        if (to := p.unit(unit).parent if stage.report_to == "parent" else stage.report_to) not in (None, sender, unit):
            held[to, stage_code].append((unit, items))
    drafts += [_to_holder(p, to, p.stage(code), units, on) for (to, code), units in held.items() if p.has_unit(to)]
    crud.mark_answered(session=session, ids=[r.id for r in rows], at=as_of)
    return drafts


def _to_holder(p: Programme, to: str, stage: Stage, units: list[tuple[str, list[dict[str, Any]]]], on: dt.date) -> Draft:
    """The unit hand-ins are reported to (``report_to``: a 设区市局 taking its counties' 申报书) told which of those it holds
    were refused as late: "贵单位辖区内以下单位报送贵单位的申报晚于截止时间……不予受理"."""
    below = [{"unit_name": p.unit(u).name, **i} for u, items in units for i in items]
    whose = belonging(p, [u for u, _ in units]) if stage.report_to == "parent" else ""
    ctx = {"programme_name": p.round.name, "round_code": p.round.code, "sender_name": p.unit(p.sender(stage.code)).name,
           "stage_name": stage.name, "unit_name": p.unit(to).name, "unit_code": to, "today": on, "below": below,
           "whose": whose, "units_count": len(units), "contact": stage.contact or p.round.contact,
           # One item and one deadline for all: said once above the list.
           "alike": len({(i["item"], i["deadline"]) for i in below}) == 1,
           "changed": any(i["in_force_at"] for i in below)}
    first = min(i["submitted_at"] for i in below)
    return Draft(to, REFUSED_LATE_TEMPLATE, ctx, f"{stage.code}:refused_late_held@{clock.to_local(first).isoformat()}", on)


def _what(p: Programme, row: crud.Refusal, beside: str = "") -> str:
    """What was handed in, as the letters of its window call it, after its list item in quotation
    marks: "“培育争创中国质量奖（提名奖）”揭榜书", not brackets inside brackets; an item whose name ``beside``
    already says by its category's ("质量奖申报材料" after "2021年度温州市市长质量奖评审：")."""
    stage = p.stage(row.stage)
    item = "".join(category.name if i.name in beside else quoted(i.name)
                   for category, i in p.items if i.code == row.item_code)
    detail = [stage.period_label(row.period)] if row.period else []
    if row.category_code and not row.item_code:
        detail += [category_label(c.name) for c in p.categories if c.code == row.category_code]
    what = _past_the_items(p.material(stage), [i.name for _, i in p.items]) if item else p.material(stage)
    return item + item_name(what, detail)


def _past_the_items(handed_in: str, names: list[str]) -> str:
    """What is handed in, without the list items a window's name enumerates (温州's
    "市长质量奖、质量管理创新奖申报材料" for the item 温州市质量管理创新奖 is its 申报材料): each
    item's longest ending found in the name marks where the items end."""
    if "、" not in handed_in:
        return handed_in
    cut = 0
    for name in names:
        found = next((name[k:] for k in range(len(name) - 1) if name[k:] in handed_in), None)
        if found:
            cut = max(cut, handed_in.rindex(found) + len(found))
    return handed_in[cut:] or handed_in


def refused_on(session: Session, round_id: uuid.UUID, stage: str, period: str | None = None,
               units: Collection[str] | None = None) -> dict[str, dt.datetime]:
    """Unit (of ``units``, or any) → its first hand-in at a window (and period) refused as late (不予受理), of the units that
    have none taken there: what a superior asked to urge or review them is told of them."""
    refused: dict[str, dt.datetime] = {}
    taken: set[str] = set()
    for _stage, at_period, unit, _item, at, _late, status in crud.handed_in_list(session=session, round_id=round_id,
                                                                                stage=stage):
        if at_period != period or (units is not None and unit not in units):
            continue
        if status == "rejected_late":
            refused[unit] = min(at, refused.get(unit, at))
        else:
            taken.add(unit)
    return {u: at for u, at in refused.items() if u not in taken}
