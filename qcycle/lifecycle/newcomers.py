"""A unit added to a round that has begun (an amendment) is sent, the day it is added, the
letters it missed that still matter: the call with the window it must hand in by, the opening
of a window still open, the notice of an event still ahead. Without them its first letter was
a reminder, then a 督办, for a window nobody had told it of."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.lifecycle.handlers import carry_out
from qcycle.lifecycle.outcome import Draft
from qcycle.lifecycle.plan import round_timetable
from qcycle.schema import Programme
from qcycle.timetable import Action

__all__ = ["newcomer_drafts"]


def _still_ahead(action: Action, moment: dt.datetime) -> bool:
    """Whether what a done action announced still lies ahead: a call's windows, a window's
    deadline, an event's day."""
    if action.action == "publish":
        return any(dt.datetime.fromisoformat(o["deadline"]) > moment for o in action.detail.get("openings", ()))
    if action.action in ("window_open", "event_notice"):
        return action.deadline is not None and action.deadline > moment
    return False


def newcomer_drafts(session: Session, before: Programme, p: Programme, round_id: uuid.UUID,
                    on: dt.date) -> list[Draft]:
    """The letters of the round's done calls, openings and event notices that the units new in
    ``p`` would have had, for what is still ahead on ``on``, dated ``on``. Each is the action's
    own letter (the handler's), so it reads as the other units' did."""
    new = {u.code for u in p.units} - {u.code for u in before.units}
    if not new:
        return []
    done = crud.done_action_keys(session=session, round_id=round_id)
    moment = clock.at(on)
    drafts: list[Draft] = []
    for action in round_timetable(session, p, round_id).actions:
        if action.key not in done or not _still_ahead(action, moment):
            continue
        for d in carry_out(session, p, round_id, action, as_of=max(moment, action.at)).drafts:
            if d.unit in new:
                drafts.append(dataclasses.replace(d, action_key=f"amend:{action.key}", key_day=on,
                                                  context={**d.context, "today": on}))
    return drafts
