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

from qcycle import crud, db, synthetic
from qcycle.errors import UsageError
from qcycle.lifecycle import result_kind, sync_round
from qcycle.loader import load_programme
from qcycle.schema import Programme
from qcycle.settings import get_settings
from qcycle.timetable import expand
from qcycle.workcal import WorkCalendar

__all__ = ["SimulationReport", "back_to_back_runs", "simulate", "simulate_rounds"]


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
    refused: Counter = field(default_factory=Counter)  # graded, then refused by a decision on the result
    result_kind: str = "考核结果"  # what the round's results are called (评审结果 for an award)
    messages: dict[str, Counter] = field(default_factory=dict)
    posts: dict[str, int] = field(default_factory=dict)  # sends by channel: a group post carries several messages
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    home: str = ""
    programme_file: str = ""  # the file the year ran on (with its simulated units): for commands on its home
    ended: str = ""  # the day of the year's last moment: status as of today would show a year not yet begun

    def as_dict(self) -> dict[str, Any]:
        return {
            "round": self.round_code, "ticks": self.ticks, "flow_runs": self.flow_runs,
            "actions_done": self.actions_done, "actions_skipped": self.actions_skipped,
            "submissions": dict(self.submissions), "quarantined": self.quarantined,
            "grades": dict(self.grades), "refused": dict(self.refused), "messages": {k: dict(v) for k, v in self.messages.items()},
            "posts": self.posts,
            "seconds": round(self.seconds, 2), "home": self.home, "programme_file": self.programme_file,
            "ended": self.ended, "warnings": self.warnings,
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


MARKER = ".qcycle-simulation"


def _fresh_home(home: Path) -> None:
    """Empty a simulation folder for a new run: only one this simulator made (it holds the
    marker file) or an empty one; any other folder is refused, never deleted."""
    if home.exists():
        if not (home / MARKER).exists() and any(home.iterdir()):
            raise UsageError(f"文件夹 {home} 不是 qcycle simulate 建立的模拟文件夹，不会清空它；请换一个 --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("qcycle simulate 的工作文件夹：重新模拟时整个清空\n", encoding="utf-8")


def simulate_rounds(programme_files: list[str | Path], *, seed: int = 2023, home: Path | None = None,
                    show_progress: bool = True, counties: bool = True) -> list[SimulationReport]:
    """Run several rounds in order in one working folder (one database), so a later round
    reads the earlier ones' results, as rounds of a programme do in production."""
    reports: list[SimulationReport] = []
    for i, file in enumerate(programme_files):
        if i == 0 and home is None:
            home = get_settings().home / "simulate" / load_programme(file).programme.round.code
        reports.append(simulate(file, seed=seed, home=home, show_progress=show_progress, counties=counties,
                                fresh=i == 0))
    return reports


def simulate(programme_file: str | Path, *, seed: int = 2023, home: Path | None = None,
             show_progress: bool = True, counties: bool = True, fresh: bool = True) -> SimulationReport:
    """Run a whole round on a virtual clock; return the closing report. ``fresh``: start from an
    empty working folder (else add the round to the folder's database, beside earlier rounds)."""
    import time

    from qcycle.flows.lifecycle import reconcile
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    source = load_programme(programme_file)
    code = source.programme.round.code
    home = Path(home or get_settings().home / "simulate" / code).resolve()
    if fresh:
        _fresh_home(home)
    p = synthetic.with_counties(source.programme, seed) if counties else source.programme
    expanded = _write_expanded(p, home / f"{code}.yaml")
    if source.template_dir.is_dir():  # the round's own letters (templates/ROUND/ beside the file) go with it
        shutil.copytree(source.template_dir, home / "templates" / code, dirs_exist_ok=True)
    os.environ["QCYCLE_HOME"] = str(home)
    os.environ["QCYCLE_SINK_DIR"] = str(home / "sink")
    get_settings.cache_clear()
    db.dispose_engines()
    db.upgrade()
    loaded = load_programme(expanded)
    calendar = WorkCalendar()
    timetable = expand(loaded.programme, calendar)
    report = SimulationReport(code, p.round.name, warnings=list(timetable.warnings), home=str(home),
                              programme_file=str(expanded))
    ticks = sorted({a.at for a in timetable.actions})
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
    world = synthetic.World(loaded.programme, timetable, round_id, seed)

    def moment(tick) -> int:
        done = reconcile(programme_file=str(expanded), as_of=tick, channel_override="sink", actor="flow:simulate")
        return 1 + done["stage_flow_runs"]

    def run_year() -> int:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      disable=not show_progress, transient=False) as progress:
            bar = progress.add_task(f"{code}", total=len(ticks))
            return world.play(ticks, moment, after=lambda tick: progress.update(
                bar, advance=1, total=world.moments_planned, description=f"{code} {tick:%Y-%m-%d}"))

    with back_to_back_runs():
        # Each reconcile is a top-level run (stage flows are its subflows): a parent
        # "simulate" run would add a nesting level to every run for no information.
        report.flow_runs = run_year()
    report.ticks = world.moments_played
    report.ended = f"{world.last_moment:%Y-%m-%d}" if world.last_moment else ""
    _fill(report, round_id, loaded.programme)
    report.seconds = time.perf_counter() - started
    return report


def _fill(report: SimulationReport, round_id, p) -> None:
    with db.session_scope(read_only=True) as session:
        tallies = crud.round_tallies(session=session, round_id=round_id)
    report.actions_done = tallies["actions"].get("done", 0)
    report.actions_skipped = tallies["actions"].get("skipped", 0)
    for (status, late), n in tallies["submissions"].items():
        report.submissions["逾期不予受理" if status == "rejected_late" else
                           ("逾期已受理" if late else "按时受理")] += n
    report.quarantined = tallies["quarantined"]
    counts = tallies["grades"]
    order = p.assessment.grade_names if p.assessment else []
    for grade in [*order, *sorted(set(counts) - set(order))]:  # best grade first
        if grade in counts:
            report.grades[grade] = counts[grade]
    report.refused.update(tallies["refused"])
    report.result_kind = result_kind(p)
    for (channel, status), n in tallies["messages"].items():
        report.messages.setdefault(channel, Counter())[status] += n
    report.posts = dict(tallies["posts"])
