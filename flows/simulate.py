"""The main job: a whole programme round on a virtual clock, as real Prefect flow runs.

The simulator plays the outside world (units submitting, some late, some never, a few
malformed records; ops deciding; reviewers scoring) and, at every moment the timetable
names, runs the ``reconcile`` flow as of that moment. Messages go to the local sink.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import func, select

from qcycle import db, synthetic
from qcycle.lifecycle import sync_round
from qcycle.loader import load_programme
from qcycle.models import AssessmentResult, OutboxMessage, QuarantinedRecord, Submission
from qcycle.schema import Programme
from qcycle.settings import get_settings
from qcycle.timetable import expand
from qcycle.workcal import WorkCalendar

__all__ = ["SimulationReport", "back_to_back_runs", "simulate"]


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


@contextlib.contextmanager
def back_to_back_runs() -> Iterator[None]:
    """Settings for many short top-level flow runs in one process (a simulated year).

    Heartbeats detect crashed runs of long-lived deployments; short runs in one process do not
    need them, and each costs ~1 s at flow exit.

    Each run keeps its own API client. Sharing one (``SyncClientContext``) saves ~30 ms a run,
    but measured here Prefect's SQLite server then answered "database is locked" (503, retried
    after ~2 s) far more often: 20 times in a 100-unit benchmark year instead of 5–9.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def simulate(programme_file: str | Path, *, seed: int = 2023, home: Path | None = None,
             show_progress: bool = True, counties: bool = True) -> SimulationReport:
    """Run a whole round on a virtual clock; return the closing report."""
    import time

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
    world = synthetic.World(loaded.programme, timetable, round_id, seed)

    def moment(tick) -> int:
        done = reconcile(programme_file=str(expanded), as_of=tick, channel_override="sink", actor="flow:simulate")
        return 1 + len(done["stage_flows"])

    def run_year() -> int:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      disable=not show_progress, transient=False) as progress:
            bar = progress.add_task(f"{code}", total=len(ticks))
            return world.play(ticks, moment, after=lambda tick: progress.update(
                bar, advance=1, description=f"{code} {tick:%Y-%m-%d}"))

    with back_to_back_runs():
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
