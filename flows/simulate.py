"""The main job: a whole programme round on a virtual clock, as real Prefect flow runs.

The simulator plays the outside world (units submitting, some late, some never, a few
malformed records; ops deciding; reviewers scoring) and, at every moment the timetable
names, runs the ``reconcile`` flow as of that moment. Messages go to the local sink.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import func, select

from qcycle import crud, db, synthetic
from qcycle.intake import ingest
from qcycle.lifecycle import (
    DECIDING_STAGE_KINDS,
    _assessment_subjects,
    owers,
    pending_decisions,
    sync_round,
    takers,
)
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.models import AssessmentResult, OutboxMessage, QuarantinedRecord, Submission
from qcycle.schema import Programme, StageKind
from qcycle.settings import get_settings
from qcycle.timetable import Action, Timetable, expand
from qcycle.workcal import WorkCalendar

__all__ = ["SimulationReport", "simulate"]


@dataclass
class SimulationReport:
    round_code: str
    round_name: str
    ticks: int = 0
    flow_runs: int = 0
    actions_done: int = 0
    actions_skipped: int = 0
    pending: dict[str, int] = field(default_factory=dict)
    submissions: Counter = field(default_factory=Counter)
    quarantined: int = 0
    grades: Counter = field(default_factory=Counter)
    messages: dict[str, Counter] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    home: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "round": self.round_code, "ticks": self.ticks, "flow_runs": self.flow_runs,
            "actions_done": self.actions_done, "actions_skipped": self.actions_skipped,
            "submissions": dict(self.submissions), "quarantined": self.quarantined,
            "grades": dict(self.grades), "messages": {k: dict(v) for k, v in self.messages.items()},
            "seconds": round(self.seconds, 2), "home": self.home, "warnings": self.warnings,
        }


def _write_expanded(p: Programme, path: Path) -> Path:
    data = p.model_dump(mode="json", exclude_defaults=True)
    path.write_text("# 模拟用方案（含模拟县级单位），由 qcycle simulate 生成\n"
                    + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class _World:
    """The outside world of a simulated round: what units, ops and reviewers do."""

    def __init__(self, loaded: LoadedProgramme, timetable: Timetable, round_id, seed: int):
        self.loaded, self.p, self.t, self.round_id, self.seed = loaded, loaded.programme, timetable, round_id, seed
        self.planned: set[str] = set()
        self.inbox: list[tuple[dt.datetime, dict[str, Any]]] = []
        self.scored: set[str] = set()

    def _subjects(self, session, deadline: Action) -> list[tuple[str, str | None, str | None]]:
        stage = self.p.stage(deadline.stage)
        if stage.submission and stage.submission.value == "application" and self.p.categories:
            items = [i.code for _, i in self.p.items]
            out = []
            for unit in owers(session, self.p, self.round_id, stage, deadline.category):
                r = synthetic._rng(self.seed, "choose", unit)
                out += [(unit, item, None) for item in r.sample(items, k=min(len(items), r.choice([1, 1, 2])))]
            return out
        if stage.owed_by and stage.owed_by.takers and self.p.categories:
            return [(u, i, None) for u, items in takers(session, self.p, self.round_id, deadline.category).items()
                    for i in items
                    if deadline.period is None or not _period_categories(self.p, deadline)
                    or _item_cat(self.p, i) in _period_categories(self.p, deadline)]
        return [(u, None, deadline.category) for u in owers(session, self.p, self.round_id, stage, deadline.category)]

    def before(self, session, tick: dt.datetime) -> None:
        """Units submit and reviewers score up to ``tick``."""
        for a in self.t.actions:
            if a.action != "deadline" or a.key in self.planned:
                continue
            opens = synthetic.first_open(self.t, a)
            if (opens or a.at - dt.timedelta(days=20)) > tick:
                continue
            self.planned.add(a.key)
            self.inbox += synthetic.plan_submissions(self.seed, a, opens, self._subjects(session, a))
            if self.p.stage(a.stage).submission.value == "application":
                self.inbox += synthetic.malformed(self.seed, a, 3)
        due_now = sorted((x for x in self.inbox if x[0] <= tick), key=lambda x: (x[0], x[1].get("id", "")))
        self.inbox = [x for x in self.inbox if x[0] > tick]
        for _, record in due_now:
            ingest(session=session, programme=self.p, timetable=self.t, round_id=self.round_id,
                   record=record, source="simulate")
        for a in self.t.actions:
            if a.action == "assess" and a.at <= tick and a.key not in self.scored and self.p.assessment:
                self.scored.add(a.key)
                components = [c.code for c in self.p.assessment.components if c.source == "reviews"]
                reviewers = max(3, self.p.assessment.min_reviewers)
                for subject in _assessment_subjects(session, self.p, self.round_id, a.category):
                    records = synthetic.scores(self.seed, subject, components, reviewers)
                    records += synthetic.measurements(self.seed, subject, self.p)
                    for rec in records:
                        ingest(session=session, programme=self.p, timetable=self.t, round_id=self.round_id,
                               record=rec, source="simulate:reviewers")

    def decide(self, session, tick: dt.datetime, strictly_before: bool = False) -> int:
        """Ops decide every pending review/evaluation subject whose decision is due."""
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
                                  outcome=yes if ok else no, decided_by="simulate:ops", decided_at=tick)
                n += 1
        return n


def _item_cat(p: Programme, item: str) -> str | None:
    return next((c.code for c, i in p.items if i.code == item), None)


def _period_categories(p: Programme, deadline: Action) -> list[str]:
    stage = p.stage(deadline.stage)
    period = next((x for x in stage.periods if x.code == deadline.period), None)
    return list(period.categories) if period else []


def simulate(programme_file: str | Path, *, seed: int = 2023, home: Path | None = None,
             show_progress: bool = True, counties: bool = True) -> SimulationReport:
    """Run a whole round on a virtual clock; return the closing report."""
    import time

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.lifecycle import reconcile

    started = time.perf_counter()
    source = load_programme(programme_file)
    code = source.programme.round.code
    home = Path(home or get_settings().home / "simulate" / code).resolve()
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    p = synthetic.with_counties(source.programme, seed) if counties else source.programme
    expanded = _write_expanded(p, home / f"{code}.yaml")
    os.environ["QCYCLE_HOME"] = str(home)
    os.environ["QCYCLE_SINK_DIR"] = str(home / "sink")
    get_settings.cache_clear()
    db.dispose_engines()
    db.upgrade()
    loaded = load_programme(expanded)
    calendar = WorkCalendar()
    timetable = expand(loaded.programme, calendar)
    report = SimulationReport(code, p.round.name, warnings=list(timetable.warnings), home=str(home))
    ticks = sorted({a.at for a in timetable.actions})
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
    world = _World(loaded, timetable, round_id, seed)

    def run_year() -> int:
        runs = 0
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      disable=not show_progress, transient=False) as progress:
            bar = progress.add_task(f"{p.round.name}", total=len(ticks))
            for tick in ticks:
                progress.update(bar, description=f"{code} {tick:%Y-%m-%d}")
                with db.session_scope() as session:
                    world.before(session, tick)
                    # Ops answer a decision request (sent at its due time) before the next
                    # moment of the round, so that moment's reconcile carries the decision out.
                    world.decide(session, tick, strictly_before=True)
                reconcile(programme_file=str(expanded), as_of=tick, channel_override="sink",
                          actor="flow:simulate")
                runs += 1
                progress.advance(bar)
            with db.session_scope() as session:
                late_decisions = world.decide(session, ticks[-1]) if ticks else 0
            if late_decisions:  # a decision due at the very last moment of the round
                reconcile(programme_file=str(expanded), as_of=ticks[-1], channel_override="sink",
                          actor="flow:simulate")
                runs += 1
        return runs

    # Heartbeats detect crashed runs of long-lived deployments; a simulated year of short
    # runs in one process does not need them, and each costs ~1 s at flow exit.
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        # Each reconcile is a top-level run (stage flows are its subflows): a parent
        # "simulate" run would add a nesting level to every run for no information.
        report.flow_runs = run_year()
    report.ticks = len(ticks)
    _fill(report, round_id)
    report.seconds = time.perf_counter() - started
    return report


def _fill(report: SimulationReport, round_id) -> None:
    from qcycle.models import ActionRun

    with db.session_scope() as session:
        for outcome, n in session.exec(select(ActionRun.outcome, func.count()).where(
                ActionRun.round_id == round_id).group_by(ActionRun.outcome)).all():
            if outcome == "done":
                report.actions_done = n
            elif outcome == "skipped":
                report.actions_skipped = n
        for status, late, n in session.exec(select(Submission.status, Submission.late, func.count()).where(
                Submission.round_id == round_id).group_by(Submission.status, Submission.late)).all():
            report.submissions["逾期不予受理" if status == "rejected_late" else
                               ("逾期已受理" if late else "按时受理")] += n
        report.quarantined = session.exec(select(func.count()).select_from(QuarantinedRecord).where(
            QuarantinedRecord.round_id == round_id)).one()
        for grade, n in session.exec(select(AssessmentResult.grade, func.count()).where(
                AssessmentResult.round_id == round_id).group_by(AssessmentResult.grade)).all():
            report.grades[grade] = n
        for channel, status, n in session.exec(select(OutboxMessage.channel, OutboxMessage.status, func.count()).where(
                OutboxMessage.round_id == round_id).group_by(OutboxMessage.channel, OutboxMessage.status)).all():
            report.messages.setdefault(channel, Counter())[status] += n
