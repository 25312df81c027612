"""Tasks that decide what is due and carry actions out."""

from __future__ import annotations

import datetime as dt
import uuid

from prefect import task
from prefect.cache_policies import NONE
from sqlmodel import select

from qcycle import crud, db
from qcycle.lifecycle import Outcome, carry_out
from qcycle.loader import LoadedProgramme
from qcycle.models import ActionRun
from qcycle.notify.outbox import queue_drafts
from qcycle.timetable import Action, Due, Timetable, due

__all__ = ["carry_out_action", "carry_out_actions", "due_actions", "record_outcome", "record_skipped"]


@task(name="计算到期动作", cache_policy=NONE)
def due_actions(timetable: Timetable, round_id: uuid.UUID, as_of: dt.datetime) -> Due:
    """Ask the timetable what is due, given what the database says is done."""
    with db.session_scope() as session:
        done = set(session.exec(select(ActionRun.action_key).where(ActionRun.round_id == round_id)).all())
    return due(timetable, as_of, done)


@task(name="执行动作", cache_policy=NONE, retries=2, retry_delay_seconds=2,
      task_run_name="{action.key}")
def carry_out_action(loaded: LoadedProgramme, round_id: uuid.UUID, action: Action) -> Outcome:
    """Carry one action out (idempotent) and return its messages."""
    with db.session_scope() as session:
        return carry_out(session, loaded.programme, round_id, action)


def _record(session, round_code: str, round_id: uuid.UUID, outcome: Outcome, actor: str) -> bool:
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


@task(name="执行动作", cache_policy=NONE, retries=2, retry_delay_seconds=2,
      task_run_name="{round_code}·{label}·{count}项")
def carry_out_actions(programme_file: str, round_id: uuid.UUID, actions: list[Action], actor: str,
                      round_code: str, label: str, count: int) -> list[Outcome]:
    """Carry a stage's due actions out, in order: for each, do it, queue its messages and
    record it done, in one transaction per action (idempotent, so a retry redoes nothing).

    One task run per stage flow run, not three per action: a task run costs several
    milliseconds of API calls and a round has hundreds of actions.
    """
    from tasks.rounds import cached_programme

    loaded = cached_programme(programme_file)
    p = loaded.programme
    template_dir = loaded.path.parent / "templates" / p.round.code
    outcomes = []
    for action in actions:
        with db.session_scope() as session:
            outcome = carry_out(session, p, round_id, action)
            if outcome.drafts:
                queue_drafts(session=session, programme=p, round_id=round_id, drafts=outcome.drafts,
                             template_dir=template_dir)
            _record(session, round_code, round_id, outcome, actor)
        outcomes.append(outcome)
    return outcomes


@task(name="记录完成", cache_policy=NONE, retries=2, retry_delay_seconds=1)
def record_outcome(round_code: str, round_id: uuid.UUID, outcome: Outcome, actor: str) -> bool:
    """Mark an action done (unless decisions are still pending) and audit it."""
    with db.session_scope() as session:
        return _record(session, round_code, round_id, outcome, actor)


@task(name="记录跳过", cache_policy=NONE)
def record_skipped(round_code: str, round_id: uuid.UUID, skipped: list[tuple[Action, str]], actor: str) -> int:
    """Record missed actions that no longer matter, with the reason."""
    with db.session_scope() as session:
        n = 0
        for a, reason in skipped:
            if crud.record_action(session=session, round_id=round_id, action_key=a.key, action=a.action,
                                  due_at=a.at, outcome="skipped", note=reason):
                n += 1
                crud.audit(session=session, actor=actor, action=f"{a.key}:skipped", round_code=round_code,
                           detail={"reason": reason})
        return n
