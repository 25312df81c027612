"""Follow-ups (整改): the order to the units a follow-up stage chooses, each told why it was chosen."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.changes import moved_deadline
from qcycle.lifecycle.drafting import draft_letters, firm_workdays_left, late_note, written_on
from qcycle.lifecycle.headings import occasion_of
from qcycle.lifecycle.outcome import Draft, Outcome
from qcycle.lifecycle.standing import items_by_unit, rejections
from qcycle.lifecycle.who import owing_at, p_item_name, results_of, select_subjects
from qcycle.lifecycle.wording import (
    belonging,
    conferring,
    forced,
    graded_as,
    reason_of,
    with_own_place,
    without_consequence,
)
from qcycle.render import quoted
from qcycle.schema import Programme, Stage, StageKind, Who
from qcycle.timetable import Action

__all__ = ["followup_open", "owing_reasons", "report_due", "units_below"]


def followup_open(session, p, round_id, action) -> Outcome:
    if (moved := moved_deadline(session, p, round_id, action)) is not None:  # not the whole 整改通知 again
        return moved
    stage = p.stage(action.stage)
    units = owing_at(session, p, round_id, stage, action.category, action.at)  # not one whose part a grade ended
    assert stage.owed_by is not None
    left = firm_workdays_left(action, written_on(action)) if action.deadline is not None else None
    report_to = p.unit(stage.report_to).name if stage.report_to not in (None, "parent") else None
    reason, own = owing_reasons(session, p, round_id, stage, action.category, units)
    ranked = stage.owed_by.rank is not None
    assessed = stage.owed_by.assessed_at or crud.latest_results_stage(session=session, round_id=round_id)  # of several
    drafts = draft_letters(units, "rectification.j2", p, action, reason=reason, own=own,
                           occasion=occasion_of(p, assessed) if stage.owed_by.grades or ranked else None,
                           rectification_deadline=action.deadline, working_days_left=left,
                           report_to=report_to, rolled=action.detail.get("rolled"), requirements=list(stage.requirements))
    # The unit the reports go to is told who owes them, why and by when (设区市考核's 省政府 had heard nothing, and the office
    # then chased reports only it could say it had received); with ``report_to: parent``, each parent of its own units
    # (加油站's 市场监管所 first heard of them when asked for its 复查意见). Not the office (it sent the orders) nor a unit
    # owing the report itself (its order and this would share one key).
    drafts += report_due(p, action, stage, units, lambda u: own.get(u, {}).get("reason") or reason)
    return Outcome(action, drafts, note=f"{action.title}：{len(units)} 个单位须整改{late_note(action)}",
                   counts={"rectification": len(units)})


def owing_reasons(session, p: Programme, round_id, stage: Stage, category: str | None, units: list[str]
                  ) -> tuple[str, dict[str, dict[str, str]]]:
    """(reason said to all, unit → its own ``reason``) of owing ``stage``: its grade, place, rejection, the items that
    fell short; an 整改通知 and the opening of a window owed for a result (补测, 复检申请) say it alike."""
    assert stage.owed_by is not None
    # Chosen by place, or by place among alternatives (常德's 排名后2名 or 不合格): each unit is told its own place.
    reason = reason_of(p, stage.owed_by) or _listed_in(p, stage)
    ranked = any(w.rank is not None for w in (stage.owed_by, *stage.owed_by.any_of))
    reasons = _owing_because(session, p, round_id, stage.owed_by, category, units)
    results = results_of(session, round_id, stage.owed_by.assessed_at)
    own: dict[str, dict[str, str]] = {u: {"reason": why} for u, why in reasons.items()}
    if stage.owed_by.superiors_of is not None:  # a superior is told what its units did, and to see to it
        own |= _for_below(session, p, round_id, stage.owed_by.superiors_of, category, units)
    # A unit chosen by its grade alone among alternatives is not told a place ("被评为不合格（第3名）").
    own |= {r.unit_code: {"reason": with_own_place(p, why, r)} for r in results
            for why in [reasons.get(r.unit_code, reason)]
            if r.unit_code in units and (forced(p, r) or (ranked and r.rank and "排名" in why))}
    # A unit graded on its projects is told which project fell short: 某市's pilot read "被评为不合格" of
    # one of its two, not which. Chosen by one of several grades, each is told its own: ten laboratories read
    # "被评为有问题或不满意".
    selected = graded_as(stage.owed_by.grades) if len(stage.owed_by.grades) > 1 else None
    failed: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for r in results:
        unit, _, item = r.unit_code.partition(":")
        if unit not in units or r.grade not in stage.owed_by.grades:
            continue
        if item and (name := p_item_name(p, r.unit_code)):
            failed[unit].setdefault(r.grade, []).append(quoted(name))
        elif not item and selected:
            said = own.get(unit, {}).get("reason") or reasons.get(unit, reason)
            own[unit] = {**own.get(unit, {}), "reason": said.replace(selected, graded_as([r.grade]), 1)}
    for u, by_grade in failed.items():
        why = reasons.get(u, reason)
        if selected and selected in why:
            graded = "，".join(f"{'、'.join(names)}{graded_as([g])}" for g, names in by_grade.items())
            own[u] = {"reason": f"申报的{why.replace(selected, graded, 1)}"}
        else:
            own[u] = {"reason": f"申报的{'、'.join(n for names in by_grade.values() for n in names)}{why}"}
    if stage.owed_by.rejected_at:
        own |= _items_rejected(session, p, round_id, stage.owed_by.rejected_at, units)
    # A title the round names (命名) or confirms is said so: 湖州's named shops were asked for their 年度自评报告 as
    # "被评为放心消费示范单位", named so by the 命名通知 the same unit had.
    if verb := _conferred_by(p, stage.owed_by.grades):
        reason = reason.replace("被评为", f"被{verb}为")
        own = {u: {**said, "reason": said["reason"].replace("被评为", f"被{verb}为")} if "reason" in said else said
               for u, said in own.items()}
    return reason, own


def _conferred_by(p: Programme, grades: list[str]) -> str | None:
    """命名 or 确认 where an award stage of the round names or confirms one of ``grades`` (a 命名…, a …确认名单); else None."""
    return next((verb for s in p.stages if s.template == "award" and s.notify is not None
                 and set(s.notify.grades) & set(grades) and (verb := conferring(s.name))), None)


def report_due(p: Programme, action: Action, stage: Stage, units: list[str], why: Callable[[str], str | None]) -> list[Draft]:
    """The letters telling the unit a window's hand-ins go to (``report_to``) who owes them, by when and, where ``why``
    says, why; with ``report_to: parent``, each parent of its own units: at a follow-up's opening, and at a window's where
    the receiver reviews none of them (永固's 所 were never told the monthly reports came to them). Not the office (it
    asked for them) nor a unit owing the hand-in itself (its own letter and this would share one key)."""
    sender = p.sender(stage.code)
    up = p.ancestors(sender)
    receivers = (_parents_of(p, units) if stage.report_to == "parent"
                 else {stage.report_to: units} if stage.report_to is not None and units else {})
    drafts = []
    for receiver, kids in receivers.items():
        if receiver == sender or receiver in units:
            continue
        drafts += draft_letters([receiver], "report_due.j2", p, action, rectification_deadline=action.deadline,
                                owing=[f"{p.unit(u).name}：{said}" if (said := why(u)) else p.unit(u).name for u in kids],
                                whose=belonging(p, kids) if stage.report_to == "parent" else "",
                                rolled=action.detail.get("rolled"), contact=p.round.contact,  # the window's is for those owing it
                                to_superior=receiver in up  # as a summary reads it
                                or p.unit(receiver).level == "government" and not up)
    return drafts


def _parents_of(p: Programme, units: list[str]) -> dict[str, list[str]]:
    """Each parent → its units of ``units``, in order."""
    out: dict[str, list[str]] = defaultdict(list)
    for u in units:
        if (parent := p.unit(u).parent) is not None:
            out[parent].append(u)
    return dict(out)


def _items_rejected(session, p: Programme, round_id, step: str, units: list[str]) -> dict[str, dict[str, str]]:
    """Unit → its items the step rejected, each as its letter said it: "申报的“动力电池…技术”未通过中期检查（进度滞后）"
    (质量攻关's 白河, one project through and one 限期整改, had read "“中期检查”未获通过" of the whole firm)."""
    lines: dict[str, list[str]] = defaultdict(list)
    for subject, (told, _) in rejections(session, p, round_id, at=frozenset({step})).items():
        unit = subject.partition(":")[0]
        if unit in units and ":" in subject and (name := p_item_name(p, subject)):
            lines[unit].append(f"{quoted(name)}{'的' if told.startswith('“') else ''}{told}")  # not "“X”“中期检查”…"
    return {u: {"reason": "申报的" + "；".join(said)} for u, said in lines.items()}


def _listed_in(p: Programme, stage: Stage) -> str:
    """Why units named in the file owe a follow-up that a published list opens (不合格企业名单 on the day, 整改 from
    it): "已列入第一季度监督抽查不合格企业名单" (their 整改通知 had read only "根据…工作安排"); "" for any other."""
    listing = p.stage(stage.opens_after.stage) if stage.opens_after else None
    if listing is None or listing.kind is not StageKind.publication or listing.lists is None:
        return ""
    listed = re.sub(r"^(公布|发布|印发|下达|通报)", "", listing.name)
    return f"已列入{listed}" if listed.endswith(("名单", "名录", "目录")) else ""


def _owing_because(session, p: Programme, round_id, who: Who, category: str | None, units: list[str]
                   ) -> dict[str, str]:
    """Unit → why it owes a follow-up, where that differs between units: the alternatives it met
    (江西's 整改通知 of a 不合格 自评 had also read "未按期报送…自评报告", of a report handed in on time),
    and a rejection as its letter said it, with the reason the unit may know (未通过自查情况核查（理由）)."""
    at = frozenset(x for x in (who.rejected_at, *(w.rejected_at for w in who.any_of)) if x)
    if not (who.any_of or at):
        return {}
    said = {subject: told for subject, told in rejections(session, p, round_id, at=at).items() if ":" not in subject}
    chosen = [(w, {x.partition(":")[0] for x in select_subjects(session, p, round_id, w, category)})
              for w in who.any_of]
    out = {}
    for u in units:
        def met(w: Who, u: str = u) -> bool:
            return any(w is alt and u in picked for alt, picked in chosen)

        # The rejection as its letter said it, less what it brings: an order to rectify had read "…，撤销创建资格。
        # 请认真查找原因，制定整改措施".
        verdicts = {said[u][1]: without_consequence(p, *said[u])} if u in said else {}
        out[u] = reason_of(p, who, met=met, verdicts=verdicts)
    return out


def _for_below(session, p: Programme, round_id, below: Who, category: str | None, units: list[str]
               ) -> dict[str, dict[str, str]]:
    """A superior owes a report for its units the inner selection chose: its order names them and what they
    did ("贵单位辖区内甲公司在…中“复查”未获通过。请督促整改"; 江州's 区县局 had been told "请认真查找问题" and not
    which enterprise). Chosen by the hierarchy alone, there is nothing to say: the plain order stands."""
    why = reason_of(p, below)
    if not why:
        return {}
    # Each unit with the items chosen (安徽's 设区市局 were to see that their labs' 项目 be suspended, and were not told which).
    items = items_by_unit(session, p, round_id, below, category)

    def named(k: str) -> str:
        return p.unit(k).name + (f"（{'、'.join(items[k])}）" if items.get(k) else "")

    return {u: {"below": f"{belonging(p, kids)}{'、'.join(named(k) for k in kids)}", "why": why}
            for u, kids in units_below(session, p, round_id, below, category, units).items()}


def units_below(session: Session, p: Programme, round_id: uuid.UUID, inner: Who, category: str | None,
                superiors: Collection[str]) -> dict[str, list[str]]:
    """Superior (one of ``superiors``) → its units the selection ``inner`` chooses, each once in order: whom a letter
    to a superior names ("辖区内甲县、乙县"), where it is chosen for them (``superiors_of``)."""
    out: dict[str, list[str]] = defaultdict(list)
    superiors = frozenset(superiors)
    for subject in select_subjects(session, p, round_id, inner, category):
        unit = subject.partition(":")[0]
        parent = p.unit(unit).parent
        if parent is not None and parent in superiors and unit not in out[parent]:
            out[parent].append(unit)
    return dict(out)
