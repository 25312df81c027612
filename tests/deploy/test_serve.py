"""Acceptance: `qcycle serve` fires a schedule and the run completes; after a stop and a
restart the schedules are still active, and a slot missed meanwhile is caught up by reconcile.

The round (tests/data/mini.yaml) is in 2023, so the test fires one-shot schedules a few
seconds from now for logical moments of that round (`--extra-slot SECONDS=AS_OF`, test only).
A standalone Prefect server (scheduler every 2 s) and `qcycle serve` run as subprocesses.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.prefect_proc import QCYCLE, REPO, flow_runs, stop

pytestmark = [pytest.mark.server, pytest.mark.slow]

MINI = REPO / "tests" / "data" / "mini.yaml"
# The test-only slots, in seconds after `qcycle serve` builds its schedules. The first must
# still be ahead once Prefect's scheduler (every 2 s) has planned it: 4 s after they are built
# on an idle machine, 8 s on a loaded one (the deployment is applied twice, then one scheduler
# pass). The second stands for a slot missed while serve is down: it is planned, then dropped
# before it comes (an hour ahead: beyond the runner's 10 s prefetch and any slow stop), as
# Prefect drops a slot that passed while nothing ran it; waiting for it to pass took a minute
# and tested Prefect's scheduler, not qcycle.
FIRST_S = 20
MISSED_S = 3600


def _serve(server, home: Path, programme: Path, *slots: str) -> subprocess.Popen:
    env = server.client_env(QCYCLE_HOME=str(home), QCYCLE_SINK_DIR=str(home / "sink"),
                            PREFECT_RUNNER_POLL_FREQUENCY="1")
    args = [QCYCLE, "serve", str(programme)] + [a for s in slots for a in ("--extra-slot", s)]
    with open(home / f"serve-{time.monotonic_ns()}.log", "wb") as log:  # the child keeps its own handle
        return subprocess.Popen(args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _since(runs: list[dict], since: dt.datetime) -> list[dict]:
    """The runs created from ``since`` on: the server is the worker's, and other tests on it run
    rounds of the same file (the UI test simulates it, the workers test serves it), whose runs
    bear the same names."""
    return [r for r in runs if dt.datetime.fromisoformat(r["created"]) >= since]


def _wait_run(server, name: str, since: dt.datetime, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in _since(flow_runs(server, "qcycle-reconcile", name), since) if r["name"] == name]
        if runs and runs[0]["state_type"] in ("COMPLETED", "FAILED", "CRASHED"):
            return runs[0]
        time.sleep(0.5)
    seen = [(r["name"], r["state_type"], r["expected_start_time"]) for r in flow_runs(server, "qcycle-reconcile")]
    raise AssertionError(f"no finished run named {name!r} within {timeout} s; runs: {seen}")


def _done(home: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{home / 'qcycle.db'}")
    try:
        with engine.connect() as conn:
            return {k.partition("@")[0]  # the key without the day it serves
                    for (k,) in conn.execute(text("select action_key from action_run where outcome = 'done'"))}
    finally:
        engine.dispose()


def test_serve_fires_a_schedule_survives_a_restart_and_catches_up(prefect_process, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    since = dt.datetime.now(dt.UTC)
    programme = tmp_path / "mini.yaml"
    programme.write_text(MINI.read_text(encoding="utf-8"), encoding="utf-8")
    server = prefect_process
    started = time.monotonic()

    def mark(what: str) -> None:  # the timeline, shown if the test fails
        print(f"{time.monotonic() - started:6.1f} s  {what}")

    # First start: a slot FIRST_S after the schedules are built (publication day) and one
    # MISSED_S after (application deadline), which will be missed while serve is stopped.
    proc = _serve(server, home, programme, f"{FIRST_S}=2023-04-03T09:00", f"{MISSED_S}=2023-04-14T17:30")
    try:
        first = _wait_run(server, "mini-2023·对账·2023-04-03 09:00", since)
        planned_ahead = (dt.datetime.fromisoformat(first["expected_start_time"])
                         - dt.datetime.fromisoformat(first["created"])).total_seconds()
        mark(f"first run {first['state_type']} (planned {planned_ahead:.1f} s before its slot)")
        assert first["state_type"] == "COMPLETED", first
        assert {"publish_list:publish", "application:window_open"} <= _done(home)
    finally:
        stop(proc)
    mark("serve stopped")
    deployment = server.get("/deployments/name/qcycle-reconcile/mini-2023").json()
    assert not deployment["paused"] and all(s["active"] for s in deployment["schedules"])
    # A 2023 round has no action left today: no working-day safety net fires for it.
    assert not any(s["slug"].startswith("daily-") for s in deployment["schedules"])

    # While stopped, the deadline slot is missed. Prefect never backfills a slot it did not
    # run (server down, schedule removed): the run it planned is dropped, as if the slot passed.
    missed = next(r for r in _since(flow_runs(server, "qcycle-reconcile"), since)
                  if str(r["parameters"].get("as_of", "")).startswith("2023-04-14T17:30"))
    mark(f"the missed slot's run is {missed['state_type']}")
    assert missed["state_type"] == "SCHEDULED", missed["state_type"]  # planned, never started
    assert server.send("DELETE", f"/flow_runs/{missed['id']}").status_code == 204
    assert "application:deadline" not in _done(home)

    # Restart: schedules replaced from the file (the test-only slots are gone), still active;
    # the safety-net reconcile "as of now" catches up the missed deadline.
    proc = _serve(server, home, programme)
    mark("serve restarted")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            slugs = {s["slug"] for s in server.get("/deployments/name/qcycle-reconcile/mini-2023").json()["schedules"]}
            if not any(s.startswith("extra-") for s in slugs):
                break
            time.sleep(0.5)
        mark("schedules replaced")
        deployment = server.get("/deployments/name/qcycle-reconcile/mini-2023").json()
        assert not deployment["paused"] and all(s["active"] for s in deployment["schedules"])
        assert not any(s["slug"].startswith("extra-") for s in deployment["schedules"])
        run = server.post(f"/deployments/{deployment['id']}/create_flow_run",
                          {"name": "mini-2023·兜底对账", "parameters": {"actor": "schedule:safety-net"}}).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = server.get(f"/flow_runs/{run['id']}").json()["state_type"]
            if state in ("COMPLETED", "FAILED", "CRASHED"):
                break
            time.sleep(0.5)
        mark(f"safety-net run {state}")
        assert state == "COMPLETED"
        # Named by round, kind and moment (the safety net runs "as of" its start).
        name = server.get(f"/flow_runs/{run['id']}").json()["name"]
        assert name.startswith("mini-2023·兜底对账·20"), name
    finally:
        stop(proc)
    assert {"application:deadline", "application:overdue", "application:escalation"} <= _done(home)
