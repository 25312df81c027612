"""Where a round stands: current stage, next actions, overdue units, pending decisions,
actions due but not carried out, and messages that failed. Read-only."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle import outstanding, remembering
from qcycle.models import OUTBOX_STATUS_LABELS
from qcycle.ops import pending
from qcycle.schema import Programme
from qcycle.timetable import Action, Timetable, due

__all__ = ["RoundStatus", "message_counts_line", "overdue_line", "round_status"]


@dataclass
class RoundStatus:
    as_of: dt.datetime
    current_stage: str | None
    next_actions: list[Action]
    overdue: dict[str, list[str]]  # the deadline (what, when) → names of the units that missed it
    pending: dict[str, list[str]]  # stage name → subjects
    missed: list[Action]  # due, not carried out (no reconcile since): a reconcile does them
    waiting: list[Action]  # due, waiting for its stage's decisions: only `decide` moves them on
    messages: dict[str, int] = field(default_factory=dict)  # status → count
    failed_messages: list[tuple[str, str, str]] = field(default_factory=list)  # unit, channel, error


def round_status(session: Session, p: Programme, round_id: uuid.UUID, timetable: Timetable,
                 as_of: dt.datetime, next_count: int = 8, *, as_recorded: bool = False) -> RoundStatus:
    """Where the round stands at ``as_of``. ``as_recorded``: who owes and what waits are read
    from the decisions and hand-ins as they stood then (``qcycle status --as-of``); otherwise
    as they stand, as the actions of a reconcile run as of ``as_of`` read them."""
    # A point in time: what was done for moments up to ``as_of`` (a round run to its end and
    # asked about 06-01 still shows what came next after 06-01).
    done = {k for k, due_at in crud.recorded_actions(session=session, round_id=round_id).items()
            if due_at is None or due_at <= as_of}
    plan = due(timetable, as_of, done)
    upcoming = [a for a in timetable.actions if a.at > as_of and a.key not in done][:next_count]
    past = [a for a in timetable.actions if a.at <= as_of]
    current = past[-1].stage if past else None
    overdue: dict[str, list[str]] = {}
    # read-only: each past deadline asks the same rows
    with remembering(), crud.as_recorded_at(as_of if as_recorded else None):
        for a in past:
            # A voluntary window (an award application) invites: not applying is not being late.
            if a.action == "deadline" and a.key in done and not p.stage(a.stage).voluntary:
                late = outstanding(session, p, round_id, a)
                if late:  # "提交揭榜书（2023-04-20 17:30 截止）": what, and when it was due (a
                    # rolled deadline's title goes on "截止（原定…，遇休息日顺延）")
                    # A unit that handed in late and was refused says so (it asks ops why); only a
                    # window that refuses late hand-ins has any (asked again, it was a tenth of a year's runs).
                    refusing = p.stage(a.stage).lateness == "reject"
                    unrefused = set(outstanding(session, p, round_id, a, less_refused=True)) if refusing else set(late)
                    overdue[f"{a.title.partition(' 截止')[0]}（{a.at:%Y-%m-%d %H:%M} 截止）"] = [
                        p.unit(u).name + ("" if u in unrefused else "（逾期提交，不予受理）") for u in late]
        waiting = {p.stage(code).name: subjects for code, subjects in pending(session, p, round_id).items()
                   if subjects}
    counts = crud.message_status_counts(session=session, round_id=round_id, up_to=as_of.date())
    failed = crud.failed_messages(session=session, round_id=round_id, up_to=as_of.date())
    stalled = [a for a in plan.run if p.stage(a.stage).name in waiting]
    return RoundStatus(as_of, p.stage(current).name if current else None, upcoming, overdue, waiting,
                       [a for a in plan.run if a not in stalled], stalled, counts, failed)


def overdue_line(deadline: str, names: list[str]) -> str:
    """"逾期未交：提交揭榜书（2023-04-20 17:30 截止） 5 个单位（…）", eight names at most."""
    return f"逾期未交：{deadline} {len(names)} 个单位（{'、'.join(names[:8])}{'等' if len(names) > 8 else ''}）"


def message_counts_line(counts: dict[str, int]) -> str:
    """"已发送 272，发送失败 1": the outbox's messages by status, in Chinese."""
    return "，".join(f"{OUTBOX_STATUS_LABELS.get(k, k)} {v}" for k, v in sorted(counts.items())) or "无"
