"""The outside world of a benchmark year: units submitting, ops deciding, reviewers scoring.

Deterministic (``qcycle.synthetic``'s seeded draws), and independent of how the product is
run: every mode asks the same :class:`World` for the records arriving by a moment and for
the decisions to make, so every mode works on the same data. The workload at 3,209 units:
~10,000 applications (each unit applies for 2–5 list items; 78 % on time, 10 % late and
rejected, 12 % never), two mid-term progress reports per taker unit, one evaluation request
per taken item, three reviewers' scores per assessed subject.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from qcycle import crud, synthetic
from qcycle.lifecycle import (
    DECIDING_STAGE_KINDS,
    _assessment_subjects,
    owers,
    pending_decisions,
    takers,
)
from qcycle.schema import Programme, StageKind
from qcycle.timetable import Action, Timetable

__all__ = ["World"]

# How many list items a unit applies for (mean 3.5 → ~10,000 applications at 3,209 units).
ITEMS_PER_APPLICANT = [2, 3, 3, 4, 4, 5]


class World:
    def __init__(self, p: Programme, timetable: Timetable, round_id: Any, seed: int = 2025):
        self.p, self.t, self.round_id, self.seed = p, timetable, round_id, seed
        self.planned: set[str] = set()
        self.scored: set[str] = set()
        self.inbox: list[tuple[dt.datetime, dict[str, Any]]] = []
        self.items = [i.code for _, i in p.items]
        self.item_category = {i.code: c.code for c, i in p.items}
        self.records_made = 0

    def _subjects(self, session: Session, deadline: Action) -> list[tuple[str, str | None, str | None]]:
        stage = self.p.stage(deadline.stage)
        kind = stage.submission.value if stage.submission else None
        if kind == "application":
            out = []
            for unit in owers(session, self.p, self.round_id, stage, deadline.category):
                r = synthetic._rng(self.seed, "choose", unit)
                out += [(unit, item, None) for item in sorted(r.sample(self.items, k=r.choice(ITEMS_PER_APPLICANT)))]
            return out
        taken = takers(session, self.p, self.round_id, deadline.category)
        if kind == "progress_report":  # one report per taker unit and period, covering its items
            return [(unit, None, None) for unit in sorted(taken)]
        return [(unit, item, None) for unit, items in sorted(taken.items()) for item in sorted(items)]

    def arriving(self, session: Session, tick: dt.datetime) -> list[tuple[dict[str, Any], str]]:
        """(record, source) pairs that arrive up to ``tick``, in arrival order."""
        for a in self.t.actions:
            if a.action != "deadline" or a.key in self.planned:
                continue
            opens = synthetic.first_open(self.t, a)
            if (opens or a.at - dt.timedelta(days=20)) > tick:
                continue
            self.planned.add(a.key)
            self.inbox += synthetic.plan_submissions(self.seed, a, opens, self._subjects(session, a))
        now = sorted((x for x in self.inbox if x[0] <= tick), key=lambda x: (x[0], x[1].get("id", "")))
        self.inbox = [x for x in self.inbox if x[0] > tick]
        out = [(record, "bench") for _, record in now]
        for a in self.t.actions:
            if a.action == "assess" and a.at <= tick and a.key not in self.scored and self.p.assessment:
                self.scored.add(a.key)
                components = [c.code for c in self.p.assessment.components if c.source == "reviews"]
                reviewers = max(3, self.p.assessment.min_reviewers)
                for subject in _assessment_subjects(session, self.p, self.round_id, a.category):
                    out += [(rec, "bench:reviewers") for rec in synthetic.scores(self.seed, subject, components, reviewers)]
        self.records_made += len(out)
        return out

    def decide(self, session: Session, tick: dt.datetime, strictly_before: bool = False) -> int:
        """Ops decide every pending subject whose decision was requested (before ``tick``)."""
        n = 0
        for a in self.t.actions:
            if a.action != "decision_due" or a.at > tick or (strictly_before and a.at == tick):
                continue
            stage = self.p.stage(a.stage)
            if stage.kind not in DECIDING_STAGE_KINDS:
                continue
            yes, no = ("approved", "rejected") if stage.kind is StageKind.review else ("confirmed", "returned")
            for subject in pending_decisions(session, self.p, self.round_id, stage, a.category):
                ok = synthetic.decide(self.seed, stage.code, subject)
                crud.put_decision(session=session, round_id=self.round_id, stage=stage.code, subject=subject,
                                  outcome=yes if ok else no, decided_by="bench:ops", decided_at=tick)
                n += 1
        return n
