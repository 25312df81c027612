"""The three ways of running the same benchmark year (run inside a fresh worker process).

- ``floor``:  the core functions called directly, no Prefect imported (expand, due,
  carry_out, queue_drafts, deliver_due with the sink, ingest).
- ``qcycle``: the product as built, as ``flows.simulate`` runs it: the world's records are
  ingested directly and ``flows.lifecycle.reconcile`` runs once per timetable moment
  (heartbeats off: ``flows.simulate.back_to_back_runs``), against
  the Prefect server named by ``PREFECT_API_URL``.
- ``naive``:  the design a newcomer writes first: one flow run per moment, one task run per
  submission ingested and one task run per message (``send_one``: queue the draft, deliver
  it), same server setup, heartbeats off too (with them on, each of its flow runs would cost
  ~1 s more).

Each mode returns a dict of figures; :func:`main` (``python bench/modes.py MODE ...``) is the
worker entry point that :mod:`bench.run` starts in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["MODES", "run_mode"]

MODES = ("qcycle", "naive", "floor")
# How many list items a unit applies for (mean 3.5 → ~10,000 applications at 3,209 units).
ITEMS_PER_APPLICANT = (2, 3, 3, 4, 4, 5)


def _setup(programme_file: Path, home: Path, load=None):
    """Fresh app database in ``home``; returns (loaded, timetable, round_id).

    ``load``: how to read the programme (qcycle mode: ``tasks.rounds.cached_programme``, so
    that ``reconcile`` finds it parsed, as a long-running worker process would)."""
    os.environ["QCYCLE_HOME"] = str(home)
    os.environ["QCYCLE_SINK_DIR"] = str(home / "sink")
    # One JSON Lines file per day, in every mode: creating 40,000 files costs 8–18 s of kernel
    # time on these machines (it varies run to run), more than anything qcycle does with them.
    os.environ.setdefault("QCYCLE_SINK_LAYOUT", "jsonl")
    from qcycle import db
    from qcycle.lifecycle import sync_round
    from qcycle.loader import load_programme
    from qcycle.settings import get_settings
    from qcycle.timetable import expand
    from qcycle.workcal import default_calendar

    get_settings.cache_clear()
    db.dispose_engines()
    db.upgrade()
    loaded = (load or load_programme)(programme_file)
    timetable = expand(loaded.programme, default_calendar())
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
    return loaded, timetable, round_id


def _world(p, timetable, round_id):
    """The same outside world for every mode (``qcycle.synthetic.World``): each unit applies
    for 2–5 list items (≈10,000 applications at 3,209 units)."""
    from qcycle.synthetic import World

    return World(p, timetable, round_id, seed=2025, items_per_applicant=ITEMS_PER_APPLICANT, source="bench")


# ---------------------------------------------------------------- floor


def run_floor(programme_file: Path, home: Path) -> dict[str, Any]:
    from qcycle import synthetic

    loaded, timetable, round_id = _setup(programme_file, home)
    world = _world(loaded.programme, timetable, round_id)
    synthetic.play_locally(loaded, timetable, round_id, world.seed, actor="bench:floor", world=world)
    ticks = {a.at for a in timetable.actions}
    return {"ticks": len(ticks), "flow_runs": 0, "records": world.records_made}


# ---------------------------------------------------------------- qcycle (the product)


def run_qcycle(programme_file: Path, home: Path) -> dict[str, Any]:
    from qcycle.flows.lifecycle import reconcile
    from qcycle.flows.simulate import back_to_back_runs
    from qcycle.tasks.rounds import cached_programme

    loaded, timetable, round_id = _setup(programme_file, home, load=cached_programme)
    world = _world(loaded.programme, timetable, round_id)
    ticks = sorted({a.at for a in timetable.actions})

    def moment(tick: dt.datetime) -> int:
        done = reconcile(programme_file=str(programme_file), as_of=tick, channel_override="sink",
                         actor="bench:qcycle")
        return 1 + done["stage_flow_runs"]

    with back_to_back_runs():
        runs = world.play(ticks, moment)
    return {"ticks": len(ticks), "flow_runs": runs, "records": world.records_made}


# ---------------------------------------------------------------- naive (a task run per item)


def run_naive(programme_file: Path, home: Path) -> dict[str, Any]:
    from prefect import flow, task
    from prefect.cache_policies import NONE
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from qcycle import db, moment
    from qcycle.intake import ingest
    from qcycle.lifecycle import carry_out
    from qcycle.notify.outbox import deliver_due, queue_drafts
    from qcycle.timetable import due

    loaded, timetable, round_id = _setup(programme_file, home)
    p, code = loaded.programme, loaded.programme.round.code
    template_dir = loaded.template_dir
    world = _world(p, timetable, round_id)
    ticks = sorted({a.at for a in timetable.actions})
    actor = "bench:naive"
    counts = {"task_runs": 0}

    @task(name="ingest_one", cache_policy=NONE)
    def ingest_one(record: dict, source: str) -> str:
        with db.session_scope() as session:
            return ingest(session=session, programme=p, timetable=timetable, round_id=round_id,
                          record=record, source=source).status

    @task(name="send_one", cache_policy=NONE)
    def send_one(unit: str, draft: Any, tick: dt.datetime) -> int:
        with db.session_scope() as session:
            queue_drafts(session=session, programme=p, round_id=round_id, drafts=[draft],
                         template_dir=template_dir)
        return deliver_due(programme=p, round_id=round_id, now=tick, channel_override="sink",
                           template_dir=template_dir).sent

    @flow(name="naive-moment", validate_parameters=False)
    def naive_moment(tick: dt.datetime, final: bool = False) -> None:
        if not final:
            with db.session_scope() as session:
                arriving = world.arriving(session, tick)
            for record, source in arriving:
                ingest_one(record, source)
                counts["task_runs"] += 1
            with db.session_scope() as session:
                world.decide(session, tick, strictly_before=True)
        with db.session_scope() as session:
            plan = due(timetable, tick, moment.done_actions(session, round_id))
            if plan.skipped:
                moment.record_skipped(session, code, round_id, plan.skipped, actor)
        for action in plan.run:
            with db.session_scope() as session:
                outcome = carry_out(session, p, round_id, action)
            for draft in outcome.drafts:
                send_one(draft.unit, draft, tick)
                counts["task_runs"] += 1
            with db.session_scope() as session:
                moment.record_outcome(session, code, round_id, outcome, actor)
        # Whatever was held back (office hours) or failed earlier.
        deliver_due(programme=p, round_id=round_id, now=tick, channel_override="sink", template_dir=template_dir)

    runs = 0
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        for tick in ticks:
            naive_moment(tick)
            runs += 1
        with db.session_scope() as session:
            late = world.decide(session, ticks[-1])
        if late:
            naive_moment(ticks[-1], final=True)
            runs += 1
    return {"ticks": len(ticks), "flow_runs": runs, "records": world.records_made, **counts}


# ---------------------------------------------------------------- figures


def _file_mib(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def _app_figures(home: Path) -> dict[str, Any]:
    from sqlmodel import func, select

    from qcycle import db
    from qcycle.models import (
        AssessmentResult,
        Decision,
        OutboxMessage,
        QuarantinedRecord,
        Review,
        Submission,
    )

    out: dict[str, Any] = {}
    with db.session_scope() as session:
        def count(model, *where):
            return session.exec(select(func.count()).select_from(model).where(*where)).one()

        out["messages"] = count(OutboxMessage, OutboxMessage.status == "sent")
        out["outbox_rows"] = count(OutboxMessage)
        out["outbox_not_sent"] = out["outbox_rows"] - out["messages"]
        out["submissions"] = dict(session.exec(select(Submission.kind, func.count()).group_by(Submission.kind)).all())
        out["reviews"] = count(Review)
        out["decisions"] = count(Decision)
        out["results"] = count(AssessmentResult)
        out["quarantined"] = count(QuarantinedRecord)
    db.dispose_engines()
    sink = home / "sink"
    out["sink_messages"] = (sum(1 for _ in sink.glob("*.json"))
                            + sum(len(f.read_bytes().splitlines()) for f in sink.glob("*.jsonl"))) if sink.is_dir() else 0
    out["app_db_mib"] = round(_file_mib(home / "qcycle.db", home / "qcycle.db-wal"), 2)
    return out


_CORE = ["qcycle.db", "qcycle.intake", "qcycle.lifecycle", "qcycle.loader", "qcycle.moment",
         "qcycle.notify.outbox", "qcycle.synthetic", "qcycle.timetable", "qcycle.workcal"]
_IMPORTS = {"floor": _CORE, "qcycle": [*_CORE, "qcycle.flows.lifecycle", "qcycle.flows.simulate", "qcycle.tasks.rounds"],
            "naive": [*_CORE, "prefect", "prefect.cache_policies"]}


def run_mode(mode: str, programme_file: Path, home: Path, profile: Path | None = None) -> dict[str, Any]:
    runner = {"floor": run_floor, "qcycle": run_qcycle, "naive": run_naive}[mode]
    home.mkdir(parents=True, exist_ok=True)
    # A worker that runs a programme has its modules loaded already: importing them (Prefect
    # takes ~1.5 s) is start-up, reported apart as import_s, not part of the year.
    started = time.perf_counter()
    for module in _IMPORTS[mode]:
        importlib.import_module(module)
    import_s = time.perf_counter() - started
    started = time.perf_counter()
    if profile is not None:
        import cProfile

        prof = cProfile.Profile()
        extra = prof.runcall(runner, programme_file, home)
        prof.dump_stats(str(profile))
    else:
        extra = runner(programme_file, home)
    wall = time.perf_counter() - started
    figures = {"wall_s": round(wall, 2), "import_s": round(import_s, 2),
               "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    figures.update(_app_figures(home))
    figures.update(extra)
    return figures


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="benchmark worker: one mode, one year, this process")
    ap.add_argument("mode", choices=MODES)
    ap.add_argument("--programme", type=Path, required=True)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    args = ap.parse_args(argv)
    figures = run_mode(args.mode, args.programme, args.home, args.profile)
    args.out.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
