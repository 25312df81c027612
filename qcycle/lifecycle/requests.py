"""What the office and the reviewers are asked: the 待审核 letter a decision's request sends (ahead
of the decision's day, and on it), with the first subjects pending by name and the rest counted;
and who will review their own subordinates' hand-ins (told with the call)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.drafting import draft_letters, written_on
from qcycle.lifecycle.outcome import Draft
from qcycle.lifecycle.plan import round_timetable
from qcycle.lifecycle.standing import handed_in_at, objections_upheld, reviewer_step
from qcycle.lifecycle.who import owers, p_item_name
from qcycle.schema import Programme, Stage
from qcycle.timetable import Action

__all__ = ["LISTED_IN_DECISION_REQUEST", "decision_letter", "reviewers_of", "subject_title"]

# How many pending subjects a decision request lists by name (the rest are counted).
LISTED_IN_DECISION_REQUEST = 20


def decision_letter(session: Session, p: Programme, round_id: uuid.UUID, action: Action, pending: list[str],
                    due: dt.datetime | None) -> list[Draft]:
    """The 待审核 letter to the office: the first subjects pending and the counts, and by when."""
    stage = p.stage(action.stage)
    target = p.stage(stage.decides) if stage.decides else None
    titles = Counter(subject_title(p, stage, s) for s in pending)
    # A readable message: the first few subjects and counts; the full list is `qcycle decide
    # --list` (at national scale it is thousands of lines, and a bot truncates at 2–4 KB).
    listed = pending[:LISTED_IN_DECISION_REQUEST]
    received = handed_in_at(session, round_id, target, listed) if target is not None else {}
    # A hand-in taken late (accept_flag) is marked: the reviewer decides knowing it.
    handed = target.handed_in if target is not None and target.submission else None
    items = [{"programme_name": p.round.name, "item": p_item_name(p, s),
              "unit_name": p.unit(s.partition(":")[0]).name, "received_at": received.get(s, crud.NO_HAND_IN).at,
              "late": received.get(s, crud.NO_HAND_IN).late} for s in listed]
    file = getattr(crud.get_round(session=session, code=p.round.code), "config_path", None)  # for `qcycle decide`
    # By when, as the letter's own day reads it: ahead, today, or (a run caught up late) already past.
    on = written_on(action)
    when = None if due is None else "ahead" if due.date() > on else "today" if due.date() == on else "past"
    return draft_letters([p.round.issuer], "decision_pending.j2", p, action, internal=True, items=items, handed_in=handed,
                         total=len(pending), programme_file=file, upheld=objections_upheld(session, p, round_id, stage.code),
                         by_title=[{"title": t, "count": n} for t, n in titles.most_common()], due=due, due_when=when,
                         reviewed_step=reviewer_step(stage.name) if stage.reviewed_by else None)


def subject_title(p: Programme, stage: Stage, subject: str) -> str:
    name = p_item_name(p, subject)
    return f"{stage.name}：{name}" if name else stage.name


def reviewers_of(session: Session, p: Programme, round_id: uuid.UUID, window: Stage,
                 category: str | None) -> dict[str, dict[str, Any]]:
    """Units that will review the window's hand-ins of their own subordinates (a 县级初审, ``reviewed_by:
    parent``), each with its step and the day its opinions are due: told when the call goes out (福州's
    county bureaus heard of their 初审 only when the applications had closed)."""
    reviews = [st for st in p.stages if st.decides == window.code and st.reviewed_by == "parent"]
    if not reviews:
        return {}
    # Once per call, not per reviewing stage: the timetable is rebuilt from the database each time.
    actions = round_timetable(session, p, round_id).actions
    owing = owers(session, p, round_id, window, category)
    out: dict[str, dict[str, Any]] = {}
    for stage in reviews:
        due = next((a.at for a in actions if a.stage == stage.code and a.action == "decision_due"
                    and a.category in (None, category)), None)
        parents = {parent for u in owing if (parent := p.unit(u).parent) and parent != p.sender(stage.code)}
        out |= {parent: {"item": window.handed_in, "step": reviewer_step(stage.name), "due": due}
                for parent in sorted(parents) if due is not None}
    return out
