"""Whom an action concerns: the one place that answers a selection (``schema.Who``), the
units that owe a submission and have not handed it in, the takers (揭榜单位), subjects
eliminated at a decision, and the subjects a decision stage decides on.

The rows come from :mod:`qcycle.crud`; within :func:`remembering`, decisions and results are
read once per pass, and what decisions alone decide is kept while they stand (:mod:`qcycle.lifecycle.memo`).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping
from collections.abc import Set as AbstractSet
from types import MappingProxyType
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.eligibility import ineligible
from qcycle.lifecycle.ending import ended
from qcycle.lifecycle.handedin import accepted_subjects, handed_in_subjects, handed_in_units
from qcycle.lifecycle.memo import filtered, from_decisions, kept, remembered, remembering
from qcycle.lifecycle.plan import kept_timetable
from qcycle.models import NEGATIVE_OUTCOMES, POSITIVE_OUTCOMES, ResultRow
from qcycle.schema import Programme, Stage, StageKind, Who
from qcycle.scoring import picked_by_rank
from qcycle.timetable import Action

__all__ = [
    "DECIDING_STAGE_KINDS",
    "NEGATIVE",
    "POSITIVE",
    "best_grades",
    "decided",
    "decision_subjects",
    "eliminated",
    "ended_by",
    "handed_in_query",
    "in_category",
    "missing_subjects",
    "outstanding",
    "owed_items",
    "owed_subjects",
    "owers",
    "owing_at",
    "p_item_name",
    "pending_decisions",
    "remembering",
    "resolve",
    "results_of",
    "select_subjects",
    "stage_outcomes",
    "takers",
]

DECIDING_STAGE_KINDS = (StageKind.decision,)

# Decision outcomes that say yes / no (defined once, in qcycle.models.values).
POSITIVE = POSITIVE_OUTCOMES
NEGATIVE = NEGATIVE_OUTCOMES


def in_category(p: Programme, subject: str, category: str | None) -> bool:
    """Whether a subject belongs to a category: its item's category (subjects without an item
    belong to every category). A subject whose item was taken out of the list (撤销) belongs to
    none: no step, list or letter is about it any more."""
    _, _, item = subject.partition(":")
    return _item_in(p.item_category, item, category)


def _item_in(categories: dict[str, str], item: str, category: str | None) -> bool:
    """:func:`in_category` for a subject's item ('' for none), given the programme's items."""
    if not item:
        return True
    return item in categories and (category is None or categories[item] == category)


def decided(session: Session, round_id: uuid.UUID, stage: str, outcomes: tuple[str, ...]) -> frozenset[str]:
    """Subjects the decision ``stage`` gave one of ``outcomes``."""
    def read() -> frozenset[str]:
        return frozenset(crud.decided_subjects(session=session, round_id=round_id, stage=stage, outcomes=outcomes))
    return from_decisions(session, round_id, ("decided", round_id, stage, outcomes), read)


def stage_outcomes(session: Session, round_id: uuid.UUID, stage: str) -> Mapping[str, str]:
    """``{subject: outcome}`` of every decision the ``stage`` has made (read-only)."""
    def read() -> Mapping[str, str]:
        return MappingProxyType(crud.outcomes_at(session=session, round_id=round_id, stage=stage))
    return from_decisions(session, round_id, ("outcomes", round_id, stage), read)


def eliminated(session: Session, p: Programme, round_id: uuid.UUID, *, objections: bool = False) -> frozenset[str]:
    """Subjects rejected at any decision stage (or, where the round decides on the rejected again, whose
    last decision is a rejection): they leave every later step, list and notice.
    A decision on an objection (公示异议) decides the objection only: ``objections`` gives the
    objections rejected, otherwise they are not counted (the objector's candidacy stands). A
    decision on a follow-up's report (整改报告审核) decides the report: its unit stays in the round, and where the
    follow-up is owed by those a decision rejected (整改复查 of a 现场检查's 不合格), its 通过 puts them back."""
    on_objections = sorted(p.objection_decisions)

    def read() -> frozenset[str]:
        if objections:
            return frozenset(crud.subjects_with_outcome(session=session, round_id=round_id, outcomes=NEGATIVE,
                                                        stages=on_objections))
        # A decision on a follow-up owed by the rejected (整改复查 of a 现场检查's 不合格) decides the report: its
        # 不通过 leaves the subject where it was, its 通过 puts it back (整改后合格 units had been told nothing).
        regained = p.keeping_decisions & p.decisions_for_rejected
        apart = on_objections + sorted(p.keeping_decisions - regained)
        if not p.decisions_for_rejected:
            return frozenset(crud.subjects_with_outcome(session=session, round_id=round_id, outcomes=NEGATIVE,
                                                        except_stages=apart))
        # A round that decides again on the rejected (复验 after a failed 验收): a subject stands by its
        # last decision in stage order, so one that passed 复验 is back in every later step.
        last: dict[str, tuple[int, str]] = {}
        for subject, stage, outcome in crud.subject_outcomes(session=session, round_id=round_id, except_stages=apart):
            if stage in regained and outcome in NEGATIVE:
                continue
            place = p.stage_place.get(stage, -1)
            if subject not in last or place >= last[subject][0]:
                last[subject] = (place, outcome)
        return frozenset(s for s, (_, outcome) in last.items() if outcome in NEGATIVE)
    return from_decisions(session, round_id, ("eliminated", round_id, tuple(on_objections), objections), read)


def takers(session: Session, p: Programme, round_id: uuid.UUID, category: str | None = None) -> dict[str, list[str]]:
    """Approved takers (揭榜单位) → the items they took, from the application decision.

    A programme without a list (no items) takes every approved applicant as a taker.
    """
    stage = p.takers_stage
    if stage is None:
        return {}
    out: dict[str, list[str]] = defaultdict(list)
    gone = eliminated(session, p, round_id)
    for subject in sorted(decided(session, round_id, stage.code, POSITIVE) - gone):
        if in_category(p, subject, category):
            unit, _, item = subject.partition(":")
            out[unit].append(item)
    return dict(out)


def results_of(session: Session, round_id: uuid.UUID, stage: str | None) -> list[ResultRow]:
    """The results of an assessment stage by rank; with no stage, of the newest (what notifications and follow-ups use)."""
    stage = stage or crud.latest_results_stage(session=session, round_id=round_id)
    return crud.stage_results(session=session, round_id=round_id, stage=stage)


def best_grades(session: Session, p: Programme, round_id: uuid.UUID, assessed_at: str | None,
                grades: list[str], category: str | None = None) -> dict[str, str]:
    """Each graded subject's grade among ``grades``, keyed by the subject ("unit:item"), and each
    unit's best (in the scheme's order), keyed by the unit, from an assessment's results of
    ``category`` (all when None): which of several awards a candidate on a list is proposed for. A
    list of one category reads that category's grades: 某市's 攻关型 list had told a unit "拟获二等奖"
    of its 服务型 entry."""
    order = [g for g in (p.assessment.grade_names if p.assessment else []) if g in grades]
    best: dict[str, str] = {}
    for r in sorted((r for r in results_of(session, round_id, assessed_at)
                     if r.grade in order and in_category(p, r.unit_code, category)),
                    key=lambda r: order.index(r.grade)):
        best.setdefault(r.unit_code.partition(":")[0], r.grade)
        if ":" in r.unit_code:
            best[r.unit_code] = r.grade
    return best


def _left(session: Session, p: Programme, round_id: uuid.UUID, stage: str | None, *, keep: bool = False
          ) -> frozenset[str]:
    """Who has left the chain of decisions ``stage`` is on: an objection's (its window or the
    decision on it), or the candidates' (any other stage, or none); nobody when ``keep``
    (a selection ``with_rejected``)."""
    if keep:
        return frozenset()
    on_objections = stage is not None and (stage in p.objection_decisions or p.stage(stage).submission == "objection")
    return eliminated(session, p, round_id, objections=on_objections)


def select_subjects(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
                    category: str | None = None) -> list[str]:
    """The subjects a selection reaches now: 'unit:item' where the round decides on list
    items, else unit codes. Every criterion must hold; ``any_of`` joins alternatives; a
    subject rejected at any decision stage is left out except where ``rejected_at`` or
    ``with_rejected`` asks for it."""
    if who is None:
        return []
    # By content (a status report asks the same takers at every deadline); of decisions alone, kept while they stand.
    return list(kept(session, round_id, p, who.by_decisions_only, ("select", round_id, who.model_dump_json(), category),
                     lambda: tuple(_select(session, p, round_id, who, category))))


def _select(session: Session, p: Programme, round_id: uuid.UUID, who: Who, category: str | None) -> list[str]:
    allowed = p.unit_names if not (who.units or who.levels or who.any_of) else {u.code for u in p.units_matching(who)}
    sources: list[AbstractSet[str]] = []
    # gone(stage): left its chain. A selection of those rejected somewhere keeps them for its other
    # criteria: "排名后2名且整改报告未通过审核" had chosen nobody, the rank leaving out the rejected.
    gone = functools.partial(_left, session, p, round_id, keep=who.with_rejected or who.rejected_at is not None)
    if who.submitted_at:
        sources.append(accepted_subjects(session, p, round_id, who.submitted_at, category) - gone(who.submitted_at))
    if who.missing_at:
        window = p.stage(who.missing_at)
        handed = handed_in_units(session, p, round_id, window, None, category)
        never_called = _joined_after(session, p, round_id, window, category) | ended_by(session, p, round_id, window)
        sources.append({u for u in owers(session, p, round_id, window, category)
                        if u not in handed and u not in never_called})
    if who.approved_at:
        sources.append(set(decided(session, round_id, who.approved_at, POSITIVE) - gone(who.approved_at)))
    if who.rejected_at:
        sources.append(set(decided(session, round_id, who.rejected_at, NEGATIVE)))
    if who.grades or who.rank:
        # Ranks count within the category the action is for (a per-category assessment ranks
        # each category on its own).
        rows = [r for r in results_of(session, round_id, who.assessed_at) if in_category(p, r.unit_code, category)]
        if who.grades:
            sources.append({r.unit_code for r in rows if r.grade in who.grades} - gone(None))
        if who.rank:
            # An assessment per category ranks each on its own: its top 20 are each category's, not the
            # firsts of both, then the seconds (温州-like awards took 10 and 10 for "前20名").
            stage = rows[0].stage if rows else ""
            sources.append(picked_by_rank(rows, who.rank, lambda s: p.rank_key(s, stage),
                                          p.assessment.forces if p.assessment else bool) - gone(None))
    if who.any_of:
        sources.append({x for alt in who.any_of for x in select_subjects(session, p, round_id, alt, category)})
    if who.superiors_of:  # 复查不合格企业所在区县局: the parents of those the inner selection reaches
        sources.append({parent for x in select_subjects(session, p, round_id, who.superiors_of, category)
                        if (parent := p.unit(x.partition(":")[0]).parent)})
    if not sources:
        return sorted(allowed)
    chosen = sources[0]
    for other in sources[1:]:
        if chosen & other:
            chosen = chosen & other
        else:  # one side names units, the other unit:item subjects: meet on the unit
            units = {x.partition(":")[0] for x in other}
            chosen = {x for x in chosen if x.partition(":")[0] in units}
    return sorted(_of_category(p, chosen, category, units=allowed))


def _of_category(p: Programme, subjects: AbstractSet[str], category: str | None,
                 units: Collection[str] | None = None) -> set[str]:
    """The subjects in ``category`` (of ``units`` if given), each one's verdict remembered: ~10,000 a call nationally."""
    def keep(x: str) -> bool:
        unit, _, item = x.partition(":")
        return _item_in(p.item_category, item, category) and (units is None or unit in units)

    if units is None or units is p.unit_names:  # any unit, or every unit of the programme
        return filtered(p, ("of_category", category, units is None), subjects, keep)
    return {x for x in subjects if keep(x)}


def resolve(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
            category: str | None = None) -> list[str]:
    """Unit codes a selection reaches now (see :func:`select_subjects`)."""
    return sorted({x.partition(":")[0] for x in select_subjects(session, p, round_id, who, category)})


def owers(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, category: str | None) -> list[str]:
    """Units that owe the stage's submission (for a category); not those its eligibility rule
    refuses (福州's winner of two years before was reminded three times to apply, then refused)."""
    def read() -> tuple[str, ...]:
        units = resolve(session, p, round_id, stage.owed_by, category)
        barred = ineligible(session, p, stage, units) if stage.eligibility else {}
        return tuple(u for u in units if u not in barred)

    by_decisions = not stage.eligibility and (stage.owed_by is None or stage.owed_by.by_decisions_only)  # as selections
    return list(kept(session, round_id, p, by_decisions, ("owers", round_id, stage.code, category), read))


def owing_at(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, category: str | None,
             at: dt.datetime) -> list[str]:
    """:func:`owers` at a moment: less the units whose part in the round a grade ended by then (``ends``)."""
    gone = ended(session, p, round_id, at)
    return [u for u in owers(session, p, round_id, stage, category) if u not in gone]


def handed_in_query(p: Programme, round_id: uuid.UUID, stage: Stage, period: str | None,
                    category: str | None) -> Any:
    """SELECT the units that handed the stage's submission in (accepted), for a period and
    category (see :func:`qcycle.crud.handed_in_query`)."""
    return crud.handed_in_query(round_id=round_id, stage=stage.code, period=period, category=category,
                                item_category=p.item_category)


def called_to(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> list[str]:
    """Units a deadline action holds to it: those owing its stage, less those with a deadline of
    their own (an extension answers to its own action) and those added to the round after it."""
    due = owing_at(session, p, round_id, p.stage(action.stage), action.category, action.at)  # not those whose part ended
    if action.unit is not None:  # one unit's own deadline (an extension)
        due = [u for u in due if u == action.unit]
    else:  # units with their own deadline answer to it, not to this one
        left_out = set(action.detail.get("extended", ()))
        due = [u for u in due if u not in left_out]
    # A unit added to the round after this deadline was never called to it (status listed it as overdue).
    joined = _joined(session, round_id)
    if joined:
        due = [u for u in due if u not in joined or joined[u] <= action.at]
    return due


def outstanding(session: Session, p: Programme, round_id: uuid.UUID, action: Action, *,
                less_refused: bool = False, owed: dict[str, list[str]] | None = None) -> list[str]:
    """Units that owe the action's submission and have not handed it in (on time or accepted late).
    ``less_refused``: nor handed it in late and been refused (不予受理): an overdue notice or a
    督办 saying "仍未收到" would be false, and the refusal letter tells them what happened."""
    stage = p.stage(action.stage)
    due = called_to(session, p, round_id, action)
    statuses = _counting_statuses(stage, less_refused)
    if items := (owed_subjects(session, p, round_id, action) if owed is None else []):
        # Owed item by item: the subjects handed in say who handed in and what is owed (one scan, not two).
        handed = handed_in_subjects(session, p, round_id, stage, action.period, action.category, statuses)
        done: set[str] | frozenset[str] = {s.partition(":")[0] for s in handed}
        partly = _items_missing(items, handed)
    else:
        done = frozenset().union(*(handed_in_units(session, p, round_id, stage, action.period, action.category, status)
                                   for status in statuses))
        partly = owed or {}  # a caller's own owed_items (its letter names them), or none: owed by units
    return [u for u in due if u not in done or u in partly]


def _counting_statuses(stage: Stage, less_refused: bool) -> list[str]:
    """Accepted hand-ins; with ``less_refused``, those refused as late too."""
    return ["accepted"] + (["rejected_late"] if less_refused and stage.lateness == "reject" else [])


def _joined(session: Session, round_id: uuid.UUID) -> dict[str, dt.datetime]:
    return remembered(("joined", round_id), lambda: crud.units_joined(session=session, round_id=round_id))


def ended_by(session: Session, p: Programme, round_id: uuid.UUID, window: Stage) -> frozenset[str]:
    """Units whose part in the round a grade ended before the window's last deadline: not "missing" it (a revoked county
    had been decided 不同意 by rule for a 建设进展报告 never asked of it)."""
    if p.assessment is None or not p.assessment.ending_grades:
        return frozenset()
    last = max((a.at for a in kept_timetable(session, p, round_id).actions
                if a.action == "deadline" and a.stage == window.code and a.unit is None), default=None)
    return ended(session, p, round_id, last) if last is not None else frozenset()


def _joined_after(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage,
                  category: str | None) -> set[str]:
    """Units added to the round after the stage's last deadline (the category's, or any when the
    action is for all): never called to it, so not "missing" at it (a 约谈 for a report never asked for)."""
    joined = _joined(session, round_id)
    if not joined:  # the usual case: no timetable to expand
        return set()
    plan = kept_timetable(session, p, round_id)
    late = set()
    for unit, at in joined.items():
        cuts = [a.at for a in plan.actions if a.action == "deadline" and a.stage == stage.code
                and a.unit in (None, unit) and (category is None or a.category in (None, category))]
        if cuts and at > max(cuts):
            late.add(unit)
    return late


def owed_items(session: Session, p: Programme, round_id: uuid.UUID, action: Action, *,
               less_refused: bool = False) -> dict[str, list[str]]:
    """Units owing the action's submission for several list items that handed it in for some but
    not all: unit → the items still owed (a 揭榜 taker reports on each item it took); for a follow-up,
    every unit owing it for items, each with them."""
    items = owed_subjects(session, p, round_id, action)
    if not items:
        return {}
    stage = p.stage(action.stage)
    handed = handed_in_subjects(session, p, round_id, stage, action.period, action.category,
                                _counting_statuses(stage, less_refused))
    missing = _items_missing(items, handed)
    if stage.kind is StageKind.followup:
        # A follow-up is owed for some of a unit's items (a lab's 有问题 item, not its 满意 one): each letter
        # chasing it names them ("前提交原因分析报告" had not said which).
        for subject in items:
            unit, _, item = subject.partition(":")
            if subject not in handed and item not in missing.get(unit, ()):
                missing.setdefault(unit, []).append(item)
    return missing


def missing_subjects(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> set[str]:
    """What never handed the action's window in: units, or 'unit:item' where it is owed item by item
    (a lab that reported one of its two items had both vetoed as never reported)."""
    owed = owed_subjects(session, p, round_id, action)
    if not owed:
        return set(outstanding(session, p, round_id, action))
    stage = p.stage(action.stage)
    handed = handed_in_subjects(session, p, round_id, stage, action.period, action.category, _counting_statuses(stage, False))
    called = set(called_to(session, p, round_id, action))
    return {s for s in owed if s not in handed and s.partition(":")[0] in called}


def owed_subjects(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> list[str]:
    """The 'unit:item' subjects owing the action's submission item by item (none for a stage
    owed by units)."""
    stage = p.stage(action.stage)
    if stage.owed_by is None or not stage.owed_by.dynamic:
        return []
    period = next((x for x in stage.periods if x.code == action.period), None)
    only = set(period.categories) if period and period.categories else None  # a period for some categories
    gone = ended(session, p, round_id, action.at)
    return [s for s in select_subjects(session, p, round_id, stage.owed_by, action.category)
            if ":" in s and (only is None or p.item_category.get(s.partition(":")[2]) in only) and s not in gone]


def _items_missing(owed: list[str], handed: frozenset[str]) -> dict[str, list[str]]:
    """unit → its owed items not handed in, for the units that handed some in."""
    some = {s.partition(":")[0] for s in handed}
    missing: dict[str, list[str]] = defaultdict(list)
    for s in owed:
        unit, _, item = s.partition(":")
        if s not in handed and unit in some:
            missing[unit].append(item)
    return dict(missing)


def p_unit_name(p: Programme, subject: str) -> str | None:
    """The name of a subject's unit ('unit:item' or 'unit'); None for a unit no longer in the file."""
    unit = subject.partition(":")[0]
    return p.unit(unit).name if p.has_unit(unit) else None


def p_item_name(p: Programme, subject: str) -> str | None:
    _, _, item = subject.partition(":")
    return p.item_names.get(item) if item else None


# -- decisions ------------------------------------------------------------------------------


def decision_subjects(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage,
                      category: str | None) -> list[str]:
    """What ops must decide on at a decision stage: the subjects of the stage it ``decides``
    (accepted hand-ins of a window, subjects approved at the previous decision, or assessed
    subjects), less those rejected anywhere before."""
    return _candidates(session, p, round_id, stage, category, undecided=False)


def pending_decisions(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage,
                      category: str | None) -> list[str]:
    """The subjects of :func:`decision_subjects` without a decision yet."""
    return _candidates(session, p, round_id, stage, category, undecided=True)


def _candidates(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, category: str | None,
                *, undecided: bool) -> list[str]:
    if stage.decides is None:
        return []
    target = p.stage(stage.decides)
    subjects: AbstractSet[str]
    if target.kind is StageKind.decision or target.kind is StageKind.assessment:
        if target.kind is StageKind.decision:
            subjects = set(decided(session, round_id, target.code, POSITIVE))
        else:
            subjects = set(crud.result_subjects(session=session, round_id=round_id, stage=target.code))
    elif target.kind is StageKind.event:  # a 年中检查's conclusion on each unit it visits (not a superior it copies)
        part = target.notify.taking_part() if target.notify else None
        subjects = set(resolve(session, p, round_id, part, category)) if part else set()
    else:
        # Filtered by the database, made distinct in Python (a national round: ~10,000 applications,
        # asked about at every moment until the decision is complete).
        subjects = accepted_subjects(session, p, round_id, target.code, category, uncategorised=False)
        if subjects and target.owed_by is not None and target.owed_by.dynamic:
            # e.g. an application counts only after a second party recommended the unit
            allowed = set(resolve(session, p, round_id, target.owed_by, category))
            subjects = {x for x in subjects if x.partition(":")[0] in allowed}
    if undecided:  # less the stage's own decisions (kept while the round's decisions token stands)
        subjects = subjects - stage_outcomes(session, round_id, stage.code).keys()
    if subjects and stage.among is not None:  # e.g. the committee decides only on award candidates
        among = set(select_subjects(session, p, round_id, stage.among, category))
        subjects = {x for x in subjects if x in among or x.partition(":")[0] in among}
    if not subjects:
        return []
    # Hand-ins of a window for the rejected (复验申请), or candidates chosen with the rejected, are
    # decided on: 复验 had nobody to decide, so no 撤销试点 ever followed a failed one.
    gone = frozenset() if stage.code in p.decisions_for_rejected else eliminated(session, p, round_id, objections=stage.code in p.objection_decisions)
    own = frozenset() if undecided else decided(session, round_id, stage.code, NEGATIVE)
    return sorted(x for x in _of_category(p, subjects, category) if x not in gone or x in own)
