"""A round against a real Prefect server: flow runs, states, artifacts, reruns, outage, UI decisions."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterName,
)
from prefect.client.schemas.sorting import FlowRunSort
from sqlmodel import func, select

from qcycle import db
from qcycle.clock import at
from qcycle.models import ActionRun, OutboxMessage
from qcycle.timetable import name_of

pytestmark = [pytest.mark.server, pytest.mark.slow]

MINI = Path(__file__).resolve().parent.parent / "data" / "mini.yaml"


def _runs(flow_name: str, name_like: str | None = None):
    async def read():
        async with get_client() as client:
            return await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=name_like)) if name_like else None,
                sort=FlowRunSort.START_TIME_ASC,
                limit=200,
            )

    import asyncio

    return asyncio.run(read())


def test_simulated_round_shows_runs_states_and_assessment_artifact(qcycle_home, tmp_path):
    from qcycle.flows.simulate import simulate

    from qcycle.loader import load_programme

    report = simulate(MINI, seed=7, home=tmp_path / "sim", show_progress=False)
    assert report.actions_done > 10 and sum(report.grades.values()) > 0
    reconciles = _runs("qcycle-reconcile", "mini-2023·对账")
    assert len(reconciles) >= report.ticks
    assert all(r.state.is_completed() for r in reconciles)
    assert any("2023-04-14 17:30" in r.name for r in reconciles)  # readable names with the logical time
    # This round's: other tests on the worker's server run assessments of their own rounds.
    assessments = _runs("qcycle-assessment", "mini-2023·")
    assert assessments and all(r.state.is_completed() for r in assessments)
    # A stage flow's run is named by the stage it carries out, not by its kind alone.
    assessed = {s.name for s in load_programme(MINI).programme.stages if s.kind == "assessment"}
    assert all(any(f"mini-2023·{name}·" in r.name for name in assessed) for r in assessments), [r.name for r in assessments]

    # prefect 3.8.8's client sends explicit nulls for omitted filters, which its server refuses
    # (422) with fastapi 0.154; the REST API itself answers when they are left out.
    import httpx
    from prefect.settings import PREFECT_API_URL

    reply = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/latest/filter",
                       json={"artifacts": {"key": {"like_": "mini-2023"}}, "limit": 50})
    reply.raise_for_status()
    latest = {a["key"]: a for a in reply.json()}
    assert "mini-2023-assessment" in latest, sorted(latest)
    table = latest["mini-2023-assessment"]
    assert table["type"] == "table"
    rows = json.loads(table["data"])
    assert rows and {"名次", "单位", "总分", "等次"} <= set(rows[0])
    assert sorted(r["等次"] for r in rows) == sorted(g for g, n in report.grades.items() for _ in range(n))
    assert "mini-2023-assessment-summary" in latest
    # One artifact per reconcile run: what it did, then where the round stands.
    status = latest["mini-2023-status"]
    assert status["type"] == "markdown" and "mini-2023-reconcile" not in latest
    assert "：对账 " in status["data"] and "## 状态 " in status["data"] and "当前阶段：" in status["data"]
    assert "- 消息：已发送 " in status["data"], status["data"]  # in Chinese, as `qcycle status` says it


def _outbox_count() -> int:
    with db.session_scope() as session:
        return session.exec(select(func.count()).select_from(OutboxMessage)).one()


def test_rerunning_reconcile_for_the_same_moment_changes_nothing(qcycle_home):
    from qcycle.flows.lifecycle import reconcile

    moment = at(dt.date(2023, 4, 13), dt.time(10))
    first = reconcile(programme_file=str(MINI), as_of=moment, channel_override="sink")
    messages = _outbox_count()
    with db.session_scope() as session:
        actions = session.exec(select(func.count()).select_from(ActionRun)).one()
    second = reconcile(programme_file=str(MINI), as_of=moment, channel_override="sink")
    assert first["done"] and second["done"] == [] and second["skipped"] == {}
    assert _outbox_count() == messages > 0
    with db.session_scope() as session:
        assert session.exec(select(func.count()).select_from(ActionRun)).one() == actions


def test_reconcile_after_a_ten_day_outage_closes_escalates_and_sends_no_stale_reminder(qcycle_home):
    from qcycle.flows.lifecycle import reconcile

    # Last run on 04-06; the machine was down until the morning of 04-18 (window closed 04-14).
    reconcile(programme_file=str(MINI), as_of=at(dt.date(2023, 4, 6), dt.time(10)), channel_override="sink")
    before = _outbox_count()
    summary = reconcile(programme_file=str(MINI), as_of=at(dt.date(2023, 4, 18), dt.time(10)),
                        channel_override="sink")
    assert {"application:deadline", "application:overdue", "application:escalation"} <= {
        name_of(k) for k in summary["done"]}
    assert {name_of(k) for k in summary["skipped"]} == {"application:reminder:T-3", "application:reminder:T-1",
                                                        "application:reminder:T-0"}
    with db.session_scope() as session:
        new = session.exec(select(OutboxMessage).where(OutboxMessage.action.like("application:%"))).all()
    kinds = {name_of(k) for m in new for k in m.action.split("+")}
    assert not any(":reminder:" in k for k in kinds)
    # Caught up past the escalation's day: the units the office urges itself get the 督办 alone, not a
    # 逾期提醒 warning of a day gone by beside it (the overdue action is still carried out and recorded).
    assert kinds == {"application:escalation"}, kinds
    assert _outbox_count() > before


def test_decision_in_the_ui_pauses_with_a_form_and_records_the_answer(qcycle_home):
    from prefect.flow_runs import resume_flow_run
    from qcycle.flows.decisions import decide_in_ui

    from qcycle import crud, ops
    from qcycle.cli.common import open_round
    from qcycle.intake import ingest
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    loaded, rid = open_round(MINI)
    t = expand(loaded.programme, WorkCalendar())
    with db.session_scope() as session:
        for unit, item in [("c1", "k-1"), ("c2", "k-2")]:
            ingest(session=session, programme=loaded.programme, timetable=t, round_id=rid, source="test",
                   record={"kind": "application", "unit": unit, "item": item,
                           "submitted_at": "2023-04-10T10:00:00+08:00"})
    result: dict = {}
    context = contextvars.copy_context()  # the thread talks to this test's server, as its caller does
    runner = threading.Thread(target=lambda: context.run(lambda: result.update(
        decide_in_ui(programme_file=str(MINI), stage="takers_review", timeout_hours=0.05))), daemon=True)
    runner.start()
    paused = None
    for _ in range(120):
        runs = [r for r in _runs("qcycle-decide") if r.state and r.state.is_paused()]
        if runs:
            paused = runs[0]
            break
        time.sleep(0.25)
    assert paused is not None, "the decision flow never paused for input"
    assert "审核决定" in paused.name
    answer = {"decided_by": "王五", "approve": ["c1:k-1"], "reject": ["c2:k-2"], "note": "界面审核",
              "reasons": {"c2:k-2": "材料不全"}}  # a refusal's own reason, told to its unit where the step tells it
    # Prefect marks the run Paused a moment before it stores the form's schema; the UI's
    # resume button waits for the form the same way.
    for _ in range(40):
        try:
            resume_flow_run(paused.id, run_input=answer)
            break
        except RuntimeError as exc:
            assert "schema not found" in str(exc)
            time.sleep(0.25)
    runner.join(timeout=60)
    assert result["decided"] == [["takers_review", "c1:k-1", "approved"], ["takers_review", "c2:k-2", "rejected"]]
    with db.session_scope() as session:
        assert ops.pending(session, loaded.programme, rid)["takers_review"] == []
        notes = {subject: note for subject, _, note in crud.decisions_at(session=session, round_id=rid, stage="takers_review")}
    assert notes == {"c1:k-1": "界面审核", "c2:k-2": "材料不全"}


def _logs(flow_run_id, last: str, wait: float = 60.0) -> list[dict]:
    """A flow run's logs (its tasks' included) through the REST API. Logs are shipped in
    batches in the background: wait until the run's last line (starting with ``last``) is in."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    deadline = time.monotonic() + wait
    while True:
        reply = httpx.post(f"{PREFECT_API_URL.value()}/logs/filter",
                           json={"logs": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "limit": 200})
        reply.raise_for_status()
        logs = reply.json()
        if any(entry["message"].startswith(last) for entry in logs) or time.monotonic() > deadline:
            return logs
        time.sleep(1.0)


def test_each_run_has_qcycle_own_log_lines_even_with_prefect_logging_at_warning(qcycle_home):
    import logging

    from qcycle.flows.lifecycle import SAFETY_NET_ACTOR, reconcile

    logging.getLogger("prefect").setLevel(logging.WARNING)  # as scripts/main.sh runs it
    moment = at(dt.date(2023, 4, 14), dt.time(17, 30))  # the application deadline of mini.yaml
    reconcile(programme_file=str(MINI), as_of=moment, channel_override="sink", actor=SAFETY_NET_ACTOR)
    (run,) = _runs("qcycle-reconcile", "mini-2023·兜底对账·2023-04-14 17:30")
    lines = [entry["message"] for entry in _logs(run.id, last="对账完成：执行")]
    assert any(line.startswith("对账 测试用小周期（mini-2023），截至 2023-04-14 17:30：到期") for line in lines), lines
    assert any("计划时间 2023-04-14 17:30" in line for line in lines), lines  # an action carried out
    assert any(line.startswith("投递（截至 2023-04-14 17:30）：发送成功") for line in lines), lines
    assert any(line.startswith("对账完成：执行") for line in lines), lines
    # Only qcycle's lines: Prefect's own INFO chatter stays off at WARNING.
    assert not any("Finished in state" in line for line in lines), lines
