"""The main job, steady (issue 14): ``qcycle simulate`` of the Sichuan round beside an empty year.

    python bench/main_job.py --runs 5 --load 2 --json OUT.json [--programme FILE] [--qcycle PATH]

Each pair starts from a fresh state (a new ``QCYCLE_HOME`` and ``PREFECT_HOME``: fresh qcycle and
Prefect databases) and is timed as a user runs it, server start included:

1. **the year**: ``qcycle simulate PROGRAMME --home H`` in a subprocess: ``wall_s``; ``locked_lines``,
   the lines with "database is locked" in its output and in the embedded server's log (the
   server is asked to report them: ``PREFECT_SERVER_LOG_RETRYABLE_ERRORS=true``); ``ok``, exit
   code 0 and the closing report printed.
2. **its shape**, read back from that Prefect database: the tree of flow runs (top-level runs,
   their stage subflows), the task runs and the artifacts of each.
3. **the empty year** (``empty_year_s``): ``python bench/main_job.py --empty-year SHAPE.json`` in
   a fresh state: the same tree of flow runs, task runs and artifacts doing no work, on the same
   embedded server (``deploy.server.embedded_api``) with the same run settings
   (``flows.simulate.back_to_back_runs``): Prefect's own floor for this shape.

With ``--load N`` the pairs run again with N CPU-burning processes beside them
(``loaded_runs``). Figures are printed against the targets (median pair ratio ≤ 1.5, every pair
≤ 2.0, no "database is locked" line, every loaded run completing), never asserted. Writes
``{"runs": [{"wall_s", "empty_year_s", "locked_lines", "ok", ...}], "loaded_runs": [...],
"median_ratio", "max_ratio", "loaded_median_ratio", "loaded_max_ratio", "machine"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import machine

QCYCLE = Path(sys.executable).with_name("qcycle")
PROGRAMME = ROOT / "config" / "programmes" / "sc-jbgs-2023.yaml"
TARGETS = {"median_ratio": 1.5, "max_ratio": 2.0}
LOCKED = "database is locked"


def _env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "QCYCLE_"))}
    env.update(QCYCLE_HOME=str(state / "qcycle"), PREFECT_HOME=str(state / "prefect"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
               PREFECT_SERVER_LOG_RETRYABLE_ERRORS="true")
    return env


def _timed(cmd: list[str], state: Path, timeout: float) -> dict[str, Any]:
    """Run one command as a user would, from a fresh state; its time, output and locked lines."""
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, env=_env(state), capture_output=True, text=True, timeout=timeout, check=False)
        rc, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        rc, output = -1, f"timed out after {timeout:g} s\n{exc.stdout or ''}{exc.stderr or ''}"
    wall = time.perf_counter() - started
    server_log = state / "qcycle" / "prefect-server.log"
    log = server_log.read_text(errors="replace") if server_log.exists() else ""
    locked = sum(LOCKED in line for line in (output + "\n" + log).splitlines())
    return {"wall_s": round(wall, 2), "rc": rc, "locked_lines": locked, "tail": output[-600:],
            "finished": "模拟完成" in output}


# -- the shape of a year, from Prefect's database ---------------------------------------------------


def read_shape(prefect_db: Path) -> list[dict[str, Any]]:
    """The top-level flow runs in order, each a tree ``{"tasks": [artifacts per task run],
    "artifacts": n, "subflows": [...]}``; a subflow's own task run in its parent is the
    subflow call, not counted as a task."""
    con = sqlite3.connect(f"file:{prefect_db}?mode=ro", uri=True)
    flows = con.execute("SELECT id, parent_task_run_id FROM flow_run ORDER BY created").fetchall()
    tasks = con.execute("SELECT id, flow_run_id FROM task_run ORDER BY created").fetchall()
    artifacts = con.execute("SELECT flow_run_id, task_run_id FROM artifact").fetchall()
    con.close()
    calls = {parent for _, parent in flows if parent}
    task_flow = {t: f for t, f in tasks}
    per_task: dict[str, int] = {}
    per_flow: dict[str, int] = {}
    for flow_run, task_run in artifacts:
        if task_run:
            per_task[task_run] = per_task.get(task_run, 0) + 1
        else:
            per_flow[flow_run] = per_flow.get(flow_run, 0) + 1
    children: dict[str, list[str]] = {}
    for flow_run, parent in flows:
        if parent:
            children.setdefault(task_flow.get(parent, ""), []).append(flow_run)

    def node(flow_run: str) -> dict[str, Any]:
        return {"tasks": [per_task.get(t, 0) for t, f in tasks if f == flow_run and t not in calls],
                "artifacts": per_flow.get(flow_run, 0),
                "subflows": [node(child) for child in children.get(flow_run, [])]}

    return [node(flow_run) for flow_run, parent in flows if not parent]


def shape_counts(shape: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"flow_runs": 0, "subflow_runs": 0, "task_runs": 0, "artifacts": 0}

    def walk(node: dict[str, Any], top: bool) -> None:
        counts["flow_runs" if top else "subflow_runs"] += 1
        counts["task_runs"] += len(node["tasks"])
        counts["artifacts"] += node["artifacts"] + sum(node["tasks"])
        for child in node["subflows"]:
            walk(child, False)

    for top in shape:
        walk(top, True)
    return counts


# -- the empty year (runs in a child process: python bench/main_job.py --empty-year SHAPE) ----------


def empty_year(shape: list[dict[str, Any]]) -> None:
    """Replay ``shape`` doing nothing, against the Prefect API this process is configured for."""
    from prefect import flow, task
    from prefect.artifacts import create_table_artifact
    from prefect.cache_policies import NONE
    from qcycle.flows.simulate import back_to_back_runs

    # The settings qcycle's own tasks and stage flows use (no cache key, no parameter
    # validation), and small parameters: a node is named by its path in the shape.

    def node_at(path: str) -> dict[str, Any]:
        first, *rest = (int(i) for i in path.split("."))
        node = shape[first]
        for i in rest:
            node = node["subflows"][i]
        return node

    @task(name="empty-step", cache_policy=NONE)
    def step(artifacts: int) -> None:
        for _ in range(artifacts):
            create_table_artifact([{"项": "空"}])

    def body(path: str) -> None:
        node = node_at(path)
        for artifacts in node["tasks"]:
            step(artifacts)
        for i in range(len(node["subflows"])):
            stage(f"{path}.{i}")
        for _ in range(node["artifacts"]):
            create_table_artifact([{"项": "空"}])

    @flow(name="empty-stage", validate_parameters=False)
    def stage(path: str) -> None:
        body(path)

    @flow(name="empty-reconcile")
    def top(path: str) -> None:
        body(path)

    with back_to_back_runs():
        for i in range(len(shape)):
            top(str(i))


def run_empty_year(shape_file: Path) -> None:
    """The empty year on the embedded server, as ``qcycle simulate`` runs its year."""
    from qcycle.deploy.server import embedded_api

    shape = json.loads(shape_file.read_text(encoding="utf-8"))
    with embedded_api():
        empty_year(shape)
    print(f"empty year: {len(shape)} top-level runs")


# -- pairs ------------------------------------------------------------------------------------------


def run_pair(programme: Path, qcycle: Path, work: Path, index: int, timeout: float) -> dict[str, Any]:
    year_state = work / f"year-{index}"
    year = _timed([str(qcycle), "simulate", str(programme), "--home", str(year_state / "sim")], year_state, timeout)
    year["ok"] = year["rc"] == 0 and year["finished"]
    shape = read_shape(year_state / "prefect" / "prefect.db") if year["ok"] else []
    shape_file = work / f"shape-{index}.json"
    shape_file.write_text(json.dumps(shape), encoding="utf-8")
    empty_state = work / f"empty-{index}"
    empty = _timed([sys.executable, str(Path(__file__).resolve()), "--empty-year", str(shape_file)],
                   empty_state, timeout)
    result = {"wall_s": year["wall_s"], "empty_year_s": empty["wall_s"], "locked_lines": year["locked_lines"],
              "ok": year["ok"], "ratio": round(year["wall_s"] / empty["wall_s"], 2) if empty["rc"] == 0 else None,
              "empty_year_ok": empty["rc"] == 0, "empty_year_locked_lines": empty["locked_lines"],
              "shape": shape_counts(shape)}
    if empty["rc"] == 0 and shape:
        result["empty_shape"] = shape_counts(read_shape(empty_state / "prefect" / "prefect.db"))
    if not year["ok"]:
        result["tail"] = year["tail"]
    if empty["rc"] != 0:
        result["empty_year_tail"] = empty["tail"]
    return result


def _burners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _ratios(runs: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    ratios = [r["ratio"] for r in runs if r["ratio"] is not None]
    return (round(statistics.median(ratios), 2), max(ratios)) if ratios else (None, None)


def measure(runs: int, load: int, programme: Path, qcycle: Path, work: Path, timeout: float) -> dict[str, Any]:
    report: dict[str, Any] = {"programme": str(programme), "qcycle": str(qcycle), "machine": machine(),
                              "runs": [], "loaded_runs": [], "targets": TARGETS}
    for i in range(runs):
        report["runs"].append(run_pair(programme, qcycle, work, i, timeout))
        print(f"pair {i + 1}/{runs}: {json.dumps(report['runs'][-1], ensure_ascii=False)}", flush=True)
    for i in range(runs if load else 0):
        burners = _burners(load)
        try:
            report["loaded_runs"].append(run_pair(programme, qcycle, work, runs + i, timeout))
        finally:
            for b in burners:
                b.kill()
                b.wait()
        print(f"loaded pair {i + 1}/{runs} (load {load}): {json.dumps(report['loaded_runs'][-1], ensure_ascii=False)}",
              flush=True)
    report["load"] = load
    report["median_ratio"], report["max_ratio"] = _ratios(report["runs"])
    report["loaded_median_ratio"], report["loaded_max_ratio"] = _ratios(report["loaded_runs"])
    return report


def print_summary(report: dict[str, Any]) -> None:
    every = report["runs"] + report["loaded_runs"]
    locked = sum(r["locked_lines"] for r in every)
    print(f"\nmain job: {len(report['runs'])} pairs, median ratio {report['median_ratio']} "
          f"(target ≤ {TARGETS['median_ratio']}), max {report['max_ratio']} (target ≤ {TARGETS['max_ratio']})")
    if report["loaded_runs"]:
        done = sum(r["ok"] for r in report["loaded_runs"])
        print(f"under load {report['load']}: {done}/{len(report['loaded_runs'])} completed, median ratio "
              f"{report['loaded_median_ratio']}, max {report['loaded_max_ratio']}")
    print(f"'database is locked' lines: {locked} (target 0); runs not ok: {sum(not r['ok'] for r in every)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load", type=int, default=0, help="CPU-burning processes beside a second set of pairs")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--programme", type=Path, default=PROGRAMME)
    parser.add_argument("--qcycle", type=Path, default=QCYCLE, help="the qcycle command (e.g. another checkout's)")
    parser.add_argument("--keep", type=Path, help="keep the homes in this folder")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per command before it counts as failed")
    parser.add_argument("--empty-year", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.empty_year:
        run_empty_year(args.empty_year)
        return
    with tempfile.TemporaryDirectory(prefix="qcycle-main-job-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        report = measure(args.runs, args.load, args.programme.resolve(), args.qcycle, work, args.timeout)
    print_summary(report)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
