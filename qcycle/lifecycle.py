"""What each timetable action does to a round's data, and whom it writes to.

The timetable decides *when*; this module decides *what*: for an :class:`Action` it finds
the units concerned (owers, takers, overdue units, their parents, graded units), records
what the action establishes (overdue flags, decisions pending, assessment results) and
returns message drafts. Queuing and delivery belong to :mod:`qcycle.notify`; Prefect
belongs to ``tasks/`` and ``flows/``. Everything here is idempotent: carrying out the
same action twice gives the same drafts and writes nothing new.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, false, or_, true
from sqlmodel import Session, col, select

from qcycle import crud
from qcycle.loader import LoadedProgramme
from qcycle.models import AssessmentResult, Decision, ProgrammeRound, Review, Submission
from qcycle.schema import OwedBy, Programme, Stage, StageKind
from qcycle.scoring import UnitResult, assess, unit_input
from qcycle.timetable import Action

__all__ = [
    "DECIDING_STAGE_KINDS",
    "Draft",
    "Outcome",
    "carry_out",
    "decision_subjects",
    "handed_in_query",
    "outstanding",
    "owers",
    "pending_decisions",
    "remembering",
    "sync_round",
    "takers",
]

DECIDING_STAGE_KINDS = (StageKind.review, StageKind.evaluation)
# How many pending subjects a decision request lists by name (the rest are counted).
LISTED_IN_DECISION_REQUEST = 20


@dataclass(frozen=True)
class Draft:
    """A message to queue: one unit, one template, one action."""

    unit: str
    template: str
    context: dict[str, Any]
    action_key: str
    logical_date: dt.date


@dataclass
class Outcome:
    action: Action
    drafts: list[Draft] = field(default_factory=list)
    note: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    results: list[UnitResult] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # decisions still waiting for ops


def sync_round(session: Session, loaded: LoadedProgramme) -> ProgrammeRound:
    """Make the database know the round, its units and list items (idempotent)."""
    p = loaded.programme
    row, _ = crud.get_or_create_round(
        session=session, code=p.round.code, name=p.round.name, issuer_code=p.round.issuer,
        config_path=str(loaded.path), config_sha256=loaded.sha256,
        first_year=p.round.years[0], last_year=p.round.years[-1],
    )
    if row.config_sha256 != loaded.sha256:
        row = crud.update_round(session=session, round_id=row.id, config_sha256=loaded.sha256,
                                config_path=str(loaded.path), name=p.round.name)
    crud.upsert_units(session=session, round_id=row.id, units=[
        {"code": u.code, "name": u.name, "level": u.level, "parent_code": u.parent} for u in p.units
    ])
    crud.upsert_list_items(session=session, round_id=row.id, items=[
        {"category_code": c.code, "code": i.code, "name": i.name} for c, i in p.items
    ])
    return row


# -- who --------------------------------------------------------------------------------------


def _review_stage(p: Programme) -> Stage | None:
    return next((s for s in p.stages if s.kind is StageKind.review and s.decision), None)


def _evaluation_stage(p: Programme) -> Stage | None:
    return next((s for s in p.stages if s.kind is StageKind.evaluation and s.decision), None)


def _item_category(p: Programme) -> dict[str, str]:
    return p.item_category


_memo: contextvars.ContextVar[dict[tuple, Any] | None] = contextvars.ContextVar("qcycle_lifecycle_memo",
                                                                              default=None)


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Within the block, the approved applications that takers are computed from are read once.
    For passes where no application is decided meanwhile (a status report, the simulated
    world's planning): ~30 past deadlines each ask again at national scale."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _column(session: Session, query: Any) -> list[Any]:
    """One column of rows through a Core connection: the ORM's per-row bookkeeping made reading
    the ~10,000 decisions of a national round several times slower."""
    return list(session.connection().execute(query).scalars().all())


def _remembered(key: tuple, read: Callable[[], Any]) -> Any:
    memo = _memo.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]


def takers(session: Session, p: Programme, round_id: uuid.UUID, category: str | None = None) -> dict[str, list[str]]:
    """Approved takers (揭榜单位) → the items they took, from the application-review decisions.

    A programme without a list (no items) takes every approved applicant as a taker.
    """
    stage = _review_stage(p)
    if stage is None:
        return {}
    def read() -> dict[str | None, dict[str, list[str]]]:
        # Grouped by category in one pass (None: every category): a status report asks for
        # each category's takers at each past deadline.
        item_cat = _item_category(p)
        grouped: dict[str | None, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for subject in _column(session, select(Decision.subject).where(
                Decision.round_id == round_id, Decision.stage == stage.code, Decision.outcome == "approved")):
            unit, _, item = subject.partition(":")
            grouped[None][unit].append(item)
            if item in item_cat:
                grouped[item_cat[item]][unit].append(item)
        return {cat: dict(units) for cat, units in grouped.items()}

    return _remembered(("takers", round_id, stage.code), read).get(category, {})


def _latest_results_stage(session: Session, round_id: uuid.UUID) -> str | None:
    """The assessment stage whose results are the newest: what notifications and follow-ups use."""
    return session.exec(select(AssessmentResult.stage).where(AssessmentResult.round_id == round_id)
                        .order_by(col(AssessmentResult.computed_at).desc()).limit(1)).first()


def _graded(session: Session, round_id: uuid.UUID, grades: list[str]) -> list[str]:
    rows = session.exec(select(AssessmentResult.unit_code).where(
        AssessmentResult.round_id == round_id, col(AssessmentResult.grade).in_(grades),
        AssessmentResult.stage == _latest_results_stage(session, round_id),
    )).all()
    return sorted({code.partition(":")[0] for code in rows})


def resolve(session: Session, p: Programme, round_id: uuid.UUID, who: OwedBy | None,
            category: str | None = None) -> list[str]:
    """Unit codes a selector reaches now (takers and grades depend on decisions made so far)."""
    if who is None:
        return []
    codes = {u.code for u in p.units_matching(who)}
    if who.takers:
        codes |= set(takers(session, p, round_id, category))
    if who.grades:
        codes |= set(_graded(session, round_id, list(who.grades)))
    return sorted(codes)


def owers(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, category: str | None) -> list[str]:
    return resolve(session, p, round_id, stage.owed_by, category)


def _in_category(p: Programme, category: str | None, *, uncategorised: bool) -> Any:
    """SQL condition: a submission counts for ``category`` (its own category, or its item's);
    ``uncategorised``: whether one with neither counts too. True when ``category`` is None."""
    if category is None:
        return true()
    items = [code for code, cat in _item_category(p).items() if cat == category]
    no_category = col(Submission.category_code).is_(None)
    own_item = col(Submission.item_code).in_(items) if items else false()
    if uncategorised:
        known = list(_item_category(p))
        own_item = or_(own_item, col(Submission.item_code).is_(None),
                       col(Submission.item_code).not_in(known) if known else true())
    return or_(Submission.category_code == category, and_(no_category, own_item))


def handed_in_query(p: Programme, round_id: uuid.UUID, stage: Stage, period: str | None,
                    category: str | None) -> Any:
    """SELECT the units that handed the stage's submission in (accepted), for a period and
    category: filtered and made distinct by the database, from ``ix_submission_handed_in``
    (a national round holds tens of thousands of submissions and a status report asks about
    every past deadline)."""
    query = select(Submission.unit_code).distinct().where(
        Submission.round_id == round_id, Submission.kind == stage.submission.value,
        Submission.status == "accepted", _in_category(p, category, uncategorised=True))
    if period is not None:
        query = query.where(Submission.period == period)
    return query


def _submitted(session: Session, round_id: uuid.UUID, stage: Stage, period: str | None,
               category: str | None, p: Programme) -> set[str]:
    return set(_column(session, handed_in_query(p, round_id, stage, period, category)))


def outstanding(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> list[str]:
    """Units that owe the action's submission and have not handed it in (on time or accepted late)."""
    stage = p.stage(action.stage)
    due = owers(session, p, round_id, stage, action.category)
    done = _submitted(session, round_id, stage, action.period, action.category, p)
    return [u for u in due if u not in done]


# -- decisions ------------------------------------------------------------------------------


def _subject_column() -> Any:
    """A submission's decision subject: 'unit:item', or 'unit' without an item."""
    return case((col(Submission.item_code).is_(None), Submission.unit_code),
                else_=Submission.unit_code + ":" + Submission.item_code)


def _subjects(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage, category: str | None,
              *, undecided: bool) -> list[str]:
    kind = "application" if stage.kind is StageKind.review else "evaluation_request"
    subject = _subject_column()
    query = select(subject).distinct().where(
        Submission.round_id == round_id, Submission.kind == kind, Submission.status == "accepted",
        _in_category(p, category, uncategorised=False))
    if undecided:
        query = query.where(~exists().where(Decision.round_id == round_id, Decision.stage == stage.code,
                                            Decision.subject == subject))
    return sorted(_column(session, query))


def decision_subjects(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage,
                      category: str | None) -> list[str]:
    """What ops must decide on at a review/evaluation stage: 'unit:item' (or 'unit') subjects."""
    return _subjects(session, p, round_id, stage, category, undecided=False)


def pending_decisions(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage,
                      category: str | None) -> list[str]:
    """The subjects of :func:`decision_subjects` without a decision yet."""
    return _subjects(session, p, round_id, stage, category, undecided=True)


# -- carrying out an action -------------------------------------------------------------------


def _base_context(p: Programme, action: Action) -> dict[str, Any]:
    stage = p.stage(action.stage)
    item = stage.name + (f"（{action.period}）" if action.period else "")
    if action.category:
        item += f"（{p.category(action.category).name}类）"
    return {
        "programme_name": p.round.name,
        "round_code": p.round.code,
        "sender_name": p.unit(p.round.issuer).name,
        "stage_name": stage.name,
        "title": action.title,
        "item": item,
        "deadline": action.deadline,
        "working_days_left": action.workdays_left or 0,
        "at": action.at,
    }


def carry_out(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> Outcome:
    """Do what an action establishes and return the messages it owes. Idempotent."""
    handler = _HANDLERS.get(action.action)
    if handler is None:
        return Outcome(action, note=f"无需处理的动作 {action.action}")
    return handler(session, p, round_id, action)


def _drafts(units: list[str], template: str, p: Programme, action: Action, **extra: Any) -> list[Draft]:
    ctx = _base_context(p, action) | extra
    return [
        Draft(u, template, ctx | {"unit_name": p.unit(u).name, "unit_code": u}, action.key, action.at.date())
        for u in units
    ]


def _publish(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = resolve(session, p, round_id, stage.notify, action.category)
    extra = {}
    if stage.code == "takers_list" or (stage.notify and stage.notify.takers):
        extra["takers"] = takers(session, p, round_id, action.category)
    return Outcome(action, _drafts(units, "publication.j2", p, action, **extra),
                   note=f"{action.title}：通知 {len(units)} 个单位")


def _window_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = owers(session, p, round_id, stage, action.category)
    return Outcome(action, _drafts(units, "window_open.j2", p, action),
                   note=f"{action.title}：应提交单位 {len(units)} 个")


def _reminder(session, p, round_id, action) -> Outcome:
    units = outstanding(session, p, round_id, action)
    return Outcome(action, _drafts(units, "reminder.j2", p, action),
                   note=f"{action.title}：尚未提交 {len(units)} 个单位", counts={"outstanding": len(units)})


def _deadline(session, p, round_id, action) -> Outcome:
    units = outstanding(session, p, round_id, action)
    names = "、".join(p.unit(u).name for u in units[:10]) + ("等" if len(units) > 10 else "")
    note = f"{action.title}：逾期未交 {len(units)} 个单位" + (f"（{names}）" if units else "")
    return Outcome(action, note=note, counts={"overdue": len(units)})


def _days_overdue(action: Action) -> int:
    from qcycle.workcal import default_calendar

    assert action.deadline is not None
    return max(1, default_calendar().workdays_between(action.deadline.date(), action.at.date()))


def _overdue(session, p, round_id, action) -> Outcome:
    units = outstanding(session, p, round_id, action)
    return Outcome(action, _drafts(units, "overdue.j2", p, action, days_overdue=_days_overdue(action)),
                   note=f"{action.title}：{len(units)} 个单位逾期", counts={"overdue": len(units)})


def _escalation(session, p, round_id, action) -> Outcome:
    units = outstanding(session, p, round_id, action)
    target = action.detail.get("escalate_to", "parent")
    by_parent: dict[str, list[str]] = defaultdict(list)
    for u in units:
        parent = p.unit(u).parent if target == "parent" else target
        by_parent[parent or p.round.issuer].append(u)
    drafts = []
    for parent, children in sorted(by_parent.items()):
        drafts += _drafts([parent], "escalation.j2", p, action, parent_name=p.unit(parent).name,
                          child_name="、".join(p.unit(c).name for c in children),
                          days_overdue=_days_overdue(action))
    return Outcome(action, drafts, note=f"{action.title}：{len(units)} 个单位逾期，督办 {len(by_parent)} 个上级",
                   counts={"escalated": len(units)})


def _decision_due(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    pending = pending_decisions(session, p, round_id, stage, action.category)
    drafts = []
    if pending:
        titles = Counter(_subject_title(p, stage, s) for s in pending)
        # A readable message: the first few subjects and counts; the full list is `qcycle decide
        # --list` (at national scale it is thousands of lines, and a bot truncates at 2–4 KB).
        items = [{"programme_name": p.round.name, "title": _subject_title(p, stage, s),
                  "unit_name": p.unit(s.partition(":")[0]).name, "received_at": action.at}
                 for s in pending[:LISTED_IN_DECISION_REQUEST]]
        drafts = _drafts([p.round.issuer], "decision_pending.j2", p, action, items=items, total=len(pending),
                         by_title=[{"title": t, "count": n} for t, n in titles.most_common()])
    return Outcome(action, drafts, pending=pending,
                   note=f"{action.title}：待决定 {len(pending)} 项", counts={"pending": len(pending)})


def _subject_title(p: Programme, stage: Stage, subject: str) -> str:
    name = p_item_name(p, subject)
    return f"{stage.name}：{name}" if name else stage.name


def _assess(session, p, round_id, action) -> Outcome:
    scheme = p.assessment
    if scheme is None:
        return Outcome(action, note="本周期没有考核方案")
    subjects = _assessment_subjects(session, p, round_id, action.category)
    measured: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    if subjects:
        for r in session.exec(select(Review).where(Review.round_id == round_id,
                                                   col(Review.unit_code).in_(subjects))).all():
            measured[r.unit_code].append((r.component_code, r.reviewer, r.value))
    inputs = [unit_input(s, measured[s], scheme) for s in subjects]
    earned = _bonuses_from_other_rounds(session, scheme)
    for u in inputs:
        for code, per_unit in earned.items():
            count = per_unit.get(u.unit.partition(":")[0], 0)
            if count:
                u.bonuses[code] = u.bonuses.get(code, 0) + count
    results = assess(scheme, inputs, p.quotas)
    crud.save_results(session=session, round_id=round_id, results=[
        {"unit_code": r.unit, "total": r.total, "components": r.components, "bonus": r.bonus,
         "deduction": r.deduction, "veto": r.veto, "grade": r.grade, "rank": r.rank} for r in results
    ], scope=subjects, stage=action.stage)  # other categories and other years keep their results
    grades = defaultdict(int)
    for r in results:
        grades[r.grade] += 1
    summary = "，".join(f"{g}档 {grades[g]}" for g in "ABCD" if grades[g])
    return Outcome(action, results=results, counts=dict(grades),
                   note=f"{action.title}：{len(results)} 个对象，{summary or '无'}")


def _bonuses_from_other_rounds(session, scheme) -> dict[str, dict[str, int]]:
    """Bonus items earned in another round (e.g. 揭榜挂帅 takers graded A): item → unit → count."""
    out: dict[str, dict[str, int]] = {}
    for item in scheme.bonuses:
        if item.source_round is None:
            continue
        source = crud.get_round(session=session, code=item.source_round)
        if source is None:
            continue  # that round has not run here (yet): nothing earned
        query = select(AssessmentResult.unit_code).where(AssessmentResult.round_id == source.id)
        if item.source_grades:
            query = query.where(col(AssessmentResult.grade).in_(item.source_grades))
        counts: dict[str, int] = defaultdict(int)
        for subject in session.exec(query).all():
            counts[subject.partition(":")[0]] += 1
        out[item.code] = dict(counts)
    return out


def _assessment_subjects(session, p, round_id, category) -> list[str]:
    """Assessed subjects: 'unit:item' for taken list items, else unit codes."""
    scheme = p.assessment
    assert scheme is not None
    if scheme.subjects.takers and p.categories:
        return sorted(f"{u}:{i}" for u, items in takers(session, p, round_id, category).items() for i in items)
    return resolve(session, p, round_id, scheme.subjects, category)


def _notify(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    rows = session.exec(select(AssessmentResult).where(
        AssessmentResult.round_id == round_id,
        AssessmentResult.stage == _latest_results_stage(session, round_id))).all()
    item_cat = _item_category(p)
    by_unit: dict[str, list[AssessmentResult]] = defaultdict(list)
    for r in rows:
        unit, _, item = r.unit_code.partition(":")
        if action.category is None or item_cat.get(item) == action.category:
            by_unit[unit].append(r)
    units = resolve(session, p, round_id, stage.notify, action.category) if stage.notify else sorted(by_unit)
    template = stage.template + ".j2" if stage.template else "result.j2"
    label = "评价确认结果" if p.categories else "考核结果"
    drafts = []
    for u in units:
        mine = sorted(by_unit.get(u, []), key=lambda r: r.unit_code)
        if not mine and template != "praise.j2":
            continue
        result = "；".join(f"{p_item_name(p, r.unit_code) or ''}{r.grade}级" for r in mine) or "—"
        score = "；".join(f"{r.total:.1f}" for r in mine) or None
        achievement = f"在{p.round.name}中被评为A级" if any(r.grade == "A" for r in mine) else f"在{p.round.name}中表现突出"
        drafts += _drafts([u], template, p, action, result_label=label, result=result, score=score,
                          achievement=achievement)
        if any(r.grade == "A" for r in mine) and template != "praise.j2":
            drafts += [Draft(u, "praise.j2", drafts[-1].context, action.key + ":praise", action.at.date())]
    return Outcome(action, drafts, note=f"{action.title}：通知 {len(drafts)} 条")


def p_item_name(p: Programme, subject: str) -> str | None:
    _, _, item = subject.partition(":")
    return next((i.name for _, i in p.items if i.code == item), None) if item else None


def _notice_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = resolve(session, p, round_id, stage.notify, action.category)
    return Outcome(action, _drafts(units, "publication.j2", p, action), note=f"{action.title}")


def _followup_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = owers(session, p, round_id, stage, action.category)
    return Outcome(action, _drafts(units, "rectification.j2", p, action, reason="考核等次为D级",
                                   rectification_deadline=action.deadline),
                   note=f"{action.title}：{len(units)} 个单位须整改", counts={"rectification": len(units)})


_HANDLERS = {
    "publish": _publish,
    "window_open": _window_open,
    "followup_open": _followup_open,
    "reminder": _reminder,
    "deadline": _deadline,
    "overdue": _overdue,
    "escalation": _escalation,
    "decision_due": _decision_due,
    "assess": _assess,
    "notify": _notify,
    "notice_open": _notice_open,
    "notice_close": lambda s, p, r, a: Outcome(a, note=f"{a.title}"),
}
