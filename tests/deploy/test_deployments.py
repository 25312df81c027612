"""Deployments from programme files: schedules from the timetable, replaced on every deploy.

Schedules are read back through the REST API of a standalone Prefect server.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
import yaml

from qcycle.clock import at
from tests.prefect_proc import PREFECT, REPO

pytestmark = [pytest.mark.server, pytest.mark.slow]

MINI = REPO / "tests" / "data" / "mini.yaml"
SINCE = at(dt.date(2023, 4, 1))  # "now" for the schedules: the round is still ahead


def test_schedules_come_from_the_timetable_offline():
    from deploy.deployments import SAFETY_NET_CRONS, schedules_for
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    schedules = schedules_for(MINI, now=SINCE)
    timetable = expand(load_programme(MINI).programme, WorkCalendar())
    times = sorted({a.at for a in timetable.actions if a.at > SINCE})
    one_shots = [s for s in schedules if s.slug.startswith("at-")]
    assert len(one_shots) == len(times) and {s.slug for s in schedules} >= set(SAFETY_NET_CRONS)
    first = one_shots[0]
    assert first.timezone == "Asia/Shanghai"
    assert first.parameters == {"programme_file": str(MINI), "as_of": times[0].isoformat()}
    assert "COUNT=1" in first.rrule
    # Past moments get no schedule: the scheduler never plans backwards.
    assert [s for s in schedules_for(MINI, now=at(dt.date(2030, 1, 1))) if s.slug.startswith("at-")] == []


def _deployment(server, name: str) -> dict:
    return server.get(f"/deployments/name/qcycle-reconcile/{name}").json()


def test_redeploying_an_edited_programme_replaces_its_schedules(prefect_process, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deploy.deployments import apply
    from qcycle import db
    from qcycle.settings import get_settings

    monkeypatch.setenv("QCYCLE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    programme = tmp_path / "mini.yaml"
    programme.write_text(MINI.read_text(encoding="utf-8"), encoding="utf-8")
    created = subprocess.run([PREFECT, "work-pool", "create", "qcycle-test", "--type", "process", "--overwrite"], check=False,
                             env=prefect_process.client_env(), capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    try:
        with temporary_settings({PREFECT_API_URL: prefect_process.url}):
            apply([programme], "qcycle-test", now=SINCE)
            first = _deployment(prefect_process, "mini-2023")
            slugs = {s["slug"] for s in first["schedules"]}
            assert {"daily-0905", "daily-1735", "at-20230414-1730", "at-20230403-0900"} <= slugs
            assert all(s["active"] for s in first["schedules"]) and not first["paused"]
            assert first["work_pool_name"] == "qcycle-test"
            slot = next(s for s in first["schedules"] if s["slug"] == "at-20230414-1730")
            assert slot["parameters"]["as_of"] == "2023-04-14T17:30:00+08:00"
            assert slot["schedule"]["timezone"] == "Asia/Shanghai"
            # Typed, validated parameters for runs started from the UI.
            props = first["parameter_openapi_schema"]["properties"]
            assert props["as_of"]["anyOf"][0]["format"] == "date-time"
            assert props["only_stage"]["anyOf"][0]["type"] == "string" and props["only_stage"]["description"]
            assert first["parameter_openapi_schema"]["required"] == ["programme_file"]

            # The deadline moves a week, and the review after it (validate refuses a decision
            # planned before the window it decides on closes).
            edited = programme.read_text(encoding="utf-8").replace("deadline: {date: 2023-04-14}",
                                                                  "deadline: {date: 2023-04-21}")
            edited = edited.replace("decision: true, on: 2023-04-17}", "decision: true, on: 2023-04-24}")
            edited = edited.replace("kind: publication, on: 2023-04-19,", "kind: publication, on: 2023-04-26,")
            assert "2023-04-21" in edited
            programme.write_text(edited, encoding="utf-8")
            apply([programme], "qcycle-test", now=SINCE)
            second = _deployment(prefect_process, "mini-2023")
    finally:
        get_settings.cache_clear()
        db.dispose_engines()
    slugs2 = {s["slug"] for s in second["schedules"]}
    assert second["id"] == first["id"]
    assert "at-20230414-1730" not in slugs2 and "at-20230421-1730" in slugs2
    assert len(second["schedules"]) == len(set(slugs2))  # no duplicates left from the first deploy


def test_prefect_yaml_and_compose_parse(tmp_path):
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    names = {d["name"] for d in doc["deployments"]}
    programmes = {yaml.safe_load(p.read_text(encoding="utf-8"))["round"]["code"]
                  for p in (REPO / "config" / "programmes").glob("*.yaml")}
    assert programmes <= names
    for d in doc["deployments"]:
        assert d["entrypoint"] in ("flows/lifecycle.py:reconcile", "flows/intake.py:intake")
        assert d["work_pool"]["name"] == "qcycle"
        assert all(s["timezone"] == "Asia/Shanghai" for s in d["schedules"])
        if d["entrypoint"].endswith("reconcile"):
            assert Path(REPO / d["parameters"]["programme_file"]).exists()
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    assert {"postgres", "prefect-server", "worker"} <= set(compose["services"])
    server_env = compose["services"]["prefect-server"]["environment"]
    assert server_env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert server_env["PREFECT_SERVER_ANALYTICS_ENABLED"] in ("false", False)
    for unit in ("prefect-server.service", "qcycle-worker.service", "qcycle-serve.service"):
        text = (REPO / "deploy" / "systemd" / unit).read_text(encoding="utf-8")
        assert "EnvironmentFile=" in text and "ExecStart=" in text
