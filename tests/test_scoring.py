"""Assessment rules against hand-computed examples (see the worked numbers in each test)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qcycle.errors import AssessmentError
from qcycle.schema import Assessment, QuotaPlan
from qcycle.scoring import UnitInput, aggregate, assess, indicator_met


def scheme(**overrides) -> Assessment:
    base = {
        "subjects": {"levels": ["county"]},
        "scale": 100,
        "components": [
            {"code": "docs", "name": "资料考核", "weight": 0.4},
            {"code": "talk", "name": "集中汇报考核", "weight": 0.6},
        ],
        "aggregation": "mean",
        "grades": [{"name": "A", "min_score": 90}, {"name": "B", "min_score": 80},
                   {"name": "C", "min_score": 60}, {"name": "D"}],
    }
    base.update(overrides)
    return Assessment.model_validate(base)


@pytest.mark.parametrize(
    ("method", "values", "expected"),
    [
        ("mean", [70, 80, 90, 100], 85.0),
        ("median", [70, 80, 95], 80.0),
        ("median", [70, 80, 90, 100], 85.0),
        # drop 60 and 100 → mean(80, 90) = 85
        ("trimmed_mean", [100, 60, 80, 90], 85.0),
        ("trimmed_mean", [50, 90, 70], 70.0),
    ],
)
def test_aggregation_methods(method, values, expected):
    assert aggregate(values, method) == pytest.approx(expected)


def test_trimmed_mean_needs_three_scores():
    with pytest.raises(AssessmentError, match="至少3个"):
        aggregate([80, 90], "trimmed_mean")


def test_weighted_total_and_threshold_grades():
    # u1: docs mean(80,100)=90 → 36; talk mean(90,100)=95 → 57; total 93 → A
    # u2: docs 70 → 28; talk 80 → 48; total 76 → C
    # u3: docs 50 → 20; talk 60 → 36; total 56 → D
    results = assess(scheme(), [
        UnitInput("u1", reviews={"docs": [80, 100], "talk": [90, 100]}),
        UnitInput("u2", reviews={"docs": [70], "talk": [80]}),
        UnitInput("u3", reviews={"docs": [50], "talk": [60]}),
    ])
    assert [(r.unit, r.total, r.grade, r.rank) for r in results] == [
        ("u1", 93.0, "A", 1), ("u2", 76.0, "C", 2), ("u3", 56.0, "D", 3)
    ]
    assert results[0].components == {"docs": 36.0, "talk": 57.0}


def test_point_caps_three_parts_like_jiaozuo():
    s = scheme(components=[
        {"code": "docs", "name": "资料考核", "max_points": 40},
        {"code": "talk", "name": "集中汇报考核", "max_points": 30},
        {"code": "daily", "name": "日常工作考核", "max_points": 30},
    ], aggregation="trimmed_mean", min_reviewers=3)
    # docs trimmed(70,80,90)=80% of 40 = 32; talk trimmed(60,100,90)=90% of 30 = 27;
    # daily trimmed(50,50,100)=50% of 30 = 15; total 74 → C
    [r] = assess(s, [UnitInput("x", reviews={
        "docs": [70, 80, 90], "talk": [60, 100, 90], "daily": [50, 50, 100]})])
    assert (r.components, r.total, r.grade) == ({"docs": 32.0, "talk": 27.0, "daily": 15.0}, 74.0, "C")


def test_bonus_caps_per_item_and_in_total_and_deductions():
    s = scheme(
        bonuses=[
            {"code": "jbgs", "name": "揭榜挂帅成效突出", "points": 2, "cap": 3,
             "source_round": "sc-jbgs-2023", "source_grades": ["A"]},
            {"code": "award", "name": "获省质量奖", "points": 1.5},
        ],
        bonus_cap=4,
        deductions=[{"code": "late", "name": "材料逾期", "points": 1, "cap": 2}],
    )
    # base: docs 80 → 32, talk 80 → 48 = 80
    # jbgs 3 × 2 = 6 capped at 3; award 2 × 1.5 = 3; sum 6 capped at bonus_cap 4
    # late 5 × 1 = 5 capped at 2 → total 80 + 4 − 2 = 82 → B
    [r] = assess(s, [UnitInput("x", reviews={"docs": [80], "talk": [80]},
                               bonuses={"jbgs": 3, "award": 2}, deductions={"late": 5})])
    assert (r.bonus, r.deduction, r.total, r.grade) == (4.0, 2.0, 82.0, "B")


def test_veto_forces_grade_whatever_the_score():
    s = scheme(vetoes=[{"code": "accident", "name": "发生重大质量安全事故", "grade": "D"},
                       {"code": "fraud", "name": "材料弄虚作假", "grade": "C"}])
    results = assess(s, [
        UnitInput("best", reviews={"docs": [100], "talk": [100]}, vetoes=["accident"]),
        UnitInput("good", reviews={"docs": [95], "talk": [95]}, vetoes=["fraud"]),
        UnitInput("ok", reviews={"docs": [92], "talk": [92]}),
    ])
    by = {r.unit: r for r in results}
    assert (by["best"].total, by["best"].grade, by["best"].veto) == (100.0, "D", "accident")
    assert by["good"].grade == "C"
    assert by["ok"].grade == "A"


def test_shares_are_ceilings_rounded_down_and_the_last_grade_takes_the_rest():
    s = scheme(grades=[{"name": "A", "share": 0.2}, {"name": "B", "share": 0.3}, {"name": "C", "share": 0.4},
                       {"name": "D"}])
    # 7 units: A 1.4, B 2.1, C 2.8 → at most 1, 2, 2 ("不超过"); the 2 left are D. A largest-remainder
    # count had given C 3 places (43 %, over its 40 %).
    units = [UnitInput(f"u{i}", reviews={"docs": [100 - i * 5], "talk": [100 - i * 5]}) for i in range(7)]
    grades = [r.grade for r in assess(s, units)]
    assert grades == ["A", "B", "B", "C", "C", "D", "D"]


@pytest.mark.parametrize("n, share, most", [(12, 0.3, 3), (8, 0.3, 2), (9, 0.2, 1), (3, 0.2, 0), (10, 0.3, 3),
                                            (100, 0.29, 29), (5, 0.2, 1)])
def test_a_share_never_grants_more_than_its_ratio_of_those_graded(n, share, most):
    """某市's 12 departments under "优秀比例不超过30%" had 4 优秀 (33 %), the letter quoting the 30 %."""
    s = scheme(grades=[{"name": "优秀", "share": share, "min_score": 0}, {"name": "合格"}])
    grades = [r.grade for r in assess(s, _totals(*[99 - i for i in range(n)]))]
    assert grades.count("优秀") == most
    assert grades.count("优秀") <= round(share * n, 9)


def test_cumulative_shares_are_bands_from_the_top_rounded_where_each_ends():
    """QC小组成果发表: 一等奖前10%、二等奖接下来的20%、三等奖再30%. Of 17, each share alone gives
    1, 3 and 5 places (9); as bands, the first 1, the first 5 and the first 10: 1, 4 and 5 places."""
    grades = [{"name": "一等奖", "min_score": 70, "share": 0.1}, {"name": "二等奖", "min_score": 70, "share": 0.2},
              {"name": "三等奖", "min_score": 70, "share": 0.3}, {"name": "优秀奖"}]
    totals = _totals(*[95 - i for i in range(17)])
    each = [r.grade for r in assess(scheme(grades=grades), totals)]
    banded = [r.grade for r in assess(scheme(grades=grades, share_rounding="cumulative"), totals)]
    assert [each.count(g["name"]) for g in grades] == [1, 3, 5, 8]
    assert [banded.count(g["name"]) for g in grades] == [1, 4, 5, 7]
    # Each band's places are never more than its cumulative share allows.
    assert banded.count("一等奖") + banded.count("二等奖") <= 0.3 * 17
    with pytest.raises(ValidationError, match="至少两个等次须有 share"):
        scheme(grades=[{"name": "A", "share": 0.1}, {"name": "B"}], share_rounding="cumulative")
    with pytest.raises(ValidationError, match="有 share 的等次相邻"):  # the band's letter would leave B's places out
        scheme(grades=[{"name": "A", "share": 0.1}, {"name": "B", "max_count": 2, "min_score": 50},
                       {"name": "C", "share": 0.2}, {"name": "D"}], share_rounding="cumulative")


def test_a_share_of_those_passing_is_counted_over_those_that_reach_the_line():
    """江西's 标准化良好行为: "AAAAA级不超过确认企业的10%" gave one AAAAA of 14 scored when only 9 were
    confirmed (70 and above): 10 % of 9 is none."""
    grades = [{"name": "AAAAA", "min_score": 90, "share": 0.1}, {"name": "AAAA", "min_score": 80},
              {"name": "AAA", "min_score": 70}, {"name": "未通过"}]
    totals = [95, 88, 85, 82, 80, 78, 75, 72, 70, 65, 60, 55, 50, 45]  # 9 at 70 or above
    counted = [r.grade for r in assess(scheme(grades=grades), _totals(*totals))]
    passing = [r.grade for r in assess(scheme(grades=grades, share_of="passing"), _totals(*totals))]
    assert counted.count("AAAAA") == 1 and passing.count("AAAAA") == 0, (counted, passing)
    assert passing[0] == "AAAA" and passing.count("未通过") == 5
    ten_more = [r.grade for r in assess(scheme(grades=grades, share_of="passing"), _totals(*totals, *[71] * 1))]
    assert ten_more.count("AAAAA") == 1  # 10 reach the line: one place
    with pytest.raises(ValueError, match="share_of: passing"):
        scheme(grades=[{"name": "优秀", "share": 0.3}, {"name": "合格"}], share_of="passing")


def test_ties_broken_by_components_in_order_then_code():
    # Both total 80: "b" has more docs points (first component) so ranks first;
    # "c" and "d" are identical, so the unit code decides.
    results = assess(scheme(), [
        UnitInput("a", reviews={"docs": [50], "talk": [100]}),  # 20 + 60 = 80
        UnitInput("b", reviews={"docs": [95], "talk": [70]}),  # 38 + 42 = 80
        UnitInput("d", reviews={"docs": [60], "talk": [60]}),
        UnitInput("c", reviews={"docs": [60], "talk": [60]}),
    ])
    assert [r.unit for r in results] == ["b", "a", "c", "d"]
    assert [r.rank for r in results] == [1, 2, 3, 4]


def test_indicators_component_and_comparators():
    s = scheme(
        components=[{"code": "ind", "name": "指标完成", "weight": 1.0, "source": "indicators"}],
        indicators=[
            {"code": "farm", "name": "农产品质量安全例行监测合格率", "unit": "%", "target": 98,
             "comparator": ">=", "attribute": "binding"},
            {"code": "energy", "name": "单位地区生产总值能源消耗降低", "unit": "%", "target": 15,
             "comparator": ">=", "attribute": "binding", "cumulative_years": [2021, 2022, 2023, 2024, 2025]},
            {"code": "award", "name": "累计获得省、市质量奖及提名奖", "unit": "个", "target": 1,
             "comparator": "=", "attribute": "expected"},
            {"code": "mfg", "name": "制造业产品合格率", "unit": "%", "target": 93,
             "comparator": ">=", "attribute": "binding"},
        ],
    )
    # farm 98.5 ≥ 98 met; energy 3+3+3+3+2.5 = 14.5 < 15 not met; award = 1 met; mfg 92 not met
    [r] = assess(s, [UnitInput("dept", indicators={
        "farm": 98.5, "energy": [3, 3, 3, 3, 2.5], "award": 1, "mfg": 92})])
    assert r.total == 50.0
    ind = s.indicators[1]
    assert indicator_met(ind, [3, 3, 3, 3, 3]) and not indicator_met(ind, [3, 3, 3, 3, 2.5])


def test_quota_component_caps_each_action_at_full():
    quotas = QuotaPlan.model_validate({
        "years": [2011, 2012, 2013, 2014, 2015],
        "progress_stage": "progress",
        "actions": [
            {"code": "mgmt", "name": "质量管理创优", "goal": 20, "per_unit": {"zj": 10, "fg": 4}},
            {"code": "brand", "name": "质量品牌创优", "goal": 20, "per_unit": {"zj": 7, "fg": 5}},
        ],
    })
    s = scheme(components=[{"code": "q", "name": "任务完成", "weight": 1.0, "source": "quotas"}])
    # zj: mgmt 12/10 → capped 1.0, brand 7/7 = 1.0 → 100; fg: 2/4 = 0.5, 5/5 = 1 → 75
    results = assess(s, [UnitInput("zj", quota_achieved={"mgmt": 12, "brand": 7}),
                         UnitInput("fg", quota_achieved={"mgmt": 2, "brand": 5})], quotas)
    assert [(r.unit, r.total, r.grade) for r in results] == [("zj", 100.0, "A"), ("fg", 75.0, "C")]


def test_each_task_may_be_a_part_of_its_own():
    """江西's 帮扶企业数 (40) and 解决难题数 (30): each part scores its own task, not the mean of both (吉州区, 37 of 60
    firms and 24 of 30 problems, had read 28.33 and 21.25 where its rates give 24.67 and 24.00)."""
    quotas = QuotaPlan.model_validate({
        "years": [2026], "progress_stage": "progress",
        "actions": [{"code": "firms", "name": "帮扶企业", "goal": 60, "per_unit": {"jz": 60}},
                    {"code": "problems", "name": "解决难题", "goal": 30, "per_unit": {"jz": 30}}]})
    s = scheme(scale=70, components=[
        {"code": "firms", "name": "帮扶企业数完成率", "max_points": 40, "source": "quotas", "actions": ["firms"]},
        {"code": "problems", "name": "解决难题数完成率", "max_points": 30, "source": "quotas", "actions": ["problems"]}],
        grades=[{"name": "合格", "min_score": 40}, {"name": "不合格"}])
    [r] = assess(s, [UnitInput("jz", quota_achieved={"firms": 37, "problems": 24}, until_year=2026)], quotas)
    assert (round(r.components["firms"], 2), round(r.components["problems"], 2)) == (24.67, 24.0), r.components
    with pytest.raises(ValueError, match="actions（计哪些任务）只用于 source: quotas 的部分"):
        scheme(components=[{"code": "q", "name": "评分", "weight": 1.0, "actions": ["firms"]}])


def test_a_task_assessed_before_the_plans_last_year_is_held_to_its_pace():
    """某县's two-year plan assessed in 2025 had scored each unit against its whole task (9 of 12
    failing); as a cumulative indicator, a year of two holds it to half (时序进度)."""
    quotas = QuotaPlan.model_validate({
        "years": [2025, 2026], "progress_stage": "progress",
        "actions": [{"code": "farm", "name": "新增绿色食品认证", "goal": 10, "per_unit": {"ny": 6}}]})
    s = scheme(components=[{"code": "q", "name": "任务完成", "weight": 1.0, "source": "quotas"}])
    [early] = assess(s, [UnitInput("ny", quota_achieved={"farm": 3}, until_year=2025)], quotas)
    [final] = assess(s, [UnitInput("ny", quota_achieved={"farm": 3}, until_year=2026)], quotas)
    assert (early.total, final.total) == (100.0, 50.0)
    from qcycle.lifecycle.quota_wording import quota_tasks
    from qcycle.loader import load_programme
    from qcycle.settings import REPO_ROOT

    p = load_programme(REPO_ROOT / "config" / "programmes" / "zs-csy-ybq-2011.yaml").programme
    assert quota_tasks(p, "zs-fg", {"glcy": 1}, 2012)[0] == (
        "质量管理创优行动（质量管理标杆企业）：任务4家以上（按时序进度，至2012年应完成40%），完成1家")
    assert quota_tasks(p, "zs-fg", {"glcy": 5}, 2015)[0] == "质量管理创优行动（质量管理标杆企业）：任务4家以上，完成5家"
    # The goals are held to the same pace: 20 over five years is 8 by 2012 (it read "尚差" after doing what was due).
    from qcycle.lifecycle.quota_wording import quota_goals
    done = {u: {"glcy": n} for u, n in {"zs-zj": 4, "zs-fg": 2, "zs-js": 1, "zs-hb": 1}.items()}
    assert quota_goals(p, done, 2012)[0] == (
        "质量管理创优行动（质量管理标杆企业）：全市目标20家以上（按时序进度，至2012年应完成40%），各单位合计完成8家，已达到进度")
    assert quota_goals(p, done, 2015)[0].endswith("全市目标20家以上，各单位合计完成8家，尚差12家")
    # A task of one is not due whole in the first of two years: half of it is (rounded up, it was).
    two = QuotaPlan.model_validate({"years": [2025, 2026], "progress_stage": "progress",
                                    "actions": [{"code": "x", "name": "创建", "goal": 1, "per_unit": {"ny": 1}}]})
    from qcycle.scoring import quota_due
    assert (quota_due(two, 1, 2025), quota_due(two, 1, 2026)) == (0.5, 1.0)
    [none_yet] = assess(s, [UnitInput("ny", quota_achieved={}, until_year=2024)], two)  # before the plan: nothing due
    assert none_yet.total == 100.0


def test_too_few_reviewers_names_every_unit():
    s = scheme(aggregation="trimmed_mean", min_reviewers=3)
    with pytest.raises(AssessmentError) as exc:
        assess(s, [UnitInput("u1", reviews={"docs": [80, 90], "talk": [1, 2, 3]}),
                   UnitInput("u2", reviews={"docs": [80], "talk": [1, 2, 3]})])
    assert "u1" in str(exc.value) and "u2" in str(exc.value)


def test_unit_input_reads_every_kind_of_measurement():
    from qcycle.scoring import unit_input

    s = scheme(
        components=[{"code": "docs", "name": "资料考核", "weight": 0.5},
                    {"code": "ind", "name": "指标", "weight": 0.5, "source": "indicators"}],
        bonuses=[{"code": "award", "name": "获奖", "points": 1}],
        deductions=[{"code": "late", "name": "逾期", "points": 1}],
        vetoes=[{"code": "accident", "name": "事故", "grade": "D"}],
        indicators=[
            {"code": "energy", "name": "能耗降低", "unit": "%", "target": 15, "attribute": "binding",
             "cumulative_years": [2021, 2022, 2023]},
            {"code": "pass", "name": "合格率", "unit": "%", "target": 98, "attribute": "binding", "year": 2025},
        ],
    )
    u = unit_input("d1", [
        ("docs", "评审1", 80), ("docs", "评审2", 90),
        ("bonus:award", "考核组", 2), ("deduction:late", "考核组", 1), ("veto:accident", "考核组", 1),
        ("indicator:energy", "2021", 5), ("indicator:energy", "2022", 5), ("indicator:energy", "2023", 6),
        ("indicator:pass", "2024", 97), ("indicator:pass", "2025", 98.5),
        ("quota:mgmt", "2011", 3), ("quota:mgmt", "2012", 4),
    ], s)
    assert u.reviews == {"docs": [80, 90]}
    assert (u.bonuses, u.deductions, u.vetoes) == ({"award": 2}, {"late": 1}, ["accident"])
    assert u.indicators == {"energy": [5, 5, 6], "pass": 98.5}  # the target year, not the latest
    assert u.quota_achieved == {"mgmt": 7}
    [r] = assess(s, [u])
    # docs 85 → 42.5; both indicators met → 50; +2 −1 = 93.5 but vetoed → D
    assert (r.total, r.grade, r.veto) == (93.5, "D", "accident")


def test_an_assessment_reads_no_figure_of_a_later_year_and_holds_a_cumulative_target_to_its_pace():
    """榆阳 assesses in December 2024 and again in December 2025; its 2024 assessment was scored on
    figures labelled 2025. A year's figure counts from that year's assessment on; ﹝15﹞ over
    2021–2025 is 12 at the end of 2024 (时序进度), 15 at the end."""
    from qcycle.scoring import unit_input

    s = scheme(
        components=[{"code": "ind", "name": "指标", "weight": 1.0, "source": "indicators"}],
        indicators=[
            {"code": "energy", "name": "能耗降低", "unit": "%", "target": 15, "attribute": "binding",
             "cumulative_years": [2021, 2022, 2023, 2024, 2025]},
            {"code": "pass", "name": "合格率", "unit": "%", "target": 98, "attribute": "binding", "year": 2025},
        ],
    )
    figures = [("indicator:energy", str(y), 3.1) for y in (2021, 2022, 2023, 2024, 2025)] + [
        ("indicator:pass", "2024", 97.0), ("indicator:pass", "2025", 98.5), ("quota:mgmt", "2025", 4)]
    u = unit_input("d1", figures, s, until_year=2024)
    assert u.indicators == {"energy": [3.1] * 4, "pass": 97.0}  # 2024's own, not 2025's
    assert u.later == ["indicator:energy@2025", "indicator:pass@2025", "quota:mgmt@2025"] and u.quota_achieved == {}
    [r] = assess(s, [u])
    assert r.total == 50.0  # energy 12.4 ≥ 12 at 2024's pace: met; 97 < 98: not met
    ind = s.indicators[0]
    assert not indicator_met(ind, [2.9] * 4, until_year=2024) and not indicator_met(ind, [3.1] * 4, until_year=2025)
    assert indicator_met(ind, [3.1] * 5, until_year=2025) and indicator_met(ind, [3.1] * 5)
    [final] = assess(s, [unit_input("d1", figures, s, until_year=2025)])
    assert final.total == 100.0


def test_a_cumulative_rate_target_compounds_its_yearly_rates():
    """榆阳's 能耗降低﹝15﹞ over 2021–2025, reported as yearly falls 3.10, 3.24, 3.15, 3.14, 3.06: added
    they read 15.69 (met, 30 points to every department, four grades raised), compounded the fall
    is 14.74 (missed). At 2024's pace the target is 12, and four years compound to 12.04: met."""
    from qcycle.scoring import cumulated

    s = scheme(
        components=[{"code": "ind", "name": "指标", "weight": 1.0, "source": "indicators"}],
        indicators=[{"code": "energy", "name": "能耗降低", "unit": "%", "target": 15, "attribute": "binding",
                     "cumulative_years": [2021, 2022, 2023, 2024, 2025], "compound": True}],
    )
    ind, yearly = s.indicators[0], [3.10, 3.24, 3.15, 3.14, 3.06]
    assert round(cumulated(ind, yearly), 2) == 14.74 and not indicator_met(ind, yearly, until_year=2025)
    assert indicator_met(ind.model_copy(update={"compound": False}), yearly)  # what adding them decided
    assert round(cumulated(ind, yearly[:4]), 2) == 12.04 and indicator_met(ind, yearly[:4], until_year=2024)
    with pytest.raises(ValueError, match="cumulative_years"):
        scheme(components=[{"code": "ind", "name": "指标", "weight": 1.0, "source": "indicators"}],
               indicators=[{"code": "pass", "name": "合格率", "unit": "%", "target": 98, "attribute": "binding",
                            "compound": True}])


def _totals(*totals: float) -> list[UnitInput]:
    """Units u1, u2 … whose total is exactly the given number (two equal components)."""
    return [UnitInput(f"u{i}", reviews={"docs": [t], "talk": [t]}) for i, t in enumerate(totals, start=1)]


def test_named_levels_with_caps_leave_a_level_vacant_and_spill_to_the_next():
    # An award: 市长质量奖 at most 2 (≥ 85), 提名奖 at most 2 (≥ 75), the rest 未获奖.
    s = scheme(grades=[{"name": "市长质量奖", "min_score": 85, "max_count": 2},
                       {"name": "提名奖", "min_score": 75, "max_count": 2}, {"name": "未获奖"}])
    results = assess(s, _totals(95, 90, 88, 80, 76, 70))
    assert [(r.unit, r.grade) for r in results] == [
        ("u1", "市长质量奖"), ("u2", "市长质量奖"), ("u3", "提名奖"), ("u4", "提名奖"), ("u5", "未获奖"),
        ("u6", "未获奖")]
    # Nobody reaches the line: the award stays vacant (空缺), the cap is a ceiling.
    assert {r.grade for r in assess(s, _totals(80, 70))} == {"提名奖", "未获奖"}


def test_shared_ties_never_overflow_a_cap():
    # Two units tie for the last award place: under "shared" both move down together.
    s = scheme(ties="shared", grades=[{"name": "金奖", "min_score": 60, "max_count": 2}, {"name": "未获奖"}])
    results = assess(s, _totals(95, 90, 90, 50))
    assert [(r.unit, r.rank, r.grade) for r in results] == [
        ("u1", 1, "金奖"), ("u2", 2, "未获奖"), ("u3", 2, "未获奖"), ("u4", 4, "未获奖")]
    # Broken by components (the default) the cap is filled exactly.
    strict = scheme(grades=[{"name": "金奖", "min_score": 60, "max_count": 2}, {"name": "未获奖"}])
    assert [r.grade for r in assess(strict, _totals(95, 90, 90, 50))].count("金奖") == 2


def test_shared_in_ties_take_a_tie_at_the_last_place_in_whole_over_the_cap():
    """某市's QC小组 rule: "并列的一并评入". The tie at the cap's last place takes the grade whole (3 for
    2 places); the places are used up for those below it, and a tie with no place left goes down."""
    s = scheme(ties="shared_in", grades=[{"name": "金奖", "min_score": 60, "max_count": 2},
                                         {"name": "银奖", "min_score": 55, "max_count": 2}, {"name": "未获奖"}])
    results = assess(s, _totals(95, 90, 90, 88, 80, 80, 80, 50))
    assert [(r.unit, r.rank, r.grade) for r in results] == [
        ("u1", 1, "金奖"), ("u2", 2, "金奖"), ("u3", 2, "金奖"), ("u4", 4, "银奖"), ("u5", 5, "银奖"),
        ("u6", 5, "银奖"), ("u7", 5, "银奖"), ("u8", 8, "未获奖")]


def test_tie_order_names_the_components_equal_totals_are_compared_by():
    """江城's rule "同分时质量提升得分高者在前" could only be written by listing 质量提升 first, which
    reordered every letter's parts. u1: 资料 90, 汇报 80 → 84; u2: 资料 75, 汇报 90 → 84."""
    units = [UnitInput("u1", reviews={"docs": [90], "talk": [80]}), UnitInput("u2", reviews={"docs": [75], "talk": [90]})]
    assert [r.unit for r in assess(scheme(), units)] == ["u1", "u2"]  # 资料 first, the scheme's order
    assert [r.unit for r in assess(scheme(tie_order=["talk"]), units)] == ["u2", "u1"]
    with pytest.raises(ValidationError, match="tie_order 中的 speech 不是考核部分代码（现有：docs、talk）"):
        scheme(tie_order=["speech"])
    with pytest.raises(ValidationError, match="tie_order 只与 ties: components_in_order 一起使用"):
        scheme(tie_order=["talk"], ties="shared")


def test_a_tied_group_moved_down_leaves_its_places_empty_for_those_below_it():
    """Two tied at 90 do not fit the one 金奖 place left: neither does the 85 below them (宝山
    with shared ties gave its 区政府质量奖 to the 700 while the two at 800 got 提名奖)."""
    s = scheme(ties="shared", grades=[{"name": "金奖", "min_score": 60, "max_count": 2},
                                      {"name": "银奖", "min_score": 55, "max_count": 3}, {"name": "未获奖"}])
    results = assess(s, _totals(95, 90, 90, 85, 50))
    assert [(r.unit, r.grade) for r in results] == [
        ("u1", "金奖"), ("u2", "银奖"), ("u3", "银奖"), ("u4", "银奖"), ("u5", "未获奖")]


def test_pass_fail_levels_and_a_veto_forcing_a_named_level_ranked_last():
    s = scheme(grades=[{"name": "合格", "min_score": 60}, {"name": "不合格"}],
               vetoes=[{"code": "accident", "name": "发生重大质量安全事故", "grade": "不合格"}])
    units = _totals(99, 70, 50)
    units[0].vetoes.append("accident")
    results = assess(s, units)
    assert [(r.unit, r.grade, r.rank) for r in results] == [("u2", "合格", 1), ("u3", "不合格", 2), ("u1", "不合格", 3)]


def test_a_vetoed_subject_needs_no_scores_and_an_unvetoed_one_still_does():
    """一站式服务站: a site vetoed for never applying for 验收 stopped the whole assessment ("只有 0 个评分"):
    its grade is forced, so nobody scores it."""
    s = scheme(min_reviewers=1, grades=[{"name": "达标", "min_score": 85}, {"name": "不达标"}],
               vetoes=[{"code": "none", "name": "未提交验收申请", "grade": "不达标"}])
    unscored = UnitInput("u9")
    unscored.vetoes.append("none")
    results = assess(s, [*_totals(90), unscored])
    assert [(r.unit, r.grade, r.total, r.veto) for r in results] == [("u1", "达标", 90, None), ("u9", "不达标", 0, "none")]
    with pytest.raises(AssessmentError, match="单位 u8 的“资料考核”只有 0 个评分"):
        assess(s, [*_totals(90), UnitInput("u8")])


@pytest.mark.parametrize("grades, message", [
    ([{"name": "A", "min_score": 90}, {"name": "B", "min_score": 80}], "应接收其余对象"),
    ([{"name": "A", "min_score": 80}, {"name": "B", "min_score": 90}, {"name": "C"}], "从高到低递减"),
    ([{"name": "A", "min_score": 80}, {"name": "B", "min_score": 80}, {"name": "C"}], "“A”须有名额"),
    ([{"name": "A", "share": 0.7}, {"name": "B", "share": 0.5}, {"name": "C"}], "不超过 1"),
    ([{"name": "A", "min_score": 90}, {"name": "A"}], "重复"),
])
def test_grade_lists_that_cannot_mean_anything_are_refused(grades, message):
    with pytest.raises(ValueError, match=message):
        scheme(grades=grades)


def test_tiers_sharing_one_floor_are_told_apart_by_their_places():
    """某市's QC contest: 一等奖 at most 15 %, 二等奖 at most 30 %, 三等奖 the rest, each at 70 points or more;
    the officer had written floors of 70.02, 70.01 and 70 to pass validate."""
    s = scheme(grades=[{"name": "一等奖", "min_score": 70, "share": 0.15}, {"name": "二等奖", "min_score": 70, "share": 0.3},
                       {"name": "三等奖", "min_score": 70}, {"name": "未获奖"}])
    results = assess(s, _totals(95, 90, 88, 85, 80, 76, 72, 70, 69.99, 50))
    assert [r.grade for r in results] == ["一等奖", "二等奖", "二等奖", "二等奖", "三等奖", "三等奖", "三等奖", "三等奖",
                                          "未获奖", "未获奖"]


def test_published_points_are_rounded_half_up_and_the_parts_add_up_to_the_total():
    """舟山's 住建局 read "得分67.05" over parts of 53.33 and 13.71 (53.3333 + 13.7133 = 67.0466): each part
    is published to the cent, half up, and the total is what the published parts add up to."""
    from qcycle.scoring import published

    assert published(84.125) == 84.13 and round(84.125, 2) == 84.12  # 四舍五入, not the banker's round
    assert published(2.675) == 2.68 and published(13.71333) == 13.71 and published(0.005) == 0.01
    noisy = 81.6125 / 100.0 * 40  # a mean of 81.5, 81.6, 81.7, 81.65 at weight 0.4: 32.645 on paper
    assert noisy < 32.645 and published(noisy) == 32.65  # the float's noise is not a rounding down
    s = scheme(components=[{"code": "docs", "name": "资料考核", "weight": 0.8},
                           {"code": "talk", "name": "集中汇报考核", "weight": 0.2}])
    # docs 200/3 % of 80 = 53.3333 → 53.33; talk 68.5667 % of 20 = 13.7133 → 13.71: 67.04, not 67.05
    [r] = assess(s, [UnitInput("zj", reviews={"docs": [60, 70, 70], "talk": [68.5, 68.6, 68.6]})])
    assert r.components == {"docs": 53.33, "talk": 13.71} and r.total == 67.04


def test_a_grade_goes_by_the_total_the_unit_reads():
    """An unrounded 89.996 had read "B级（得分90.00）" against an A line of 90: the line is held against
    the published total, and a total just under it by less than a half cent is not lifted."""
    s = scheme(components=[{"code": "docs", "name": "资料考核", "weight": 1.0}])
    at_line, under = assess(s, [UnitInput("a", reviews={"docs": [89.996]}),
                                UnitInput("b", reviews={"docs": [89.994]})])
    assert (at_line.total, at_line.grade) == (90.0, "A")
    assert (under.total, under.grade) == (89.99, "B")


def test_a_veto_that_bars_the_better_grades_grades_and_ranks_by_the_score_below_them():
    """不得评为优秀、良好: a 30-point bureau with an accident had been forced to 合格 (the only way to write it), and
    ranked below every 不合格. Capped at 合格, it keeps its score's grade below the cap, and its place."""
    s = scheme(grades=[{"name": "优秀", "min_score": 90, "max_count": 1}, {"name": "良好", "min_score": 80},
                       {"name": "合格", "min_score": 60}, {"name": "不合格"}],
               vetoes=[{"code": "accident", "name": "发生重大质量安全事故", "at_most": "合格"},
                       {"code": "fraud", "name": "弄虚作假", "grade": "不合格"}])
    units = _totals(95, 93, 85, 30, 70, 99)
    for i in (0, 2, 3):  # 95, 85, 30 had an accident
        units[i].vetoes.append("accident")
    units[5].vetoes += ["fraud", "accident"]  # a forced grade wins over a cap
    results = assess(s, units)
    assert [(r.unit, r.grade, r.rank, r.veto) for r in results] == [
        ("u1", "合格", 1, "accident"),  # 95: barred from 优秀, whose one place goes to 93
        ("u2", "优秀", 2, None),
        ("u3", "合格", 3, "accident"),
        ("u5", "合格", 4, None),
        ("u4", "不合格", 5, "accident"),  # 30 is 不合格, not the cap
        ("u6", "不合格", 6, "fraud"),  # forced: last, whatever its score
    ]


def test_a_veto_names_one_grade_forced_or_capped():
    with pytest.raises(ValidationError, match="grade（强制的等次）或 at_most"):
        scheme(vetoes=[{"code": "x", "name": "事故", "grade": "D", "at_most": "C"}])
    with pytest.raises(ValidationError, match="grade（强制的等次）或 at_most"):
        scheme(vetoes=[{"code": "x", "name": "事故"}])
    with pytest.raises(ValidationError, match="等次 'E' 不在 grades 中"):
        scheme(vetoes=[{"code": "x", "name": "事故", "at_most": "E"}])


def test_a_cap_is_not_for_what_was_never_handed_in():
    """What was never handed in has no score to grade by: a capping veto for it is refused (its assessment had
    stopped on "只有 0 个评分", or graded a hidden score)."""
    with pytest.raises(ValidationError, match="at_most（按得分评、至多评为某等次）不与 missing_at"):
        scheme(vetoes=[{"code": "x", "name": "未报送检测结果", "at_most": "C", "missing_at": "report"}])


def test_a_lower_total_is_better_where_the_score_counts_risk():
    """食品生产企业风险分级: 风险分值30分以下为A级、30–45为B级、45–60为C级、60以上为D级; the lowest risk ranks first.
    Written the way a score counts (min_score, best first), a 20-point firm had been graded D and ranked last."""
    grades = [{"name": "A级", "max_score": 30}, {"name": "B级", "max_score": 45},
              {"name": "C级", "max_score": 60}, {"name": "D级"}]
    risk = scheme(better="lower", grades=grades)
    results = assess(risk, _totals(72, 20, 45, 30.01, 60, 30))
    assert [(r.total, r.grade, r.rank) for r in results] == [
        (20.0, "A级", 1), (30.0, "A级", 2), (30.01, "B级", 3), (45.0, "B级", 4), (60.0, "C级", 5), (72.0, "D级", 6)]
    # Equal totals: the components, in order, the lower first as the total.
    tied = assess(risk, [UnitInput("a", reviews={"docs": [50], "talk": [20]}),   # 20 + 12 = 32
                         UnitInput("b", reviews={"docs": [20], "talk": [40]})])  # 8 + 24 = 32
    assert [r.unit for r in tied] == ["b", "a"]
    # Counted over those within the loosest line (45 or less), a capped grade spills to the next.
    capped = scheme(better="lower", share_of="passing",
                    grades=[{"name": "A级", "max_score": 30, "max_count": 1}, {"name": "B级", "max_score": 45},
                            {"name": "C级"}])
    assert capped.pass_line == 45 and capped.share_base([10, 40, 50]) == 2
    assert [r.grade for r in assess(capped, _totals(10, 20, 50))] == ["A级", "B级", "C级"]
    with pytest.raises(ValidationError, match="max_score 应从低到高递增"):
        scheme(better="lower", grades=[{"name": "A级", "max_score": 45}, {"name": "B级", "max_score": 30}, {"name": "C级"}])
    with pytest.raises(ValidationError, match="写 max_score"):
        scheme(better="lower")  # min_score lines under better: lower
    with pytest.raises(ValidationError, match="写 better: lower"):
        scheme(grades=grades)
    with pytest.raises(ValidationError, match="不能两种混用"):
        scheme(better="lower", grades=[{"name": "A级", "max_score": 30}, {"name": "B级", "min_score": 45}, {"name": "C级"}])


def test_a_share_of_all_counts_the_vetoed_too():
    """设区市政府质量工作考核: "A级不超过设区市总数的30%" gave 2 places of 10 cities, one vetoed (9 × 30 %): the tenth
    city, 90.03 and third, was graded B, where the rule gives 3."""
    vetoed = {"code": "accident", "name": "重大质量安全事故", "grade": "D"}
    grades = [{"name": "A", "min_score": 90, "share": 0.3}, {"name": "B", "min_score": 80}, {"name": "C", "min_score": 60},
              {"name": "D"}]
    inputs = _totals(99, 98, 97, 96, 95, 94, 93, 92, 91, 50)
    inputs[-1] = UnitInput("u10", reviews={"docs": [50], "talk": [50]}, vetoes=["accident"])
    ranked = assess(scheme(grades=grades, vetoes=[vetoed]), inputs)
    everyone = assess(scheme(grades=grades, vetoes=[vetoed], share_of="all"), inputs)
    assert [r.grade for r in ranked].count("A") == 2 and [r.grade for r in everyone].count("A") == 3
    assert everyone[-1].grade == "D" and everyone[-1].unit == "u10"
