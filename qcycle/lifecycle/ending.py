"""Who a grade has taken out of the round: a grade that ``ends`` a subject's part (不予通过，撤销建设资格) leaves it
owing nothing after its results. Read by the selections of who owes what (:mod:`qcycle.lifecycle.who`) and by intake."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.memo import remembered
from qcycle.schema import Programme

__all__ = ["ended"]


def ended(session: Session, p: Programme, round_id: uuid.UUID, by: dt.datetime | None = None) -> frozenset[str]:
    """Subjects whose latest result, made at or before ``by`` (any time when None), is a grade that ``ends`` their part
    in the round: each such 'unit:item', and a unit all of whose graded subjects it ended. They owe nothing from then on
    (长林县, 不予通过 and 撤销建设资格 on 11月30日, was asked the next day for its 建设进展报告 and reminded three times);
    what they missed before is still theirs. A 复验 that grades again counts, not the 验收 before it."""
    ending = p.assessment.ending_grades if p.assessment else frozenset()
    if not ending:
        return frozenset()
    rows = remembered(("ending", round_id, id(p)), lambda: tuple(
        (r.unit_code, r.grade, r.computed_at) for code in p.assessment_stages
        for r in crud.stage_results(session=session, round_id=round_id, stage=code)))
    latest: dict[str, tuple[dt.datetime, str]] = {}
    for subject, grade, at in rows:
        if (by is None or at <= by) and (subject not in latest or at >= latest[subject][0]):
            latest[subject] = (at, grade)
    units: dict[str, bool] = {}
    for subject, (_, grade) in latest.items():
        unit = subject.partition(":")[0]
        units[unit] = units.get(unit, True) and grade in ending
    return frozenset({s for s, (_, grade) in latest.items() if grade in ending} | {u for u, gone in units.items() if gone})
