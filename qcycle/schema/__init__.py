"""The programme file schema: one model expressive enough for every programme round.

A programme file (``config/programmes/*.yaml``) describes one round (周期) of a programme:
who issues it, the units (责任单位) and how they are reached, the list (榜单) of categories
and items, the stages with their dates, windows and per-category overrides, reminder
policies, the assessment (考核) scheme, follow-ups and quotas.

Checks that need only one field live here as pydantic validators; checks that relate parts
of the file to each other (references, ordering, who must be reachable) live in
:mod:`qcycle.loader`, which knows file names and line numbers.

One module per part of the file: :mod:`~qcycle.schema.units` (the round, channels, units, the
list), :mod:`~qcycle.schema.dates`, :mod:`~qcycle.schema.who` (selections),
:mod:`~qcycle.schema.stages`, :mod:`~qcycle.schema.assessment` (and quotas) and
:mod:`~qcycle.schema.programme` (the whole file). Import from ``qcycle.schema``.
"""

from __future__ import annotations

from qcycle.schema.assessment import (
    Assessment,
    BonusItem,
    Component,
    Grade,
    Indicator,
    QuotaAction,
    QuotaPlan,
    Veto,
)
from qcycle.schema.base import Code as Code  # not in __all__, as before the split
from qcycle.schema.dates import Cadence, Deadline, RelativeDate, RoundPeriod
from qcycle.schema.dates import Event as Event  # not in __all__, as before the split
from qcycle.schema.dates import Roll as Roll  # not in __all__, as before the split
from qcycle.schema.jsonschema import programme_json_schema
from qcycle.schema.programme import Programme
from qcycle.schema.stages import (
    IDENTITY_FIELDS,
    SUBMISSION_TITLES,
    Eligibility,
    Identity,
    NotAwarded,
    Period,
    ReminderPolicy,
    Stage,
    StageKind,
    StageOverride,
    SubmissionKind,
    SubmissionKindSpec,
    Verdicts,
)
from qcycle.schema.units import LEVEL_NAMES, Category, Channel, ListItem, RoundInfo, Unit
from qcycle.schema.who import OwedBy, RankPick, Who, category_label, grade_label

__all__ = [
    "IDENTITY_FIELDS",
    "LEVEL_NAMES",
    "SUBMISSION_TITLES",
    "Assessment",
    "BonusItem",
    "Cadence",
    "Category",
    "Channel",
    "Component",
    "Deadline",
    "Eligibility",
    "Grade",
    "Identity",
    "Indicator",
    "ListItem",
    "NotAwarded",
    "OwedBy",
    "Period",
    "Programme",
    "QuotaAction",
    "QuotaPlan",
    "RankPick",
    "RelativeDate",
    "ReminderPolicy",
    "RoundInfo",
    "RoundPeriod",
    "Stage",
    "StageKind",
    "StageOverride",
    "SubmissionKind",
    "SubmissionKindSpec",
    "Unit",
    "Verdicts",
    "Veto",
    "Who",
    "category_label",
    "grade_label",
    "programme_json_schema",
]
