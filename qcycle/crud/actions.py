"""Timetable actions carried out (the ``action_run`` table): recorded once per round and
action key, what is done, what was due when."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import cast

from sqlmodel import Session, col, select, update

from qcycle.clock import now
from qcycle.crud.base import choice, insert_if_absent
from qcycle.crud.rounds import lock_round
from qcycle.models import ACTION_OUTCOMES, ActionOutcome, ActionRun

__all__ = ["action_done", "claim_action", "done_action_keys", "done_keys_named", "record_action",
           "recorded_actions"]


def record_action(
    *,
    session: Session,
    round_id: uuid.UUID,
    action_key: str,
    action: str,
    due_at: dt.datetime,
    outcome: str = "done",
    note: str = "",
    done_at: dt.datetime | None = None,
) -> bool:
    """Record that a timetable action was carried out; True if this call recorded it.

    False when the action was already recorded as done or skipped (nothing changes).
    A recorded failure is overwritten, so a retried action can be recorded again.
    """
    outcome = choice(outcome, ACTION_OUTCOMES, "outcome")
    done_at = done_at or now()
    candidate = ActionRun(
        round_id=round_id,
        action_key=action_key,
        action=action,
        due_at=due_at,
        outcome=cast(ActionOutcome, outcome),  # one of ACTION_OUTCOMES: choice() checked it
        note=note,
        done_at=done_at,
    )
    if insert_if_absent(session, candidate, keys=["round_id", "action_key"]):
        return True
    # One statement, so two retries racing over a failure cannot both overwrite it blindly.
    retried = session.exec(
        update(ActionRun)
        .where(
            col(ActionRun.round_id) == round_id,
            col(ActionRun.action_key) == action_key,
            col(ActionRun.outcome) == "failed",
        )
        .values(outcome=outcome, note=note, done_at=done_at, action=action, due_at=due_at)
        .execution_options(synchronize_session=False)
    )
    return retried.rowcount > 0


def recorded_actions(*, session: Session, round_id: uuid.UUID) -> dict[str, dt.datetime | None]:
    """Every recorded action of the round (done, skipped or failed): key → the moment it was due."""
    return dict(session.exec(select(ActionRun.action_key, ActionRun.due_at).where(
        ActionRun.round_id == round_id)).all())


def done_action_keys(*, session: Session, round_id: uuid.UUID) -> set[str]:
    """Keys of the round's actions carried out (outcome ``done``)."""
    return set(session.exec(select(ActionRun.action_key).where(
        ActionRun.round_id == round_id, ActionRun.outcome == "done")).all())


def done_keys_named(*, session: Session, round_id: uuid.UUID, name: str) -> list[str]:
    """Keys carried out of the actions named ``name`` (a key up to its ``@``), whatever day
    they served: the same reminder or opening done for a deadline that has since moved."""
    return list(session.exec(select(ActionRun.action_key).where(
        ActionRun.round_id == round_id, ActionRun.outcome == "done",
        col(ActionRun.action_key).startswith(f"{name}@", autoescape=True))).all())


def action_done(*, session: Session, round_id: uuid.UUID, action_key: str) -> bool:
    """True if the action is recorded as done or skipped (a failure does not count)."""
    stmt = select(ActionRun.id).where(
        ActionRun.round_id == round_id,
        ActionRun.action_key == action_key,
        col(ActionRun.outcome).in_(["done", "skipped"]),
    )
    return session.exec(stmt).first() is not None


def claim_action(*, session: Session, round_id: uuid.UUID, action_key: str) -> bool:
    """True when the action is still to do, in a transaction that will record it: two runs of
    one round at once (a backfill beside the live run) take turns, and the second finds it done.
    The round's row is locked first (:func:`~qcycle.crud.rounds.lock_round`)."""
    lock_round(session=session, round_id=round_id)
    return not action_done(session=session, round_id=round_id, action_key=action_key)
