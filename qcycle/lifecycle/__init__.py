"""What each timetable action does to a round's data, and whom it writes to.

The timetable decides *when*; this package decides *what*: for an :class:`Action` it finds
the units concerned (owers, takers, overdue units, their parents, graded units), records
what the action establishes (overdue flags, decisions pending, assessment results) and
returns message drafts. Queuing and delivery belong to :mod:`qcycle.notify`; Prefect
belongs to ``tasks/`` and ``flows/``; the rows come from :mod:`qcycle.crud`. Everything here
is idempotent: carrying out the same action twice gives the same drafts and writes nothing new.

- :mod:`~qcycle.lifecycle.sync`: the round kept in step with its file (amendments), its timetable
- :mod:`~qcycle.lifecycle.who`: selections, owers, outstanding units, decision subjects
- :mod:`~qcycle.lifecycle.handlers`: :data:`HANDLERS`, one per action kind, and their letters
- :mod:`~qcycle.lifecycle.escalating`: after a missed deadline: the overdue notice and the 督办 (with its 抄送)
- :mod:`~qcycle.lifecycle.answers`: letters answering a hand-in (a late one refused: 不予受理)
- :mod:`~qcycle.lifecycle.wording`: how letters say what a unit achieved, and why, and what results are called
- :mod:`~qcycle.lifecycle.remarks`: a result letter's 说明 (a veto, a full capped grade, a line missed, the
  bonus and deduction items a total holds)
- :mod:`~qcycle.lifecycle.missed`: what a unit never handed in, as its result letter and its superior's
  summary say it (:func:`~qcycle.lifecycle.assessing.windows_never_handed_in` is what an assessment read)
- :mod:`~qcycle.lifecycle.outcome`: :class:`Outcome` and :class:`Draft`
"""

from __future__ import annotations

from qcycle.lifecycle.answers import refusal_letters
from qcycle.lifecycle.assessing import assessment_subjects
from qcycle.lifecycle.changes import amendment_drafts
from qcycle.lifecycle.eligibility import ineligible
from qcycle.lifecycle.handlers import (
    HANDLERS,
    LISTED_IN_DECISION_REQUEST,
    carry_out,
)
from qcycle.lifecycle.outcome import Draft, Outcome
from qcycle.lifecycle.sync import (
    plan_changes,
    ran_on,
    recorded_extensions,
    round_timetable,
    sync_round,
    unit_deadlines,
)
from qcycle.lifecycle.who import (
    DECIDING_STAGE_KINDS,
    NEGATIVE,
    POSITIVE,
    decision_subjects,
    eliminated,
    handed_in_query,
    outstanding,
    owers,
    p_item_name,
    p_unit_name,
    pending_decisions,
    remembering,
    resolve,
    select_subjects,
    takers,
)
from qcycle.lifecycle.wording import result_kind

__all__ = [
    "DECIDING_STAGE_KINDS",
    "HANDLERS",
    "LISTED_IN_DECISION_REQUEST",
    "NEGATIVE",
    "POSITIVE",
    "Draft",
    "Outcome",
    "amendment_drafts",
    "assessment_subjects",
    "carry_out",
    "decision_subjects",
    "eliminated",
    "handed_in_query",
    "ineligible",
    "outstanding",
    "owers",
    "p_item_name",
    "p_unit_name",
    "pending_decisions",
    "plan_changes",
    "ran_on",
    "recorded_extensions",
    "refusal_letters",
    "remembering",
    "resolve",
    "result_kind",
    "round_timetable",
    "select_subjects",
    "sync_round",
    "takers",
    "unit_deadlines",
]
