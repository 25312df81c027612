"""Acceptance (issue 16): an amended file, and a unit's own extension, re-plan the served
``reconcile`` deployment the way they re-plan ``reconcile`` and ``backfill``.

The Sichuan round is deployed as ``qcycle serve`` deploys it, as of 2023-04-19 18:00; the
province then moves the application deadline to 04-28 (the review and the takers list after
it), and grants Mianyang (510700) its own deadline, 05-10. The next run of the deployment (a
flow run created from it and run here, as the runner would) re-plans its schedules. They are
read back from a standalone Prefect server and compared by content with the timetable: no
waiting on the wall clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from qcycle import clock
from qcycle.cli import app
from tests.prefect_proc import REPO
from tests.test_amendments import _extended

pytestmark = [pytest.mark.server, pytest.mark.slow]

SICHUAN = REPO / "config" / "programmes" / "sc-jbgs-2023.yaml"
MOMENT = clock.at(dt.date(2023, 4, 19), dt.time(18, 0))


def _schedules(server) -> dict[str, dict]:
    found = server.get("/deployments/name/qcycle-reconcile/sc-jbgs-2023").json()
    return {s["slug"]: s for s in found["schedules"]}


def _run_deployment(server) -> None:
    """One run of the deployment, as its runner would start it: a flow run created from the
    deployment (so it carries the deployment's id), run in this process."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from qcycle.flows.lifecycle import reconcile

    params = {"as_of": MOMENT, "deliver": False}
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("qcycle-reconcile/sc-jbgs-2023")
        flow_run = client.create_flow_run_from_deployment(deployment.id, parameters=params)
    state = run_flow(reconcile, flow_run=flow_run, parameters={**deployment.parameters, **params},
                     return_type="state")
    assert state.is_completed(), state


def test_an_amended_file_and_a_unit_extension_re_plan_the_served_deployment(prefect_process, home, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from qcycle.deploy.deployments import apply_replacing_schedules, build_deployments
    from qcycle.deploy.schedules import schedules_for

    from qcycle.timetable import UnitDeadline

    folder = tmp_path / "programmes"
    folder.mkdir()
    programme = folder / SICHUAN.name
    programme.write_text(SICHUAN.read_text(encoding="utf-8"), encoding="utf-8")
    with temporary_settings({PREFECT_API_URL: prefect_process.url}), clock.frozen(MOMENT):
        (deployment,) = [d for d in build_deployments([programme]) if d.name == "sc-jbgs-2023"]
        apply_replacing_schedules(deployment)  # as `qcycle serve` does (no work pool)
        before = _schedules(prefect_process)
        assert {"at-20230420-0900", "at-20230420-1730", "at-20230421-0900"} <= set(before)

        assert _extended(folder) == programme  # the officer edits the served file in place
        granted = CliRunner().invoke(app, [
            "extend", str(programme), "--stage", "application", "--unit", "510700",
            "--to", "2023-05-10", "--reason", "4月18日延期申请", "--by", "张三"])
        assert granted.exit_code == 0, granted.output
        _run_deployment(prefect_process)
        after = _schedules(prefect_process)

        # The same run again changes nothing: every schedule is the one already there.
        _run_deployment(prefect_process)
        again = _schedules(prefect_process)
        mine = UnitDeadline("application", "510700", clock.at(dt.date(2023, 5, 10), dt.time(17, 30)), None)
        expected = {s.slug: s for s in schedules_for(programme, now=MOMENT, extensions=(mine,))}

    # Exactly the timetable as it stands: the moved deadline's reminders, the decisions after
    # it, Mianyang's own reminders, deadline and overdue notice; the old moments are gone.
    assert set(after) == set(expected)
    for slug, schedule in after.items():
        assert schedule["schedule"]["rrule"] == expected[slug].rrule, slug
        assert schedule["parameters"] == expected[slug].parameters, slug
    assert {"at-20230420-0900", "at-20230420-1730", "at-20230421-0900", "at-20230424-0900"}.isdisjoint(after)
    assert {"at-20230423-0900", "at-20230427-0900", "at-20230428-1730",  # T-5, T-1, the new deadline
            "at-20230504-0900", "at-20230508-0900"} <= set(after)  # the review, the takers list
    assert {"at-20230509-0900", "at-20230510-1730", "at-20230511-0900"} <= set(after)  # Mianyang's
    assert after["at-20230428-1730"]["parameters"]["as_of"] == "2023-04-28T17:30:00+08:00"
    # Unchanged schedules were kept, not replaced (the mid-term moments, a whole year of them, did
    # not move); the second run replaced nothing.
    kept = set(before) & set(after)
    assert len(kept) > 10 and all(after[slug]["id"] == before[slug]["id"] for slug in kept)
    assert {slug: s["id"] for slug, s in again.items()} == {slug: s["id"] for slug, s in after.items()}


def test_a_run_re_plans_only_the_schedules_it_plans(prefect_process, home, tmp_path):
    """A schedule added by hand (``--extra-slot``, or in the UI with a slug of its own) stays."""
    from prefect.client.orchestration import get_client
    from prefect.schedules import RRule
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from qcycle.deploy.schedules import PLANNED_SLUGS, schedules_for, sync_schedules

    mini = tmp_path / "mini.yaml"
    mini.write_text((REPO / "tests" / "data" / "mini.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    since = clock.at(dt.date(2023, 4, 1))
    extra = RRule("DTSTART:20300101T090000\nRRULE:FREQ=DAILY;COUNT=1", timezone="Asia/Shanghai",
                  slug="extra-by-hand", parameters={"programme_file": str(mini)})
    with temporary_settings({PREFECT_API_URL: prefect_process.url}), get_client(sync_client=True) as client:
        from qcycle.flows.lifecycle import reconcile

        deployment_id = reconcile.to_deployment(name="replan-scope", parameters={"programme_file": str(mini)},
                                                schedules=[*schedules_for(mini, now=since), extra]).apply()
        later = clock.at(dt.date(2023, 4, 12))  # fewer moments left; the safety net, the same
        planned = schedules_for(mini, now=later)
        added, removed = sync_schedules(client, deployment_id, planned, now=later, managed=PLANNED_SLUGS)
        slugs = {s.slug for s in client.read_deployment_schedules(deployment_id)}
        # Unmanaged, the same call takes the hand-made one away too.
        sync_schedules(client, deployment_id, planned, now=later)
        after_all = {s.slug for s in client.read_deployment_schedules(deployment_id)}
    assert "extra-by-hand" in slugs and "extra-by-hand" not in after_all
    assert slugs - {"extra-by-hand"} == {s.slug for s in planned} == after_all
    assert removed and all(r.startswith(("at-2023040", "at-2023041")) for r in removed)
    assert added == []  # what is still planned was already there, as it was


class _Stale:
    """A client that reads the schedules as they were before another run re-planned them."""

    def __init__(self, client, stale):
        self.client, self.stale = client, stale

    def read_deployment_schedules(self, deployment_id):
        stale, self.stale = self.stale, None
        return stale if stale is not None else self.client.read_deployment_schedules(deployment_id)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_two_runs_re_planning_at_once_both_complete_with_one_set_of_schedules(prefect_process, home, tmp_path):
    """Runs of one deployment on two workers re-plan it at the same time: the second finds
    the schedules it would remove already gone and the one it would add already there."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from qcycle.deploy.schedules import PLANNED_SLUGS, schedules_for, sync_schedules

    mini = tmp_path / "mini.yaml"
    mini.write_text((REPO / "tests" / "data" / "mini.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    since, later = clock.at(dt.date(2023, 4, 1)), clock.at(dt.date(2023, 4, 12))
    with temporary_settings({PREFECT_API_URL: prefect_process.url}), get_client(sync_client=True) as client:
        from qcycle.flows.lifecycle import reconcile

        deployment_id = reconcile.to_deployment(name="replan-race", parameters={"programme_file": str(mini)},
                                                schedules=schedules_for(mini, now=since)).apply()
        planned = schedules_for(mini, now=later)
        gone = next(s for s in client.read_deployment_schedules(deployment_id) if s.slug == planned[-1].slug)
        client.delete_deployment_schedule(deployment_id, gone.id)  # both runs will want it back
        stale = client.read_deployment_schedules(deployment_id)
        first = sync_schedules(client, deployment_id, planned, now=later, managed=PLANNED_SLUGS)
        second = sync_schedules(_Stale(client, stale), deployment_id, planned, now=later, managed=PLANNED_SLUGS)
        final = client.read_deployment_schedules(deployment_id)
    assert first[0] == [planned[-1].slug] and first[1]  # the first run added it and removed the past
    assert second == first  # the second run meant the same, and did not fail on what was done
    assert sorted(s.slug for s in final) == sorted(s.slug for s in planned)  # each once
