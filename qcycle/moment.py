"""One moment of a round without Prefect: what is done, carrying an action out, recording it.

``tasks/`` wraps these as task runs; the benchmark's floor calls them directly, so both run
the same code path.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from sqlmodel import Session

from qcycle import crud
from qcycle.gcpause import only_new_objects_scanned
from qcycle.lifecycle import Outcome, carry_out, refusal_letters
from qcycle.notify.outbox import queue_drafts
from qcycle.schema import Programme
from qcycle.timetable import CHAIN_PASSES, Action, Timetable, due, released

__all__ = ["answer_refusals", "could_refuse", "done_actions", "perform", "record_outcome", "record_skipped", "run_due"]


def done_actions(session: Session, round_id: uuid.UUID) -> set[str]:
    """Keys of the actions recorded done or skipped: what the timetable must not offer again."""
    return set(crud.recorded_actions(session=session, round_id=round_id))


def record_outcome(session: Session, round_code: str, round_id: uuid.UUID, outcome: Outcome, actor: str) -> bool:
    """Mark an action done (unless decisions are still pending) and audit who did it."""
    a = outcome.action
    if outcome.pending:
        crud.audit(session=session, actor=actor, action=f"{a.key}:pending", round_code=round_code,
                   detail={"pending": len(outcome.pending)})
        return False
    new = crud.record_action(session=session, round_id=round_id, action_key=a.key,
                             action=a.action, due_at=a.at, outcome="done", note=outcome.note)
    if new:
        crud.audit(session=session, actor=actor, action=a.key, round_code=round_code,
                   detail={"note": outcome.note, **outcome.counts})
    return new


def record_skipped(session: Session, round_code: str, round_id: uuid.UUID,
                   skipped: list[tuple[Action, str]], actor: str) -> int:
    """Record missed actions that no longer matter, with the reason; returns how many are new."""
    n = 0
    for a, reason in skipped:
        if crud.record_action(session=session, round_id=round_id, action_key=a.key, action=a.action,
                              due_at=a.at, outcome="skipped", note=reason):
            n += 1
            crud.audit(session=session, actor=actor, action=f"{a.key}:skipped", round_code=round_code,
                       detail={"reason": reason})
    return n


def perform(session: Session, p: Programme, round_id: uuid.UUID, action: Action, *,
            template_dir: Path, actor: str, as_of: dt.datetime | None = None) -> Outcome:
    """Carry one action out as of a moment (None: now), queue its messages and record it, in
    the caller's transaction (idempotent: every step is keyed, so a retry redoes nothing; an
    action another run carried out since this one planned is left as it is)."""
    if not crud.claim_action(session=session, round_id=round_id, action_key=action.key):
        return Outcome(action, note=f"{action.title}：已由另一次运行执行")
    with only_new_objects_scanned():  # a national fan-out's letters and rows, beside the programme
        outcome = carry_out(session, p, round_id, action, as_of=as_of)
        if outcome.drafts:
            queue_drafts(session=session, programme=p, round_id=round_id, drafts=outcome.drafts,
                         template_dir=template_dir)
    record_outcome(session, p.round.code, round_id, outcome, actor)
    return outcome


def could_refuse(p: Programme, timetable: Timetable, as_of: dt.datetime) -> bool:
    """Whether a hand-in may have been refused as late by ``as_of``: a window that refuses late
    hand-ins (``lateness: reject``) has had a deadline. Before that a run need not look."""
    stages = p.refusing_stages
    return bool(stages) and any(a.action == "deadline" and a.stage in stages and a.at < as_of
                                for a in timetable.actions)


def answer_refusals(session: Session, p: Programme, round_id: uuid.UUID, timetable: Timetable,
                    as_of: dt.datetime, *, template_dir: Path) -> int:
    """Queue the letters telling units their late hand-ins were refused (不予受理), each once, in
    the caller's transaction; returns how many units are told."""
    drafts = refusal_letters(session, p, timetable, round_id, as_of)
    if drafts:
        queue_drafts(session=session, programme=p, round_id=round_id, drafts=drafts, template_dir=template_dir)
    return len(drafts)


def run_due(p: Programme, round_id: uuid.UUID, timetable: Timetable, as_of: dt.datetime, *,
            template_dir: Path, actor: str) -> list[Outcome]:
    """Everything due as of a moment, without Prefect: skip what no longer matters, carry out
    the rest in order, one transaction per action; actions that waited for a decision this
    pass completed go in the same pass; then late hand-ins refused are answered (as
    ``reconcile`` does)."""
    from qcycle import db

    outcomes: list[Outcome] = []
    ready: set[str] | None = None  # first pass: everything due
    for _ in range(CHAIN_PASSES):
        with db.session_scope() as session:
            plan = due(timetable, as_of, done_actions(session, round_id))
            if plan.skipped:
                record_skipped(session, p.round.code, round_id, plan.skipped, actor)
        todo = [a for a in plan.run if ready is None or a.key in ready]
        if not todo:
            break
        for action in todo:
            with db.session_scope() as session:
                outcomes.append(perform(session, p, round_id, action, template_dir=template_dir, actor=actor,
                                        as_of=as_of))
        ready = released(timetable, as_of, {o.action.key for o in outcomes if not o.pending})
    if could_refuse(p, timetable, as_of):
        with db.session_scope() as session:
            answer_refusals(session, p, round_id, timetable, as_of, template_dir=template_dir)
    return outcomes
