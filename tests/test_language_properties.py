"""Property test: generated valid programmes run through the timetable and a Prefect-free
simulated round without a crash; reminders fall on official working days; every subject's
final state agrees with every decision on it; no grade holds more than its cap."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from qcycle import db, moment, synthetic
from qcycle.lifecycle import NEGATIVE, sync_round
from qcycle.loader import LoadedProgramme, check_programme
from qcycle.models import AssessmentResult, Decision, OutboxMessage
from qcycle.schema import Programme
from qcycle.settings import get_settings
from qcycle.timetable import check_dates, expand
from qcycle.workcal import WorkCalendar
from tests.homes import migrated

CAL = WorkCalendar()


@st.composite
def programmes(draw) -> dict:
    year = draw(st.integers(2004, 2025))  # years the installed official calendar covers
    start = dt.date(year, draw(st.integers(1, 9)), draw(st.integers(1, 28)))
    cities = draw(st.integers(2, 6))
    units = [{"code": "p", "name": "省局", "level": "province", "channels": ["sink"]}]
    units += [{"code": f"c{i}", "name": f"第{i}市局", "level": "city", "parent": "p", "channels": ["sink"]}
              for i in range(1, cities + 1)]
    stages: list[dict] = [
        {"code": "call", "name": "发布通知", "kind": "publication", "on": start, "roll": "next_workday",
         "notify": {"levels": ["city"]}},
        {"code": "apply", "name": "申报", "kind": "submission", "submission": "application",
         "owed_by": {"levels": ["city"]}, "voluntary": draw(st.booleans()), "opens": start,
         "deadline": {"date": start + dt.timedelta(days=draw(st.integers(5, 40))),
                      "roll": draw(st.sampled_from(["next_workday", "previous_workday", "none"]))},
         "reminders": "std", "lateness": draw(st.sampled_from(["reject", "accept_flag"]))},
    ]
    decisions = []
    previous, event = "apply", "deadline"
    for k in range(draw(st.integers(1, 3))):
        code = f"d{k}"
        stages.append({"code": code, "name": f"第{k + 1}轮审核", "kind": "decision", "decides": previous,
                       "after": {"stage": previous, "event": event, "workdays": draw(st.integers(1, 6))}})
        decisions.append(code)
        previous, event = code, "on"
    assessment = None
    if draw(st.booleans()):
        lines = sorted(draw(st.lists(st.integers(40, 95), min_size=1, max_size=3, unique=True)), reverse=True)
        grades = [{"name": f"等次{i + 1}", "min_score": line,
                   **({"max_count": draw(st.integers(0, 3))} if draw(st.booleans()) else {})}
                  for i, line in enumerate(lines)]
        grades.append({"name": "其他"})
        assessment = {"subjects": {"approved_at": decisions[-1]},
                      "components": [{"code": "all", "name": "综合", "weight": 1}], "grades": grades,
                      "ties": draw(st.sampled_from(["components_in_order", "unit_code", "shared"]))}
        stages.append({"code": "score", "name": "评分", "kind": "assessment",
                       "after": {"stage": decisions[-1], "event": "on", "workdays": 3}})
        stages.append({"code": "results", "name": "通报结果", "kind": "notification", "template": "result",
                       "after": {"stage": "score", "event": "on", "workdays": 2},
                       "notify": {"approved_at": decisions[-1]}})
        if draw(st.booleans()):
            stages.append({"code": "fix", "name": "末位整改", "kind": "followup", "submission": "rectification_report",
                           "owed_by": {"rank": {"bottom": draw(st.integers(1, 2))}},
                           "opens_after": {"stage": "results", "event": "on", "days": 0},
                           "deadline": {"after": {"stage": "results", "event": "on", "months": 1}},
                           "reminders": "std"})
            stages.append({"code": "fix_review", "name": "整改审核", "kind": "decision", "decides": "fix",
                           "after": {"stage": "fix", "event": "deadline", "workdays": 2}})
            stages.append({"code": "summons", "name": "约谈", "kind": "notification", "template": "summons",
                           "after": {"stage": "fix_review", "event": "on", "workdays": 1},
                           "notify": {"rejected_at": "fix_review"}})
            decisions.append("fix_review")
    return {"version": 2,
            "round": {"code": "prop", "name": "生成的周期", "programme": "生成", "issuer": "p",
                      "years": [year, year + 1]},
            "channels": [{"name": "sink", "kind": "sink"}], "units": units,
            "reminder_policies": {"std": {"before_workdays": [3, 1], "escalate_after_workdays": 2}},
            "stages": stages, **({"assessment": assessment} if assessment else {})}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prop")


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=programmes(), seed=st.integers(0, 10_000))
def test_generated_programmes_run_consistently(data, seed, home, monkeypatch):
    p = Programme.model_validate(data)
    assert check_programme(p) == []
    errors, _ = check_dates(p, CAL)
    assert errors == []
    timetable = expand(p, CAL)
    for a in timetable.actions:
        if a.action in ("reminder", "overdue", "escalation"):
            assert CAL.is_workday(a.at.date()), a
    if data["stages"][1]["voluntary"]:
        assert not any(a.action in ("overdue", "escalation") and a.stage == "apply" for a in timetable.actions)

    folder = home / uuid.uuid4().hex  # a fresh database for each example
    monkeypatch.setenv("QCYCLE_HOME", str(folder))
    monkeypatch.setenv("QCYCLE_SINK_DIR", str(folder / "sink"))
    get_settings.cache_clear()
    db.dispose_engines()
    migrated()
    loaded = LoadedProgramme(p, folder / "prop.yaml", "0" * 64)
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
    world = synthetic.World(p, timetable, round_id, seed)
    ticks = sorted({a.at for a in timetable.actions})

    def run(tick: dt.datetime) -> int:
        moment.run_due(p, round_id, timetable, tick, template_dir=loaded.template_dir, actor="prop")
        return 1

    played: list[dt.datetime] = []
    world.play(ticks, lambda tick: played.append(tick) or run(tick))
    assert world.last_moment == max(played) >= max(ticks)  # what `simulate` names for `status --as-of`

    order = [s.code for s in p.stages]
    with db.session_scope() as session:
        decisions = session.exec(select(Decision).where(Decision.round_id == round_id)).all()
        results = session.exec(select(AssessmentResult).where(AssessmentResult.round_id == round_id)).all()
        messages = session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all()
    db.dispose_engines()
    get_settings.cache_clear()
    rejected_at: dict[str, int] = {}
    for d in decisions:
        if d.outcome in NEGATIVE:
            rejected_at[d.subject] = min(rejected_at.get(d.subject, 99), order.index(d.stage))
    # A subject rejected at step k is never decided on at a later step of its chain ...
    chain = [s.code for s in p.stages if s.kind.value == "decision" and s.code != "fix_review"]
    for d in decisions:
        if d.subject in rejected_at and d.stage in chain:
            assert order.index(d.stage) <= rejected_at[d.subject], (d.subject, d.stage)
    # ... never scored, and never in a results letter.
    assert not {r.unit_code for r in results} & {s for s, k in rejected_at.items() if order[k] in chain}
    letters = defaultdict(set)
    for m in messages:
        for key in m.action.split("+"):
            letters[key.split(":")[0]].add(m.unit_code)
    eliminated = {s for s, k in rejected_at.items() if order[k] in chain}
    assert not letters["results"] & eliminated
    # Caps are ceilings; the summons goes only to rejected responses.
    if p.assessment is not None:
        counts = defaultdict(int)
        for r in results:
            counts[r.grade] += 1
        for g in p.assessment.grades:
            if g.max_count is not None:
                assert counts[g.name] <= g.max_count
    fix_rejected = {d.subject for d in decisions if d.stage == "fix_review" and d.outcome in NEGATIVE}
    assert letters["summons"] == fix_rejected
