"""What units are told when the round's plan changes (an amendment): a deadline moved, an
event moved after its notice went out, a list item taken out (撤销). Each is told once, to
the units it concerns, dated the day the change was recorded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.amendments import PlanChange
from qcycle.lifecycle.drafting import draft_letters, naming_owed, workdays_left, written_on
from qcycle.lifecycle.outcome import Draft, Outcome
from qcycle.lifecycle.who import (
    POSITIVE,
    decided,
    eliminated,
    outstanding,
    owed_items,
    resolve,
    stage_outcomes,
)
from qcycle.schema import Programme
from qcycle.timetable import Action, expand
from qcycle.workcal import default_calendar

__all__ = ["amendment_drafts", "extension_granted", "moved_deadline", "told_before"]


def told_before(session: Session, round_id: uuid.UUID, action: Action) -> list[str]:
    """Keys of the same action carried out for another day: its deadline or event has moved."""
    return [k for k in crud.done_keys_named(session=session, round_id=round_id, name=action.name) if k != action.key]


def _amended_on(session: Session, round_id: uuid.UUID, action: Action) -> dt.date:
    """The day the change was recorded, never after the moment that sends its letter: a change
    recorded today and run for past dates (backfill) must not date a letter of 2023 in 2026."""
    amended = crud.last_amendment_at(session=session, round_id=round_id)
    return min(clock.to_local(amended).date(), written_on(action)) if amended else written_on(action)


def moved_deadline(session: Session, p: Programme, round_id: uuid.UUID, action: Action) -> Outcome | None:
    """An opening (a window's, a follow-up's) done before for another deadline: a notice of the
    new deadline to the units that still owe the submission, not to those who handed it in, and
    not the whole opening letter again. None when it was not opened before."""
    announced = told_before(session, round_id, action)
    if not announced:
        return None
    was = max(dt.date.fromisoformat(k.rpartition("@")[2]) for k in announced)
    owed = owed_items(session, p, round_id, action)
    units = outstanding(session, p, round_id, action, owed=owed)
    assert action.deadline is not None  # an opening serves its deadline
    on = _amended_on(session, round_id, action)
    # Items named as that day's reminder names them: merged into one letter, they are one thing owed.
    return Outcome(action, draft_letters(units, "deadline_moved.j2", p, action, moved_from=was, today=on,
                                         working_days_left=workdays_left(action, on), own=naming_owed(p, action, owed)),
                   note=f"{action.title}：截止日由 {was:%Y-%m-%d} 改为 {action.deadline:%Y-%m-%d}，"
                        f"通知尚未提交的 {len(units)} 个单位")


def extension_granted(p: Programme, actions: Sequence[Action], unit: str, stage: str, period: str | None,
                      moved_from: dt.date | None, on: dt.date) -> list[Draft]:
    """The 【同意延期】 letter to a unit given its own deadline (``qcycle extend``), dated ``on``, by
    email only: its reminders, overdue notice and 督办 already follow the new date, and it heard of
    the grant from nobody. ``actions``: the round's plan with the extension in it."""
    own = next((a for a in actions if a.action == "deadline" and a.unit == unit and a.stage == stage
                and a.period == period), None)
    if own is None:  # overtaken since by a later deadline for all: nothing of its own to tell
        return []
    key = f"extend:{stage}{':' + period if period else ''}:{unit}@{own.at:%Y-%m-%dT%H%M}"
    return [dataclasses.replace(d, action_key=key, key_day=on)
            for d in draft_letters([unit], "extension_granted.j2", p, own, private=True, deadline=own.at,
                                   moved_from=moved_from, today=on)]


def amendment_drafts(session: Session, before: Programme, p: Programme, round_id: uuid.UUID,
                     changes: Sequence[PlanChange], on: dt.date) -> list[Draft]:
    """The letters an amendment itself causes, the day it is recorded: events moved after their
    notice went out, list items taken out, list items added while applications are taken."""
    return (_event_moves(session, p, round_id, changes, on) + _withdrawals(session, before, p, round_id, on)
            + _additions(session, before, p, round_id, on))


def _event_moves(session: Session, p: Programme, round_id: uuid.UUID, changes: Sequence[PlanChange],
                 on: dt.date) -> list[Draft]:
    """An event whose notice (安排通知) already went out and whose day has changed: its units are
    told now (改期), not on the new notice's own day, which may be the day they prepared for.
    The new notice, when due, finds this one done before it and writes nothing."""
    drafts: list[Draft] = []
    for c in changes:
        if c.old is None or c.new is None or c.old.action != "event_notice" or not c.done:
            continue
        assert c.old.deadline is not None and c.new.deadline is not None
        was, now = c.old.deadline.date(), c.new.deadline.date()
        if was == now:
            continue
        stage = p.stage(c.new.stage)
        units = resolve(session, p, round_id, stage.notify, c.new.category)
        drafts += [dataclasses.replace(d, action_key=f"amend:{c.new.key}", key_day=on)
                   for d in draft_letters(units, "event_notice.j2", p, c.new, event_on=now,
                                          event_until=stage.last_day(now, default_calendar()), moved_from=was, today=on,
                                          time_of_day=stage.time_of_day, place=stage.place)]
    return drafts


def _later_work(actions: Sequence[Action], p: Programme, takers: str, on: dt.date) -> list[str]:
    """The stages still to come on ``on`` that the takers owe or are told of (what a withdrawn
    item's letter says will not happen), in plan order; not the letters' wording of one
    programme ("中期检查、评价") for every other."""
    reads = {s.code for s in p.stages
             if any(who is not None and takers in who.stages() for who in (s.owed_by, s.notify))}
    names: list[str] = []
    for a in actions:
        name = p.stage(a.stage).name
        if a.stage in reads and a.at.date() >= on and name not in names:
            names.append(name)
    return names


def _withdrawals(session: Session, before: Programme, p: Programme, round_id: uuid.UUID,
                 on: dt.date) -> list[Draft]:
    """One letter to each taker of a list item taken out of the file (撤销), and to each unit
    whose application for it was not yet decided: after it, nothing about the item reaches
    them (see :func:`qcycle.lifecycle.who.in_category`)."""
    stage = before.takers_stage
    gone_items = {i.code: i.name for _, i in before.items if i.code not in p.item_category}
    if stage is None or not gone_items:
        return []
    taken = sorted(decided(session, round_id, stage.code, POSITIVE) - eliminated(session, p, round_id))
    applied: list[str] = []
    if stage.decides:  # applied for it, not decided yet: their application is not reviewed
        applied = sorted(crud.accepted_subjects(session=session, round_id=round_id, stage=stage.decides,
                                                category=None, item_category=before.item_category)
                         - stage_outcomes(session, round_id, stage.code).keys())
    actions = expand(before, default_calendar()).actions
    ctx = {"programme_name": p.round.name, "round_code": p.round.code, "sender_name": p.unit(p.round.issuer).name,
           "today": on, "contact": p.round.contact, "later_work": "、".join(_later_work(actions, before, stage.code, on)),
           # Applications still taken: one for the withdrawn item may go to another.
           "reapply_by": next((a.at for a in actions if a.action == "deadline" and a.stage == stage.decides
                               and a.at.date() >= on), None)}
    drafts = []
    for subject, pending in [(s, False) for s in taken] + [(s, True) for s in applied]:
        unit, _, item = subject.partition(":")
        if item in gone_items and p.has_unit(unit):
            drafts.append(Draft(unit, "withdrawal.j2", ctx | {"unit_name": p.unit(unit).name, "unit_code": unit,
                                                             "item_name": gone_items[item], "applied": pending},
                                f"amend:withdraw:{item}@{on:%Y-%m-%d}", on))
    return drafts


def _additions(session: Session, before: Programme, p: Programme, round_id: uuid.UUID, on: dt.date) -> list[Draft]:
    """One letter to each unit that may still apply, naming the list items added to the file
    while applications are taken (the call named only the items of its day: an item added after
    it was announced to nobody)."""
    stage = p.takers_stage
    added = [(c, i) for c, i in p.items if i.code not in before.item_category]
    if stage is None or stage.decides is None or not added:
        return []
    window = p.stage(stage.decides)
    moment = clock.at(on)
    own: dict[str, dict[str, Any]] = {}
    open_windows = [a for a in expand(p, default_calendar()).actions
                    if a.action == "deadline" and a.stage == window.code and a.unit is None and a.at >= moment]
    for a in open_windows:  # a window per category (each with its deadline), or one for all
        items = [{"name": i.name, "category": c.name, "deadline": a.deadline or a.at}
                 for c, i in added if a.category in (None, c.code)]
        for unit in resolve(session, p, round_id, window.owed_by, a.category) if items else ():
            own.setdefault(unit, {"items": []})["items"] += items
    if not own:
        return []
    key = f"amend:add:{'+'.join(i.code for _, i in added)}"
    return [dataclasses.replace(d, action_key=key, key_day=on)
            for d in draft_letters(sorted(own), "item_added.j2", p, open_windows[0], own=own,
                                   handed_in=p.material(window), today=on)]
