"""What a run carries out as of a moment (:func:`due`), what a completed decision releases for
another pass of the same moment (:func:`released`), and when a deployment runs between actions
(:data:`SAFETY_NET`)."""

from __future__ import annotations

import datetime as dt

from qcycle import clock
from qcycle.timetable.actions import Action, Due, Timetable
from qcycle.workcal import WorkCalendar

__all__ = ["CHAIN_PASSES", "SAFETY_NET", "due", "next_safety_net", "released"]

# A deployed round also reconciles at these times of every official working day (local time):
# what arrives between actions (a late hand-in to refuse and answer) is dealt with within half a day.
SAFETY_NET = (dt.time(9, 5), dt.time(17, 35))


def next_safety_net(after: dt.datetime, calendar: WorkCalendar) -> dt.datetime:
    """The first safety-net run strictly after ``after``."""
    local = clock.to_local(after)
    day = calendar.next_workday(local.date())
    while True:
        for time in SAFETY_NET:
            moment = clock.at(day, time)
            if moment > local:
                return moment
        day = calendar.next_workday(day, include_self=False)


def due(
    timetable: Timetable, as_of: dt.datetime, done: set[str] | frozenset[str] = frozenset()
) -> Due:
    """What should be carried out as of ``as_of``, given the keys already done.

    An action waits (neither run nor skipped) while a decision it needs is not complete.

    Reminders and window openings whose deadline has already passed are skipped (a reminder
    after the deadline would mislead), and so are a reminder due with its window's opening (late,
    after a decision: the opening letter says as much), an event's notice and a request to review
    on or after the day they serve; closings, overdue notices, escalations, decisions and
    everything else still matter after downtime and are run late.
    """
    run, skipped = [], []
    opening: set[tuple[str, str | None, str | None]] = set()  # windows whose opening runs now
    for action in timetable.actions:
        if action.key in done or action.at > as_of:
            continue
        if any(key not in done for key in action.needs):
            continue  # waits for a decision still pending (see Action.needs)
        if action.action in _AHEAD and action.deadline is not None and action.deadline.date() <= as_of.date():
            # A notice of an event held already, or a review asked for a decision due already (a run
            # caught up late), would ask for the past.
            skipped.append((action, f"{action.deadline:%Y-%m-%d}的{_AHEAD[action.action]}已到期，不再发送"))
            continue
        if action.action == "review_reminder" and _superseded(action, timetable, as_of):
            skipped.append((action, "已有更近的提醒到期，合并为最新一条"))
            continue
        if action.action in ("reminder", "window_open") and action.deadline is not None:
            if action.deadline <= as_of:
                skipped.append((action, f"截止时间 {action.deadline:%Y-%m-%d %H:%M} 已过，不再发送"))
                continue
            # A reminder that missed its own working day is stale once a later one is due.
            if action.action == "reminder" and _superseded(action, timetable, as_of):
                skipped.append((action, "已有更近的提醒到期，合并为最新一条"))
                continue
            # An opening that waited for a decision goes out with a reminder of the same day: its letter
            # gives the deadline and the working days left (江州's 整改通知 and a 【提醒】 the same morning).
            if action.action == "reminder" and action.unit is None and (
                    action.stage, action.category, action.period) in opening:
                skipped.append((action, "与本阶段的开始受理（整改）通知同时发出，通知已写明截止时间，不另提醒"))
                continue
        run.append(action)
        if action.action in ("window_open", "followup_open"):
            opening.add((action.stage, action.category, action.period))
    return Due(run, skipped)


# Letters sent ahead of the day they serve: an event's notice, a request to review or to decide
# before a decision's day (on the day, the decision's own request says it).
_AHEAD = {"event_notice": "活动", "review_request": "决定", "decision_request": "决定", "review_reminder": "决定"}

# How many passes one moment takes at most: each completed decision may release the actions
# that waited for it, and a chain of decisions due at once has few steps.
CHAIN_PASSES = 6


def released(timetable: Timetable, as_of: dt.datetime, completed: set[str]) -> set[str]:
    """Keys of the actions due by ``as_of`` that waited for one of the ``completed`` decisions:
    what a run does in another pass of the same moment."""
    return {a.key for a in timetable.actions if a.at <= as_of and completed.intersection(a.needs)}


def _superseded(action: Action, timetable: Timetable, as_of: dt.datetime) -> bool:
    return any(
        other.action == action.action
        and other.at <= as_of
        and other.at > action.at
        and (other.stage, other.category, other.period, other.unit)
        == (action.stage, action.category, action.period, action.unit)
        for other in timetable.actions
    )
