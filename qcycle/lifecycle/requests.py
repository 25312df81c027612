"""What the office and the reviewers are asked: the 待审核 letter a decision's request sends (ahead
of the decision's day, and on it), with the first subjects pending by name and the rest counted;
who will review their own subordinates' hand-ins (told with the call); and, once the window has
closed, each reviewer's list (or that it has none)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.answers import refused_on
from qcycle.lifecycle.costs import missing_rule
from qcycle.lifecycle.drafting import (
    draft_letters,
    handed_in_item,
    items_named,
    reviewer_step,
    reviewers_named,
    written_on,
)
from qcycle.lifecycle.eligibility import INELIGIBLE
from qcycle.lifecycle.outcome import Draft
from qcycle.lifecycle.plan import round_timetable
from qcycle.lifecycle.standing import handed_in_at, missed_subjects, objections_upheld
from qcycle.lifecycle.who import outstanding, owers, p_item_name, resolve
from qcycle.lifecycle.wording import SECTOR, belonging, counted_as, places_counted_as
from qcycle.models import NEGATIVE_OUTCOMES
from qcycle.schema import Programme, Stage, StageKind
from qcycle.timetable import Action

__all__ = [
    "LISTED_IN_DECISION_REQUEST",
    "approved_by_reviewer",
    "decision_letter",
    "places_key",
    "review_letters",
    "reviewers_of",
]

# How many pending subjects a decision request lists by name (the rest are counted).
LISTED_IN_DECISION_REQUEST = 20


def decision_letter(session: Session, p: Programme, round_id: uuid.UUID, action: Action, pending: list[str],
                    due: dt.datetime | None, ruled: Collection[str] = ()) -> list[Draft]:
    """The 待审核 letter to the office: the first subjects pending and the counts, and by when; ``ruled``: those the
    decision's rule has just decided as never handed in (rejects_missing), named with the others missing."""
    stage = p.stage(action.stage)
    target = p.stage(stage.decides) if stage.decides else None
    # Counted by list item: the letter is about one step already ("审核揭榜书：" had begun each of ten lines).
    titles = Counter(p_item_name(p, s) or stage.name for s in pending)
    # A readable message: the first few subjects and counts; the full list is `qcycle decide
    # --list` (at national scale it is thousands of lines, and a bot truncates at 2–4 KB).
    listed = pending[:LISTED_IN_DECISION_REQUEST]
    received = handed_in_at(session, round_id, target, listed) if target is not None else {}
    # A hand-in taken late (accept_flag) is marked: the reviewer decides knowing it.
    handed = p.material(target) if target is not None and target.submission else None
    items = [{"programme_name": p.round.name, "item": p_item_name(p, s),
              "unit_name": p.unit(s.partition(":")[0]).name, "received_at": received.get(s, crud.NO_HAND_IN).at,
              "late": received.get(s, crud.NO_HAND_IN).late} for s in listed]
    # Those owing the window who never handed it in are not to decide (a rule decides them where rejects_missing says):
    # named, so that the office sees whom its 现场检查 cannot reach (3 of 8 drawn laboratories were never decided).
    missing: list[str] = []
    refused: list[str] = []
    if target is not None and target.owed_by is not None and not target.voluntary:
        # As a selection of those who missed it reads it (items, periods, units joined later), item by item where the
        # window is owed so (四川's 遂宁 and 达州 each owed one 评价确认申请 more, and the letter named 广元 alone); one
        # refused as late was told so (不予受理), and is said apart: the letter accounts for every unit owing it (塔山所
        # appeared nowhere).
        late = set(crud.handed_in_subjects(session=session, round_id=round_id, stage=target.code, period=None,
                                           category=action.category, item_category=p.item_category,
                                           status="rejected_late"))
        late |= {s.partition(":")[0] for s in late}
        # The rule's 不同意 takes a list item out of what is owed (rejected at a step), not out of what was never sent.
        missed = sorted(set(missed_subjects(session, p, round_id, target, action.category)) | set(ruled))
        missing = [s for s in missed if s not in late]
        refused = [s for s in missed if s in late]
    file = getattr(crud.get_round(session=session, code=p.round.code), "config_path", None)  # for `qcycle decide`
    # By when, as the letter's own day reads it: ahead, today, or (a run caught up late) already past.
    on = written_on(action)
    when = None if due is None else "ahead" if due.date() > on else "today" if due.date() == on else "past"
    return draft_letters([p.round.issuer], "decision_pending.j2", p, action, internal=True, items=items, handed_in=handed,
                         total=len(pending), programme_file=file, upheld=objections_upheld(session, p, round_id, stage.code),
                         by_title=[{"title": t, "count": n} for t, n in titles.most_common()], due=due, due_when=when,
                         reviewed_step=reviewer_step(stage.name) if stage.reviewed_by else None,
                         reviewers=reviewers_named(stage.name) if stage.reviewed_by else None,
                         **_unaccounted(p, "missing", missing), **_unaccounted(p, "refused", refused),
                         # The rule decides them on the day (rejects_missing): said, so that the office sees whom it
                         # will 通报批评 (镇江's 质量月 decided four units by rule in a letter that named none of them).
                         by_rule=missing_rule(p, target.code) if stage.rejects_missing and target is not None else None)


def _unaccounted(p: Programme, key: str, subjects: list[str]) -> dict[str, Any]:
    """Subjects (units, or 'unit:item') not to decide, as the 待审核 letter names them: ``key`` the first units' names,
    each with the items it owes ("遂宁市市场监督管理局的“质量基础设施‘一站式’服务成效明显地方”"); ``key_total`` how
    many (items where owed item by item, ``key_items``); ``key_more`` whether some units are not named."""
    by_unit: dict[str, list[str]] = defaultdict(list)
    for s in subjects:
        unit, _, item = s.partition(":")
        by_unit[unit].extend([item] if item else [])
    named = [f"{p.unit(u).name}的{items_named(p, u, items)}" if items else p.unit(u).name
             for u, items in list(by_unit.items())[:LISTED_IN_DECISION_REQUEST]]
    return {key: named, f"{key}_total": len(subjects), f"{key}_items": any(":" in s for s in subjects),
            f"{key}_more": len(by_unit) > len(named)}


def _scopes(p: Programme, owing: Iterable[str]) -> Callable[[str], str]:
    """Whose hand-ins a parent reviews, as its letters say: a government's or a county bureau's
    "辖区内"; a department's "所在行业（系统）内" (余姚's 住建局 has no 辖区: it recommends the
    enterprises of its own sector); a bureau's own 所 or departments "所属" (a 区局 had been asked for
    its opinion on "辖区内单位", its own 市场监管所). The owing units grouped by parent once."""
    kids: dict[str, list[str]] = defaultdict(list)
    for u in owing:
        if (parent := p.unit(u).parent) is not None:
            kids[parent].append(u)
    return lambda parent: SECTOR if p.unit(parent).level == "department" else belonging(p, kids.get(parent, []))


def _reviewing_parents(p: Programme, owing: list[str], stage: Stage) -> set[str]:
    """The units that review, at ``stage`` (``reviewed_by``), the hand-ins ``owing`` units may make."""
    return {reviewer for u in owing if (reviewer := p.reviewer(stage.code, u))}


def approved_by_reviewer(p: Programme, code: str, outcomes: Iterable[tuple[str, str]]
                         ) -> dict[tuple[str, str | None], list[str]]:
    """(Reviewer, category) → the subjects approved at the decision stage ``code``, of ``(subject, outcome)``:
    what a reviewer's places (``per_reviewer``) are counted against. A stage decided per category (a batch)
    gives places per category (绍兴's 柯桥区 had used its 3 on the first batch, and the second's were refused
    "名额已满"); otherwise the category is None."""
    out: dict[tuple[str, str | None], list[str]] = {}
    for subject, outcome in outcomes:
        reviewer, category = places_key(p, code, subject)
        if outcome not in NEGATIVE_OUTCOMES and reviewer:
            out.setdefault((reviewer, category), []).append(subject)
    return out


def places_key(p: Programme, code: str, subject: str) -> tuple[str | None, str | None]:
    """Whose places a subject's approval at the decision stage ``code`` takes: (its reviewer, its category where the
    stage is decided per category, else None)."""
    reviewer = p.reviewer(code, subject.partition(":")[0], asked=False)
    return reviewer, p.item_category.get(subject.partition(":")[2]) if p.stage(code).per_category else None


def _after(p: Programme, stage: Stage) -> str | None:
    """The step a second-level review follows (a 市级推荐's 县级初审), None for a first level."""
    before = p.stage(stage.decides) if stage.decides else None
    return before.name if before is not None and before.kind is StageKind.decision else None


def _called(session: Session, p: Programme, round_id: uuid.UUID, window: Stage, category: str | None) -> set[str]:
    """The units the call announcing ``window``'s opening, or listing it among what follows, was addressed to, once
    that call was carried out: of the reviewers, only they were told with it that they would review."""
    done = crud.done_action_keys(session=session, round_id=round_id)
    calls = [a for a in round_timetable(session, p, round_id).actions if a.key in done and any(
        o["stage"] == window.code and o["category"] == category
        for k in ("openings", "later", "invited", "reviewed") for o in a.detail.get(k, ()))]  # as _later_reviews tells
    return {u for a in calls for u in resolve(session, p, round_id, p.stage(a.stage).notify, a.category)}


def reviewers_of(session: Session, p: Programme, round_id: uuid.UUID, window: Stage,
                 category: str | None) -> dict[str, dict[str, Any]]:
    """Units that will review the window's hand-ins of their own subordinates (a 县级初审, ``reviewed_by:
    parent``), each with its step and the day its opinions are due: told when the call goes out (福州's
    county bureaus heard of their 初审 only when the applications had closed)."""
    reviews = p.reviews_of(window.code)
    if not reviews:
        return {}
    # Once per call, not per reviewing stage: the timetable is rebuilt from the database each time.
    actions = round_timetable(session, p, round_id).actions
    owing = owers(session, p, round_id, window, category)
    scope = _scopes(p, owing)
    out: dict[str, dict[str, Any]] = {}
    for stage in reviews:
        due = next((a.at for a in actions if a.stage == stage.code and a.action == "decision_due"
                    and a.category in (None, category)), None)
        # The deadline the review follows (宁川's 复核 reads three quarters: the call had said the first's).
        asked = next((a for a in actions if a.stage == stage.code and a.action == "review_request"
                      and a.category in (None, category) and "closes" in a.detail), None)
        closes = dt.date.fromisoformat(asked.detail["closes"]) if asked else None
        out |= {parent: {"item": p.material(window), "step": reviewer_step(stage.name), "due": due, "closes": closes,
                         "scope": scope(parent), "after": _after(p, stage), "limit": stage.places_for(p.unit(parent).level),
                         "word": counted_as(p, owing),
                         # Handed in to the reviewer itself (report_to: parent): it receives them, no list comes from us.
                         "received": window.report_to == "parent" and stage.decides == window.code}
                for parent in sorted(_reviewing_parents(p, owing, stage)) if due is not None}
    return out


def review_letters(session: Session, p: Programme, round_id: uuid.UUID, action: Action, stage: Stage,
                   pending: list[str], *, reminding: bool = False, refused: Mapping[str, str] | None = None
                   ) -> tuple[list[Draft], int, int]:
    """The letters of a 县级初审's request (``stage``, ``reviewed_by: parent``): each pending subject's
    parent is asked to review its own, listed with when each was handed in; a parent told with the
    call that it would review, with nothing of its own to review now, is told so (余姚's 凤山街道
    read "具体名单届时另行通知" and heard nothing more); one never told is not. Returns the drafts,
    how many parents are asked and how many subjects. ``refused``: those the programme's eligibility rule refuses
    (subject → reason), named to their reviewer apart (a 设区市局 receiving the applications itself had been told of
    4 of its 6 applicants, and nothing of the 2 earlier winners)."""
    window = p.reviewed_window(stage.code)
    assert window is not None
    by_parent: dict[str, list[str]] = defaultdict(list)
    for subject in pending:
        if reviewer := p.reviewer(stage.code, subject.partition(":")[0]):
            by_parent[reviewer].append(subject)
    received = handed_in_at(session, round_id, window, [s for subjects in by_parent.values() for s in subjects])
    # A reminder goes to those with something still to review only.
    owing = owers(session, p, round_id, window, action.category)
    scope = _scopes(p, owing)
    told = set() if reminding else _reviewing_parents(p, owing, stage) & _called(session, p, round_id, window, action.category)
    drafts = []
    per_item = any(":" in s for s in pending)
    # A window closing per category (a second batch) is named with its batch: "“申报书”已截止受理" in
    # September had read as the March window's.
    handed = handed_in_item(p, window, category=action.category if window.per_category else None)
    missing = {} if reminding or _after(p, stage) else _handed_nothing_in(session, p, round_id, action, stage, window, by_parent)
    # Refused as late (不予受理): 黄山's 区县局 were asked to review their units and never told of the one refused.
    listed = {s.partition(":")[0] for subjects in by_parent.values() for s in subjects}
    asked = not (reminding or _after(p, stage)) and window.lateness == "reject"  # only a closed window refuses
    late = {reviewer: [p.unit(u).name for u in units] for reviewer, units in _by_reviewer(
        p, stage, refused_on(session, round_id, window.code).keys() - listed if asked else set()).items()}
    barred: dict[str, list[str]] = defaultdict(list)
    for subject, why in (refused or {}).items():
        if reviewer := p.reviewer(stage.code, subject.partition(":")[0]):
            name = p.unit(subject.partition(":")[0]).name
            barred[reviewer].append(f"{name}（{why.removeprefix(INELIGIBLE + '：')}）")
    for parent in sorted(told | by_parent.keys() | missing.keys() | barred.keys() | late.keys()):
        items = [{"unit_name": p.unit(s.partition(":")[0]).name, "item": p_item_name(p, s),
                  "received_at": received.get(s, crud.NO_HAND_IN).at, "late": received.get(s, crud.NO_HAND_IN).late}
                 for s in by_parent.get(parent, [])]
        # Places count what is decided, its list items where it decides on items: 8 units' 9 projects
        # had read "以下9个单位…推荐不超过3家".
        drafts += draft_letters([parent], "review_request.j2", p, action, items=items, handed_in=handed,
                                step=reviewer_step(stage.name), scope=scope(parent), after=_after(p, stage),
                                limit=stage.places_for(p.unit(parent).level), per_item=per_item,
                                units_count=len({s.partition(":")[0] for s in by_parent.get(parent, [])}),
                                word=places_counted_as(p, pending), reminder=reminding,
                                missing=[p.unit(u).name for u in missing.get(parent, [])], barred=barred.get(parent, []),
                                refused_units=late.get(parent, []))
    return drafts, len(by_parent), sum(len(v) for v in by_parent.values())


def _handed_nothing_in(session: Session, p: Programme, round_id: uuid.UUID, action: Action, stage: Stage,
                       window: Stage, reviewing: dict[str, list[str]]) -> dict[str, list[str]]:
    """Reviewer → its own units that owed the reviewed window and handed nothing in by the deadline the
    request follows (某省's cities, asked to check their enterprises' 备案, had to ask the province who had
    none). Not for a voluntary window: not applying is no gap."""
    if window.voluntary:
        return {}
    closes = action.detail.get("closes")
    last: dict[str | None, Action] = {}  # each category's last deadline by the one the request follows
    for a in round_timetable(session, p, round_id).actions:
        if (a.stage == window.code and a.action == "deadline" and a.unit is None
                and (action.category is None or a.category in (None, action.category))
                and (a.at.date().isoformat() <= closes if closes else a.at <= action.at)
                and (a.category not in last or last[a.category].at < a.at)):
            last[a.category] = a
    listed = {s.partition(":")[0] for subjects in reviewing.values() for s in subjects}
    missing = {u for a in last.values() for u in outstanding(session, p, round_id, a, less_refused=True)}
    return _by_reviewer(p, stage, missing - listed)


def _by_reviewer(p: Programme, stage: Stage, units: Collection[str]) -> dict[str, list[str]]:
    """Each reviewer of ``stage`` → its units of ``units``, in the file's order (as a request lists its own)."""
    order = p.unit_place
    out: dict[str, list[str]] = defaultdict(list)
    for unit in sorted(units, key=lambda u: order.get(u, len(order))):
        if reviewer := p.reviewer(stage.code, unit):
            out[reviewer].append(unit)
    return out
