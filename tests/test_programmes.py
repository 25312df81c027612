"""The programme files in config/programmes: they validate, and they say what their seeds say."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import chinese_calendar
import pytest
from typer.testing import CliRunner

from qcycle.cli import app
from qcycle.clock import TZ
from qcycle.loader import load_programme
from qcycle.settings import REPO_ROOT
from qcycle.timetable import Timetable, expand
from qcycle.workcal import WorkCalendar

PROGRAMMES = REPO_ROOT / "config" / "programmes"
FILES = sorted(PROGRAMMES.glob("*.yaml"))
P1 = PROGRAMMES / "sc-jbgs-2023.yaml"
P2 = PROGRAMMES / "bs-quality-award-4.yaml"
P3 = PROGRAMMES / "yy-quality-plan-2025.yaml"
P4 = PROGRAMMES / "zs-csy-ybq-2011.yaml"
P5 = PROGRAMMES / "jz-assessment-2016.yaml"
ISO_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")

runner = CliRunner()


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(REPO_ROOT / "config" / "calendar")


def plan(path: Path, cal: WorkCalendar) -> Timetable:
    return expand(load_programme(path).programme, cal)


def plan_json(path: Path) -> tuple[str, list[dict]]:
    result = runner.invoke(app, ["plan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return result.stdout, json.loads(result.stdout)


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


# --------------------------------------------------------------------------- every file


def test_all_five_programmes_are_present() -> None:
    assert {f.name for f in FILES} >= {p.name for p in (P1, P2, P3, P4, P5)}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_programme_loads_and_expands(path: Path, cal: WorkCalendar) -> None:
    timetable = plan(path, cal)
    assert timetable.actions
    assert timetable.warnings == []  # every seed year is covered by the official calendar


def test_cli_validates_every_programme() -> None:
    result = runner.invoke(app, ["validate", *map(str, FILES)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("通过：") == len(FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_plan_json_is_iso_8601_in_shanghai_time_and_deterministic(path: Path) -> None:
    first, actions = plan_json(path)
    second, _ = plan_json(path)
    assert first == second
    for a in actions:
        assert ISO_LOCAL.match(a["at"]), a
        if "deadline" in a:
            assert ISO_LOCAL.match(a["deadline"]), a
    moments = [dt.datetime.fromisoformat(a["at"]) for a in actions]
    assert moments == sorted(moments)
    assert len({a["key"] for a in actions}) == len(actions)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_reminders_fall_on_official_working_days(path: Path, cal: WorkCalendar) -> None:
    nagging = [
        a for a in plan(path, cal).actions if a.action in ("reminder", "overdue", "escalation")
    ]
    assert nagging, "every programme has at least one reminded submission"
    for a in nagging:
        if a.at.year <= 2026:  # years chinese_calendar covers
            assert chinese_calendar.is_workday(a.at.date()), (a.key, a.at)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_plan_table_renders(path: Path) -> None:
    result = runner.invoke(app, ["plan", str(path), "--today", "2020-01-01"])
    assert result.exit_code == 0, result.output
    assert "提醒只落在法定工作日" in result.stdout


# --------------------------------------------------------------------------- P1 揭榜挂帅


def test_p1_application_deadline(cal: WorkCalendar) -> None:
    actions = plan(P1, cal).by_name()
    assert actions["application:deadline"].at == local("2023-04-20T17:30")
    assert actions["application:deadline"].at.isoformat() == "2023-04-20T17:30:00+08:00"


def test_p1_evaluation_request_deadlines_per_category(cal: WorkCalendar) -> None:
    actions = plan(P1, cal).by_name()
    for category in ("zlcx", "tssd"):
        assert actions[f"evaluation_request:deadline:{category}"].at == local("2023-12-20T17:30")
    assert actions["evaluation_request:deadline:cxyl"].at == local("2024-12-20T17:30")


def test_p1_facts_through_the_cli() -> None:
    _, actions = plan_json(P1)
    deadlines = {
        (a["stage"], a.get("category")): a["at"] for a in actions if a["action"] == "deadline"
    }
    assert deadlines[("application", None)] == "2023-04-20T17:30:00+08:00"
    assert deadlines[("evaluation_request", "zlcx")] == "2023-12-20T17:30:00+08:00"
    assert deadlines[("evaluation_request", "tssd")] == "2023-12-20T17:30:00+08:00"
    assert deadlines[("evaluation_request", "cxyl")] == "2024-12-20T17:30:00+08:00"


# --------------------------------------------------------------------------- P2 宝山区政府质量奖


def test_p2_award_round() -> None:
    p = load_programme(P2).programme
    assert p.round.years == [2022]
    assert [s.kind.value for s in p.stages if s.code in ("eligibility", "committee")] == [
        "decision"
    ] * 2
    # Each step decides on what the one before it left: the committee on the scored candidates.
    assert (p.stage("eligibility").decides, p.stage("committee").decides) == ("application", "scoring")
    notice, objection = p.stage("notice"), p.stage("objection")
    assert notice.kind.value == "notice" and notice.days == 7
    assert objection.submission == "objection" and objection.opens == notice.on
    assert p.stage("award").template == "award"
    assert abs(sum(c.weight for c in p.assessment.components) - 1) < 1e-9
    assert p.statistics["“一对一”质量问诊企业（家）"] == 42
    assert p.statistics["帮助企业打造优势与创新点（条）"] == 110
    assert p.statistics["提出质量改进建议（项）"] == 313
    assert p.statistics["首席质量官被评为区优秀人才（名）"] == 16
    assert p.statistics["质量服务体系服务企业（家次）"] == 8000


def test_p2_objection_window_is_the_notice_period(cal: WorkCalendar) -> None:
    actions = plan(P2, cal).by_name()
    assert actions["objection:window_open"].at == actions["notice:notice_open"].at
    assert actions["objection:deadline"].at == actions["notice:notice_close"].at
    assert actions["notice:notice_close"].at.date() == dt.date(2022, 9, 7)


# --------------------------------------------------------------------------- P3 榆阳区实施意见

# 专栏1 as the seed prints it: name, unit, 2025 target, attribute, ﹝﹞ cumulative, * superior's.
P3_INDICATORS = [
    ("规模以上工业战略性新兴产业总产值占工业总产值比重", "%", 10, "expected", False, False),
    ("每万人口高价值发明专利拥有量", "件", 1.65, "expected", False, False),
    ("单位地区生产总值能源消耗降低", "%", 15, "binding", True, True),
    ("全员劳动生产率", "万元/人", 20, "expected", False, False),
    ("农产品质量安全例行监测合格率", "%", 98, "binding", False, False),
    ("食品评价性抽检合格率", "%", 98, "binding", False, False),
    ("制造业产品合格率", "%", 93, "binding", False, False),
    ("累计获得省、市质量奖及提名奖", "项", 1, "expected", False, False),
]


def test_p3_has_exactly_the_eight_indicators_of_column_1() -> None:
    p = load_programme(P3).programme
    indicators = p.assessment.indicators
    assert len(indicators) == 8
    got = [
        (i.name, i.unit, i.target, i.attribute, bool(i.cumulative_years), i.target_from_superior)
        for i in indicators
    ]
    assert got == P3_INDICATORS
    assert all(i.comparator == ">=" and i.year == 2025 for i in indicators)
    energy = next(i for i in indicators if i.name.startswith("单位地区生产总值能源消耗"))
    assert energy.cumulative_years == [2021, 2022, 2023, 2024, 2025]


def test_p3_yearly_assessment() -> None:
    p = load_programme(P3).programme
    assert p.round.years == [2024, 2025]
    assert p.stage("issue_plan").on == dt.date(2024, 5, 7)
    self_eval = p.stage("self_evaluation")
    assert self_eval.submission == "self_evaluation"
    assert [period.code for period in self_eval.periods] == ["2024", "2025"]
    assert any(c.source == "indicators" for c in p.assessment.components)
    assert any(c.source == "reviews" for c in p.assessment.components)
    praise = [s for s in p.stages if s.template == "praise"]
    assert praise and all(s.notify.grades == ["A"] for s in praise)
    names = {u.name for u in p.units}
    for department in ("区委组织部", "区委宣传部", "公安局榆阳分局", "税务局", "农业农村局"):
        assert any(department in name for name in names), department


# --------------------------------------------------------------------------- P4 舟山创四优育百强

P4_QUOTAS = {  # action: (goal, 质监, 发改, 建设, 环保)
    "质量管理创优": (20, 10, 4, 4, 2),
    "质量品牌创优": (20, 7, 5, 6, 2),
    "质量惠民创优": (30, 10, 4, 8, 8),
    "质量安全创优": (30, 8, 8, 8, 6),
}


def test_p4_quotas_as_in_the_seed() -> None:
    p = load_programme(P4).programme
    q = p.quotas
    assert q.years == [2011, 2012, 2013, 2014, 2015] == p.round.years
    departments = ("zs-zj", "zs-fg", "zs-js", "zs-hb")
    got = {a.name[:6]: (a.goal, *(a.per_unit[d] for d in departments)) for a in q.actions}
    assert got == P4_QUOTAS
    for a in q.actions:
        assert set(a.per_unit) == set(departments)
        assert sum(a.per_unit.values()) == a.goal
    assert sum(a.goal for a in q.actions) == 100  # 百强
    assert [sum(a.per_unit[d] for a in q.actions) for d in departments] == [35, 21, 26, 18]


def test_p4_yearly_progress_stage(cal: WorkCalendar) -> None:
    p = load_programme(P4).programme
    stage = p.stage(p.quotas.progress_stage)
    assert stage.kind.value == "submission" and stage.submission == "progress_report"
    assert [period.code for period in stage.periods] == ["2011", "2012", "2013", "2014", "2015"]
    deadlines = [a for a in plan(P4, cal).actions if a.action == "deadline"]
    assert [a.at.year for a in deadlines] == [2011, 2012, 2013, 2014, 2015]
    assert any(c.source == "quotas" for c in p.assessment.components)


# --------------------------------------------------------------------------- P5 焦作考核


def test_p5_assessment(cal: WorkCalendar) -> None:
    p = load_programme(P5).programme
    assert p.round.years == [2016]
    assert p.stage("launch").on == dt.date(2016, 7, 15)
    assert p.stage("reporting_session").on == dt.date(2016, 7, 20)
    a = p.assessment
    assert [c.name for c in a.components] == ["资料考核", "集中汇报考核", "日常工作考核"]
    assert sum(c.max_points for c in a.components) == a.scale
    assert a.aggregation == "trimmed_mean"
    assert any(v.grade == "D" for v in a.vetoes)
    # No bonus read from another round: the one it had pointed at Sichuan's 2023 round, never a 焦作 county's.
    assert not any(b.source_round for b in a.bonuses)
    counties = [u for u in p.units if u.level == "county"]
    assert len(counties) == 10
    follow = p.stage("rectification")
    assert follow.kind.value == "followup" and follow.owed_by.grades == ["D"]
    assert follow.submission == "rectification_report"
    assert follow.deadline.after.stage == "results"
    actions = plan(P5, cal).by_name()
    results = actions["results:notify"].at.date()
    due = actions["rectification:deadline"].at.date()
    assert cal.workdays_between(results, due) == 20
    escalation = actions["rectification:escalation"]
    assert escalation.detail["escalate_to"] == "410800"
    assert p.unit("410800").channels


def test_a_copy_answers_from_its_own_stages_not_the_originals_lookups() -> None:
    """Every derived lookup is dropped from a copy (objection_decisions had been left out of the
    list kept by hand, so a copy without 宝山's objections still named them)."""
    p = load_programme(PROGRAMMES / "bs-quality-award-4.yaml").programme
    assert p.objection_decisions == {"objection_review"} and "objection_review" in p.stage_place
    kept = [s for s in p.stages if not s.code.startswith("objection")]
    copy = p.model_copy(update={"stages": kept})
    assert copy.objection_decisions == frozenset()
    assert list(copy.stage_place) == [s.code for s in kept]
