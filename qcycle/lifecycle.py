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
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, false, or_, true
from sqlmodel import Session, col, func, select

from qcycle import amendments, clock, crud
from qcycle.errors import QcycleError, TimetableError
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.models import AssessmentResult, Decision, ProgrammeRound, Review, Submission
from qcycle.render import SYSTEM_SENDER
from qcycle.schema import Programme, RankPick, Stage, StageKind, Who, grade_label
from qcycle.scoring import UnitResult, assess, unit_input
from qcycle.timetable import Action, Timetable, UnitDeadline, expand
from qcycle.workcal import default_calendar

__all__ = [
    "DECIDING_STAGE_KINDS",
    "HANDLERS",
    "NEGATIVE",
    "POSITIVE",
    "Draft",
    "Outcome",
    "carry_out",
    "decision_subjects",
    "eliminated",
    "handed_in_query",
    "ineligible",
    "outstanding",
    "owers",
    "pending_decisions",
    "plan_changes",
    "recorded_extensions",
    "remembering",
    "resolve",
    "round_timetable",
    "select_subjects",
    "sync_round",
    "takers",
    "takers_stage",
    "unit_deadlines",
    "withdrawal_drafts",
]

DECIDING_STAGE_KINDS = (StageKind.decision,)
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


def sync_round(session: Session, loaded: LoadedProgramme, *, actor: str = "qcycle", reason: str = "",
               at: dt.datetime | None = None) -> ProgrammeRound:
    """Make the database know the round, its units and list items (idempotent).

    A programme file that changed since the round last ran is an amendment: recorded with
    ``actor`` and ``reason`` (``qcycle amend`` gives both; a command that merely finds the file
    changed records itself, without a reason), the plan diff and ``at`` (a run's logical
    moment; default now), the date of the notices it causes."""
    p = loaded.programme
    text = loaded.text or None
    row, _ = crud.get_or_create_round(
        session=session, code=p.round.code, name=p.round.name, issuer_code=p.round.issuer,
        config_path=str(loaded.path), config_sha256=loaded.sha256,
        first_year=p.round.years[0], last_year=p.round.years[-1], programme=p.round.programme,
        config_text=text,
    )
    if row.config_sha256 != loaded.sha256:
        before = _ran_on(row, loaded)
        members, changes = plan_changes(session, row, loaded, before)
        on = clock.to_local(at).date() if at else clock.today()
        if before is not None and (drafts := withdrawal_drafts(session, before, p, row.id, on)):
            # Imported here: the outbox sits above the lifecycle rules.
            from qcycle.notify.outbox import queue_drafts

            queue_drafts(session=session, programme=p, round_id=row.id, drafts=drafts,
                         template_dir=loaded.template_dir)
        crud.add_amendment(session=session, round_id=row.id, actor=actor, reason=reason,
                           sha_before=row.config_sha256, sha_after=loaded.sha256, config_before=row.config_text,
                           config_after=loaded.text, changes=members + [amendments.describe(c) for c in changes],
                           **({"recorded_at": at} if at else {}))
        crud.audit(session=session, actor=actor, action="amend", round_code=p.round.code,
                   detail={"reason": reason, "changes": len(members) + len(changes), "sha256": loaded.sha256})
    if row.config_sha256 != loaded.sha256 or row.programme != p.round.programme or (text and not row.config_text):
        row = crud.update_round(session=session, round_id=row.id, config_sha256=loaded.sha256,
                                config_path=str(loaded.path), name=p.round.name, programme=p.round.programme,
                                config_text=text)
    # Only what changed: a national round has thousands of units, and every import, pull and
    # reconcile syncs the round first.
    stored = crud.unit_fields(session=session, round_id=row.id)
    units = [{"code": u.code, "name": u.name, "level": str(u.level), "parent_code": u.parent} for u in p.units]
    changed = [u for u in units if stored.get(u["code"]) != (u["name"], u["level"], u["parent_code"])]
    if changed:
        crud.upsert_units(session=session, round_id=row.id, units=changed)
    crud.upsert_list_items(session=session, round_id=row.id, items=[
        {"category_code": c.code, "code": i.code, "name": i.name} for c, i in p.items
    ])
    # Submissions stored before hand-ins were counted per stage: the first stage of their kind.
    first: dict[str, str] = {}
    for s in p.stages:
        if s.submission is not None:
            first.setdefault(s.submission, s.code)
    crud.assign_submission_stages(session=session, round_id=row.id, stage_of_kind=first)
    return row


def unit_deadlines(session: Session, round_id: uuid.UUID) -> tuple[UnitDeadline, ...]:
    """The round's unit extensions, as the timetable takes them."""
    return tuple(UnitDeadline(e.stage, e.unit_code, clock.to_local(e.deadline), e.period or None)
                 for e in crud.list_extensions(session=session, round_id=round_id))


def recorded_extensions(session: Session, round_code: str) -> tuple[UnitDeadline, ...]:
    """The unit extensions recorded for a round by its code; none for a round not begun."""
    row = crud.get_round(session=session, code=round_code)
    return unit_deadlines(session, row.id) if row is not None else ()


def round_timetable(session: Session, p: Programme, round_id: uuid.UUID) -> Timetable:
    """The round's timetable as it stands: the programme's dates and the units' own deadlines."""
    return expand(p, default_calendar(), unit_deadlines(session, round_id))


def _ran_on(row: ProgrammeRound, loaded: LoadedProgramme) -> Programme | None:
    """The programme as the round last ran on it; None when that version was not kept (a round
    that ran before versions were) or no longer reads (the change is recorded, not shown)."""
    if not row.config_text:
        return None
    try:
        return load_programme(loaded.path, text=row.config_text).programme
    except QcycleError:
        return None


def plan_changes(session: Session, row: ProgrammeRound, loaded: LoadedProgramme, before: Programme | None = None
                 ) -> tuple[list[str], list[amendments.PlanChange]]:
    """What ``loaded`` changes in the round as it last ran (``row.config_text``, or ``before``
    when the caller has read it): units and list items added or taken out, and the plan diff
    (see :func:`_ran_on` for when empty)."""
    before = before or _ran_on(row, loaded)
    if before is None:
        return [], []
    calendar = default_calendar()
    members = amendments.diff_members(before, loaded.programme)
    return members, amendments.diff_plans(expand(before, calendar), expand(loaded.programme, calendar),
                                          crud.done_action_keys(session=session, round_id=row.id))


def withdrawal_drafts(session: Session, before: Programme, p: Programme, round_id: uuid.UUID,
                      on: dt.date) -> list[Draft]:
    """One letter to each taker of a list item taken out of the file (撤销): after it, nothing
    about the item reaches them (see :func:`_in_cat`)."""
    stage = takers_stage(before)
    gone_items = {i.code: i.name for _, i in before.items if i.code not in p.item_category}
    if stage is None or not gone_items:
        return []
    taken = sorted(_decided(session, round_id, stage.code, POSITIVE) - eliminated(session, round_id))
    ctx = {"programme_name": p.round.name, "round_code": p.round.code, "sender_name": p.unit(p.round.issuer).name,
           "today": on}
    drafts = []
    for subject in taken:
        unit, _, item = subject.partition(":")
        if item in gone_items and p.has_unit(unit):
            drafts.append(Draft(unit, "withdrawal.j2", ctx | {"unit_name": p.unit(unit).name, "unit_code": unit,
                                                             "item_name": gone_items[item]},
                                f"amend:withdraw:{item}@{on:%Y-%m-%d}", on))
    return drafts


# -- who --------------------------------------------------------------------------------------

# Decision outcomes: v2 writes approved/rejected; rounds decided before it may hold the
# evaluation words confirmed/returned, which mean the same.
POSITIVE = ("approved", "confirmed")
NEGATIVE = ("rejected", "returned")


def takers_stage(p: Programme) -> Stage | None:
    """The decision on applications whose approved subjects are the takers (揭榜单位)."""
    for s in p.stages:
        if s.kind is StageKind.decision and s.decides and p.has_stage(s.decides):
            target = p.stage(s.decides)
            if target.submission == "application":
                return s
    return None


def _item_category(p: Programme) -> dict[str, str]:
    return p.item_category


_memo: contextvars.ContextVar[dict[tuple, Any] | None] = contextvars.ContextVar("qcycle_lifecycle_memo",
                                                                              default=None)


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Within the block, decisions and results that selections are computed from are read once.
    For passes where nothing is decided meanwhile (a status report, the simulated world's
    planning): ~30 past deadlines each ask again at national scale."""
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


def _in_cat(p: Programme, subject: str, category: str | None) -> bool:
    """Whether a subject belongs to a category: its item's category (subjects without an item
    belong to every category). A subject whose item was taken out of the list (撤销) belongs to
    none: no step, list or letter is about it any more."""
    _, _, item = subject.partition(":")
    if item and item not in p.item_category:
        return False
    return category is None or not item or p.item_category.get(item) == category


def _decided(session: Session, round_id: uuid.UUID, stage: str, outcomes: tuple[str, ...]) -> frozenset[str]:
    def read() -> frozenset[str]:
        return frozenset(_column(session, select(Decision.subject).where(
            Decision.round_id == round_id, Decision.stage == stage, col(Decision.outcome).in_(outcomes))))
    return _remembered(("decided", round_id, stage, outcomes), read)


def eliminated(session: Session, round_id: uuid.UUID) -> frozenset[str]:
    """Subjects rejected at any decision stage: they leave every later step, list and notice."""
    def read() -> frozenset[str]:
        return frozenset(_column(session, select(Decision.subject).distinct().where(
            Decision.round_id == round_id, col(Decision.outcome).in_(NEGATIVE))))
    return _remembered(("eliminated", round_id), read)


def takers(session: Session, p: Programme, round_id: uuid.UUID, category: str | None = None) -> dict[str, list[str]]:
    """Approved takers (揭榜单位) → the items they took, from the application decision.

    A programme without a list (no items) takes every approved applicant as a taker.
    """
    stage = takers_stage(p)
    if stage is None:
        return {}
    out: dict[str, list[str]] = defaultdict(list)
    gone = eliminated(session, round_id)
    for subject in sorted(_decided(session, round_id, stage.code, POSITIVE) - gone):
        if _in_cat(p, subject, category):
            unit, _, item = subject.partition(":")
            out[unit].append(item)
    return dict(out)


def _latest_results_stage(session: Session, round_id: uuid.UUID) -> str | None:
    """The assessment stage whose results are the newest: what notifications and follow-ups use."""
    return session.exec(select(AssessmentResult.stage).where(AssessmentResult.round_id == round_id)
                        .order_by(col(AssessmentResult.computed_at).desc()).limit(1)).first()


def _results(session: Session, round_id: uuid.UUID, stage: str | None) -> list[AssessmentResult]:
    stage = stage or _latest_results_stage(session, round_id)
    return list(session.exec(select(AssessmentResult).where(
        AssessmentResult.round_id == round_id, AssessmentResult.stage == stage)
        .order_by(AssessmentResult.rank, AssessmentResult.unit_code)).all())


def _ranked(rows: list[AssessmentResult], pick: RankPick) -> set[str]:
    """The subjects at the top or bottom N places; vetoed ones stand last, or are left out."""
    free = [r for r in rows if not r.veto]
    vetoed = [r for r in rows if r.veto]
    order = free + (vetoed if pick.vetoed == "last" else [])
    chosen = order[:pick.top] if pick.top is not None else order[-pick.bottom:]  # type: ignore[operator]
    return {r.unit_code for r in chosen}


def _submitted_subjects(session: Session, p: Programme, round_id: uuid.UUID, stage: Stage,
                        category: str | None) -> set[str]:
    subject = _subject_column()
    query = select(subject).distinct().where(
        Submission.round_id == round_id, Submission.stage == stage.code, Submission.status == "accepted",
        _in_category(p, category, uncategorised=True))
    return set(_column(session, query))


def select_subjects(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
                    category: str | None = None) -> list[str]:
    """The subjects a selection reaches now: 'unit:item' where the round decides on list
    items, else unit codes. Every criterion must hold; ``any_of`` joins alternatives; a
    subject rejected at any decision stage is left out except where ``rejected_at`` or
    ``with_rejected`` asks for it."""
    if who is None:
        return []
    allowed = {u.code for u in p.units_matching(who)}
    sources: list[set[str]] = []
    gone = frozenset() if who.with_rejected else eliminated(session, round_id)
    if who.submitted_at:
        sources.append(_submitted_subjects(session, p, round_id, p.stage(who.submitted_at), category) - gone)
    if who.missing_at:
        window = p.stage(who.missing_at)
        handed = set(_column(session, handed_in_query(p, round_id, window, None, category)))
        sources.append({u for u in owers(session, p, round_id, window, category) if u not in handed})
    if who.approved_at:
        sources.append(set(_decided(session, round_id, who.approved_at, POSITIVE) - gone))
    if who.rejected_at:
        sources.append(set(_decided(session, round_id, who.rejected_at, NEGATIVE)))
    if who.grades or who.rank:
        # Ranks count within the category the action is for (a per-category assessment ranks
        # each category on its own).
        rows = [r for r in _results(session, round_id, who.assessed_at) if _in_cat(p, r.unit_code, category)]
        if who.grades:
            sources.append({r.unit_code for r in rows if r.grade in who.grades} - gone)
        if who.rank:
            sources.append(_ranked(rows, who.rank) - gone)
    if who.any_of:
        sources.append({x for alt in who.any_of for x in select_subjects(session, p, round_id, alt, category)})
    if not sources:
        return sorted(allowed)
    chosen = sources[0]
    for other in sources[1:]:
        if chosen & other:
            chosen = chosen & other
        else:  # one side names units, the other unit:item subjects: meet on the unit
            units = {x.partition(":")[0] for x in other}
            chosen = {x for x in chosen if x.partition(":")[0] in units}
    return sorted(x for x in chosen if x.partition(":")[0] in allowed and _in_cat(p, x, category))


def resolve(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
            category: str | None = None) -> list[str]:
    """Unit codes a selection reaches now (see :func:`select_subjects`)."""
    return sorted({x.partition(":")[0] for x in select_subjects(session, p, round_id, who, category)})


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
        Submission.round_id == round_id, Submission.stage == stage.code,
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
    if action.unit is not None:  # one unit's own deadline (an extension)
        due = [u for u in due if u == action.unit]
    else:  # units with their own deadline answer to it, not to this one
        left_out = set(action.detail.get("extended", ()))
        due = [u for u in due if u not in left_out]
    done = _submitted(session, round_id, stage, action.period, action.category, p)
    return [u for u in due if u not in done]


# -- decisions ------------------------------------------------------------------------------


def _subject_column() -> Any:
    """A submission's decision subject: 'unit:item', or 'unit' without an item."""
    return case((col(Submission.item_code).is_(None), Submission.unit_code),
                else_=Submission.unit_code + ":" + Submission.item_code)


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
    decided_here = exists().where(Decision.round_id == round_id, Decision.stage == stage.code)
    if target.kind is StageKind.decision or target.kind is StageKind.assessment:
        if target.kind is StageKind.decision:
            subjects = set(_decided(session, round_id, target.code, POSITIVE))
        else:
            subjects = set(_column(session, select(AssessmentResult.unit_code).where(
                AssessmentResult.round_id == round_id, AssessmentResult.stage == target.code)))
        if undecided:
            subjects -= set(_column(session, select(Decision.subject).where(
                Decision.round_id == round_id, Decision.stage == stage.code)))
    else:
        # Filtered and made distinct by the database (a national round: ~10,000 applications,
        # asked about at every moment until the decision is complete).
        subject = _subject_column()
        query = select(subject).distinct().where(
            Submission.round_id == round_id, Submission.stage == target.code, Submission.status == "accepted",
            _in_category(p, category, uncategorised=False))
        if undecided:
            query = query.where(~decided_here.where(Decision.subject == subject))
        subjects = set(_column(session, query))
        if subjects and target.owed_by is not None and target.owed_by.dynamic:
            # e.g. an application counts only after a second party recommended the unit
            allowed = set(resolve(session, p, round_id, target.owed_by, category))
            subjects = {x for x in subjects if x.partition(":")[0] in allowed}
    if subjects and stage.among is not None:  # e.g. the committee decides only on award candidates
        among = set(select_subjects(session, p, round_id, stage.among, category))
        subjects = {x for x in subjects if x in among or x.partition(":")[0] in among}
    if not subjects:
        return []
    gone = eliminated(session, round_id)
    own = frozenset() if undecided else _decided(session, round_id, stage.code, NEGATIVE)
    return sorted(x for x in subjects if (x not in gone or x in own) and _in_cat(p, x, category))


# -- carrying out an action -------------------------------------------------------------------


def _base_context(p: Programme, action: Action) -> dict[str, Any]:
    stage = p.stage(action.stage)
    # "贵单位应于…前提交{item}": a stage named 提交揭榜书 is handed in as 揭榜书.
    item = re.sub(r"^(提交|报送|上报)", "", stage.name) + (f"（{action.period}）" if action.period else "")
    if action.category:
        item += f"（{p.category(action.category).name}类）"
    return {
        "programme_name": p.round.name,
        "round_code": p.round.code,
        "sender_name": p.unit(stage.sender or p.round.issuer).name,
        "stage_name": stage.name,
        "title": action.title,
        "item": item,
        "deadline": action.deadline,
        "working_days_left": action.workdays_left or 0,
        "at": action.at,
        # The letter's date is the moment the action is for (live, simulated, caught up or
        # backfilled), never the wall clock of the machine that renders it.
        "today": action.at.date(),
        # A voluntary window (an award application) invites; it does not demand.
        "voluntary": bool(stage.voluntary),
    }


def carry_out(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> Outcome:
    """Do what an action establishes and return the messages it owes. Idempotent."""
    handler = HANDLERS.get(action.action)
    if handler is None:  # the registry and the handlers are kept complete by a test
        raise TimetableError(f"动作种类 {action.action!r} 没有处理程序")
    return handler(session, p, round_id, action)


def _drafts(units: list[str], template: str, p: Programme, action: Action, *, internal: bool = False,
            **extra: Any) -> list[Draft]:
    """One draft per unit. An office does not write letters to itself (it may owe its own part
    of an assessment); ``internal`` messages (a decision request to the office's own reviewers)
    are signed by the system instead."""
    ctx = _base_context(p, action) | extra
    sender = p.stage(action.stage).sender or p.round.issuer
    if internal:
        ctx["sender_name"] = SYSTEM_SENDER
    return [
        Draft(u, template, ctx | {"unit_name": p.unit(u).name, "unit_code": u}, action.key, ctx["today"])
        for u in units
        if internal or u != sender
    ]


def _publish(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = resolve(session, p, round_id, stage.notify, action.category)
    extra = {}
    if stage.notify is not None and stage.notify.approved_at:
        extra["takers"] = units  # the published list: who was approved
    return Outcome(action, _drafts(units, "publication.j2", p, action, **extra),
                   note=f"{action.title}：通知 {len(units)} 个单位")


def _window_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    announced = [k for k in crud.done_keys_named(session=session, round_id=round_id, name=action.name)
                 if k != action.key]
    if announced:
        # Opened before for another deadline (the round was amended): a notice of the new
        # deadline, to the units that still owe the submission, not to those who handed in.
        was = max(dt.date.fromisoformat(k.rpartition("@")[2]) for k in announced)
        units = outstanding(session, p, round_id, action)
        assert action.deadline is not None  # a window's opening serves its deadline
        # Dated the day the change was recorded: the opening's own day came before it.
        amended = crud.last_amendment_at(session=session, round_id=round_id)
        on = clock.to_local(amended).date() if amended else clock.today()
        left = default_calendar().workdays_between(on, action.deadline.date())
        return Outcome(action, _drafts(units, "deadline_moved.j2", p, action, moved_from=was, today=on,
                                       working_days_left=left),
                       note=f"{action.title}：截止日由 {was:%Y-%m-%d} 改为 {action.deadline:%Y-%m-%d}，"
                            f"通知尚未提交的 {len(units)} 个单位")
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
    sender = p.stage(action.stage).sender or p.round.issuer
    for parent, children in sorted(by_parent.items()):
        if parent == sender:  # the office is the superior: it urges (督办) the overdue units itself
            for child in children:
                drafts += _drafts([child], "escalation.j2", p, action, parent_name=p.unit(child).name,
                                  child_name=p.unit(child).name, direct=True, days_overdue=_days_overdue(action))
            continue
        drafts += _drafts([parent], "escalation.j2", p, action, parent_name=p.unit(parent).name,
                          child_name="、".join(p.unit(c).name for c in children), direct=False,
                          days_overdue=_days_overdue(action))
    return Outcome(action, drafts, note=f"{action.title}：{len(units)} 个单位逾期，督办 {len(by_parent)} 个上级",
                   counts={"escalated": len(units)})


def ineligible(session: Session, p: Programme, window: Stage, subjects: list[str]) -> dict[str, str]:
    """Subjects a window's ``eligibility`` refuses, with the reason, read from earlier rounds."""
    rule = window.eligibility.not_awarded if window.eligibility else None
    if rule is None or not subjects:
        return {}
    family = rule.programme or p.round.programme
    year = p.round.years[0]
    won: dict[str, tuple[int, str]] = {}
    for unit, won_in, code in crud.earlier_awards(session=session, programme=family, grades=rule.grades,
                                                  before_round=p.round.code):
        if year - won_in < rule.years and won_in > won.get(unit, (0, ""))[0]:
            won[unit] = (won_in, code)
    out = {}
    for subject in subjects:
        unit = subject.partition(":")[0]
        if unit in won:
            won_in, code = won[unit]
            out[subject] = (f"不符合申报条件：{won_in}年已获{family}（{code}），"
                            f"获奖满{rule.years}年后（{won_in + rule.years}年起）方可再次申报")
    return out


def _decision_due(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    pending = pending_decisions(session, p, round_id, stage, action.category)
    target = p.stage(stage.decides) if stage.decides else None
    refused = ineligible(session, p, target, pending) if target is not None else {}
    for subject, reason in refused.items():  # decided by the rule, audited like any decision
        crud.put_decision(session=session, round_id=round_id, stage=stage.code, subject=subject,
                          outcome="rejected", decided_by="rule:eligibility", note=reason, decided_at=action.at)
        crud.audit(session=session, actor="rule:eligibility", action=f"decide:{stage.code}",
                   round_code=p.round.code, detail={"subject": subject, "outcome": "rejected", "note": reason})
    pending = [x for x in pending if x not in refused]
    drafts = []
    if pending:
        titles = Counter(_subject_title(p, stage, s) for s in pending)
        # A readable message: the first few subjects and counts; the full list is `qcycle decide
        # --list` (at national scale it is thousands of lines, and a bot truncates at 2–4 KB).
        listed = pending[:LISTED_IN_DECISION_REQUEST]
        received = _handed_in_at(session, round_id, target, listed) if target is not None else {}
        items = [{"programme_name": p.round.name, "title": _subject_title(p, stage, s),
                  "unit_name": p.unit(s.partition(":")[0]).name, "received_at": received.get(s)}
                 for s in listed]
        drafts = _drafts([p.round.issuer], "decision_pending.j2", p, action, internal=True, items=items,
                         total=len(pending),
                         by_title=[{"title": t, "count": n} for t, n in titles.most_common()])
    note = f"{action.title}：待决定 {len(pending)} 项" + (f"，不符合申报条件自动不予通过 {len(refused)} 项" if refused else "")
    return Outcome(action, drafts, pending=pending, note=note,
                   counts={"pending": len(pending), **({"ineligible": len(refused)} if refused else {})})


def _handed_in_at(session: Session, round_id: uuid.UUID, window: Stage, subjects: list[str]) -> dict[str, Any]:
    """When each subject's hand-in at a window arrived (the first accepted one); empty for a
    decision on an earlier decision or an assessment, where nothing was handed in."""
    if window.submission is None or not subjects:
        return {}
    subject = _subject_column()
    rows = session.exec(select(subject, func.min(Submission.submitted_at)).where(
        Submission.round_id == round_id, Submission.stage == window.code, Submission.status == "accepted",
        subject.in_(subjects)).group_by(subject)).all()
    return dict(rows)


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
    grades: dict[str, int] = defaultdict(int)
    for r in results:
        grades[r.grade] += 1
    summary = "，".join(f"{grade_label(g)} {grades[g]}" for g in scheme.grade_names if grades[g])
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
    """Assessed subjects: 'unit:item' where the selection reaches list items, else unit codes."""
    scheme = p.assessment
    assert scheme is not None
    return select_subjects(session, p, round_id, scheme.subjects, category)


def _rejections(session: Session, p: Programme, round_id: uuid.UUID) -> dict[str, str]:
    """Subject → the name of the decision stage that rejected it (the first, in stage order)."""
    order = {s.code: i for i, s in enumerate(p.stages)}
    rows = session.exec(select(Decision.subject, Decision.stage, Decision.decided_by, Decision.note).where(
        Decision.round_id == round_id, col(Decision.outcome).in_(NEGATIVE))).all()
    out: dict[str, str] = {}
    for subject, stage, by, note in sorted(rows, key=lambda r: order.get(r[1], 99)):
        if p.has_stage(stage):
            # A rule's reason is the applicant's to know (e.g. 获奖满5年后方可再次申报).
            why = f"（{note}）" if by.startswith("rule:") and note else ""
            out.setdefault(subject, p.stage(stage).name + why)
    return out


def _notify(session, p, round_id, action) -> Outcome:
    """Results (or praise, or any notification) to the units the stage selects; each letter
    names the unit's own subjects with their grades, and those that left the round at a
    decision with the step that rejected them."""
    stage = p.stage(action.stage)
    rows = _results(session, round_id, None)
    by_unit: dict[str, list[AssessmentResult]] = defaultdict(list)
    gone = eliminated(session, round_id)  # rejected after scoring: the letter says so, not the grade
    for r in rows:
        if _in_cat(p, r.unit_code, action.category) and r.unit_code not in gone:
            by_unit[r.unit_code.partition(":")[0]].append(r)
    units = resolve(session, p, round_id, stage.notify, action.category) if stage.notify else sorted(by_unit)
    template = stage.template + ".j2" if stage.template else "result.j2"
    praise = template in ("praise.j2", "award.j2")  # honours: every selected unit, no result lines
    rejected: dict[str, list[str]] = defaultdict(list)
    itemised: set[str] = set()  # units with a rejected list item
    if not praise:
        for subject, step in _rejections(session, p, round_id).items():
            if _in_cat(p, subject, action.category):
                name = p_item_name(p, subject)
                rejected[subject.partition(":")[0]].append(f"{name + '：' if name else ''}未通过{step}")
                if name:
                    itemised.add(subject.partition(":")[0])
    missing = _missing_in(session, p, round_id, stage.notify, action.category)
    label = (p.assessment.result_label if p.assessment and p.assessment.result_label
             else "评价确认结果" if p.categories else "考核结果")
    if p.round.name.endswith(label[:2]):  # 焦作市…质量工作考核 + 考核结果 → …考核结果
        label = label[2:] or label
    order = p.assessment.grade_names if p.assessment else []
    drafts = []
    for u in units:
        mine = sorted(by_unit.get(u, []), key=lambda r: r.unit_code)
        lines = [f"{p_item_name(p, r.unit_code) + '：' if p_item_name(p, r.unit_code) else ''}{grade_label(r.grade)}"
                 for r in mine] + rejected.get(u, [])
        # What the unit did not pass or did not hand in: the grounds of a summons (约谈).
        grounds = rejected.get(u, []) + [f"未按期报送“{p.stage(code).name}”" for code, late in missing if u in late]
        if not (lines or grounds or praise):
            continue
        score = "；".join(f"{r.total:.2f}" for r in mine) or None
        # A unit with list items (or several results) gets one line per subject, its score
        # beside its grade: "某项目：良好（得分81.27）".
        named = any(p_item_name(p, r.unit_code) for r in mine) or u in itemised or len(lines) > 1
        item_lines = ([f"{p_item_name(p, r.unit_code) or p.unit(u).name}：{grade_label(r.grade)}（得分{r.total:.2f}）"
                       for r in mine] + rejected.get(u, [])) if named else []
        best = min((r.grade for r in mine), key=lambda g: order.index(g) if g in order else len(order), default=None)
        items = "、".join(n for n in (p_item_name(p, r.unit_code) for r in mine if r.grade == best) if n)
        what = f"（{items}）" if items else ""
        achievement = (f"在{p.round.name}{what}中被评为{grade_label(best)}" if best
                       else f"在{p.round.name}中表现突出")
        drafts += _drafts([u], template, p, action, result_label=label, result="；".join(lines) or "—",
                          score=score, lines=item_lines, achievement=achievement, grounds="；".join(grounds) or "—")
    return Outcome(action, drafts, note=f"{action.title}：通知 {len(drafts)} 条")


def _missing_in(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
                category: str | None) -> list[tuple[str, set[str]]]:
    """(stage, units that never handed in there) for every ``missing_at`` a selection names."""
    if who is None:
        return []
    out = []
    if who.missing_at:
        out.append((who.missing_at, set(select_subjects(session, p, round_id, Who(missing_at=who.missing_at),
                                                        category))))
    for alt in who.any_of:
        out += _missing_in(session, p, round_id, alt, category)
    return out


def p_item_name(p: Programme, subject: str) -> str | None:
    _, _, item = subject.partition(":")
    return next((i.name for _, i in p.items if i.code == item), None) if item else None


def _notice_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = resolve(session, p, round_id, stage.notify, action.category)
    name = stage.name + (f"（{p.category(action.category).name}）" if action.category else "")
    return Outcome(action, _drafts(units, "notice.j2", p, action, notice_name=name, notice_days=stage.days,
                                   objection_deadline=action.deadline),
                   note=f"{action.title}：通知 {len(units)} 个单位")


def _followup_open(session, p, round_id, action) -> Outcome:
    stage = p.stage(action.stage)
    units = owers(session, p, round_id, stage, action.category)
    assert stage.owed_by is not None
    left = None
    if action.deadline is not None:
        from qcycle.workcal import default_calendar

        left = default_calendar().workdays_between(action.at.date(), action.deadline.date())
    return Outcome(action, _drafts(units, "rectification.j2", p, action, reason=_reason(p, stage.owed_by),
                                   rectification_deadline=action.deadline, working_days_left=left),
                   note=f"{action.title}：{len(units)} 个单位须整改", counts={"rectification": len(units)})


def _reason(p: Programme, who: Who) -> str:
    """Why a unit owes a follow-up, as the letter reads after "贵单位在{周期}中": 被评为D级,
    排名后3名, “整改审核”未获通过 …"""
    parts = []
    if who.grades:
        parts.append("被评为" + "或".join(grade_label(g) for g in who.grades))
    if who.rank is not None:
        parts.append(who.rank.describe())
    if who.rejected_at:
        parts.append(f"“{p.stage(who.rejected_at).name}”未获通过")
    if who.missing_at:
        parts.append(f"未按期报送“{p.stage(who.missing_at).name}”")
    if who.approved_at and not parts:
        parts.append(f"经“{p.stage(who.approved_at).name}”确定")
    parts += [_reason(p, alt) for alt in who.any_of]
    return "，".join(x for x in parts if x) or "经研究确定"


HANDLERS = {
    "publish": _publish,
    "event": _publish,
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
