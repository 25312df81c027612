"""Deployments from programme files: schedules from the timetable, replaced on every deploy.

Schedules are read back through the REST API of a standalone Prefect server; the safety net's
dates are those Prefect's own server-side schedule evaluation produces.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
from pathlib import Path

import pytest
import yaml

from qcycle.clock import TZ, at
from tests.prefect_proc import PREFECT, REPO

pytestmark = [pytest.mark.server, pytest.mark.slow]

MINI = REPO / "tests" / "data" / "mini.yaml"
SINCE = at(dt.date(2023, 4, 1))  # "now" for the schedules: the round is still ahead


def test_schedules_come_from_the_timetable_offline():
    from qcycle.deploy.schedules import SAFETY_NET_TIMES, schedules_for

    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    schedules = schedules_for(MINI, now=SINCE)
    timetable = expand(load_programme(MINI).programme, WorkCalendar())
    times = sorted({a.at for a in timetable.actions if a.at > SINCE})
    one_shots = [s for s in schedules if s.slug.startswith("at-")]
    assert len(one_shots) == len(times) and {s.slug for s in schedules} >= set(SAFETY_NET_TIMES)
    first = one_shots[0]
    assert first.timezone == "Asia/Shanghai"
    assert first.parameters == {"programme_file": str(MINI), "as_of": times[0].isoformat()}
    assert "COUNT=1" in first.rrule
    # Past moments get no schedule: the scheduler never plans backwards.
    assert [s for s in schedules_for(MINI, now=at(dt.date(2030, 1, 1))) if s.slug.startswith("at-")] == []


def _last_action_day(programme) -> dt.date:
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import default_calendar

    return max(a.at for a in expand(load_programme(programme).programme, default_calendar()).actions).astimezone(TZ).date()


def _fires(schedule, start: dt.datetime | None = None) -> list[dt.datetime]:
    """When Prefect's server would fire this schedule (its own evaluation, up to 1000 dates)."""
    from prefect.server.schemas.schedules import RRuleSchedule

    server_side = RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone)
    return asyncio.run(server_side.get_dates(start=start or at(dt.date(2000, 1, 1)), end=at(dt.date(2100, 1, 1))))


def _working_days(first: dt.date, last: dt.date) -> list[dt.date]:
    from qcycle.workcal import default_calendar

    days = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return [d for d in days if default_calendar().is_workday(d)]


def test_safety_net_fires_on_official_working_days_up_to_the_last_action_day():
    from qcycle.deploy.schedules import SAFETY_NET_TIMES, schedules_for
    from qcycle.flows.lifecycle import SAFETY_NET_ACTOR

    last = _last_action_day(MINI)
    assert last == dt.date(2024, 1, 10)
    net = {s.slug: s for s in schedules_for(MINI, now=SINCE) if not s.slug.startswith("at-")}
    assert set(net) == set(SAFETY_NET_TIMES)
    for slug, time in SAFETY_NET_TIMES.items():
        schedule = net[slug]
        assert schedule.timezone == "Asia/Shanghai" and "Z" not in schedule.rrule  # local stamps
        assert schedule.parameters == {"programme_file": str(MINI), "actor": SAFETY_NET_ACTOR}
        fires = _fires(schedule)
        assert fires == [at(d, time) for d in _working_days(SINCE.date(), last)]
        days = {f.date() for f in fires}
        assert max(days) == last
        # National Day 2023: Fri 29 September to Fri 6 October off, Sat 7 and Sun 8 worked (调休);
        # Qingming, Wed 5 April, off.
        assert not days & {dt.date(2023, 9, 29), dt.date(2023, 10, 2), dt.date(2023, 10, 6), dt.date(2023, 4, 5)}
        assert {dt.date(2023, 10, 7), dt.date(2023, 10, 8)} <= days
        assert all(f.utcoffset() == dt.timedelta(hours=8) and f.time() == time for f in fires)


def test_safety_net_from_inside_the_round_and_none_once_it_is_over():
    from qcycle.deploy.schedules import schedules_for

    # Noon on the eve of National Day week: the next safety-net runs are on the 调休 Saturday.
    now = at(dt.date(2023, 9, 28), dt.time(12))
    net = {s.slug: s for s in schedules_for(MINI, now=now) if s.slug.startswith("daily-")}
    assert [f.isoformat() for f in _fires(net["daily-0905"], start=now)[:2]] == [
        "2023-10-07T09:05:00+08:00", "2023-10-08T09:05:00+08:00"]
    assert _fires(net["daily-1735"], start=now)[0].isoformat() == "2023-09-28T17:35:00+08:00"
    assert "DTSTART:20230928T090500" in net["daily-0905"].rrule  # the slot before now is harmless

    # On the last action day, after its last action: nothing left, no schedule at all.
    assert schedules_for(MINI, now=at(dt.date(2024, 1, 10), dt.time(23, 59))) == []
    assert schedules_for(MINI, now=at(dt.date(2030, 1, 1))) == []


def test_safety_net_rules_fit_prefects_limit_and_split_by_year_if_not(monkeypatch):
    from prefect.client.schemas.schedules import MAX_RRULE_LENGTH
    from qcycle.deploy import schedules as deployments

    assert deployments.MAX_RRULE_LENGTH == MAX_RRULE_LENGTH
    longest = REPO / "config" / "programmes" / "zs-csy-ybq-2011.yaml"  # five years
    since = at(dt.date(2011, 1, 1))
    whole = {s.slug: s for s in deployments.schedules_for(longest, now=since) if s.slug.startswith("daily-")}
    assert set(whole) == {"daily-0905", "daily-1735"} and len(whole["daily-0905"].rrule) < MAX_RRULE_LENGTH

    monkeypatch.setattr(deployments, "MAX_RRULE_LENGTH", 1000)  # one year fits, five do not
    split = [s for s in deployments.schedules_for(longest, now=since) if s.slug.startswith("daily-0905")]
    last = _last_action_day(longest)
    assert [s.slug for s in split] == [f"daily-0905-{y}" for y in range(2011, last.year + 1)]
    assert all(len(s.rrule) <= 1000 for s in split)

    def every(schedule) -> list[dt.datetime]:  # more than get_dates' 1000, so iterate the rule
        from prefect.server.schemas.schedules import RRuleSchedule

        return list(RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone).to_rrule())

    fired = sorted(f for s in split for f in every(s))
    assert fired == every(whole["daily-0905"])
    assert [f.date() for f in fired] == _working_days(dt.date(2011, 1, 1), last)


def _deployment(server, name: str) -> dict:
    return server.get(f"/deployments/name/qcycle-reconcile/{name}").json()


def test_redeploying_an_edited_programme_replaces_its_schedules(prefect_process, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from qcycle.deploy.deployments import apply
    from qcycle.deploy.schedules import schedules_for
    from qcycle.flows.lifecycle import SAFETY_NET_ACTOR

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
            # The server accepted the working-day rule set as sent (local stamps, Asia/Shanghai).
            net = next(s for s in first["schedules"] if s["slug"] == "daily-0905")
            sent = next(s for s in schedules_for(programme, now=SINCE) if s.slug == "daily-0905")
            assert net["schedule"] == {"rrule": sent.rrule, "timezone": "Asia/Shanghai"}
            assert "RDATE:20230423T090500," in net["schedule"]["rrule"]
            assert net["parameters"] == {"programme_file": str(programme), "actor": SAFETY_NET_ACTOR}
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

            # Once the round is over: no schedule sent, and none left.
            apply([programme], "qcycle-test", now=at(dt.date(2030, 1, 1)))
            over = _deployment(prefect_process, "mini-2023")
    finally:
        get_settings.cache_clear()
        db.dispose_engines()
    slugs2 = {s["slug"] for s in second["schedules"]}
    assert second["id"] == first["id"]
    assert "at-20230414-1730" not in slugs2 and "at-20230421-1730" in slugs2
    assert len(second["schedules"]) == len(set(slugs2))  # no duplicates left from the first deploy
    assert over["id"] == first["id"] and over["schedules"] == []


def test_prefect_yaml_and_compose_parse(tmp_path):
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    names = {d["name"] for d in doc["deployments"]}
    programmes = {yaml.safe_load(p.read_text(encoding="utf-8"))["round"]["code"]
                  for p in (REPO / "config" / "programmes").glob("*.yaml")}
    assert programmes <= names
    for d in doc["deployments"]:
        assert d["entrypoint"] in ("qcycle.flows.lifecycle:reconcile", "qcycle.flows.intake:intake")
        assert d["work_pool"]["name"] == "qcycle"
        if d["entrypoint"].endswith("reconcile"):  # dated: added by qcycle deploy / serve
            assert d["schedules"] == []
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


def test_intake_bounds_from_intake_yaml_reach_the_flow(home, monkeypatch):
    from qcycle.deploy import deployments
    from qcycle.flows.intake import intake

    source = {"url": "http://127.0.0.1:9/records", "token_env": "QC_TOKEN", "cron": "0 9 * * *",
              "deadline": 60, "max_page_bytes": 1_048_576, "allow_redirects_to": ["http://127.0.0.1:10"]}
    monkeypatch.setattr(deployments, "intake_sources", lambda: {"mini-2023": source})
    (found,) = [d for d in deployments.build_deployments([MINI], now=SINCE) if d.name == "mini-2023-intake"]
    assert found.parameters == {"programme_file": str(MINI), "url": source["url"], "token_env": "QC_TOKEN",
                                "deadline": 60, "max_page_bytes": 1_048_576,
                                "allow_redirects_to": ["http://127.0.0.1:10"]}
    # The flow takes them (its parameters are validated against its signature).
    assert intake.validate_parameters(found.parameters)["deadline"] == 60
