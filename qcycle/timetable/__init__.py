"""The timetable: a programme round expanded into every dated action.

:func:`expand` is the single place that decides *when* things happen (publications, window
openings and closings, each T-n working-day reminder, deadlines, overdue notices,
escalations, decisions, evaluation, assessment, notifications, 公示, follow-ups).
:func:`due` is the single place that decides *what is due* as of a moment, and which
missed actions no longer matter (a reminder for a deadline that has passed).

Deterministic: the same file and calendar give the same list, in the same order.

Modules: :mod:`~qcycle.timetable.actions` (the data types), :mod:`~qcycle.timetable.dates`
(when stage events fall), :mod:`~qcycle.timetable.expander` (:func:`expand`),
:mod:`~qcycle.timetable.running` (:func:`due`, :func:`released`) and
:mod:`~qcycle.timetable.checks` (:func:`check_dates`). Import from ``qcycle.timetable``.
"""

from __future__ import annotations

from qcycle.timetable.actions import (
    ACTION_LABELS,
    Action,
    Due,
    ResolvedDeadline,
    Timetable,
    UnitDeadline,
    as_json,
    name_of,
)
from qcycle.timetable.checks import check_dates as check_dates  # not in __all__, as before
from qcycle.timetable.dates import add_months as add_months  # not in __all__, as before
from qcycle.timetable.dates import moved as moved  # not in __all__, as before
from qcycle.timetable.expander import expand
from qcycle.timetable.running import CHAIN_PASSES, SAFETY_NET, due, next_safety_net, released

__all__ = [
    "ACTION_LABELS",
    "CHAIN_PASSES",
    "SAFETY_NET",
    "Action",
    "Due",
    "ResolvedDeadline",
    "Timetable",
    "UnitDeadline",
    "as_json",
    "due",
    "expand",
    "name_of",
    "next_safety_net",
    "released",
]
