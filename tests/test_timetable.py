"""The timetable: deadline semantics, working-day reminders, and what is due after an outage."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import chinese_calendar
import pytest

from qcycle.clock import at
from qcycle.errors import ConfigError
from qcycle.schema import Programme
from qcycle.timetable import due, expand
from qcycle.workcal import WorkCalendar


def programme(deadline: dict, opens: str = "2023-01-03", **policy) -> Programme:
    return Programme.model_validate({
        "version": 2,
        "round": {"code": "t", "name": "测试周期", "programme": "测试", "issuer": "p", "years": [2023]},
        "channels": [{"name": "sink", "kind": "sink"}],
        "units": [
            {"code": "p", "name": "省局", "level": "province", "channels": ["sink"]},
            {"code": "c1", "name": "市局", "level": "city", "parent": "p", "channels": ["sink"]},
        ],
        "reminder_policies": {"std": {"before_workdays": [5, 3, 1], **policy}},
        "stages": [{
            "code": "apply", "name": "申报", "kind": "submission", "submission": "application",
            "owed_by": {"levels": ["city"]}, "opens": opens, "deadline": deadline, "reminders": "std",
        }],
    })


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def actions(p, cal, kind):
    return [a for a in expand(p, cal).actions if a.action == kind]


def test_reminder_can_land_on_a_make_up_saturday(cal):
    # 2023-01-28 (Saturday) and 01-29 (Sunday) were official make-up working days after the
    # Spring Festival, while Friday 01-27 was a holiday.
    p = programme({"date": "2023-01-31"})
    days = [a.at.date() for a in actions(p, cal, "reminder")]
    assert all(chinese_calendar.is_workday(d) for d in days)
    t3 = next(a for a in actions(p, cal, "reminder") if a.workdays_left == 3)
    assert t3.at.date() == dt.date(2023, 1, 28) and t3.at.weekday() == 5
    t5 = next(a for a in actions(p, cal, "reminder") if a.workdays_left == 5)
    assert t5.at.date() == dt.date(2023, 1, 19)  # 30, 29, 28, then over the break: 20, 19


def test_deadline_on_a_holiday_rolls_to_next_working_day(cal):
    # 2023-09-29..10-06 were holidays; Saturday 10-07 was a make-up working day.
    p = programme({"date": "2023-10-01", "roll": "next_workday"})
    [deadline] = actions(p, cal, "deadline")
    assert deadline.at == at(dt.date(2023, 10, 7), dt.time(17, 30))
    assert deadline.detail["rolled_from"] == "2023-10-01"
    assert "（原定10月1日，遇节假日顺延）" in deadline.title  # 国庆节, not a mere weekend


def test_deadline_without_roll_stays_and_reminders_stay_on_working_days(cal):
    p = programme({"date": "2023-10-01", "roll": "none"})
    [deadline] = actions(p, cal, "deadline")
    assert deadline.at.date() == dt.date(2023, 10, 1)
    # The last day a unit can still submit is the last working day before the holiday.
    today = next(a for a in actions(p, cal, "reminder") if a.workdays_left == 0)
    assert today.at.date() == dt.date(2023, 9, 28)


def test_exclusive_deadline_cuts_off_at_start_of_day(cal):
    p = programme({"date": "2023-04-20", "inclusive": False, "time": "17:30"})
    [deadline] = actions(p, cal, "deadline")
    assert deadline.at == at(dt.date(2023, 4, 20))
    today = next(a for a in actions(p, cal, "reminder") if a.workdays_left == 0)
    assert today.at.date() == dt.date(2023, 4, 19)


def test_reminders_before_the_window_opens_are_dropped(cal):
    p = programme({"date": "2023-04-20"}, opens="2023-04-18")
    assert sorted(a.workdays_left for a in actions(p, cal, "reminder")) == [0, 1]


def test_expand_is_deterministic(cal):
    p = programme({"date": "2023-04-20"})
    assert [a.to_json() for a in expand(p, cal).actions] == [a.to_json() for a in expand(p, cal).actions]


def test_a_list_is_published_before_the_window_it_opens_at_the_same_moment(cal):
    """四川 prints its 榜单 and opens the 揭榜书 window at 2023-04-07 09:00: a city reads the
    榜单 first."""
    from pathlib import Path

    from qcycle.loader import load_programme

    path = Path(__file__).resolve().parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"
    t = expand(load_programme(path).programme, cal)
    first = [a.name for a in t.actions if a.at == at(dt.date(2023, 4, 7), dt.time(9, 0))]
    assert first == ["publish_list:publish", "application:window_open"]


def test_after_a_ten_day_outage_due_runs_closing_and_escalation_and_skips_stale_reminders(cal):
    p = programme({"date": "2023-04-20"})
    t = expand(p, cal)
    # Nothing ran from 2023-04-12 until 2023-04-25 10:00.
    done = {a.key for a in t.actions if a.at < at(dt.date(2023, 4, 12))}
    d = due(t, at(dt.date(2023, 4, 25), dt.time(10)), done)
    ran = {a.action for a in d.run}
    assert {"deadline", "overdue", "escalation"} <= ran
    assert "reminder" not in ran
    skipped = {a.name: reason for a, reason in d.skipped}
    assert {"apply:reminder:T-3", "apply:reminder:T-1", "apply:reminder:T-0"} <= set(skipped)
    assert all("已过" in r for r in skipped.values())


def test_due_merges_missed_reminders_into_the_latest(cal):
    p = programme({"date": "2023-04-20"})
    t = expand(p, cal)
    # Down from T-5 (04-13) to the morning of T-1 (04-19): only T-1 is sent.
    d = due(t, at(dt.date(2023, 4, 19), dt.time(9, 30)), {a.key for a in t.actions if a.action == "window_open"})
    assert [a.name for a in d.run if a.action == "reminder"] == ["apply:reminder:T-1"]
    assert {a.name for a, _ in d.skipped} == {"apply:reminder:T-5", "apply:reminder:T-3"}
    # Identified by what they are for: the deadline they serve.
    assert all(a.key.endswith("@2023-04-20") for a, _ in d.skipped)


def test_due_does_not_repeat_what_is_done(cal):
    p = programme({"date": "2023-04-20"})
    t = expand(p, cal)
    now = at(dt.date(2023, 5, 1))
    first = due(t, now)
    done = {a.key for a in first.run} | {a.key for a, _ in first.skipped}
    assert due(t, now, done).run == []


@pytest.mark.parametrize(("file", "urged"), [
    ("sc-jbgs-2023", "逾期未交，由四川省市场监督管理局直接督办"),  # the office urges the cities itself
    ("ha-county-assessment-2015", "逾期未交，报淮安市人民政府督办"),  # the county is reported, not the government urged
    ("zs-csy-ybq-2011", "逾期未交，由舟山市人民政府（质量强市工作领导小组办公室）直接督办"),  # its departments answer to the government that writes
    ("yy-quality-plan-2025", "逾期未交，报榆林市榆阳区人民政府督办"),
])
def test_an_escalation_says_who_urges_whom(file, urged):
    from pathlib import Path

    from qcycle.loader import load_programme

    path = Path(__file__).resolve().parent.parent / "config" / "programmes" / f"{file}.yaml"
    escalations = [a for a in expand(load_programme(path).programme, WorkCalendar()).actions
                   if a.action == "escalation"]
    assert escalations and all(a.title.endswith(urged) for a in escalations), [a.title for a in escalations]


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parent.parent / "config" / "programmes").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_actions_of_one_kind_at_one_moment_follow_the_files_order_of_stages(path, cal):
    """焦作 lists its results before its praise, both on 12 August: a county read 【通报表扬】 before its
    【结果】 because the tie went to the stage codes' alphabetical order."""
    from qcycle.kinds import ORDER
    from qcycle.loader import load_programme

    p = load_programme(path).programme
    place = {s.code: i for i, s in enumerate(p.stages)}
    actions = expand(p, cal).actions
    keys = [(a.at, ORDER[a.action], place[a.stage]) for a in actions]
    assert keys == sorted(keys)


@pytest.mark.parametrize(("overdue", "escalate", "announced"), [
    (1, 3, {"on": "2023-04-24", "to": "parent"}),  # Thursday 04-20 + 3 working days: 21, Sunday 23 (调休), 24
    (1, 1, None),  # urged the same morning: the 督办 alone, no overdue notice to announce it
    (3, 1, None),  # urged before the overdue notice: nothing ahead to announce
    (1, None, None),
])
def test_an_overdue_notice_carries_the_urging_still_to_come(cal, overdue, escalate, announced):
    p = programme({"date": "2023-04-20", "time": "17:30"}, overdue_after_workdays=overdue,
                  escalate_after_workdays=escalate)
    [notice] = actions(p, cal, "overdue")
    assert notice.detail.get("escalates") == announced


def test_a_publication_lists_no_window_owed_by_what_is_decided_after_it(tmp_path):
    """A publication tells units what they will owe (``detail["later"]``); a 整改报告 owed by the last
    places of an assessment still to come is not yet owed by anyone (a round assessed each year would
    have told last year's bottom units of this year's), while a window everyone owes is listed."""
    import textwrap

    from qcycle.loader import load_programme
    from tests.test_language import ASSESSMENT

    text = ASSESSMENT.replace("    stages:\n", """    stages:
      - {code: launch, name: 印发考核方案, kind: publication, on: 2016-01-05, notify: {levels: [county]}}
      - code: self
        name: 自评报告
        kind: submission
        submission: self_evaluation
        owed_by: {levels: [county]}
        opens: 2016-02-01
        deadline: {date: 2016-02-29}
""", 1)
    path = tmp_path / "launch.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    p = load_programme(path).programme
    launch = next(a for a in expand(p, WorkCalendar()).actions if a.stage == "launch")
    assert [d["stage"] for d in launch.detail["later"]] == ["self"]


def test_a_counted_opening_on_a_day_off_opens_the_next_working_day(tmp_path):
    """A window opening "18 months after being named" fell on a Saturday and its letter would have gone
    out then ("2028-10-14 周六 开始受理"): a counted opening rolls to the next working day."""
    import textwrap

    from qcycle.loader import load_programme
    from tests.test_language import ASSESSMENT

    text = ASSESSMENT.replace("opens_after: {stage: results, event: on, days: 0}",
                              "opens_after: {stage: results, event: on, days: 2}", 1)
    assert text != ASSESSMENT
    path = tmp_path / "opens.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    cal = WorkCalendar()
    opening = next(a for a in expand(load_programme(path).programme, cal).actions if a.action == "followup_open")
    assert dt.date(2016, 4, 2).weekday() == 5  # 3月31日 + 2 days: a Saturday, and 4月4日 is 清明
    assert opening.at.date() == cal.next_workday(dt.date(2016, 4, 2)) == dt.date(2016, 4, 5)


def test_a_late_at_deduction_whose_window_closes_after_the_assessment_is_flagged(tmp_path):
    """A deduction counted from a window that has no deadline by the assessment would never deduct:
    validate says so (a 提示), as the review asked."""
    import textwrap

    from qcycle.loader import load_programme
    from qcycle.timetable import check_dates
    from tests.test_language import ASSESSMENT

    text = ASSESSMENT.replace("      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n",
                              "      deductions: [{code: late, name: 整改逾期, points: 1, late_at: report}]\n"
                              "      grades: [{name: 合格, min_score: 60}, {name: 不合格}]\n", 1)
    path = tmp_path / "late.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    errors, warnings = check_dates(load_programme(path).programme, WorkCalendar())
    assert not errors
    assert ("assessment.deductions[0].late_at", "“书面整改报告”在考核之前没有截止时间，扣分项“整改逾期”不会扣分") in warnings


# Two quarters of a report due 10 working days after each quarter ends (季度结束后10个工作日内).
QUARTERLY = textwrap.dedent("""\
    version: 2
    round: {code: q-2025, name: 2025年季度报送, programme: 季度报送, issuer: city, years: [2025]}
    channels: [{name: sink, kind: sink}]
    units:
      - {code: city, name: 某市市场监督管理局, level: city, channels: [sink]}
      - {code: c1, name: 一区市场监督管理局, level: county, parent: city, channels: [sink]}
    stages:
      - code: quarterly
        name: 季度抽查情况
        kind: submission
        submission: self_evaluation
        owed_by: {levels: [county]}
        periods:
          - {code: 2025-Q1, opens: 2025-04-01, deadline: {date: 2025-03-31, workdays: 10}}
          - {code: 2025-Q3, opens: 2025-10-09, deadline: {date: 2025-09-30, workdays: 10}}
    """)


def test_a_deadline_counted_in_working_days_after_a_date_follows_the_calendar(tmp_path):
    """监督抽查's 区县局 report 季度结束后10个工作日内: the officer had counted 4月15日 by hand past 清明, and 10月21日
    past the National Day week and its 调休; the file now says it and the calendar counts."""
    from qcycle.loader import load_programme
    from qcycle.workcal import WorkCalendar

    text = QUARTERLY
    path = tmp_path / "q.yaml"
    path.write_text(text, encoding="utf-8")
    t = expand(load_programme(path).programme, WorkCalendar())
    due = sorted(a.at.date() for a in t.actions if a.action == "deadline")
    assert due == [dt.date(2025, 4, 15), dt.date(2025, 10, 21)], due
    # Next year's round counts from the same day: an anchor on a Saturday is no deadline to roll.
    from qcycle.newround import next_round

    made = next_round(text.replace("2025-03-31", "2024-05-31"), load_programme(path).programme, 2026, WorkCalendar())
    assert "2025-05-31, workdays: 10" in made.text and not any("2025-05-31" in n for n in made.notes), made.notes
    with pytest.raises(ConfigError, match="workdays（自某日起的第几个工作日）与 date 同用"):
        path.write_text(text.replace("deadline: {date: 2025-03-31, workdays: 10}",
                                     "deadline: {after: {stage: quarterly, event: opens, days: 1}, workdays: 10}"),
                        encoding="utf-8")
        load_programme(path)


def test_the_plan_names_the_office_that_decides(tmp_path):
    """省质量奖's plan listed every 待审核决定 with nobody in its 对象 column."""
    from qcycle.loader import load_programme
    from qcycle.workcal import WorkCalendar

    path = Path(__file__).parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"
    p = load_programme(path).programme
    t = expand(p, WorkCalendar())
    office = p.unit(p.round.issuer).name
    deciding = [a for a in t.actions if a.action in ("decision_due", "decision_request")]
    assert deciding and all(a.owed_by == p.unit(p.sender(a.stage)).name for a in deciding), deciding[:2]
    assert any(a.owed_by == office for a in deciding)
    # A review its reviewers take (县（市）区市场监管局初审): the office gathers their opinions, they decide nothing there.
    fz = load_programme(Path(__file__).parent.parent / "config" / "programmes" / "fz-government-quality-award-2024.yaml").programme
    reviewed = [a for a in expand(fz, WorkCalendar()).actions if a.action == "decision_due" and fz.stage(a.stage).reviewed_by]
    assert reviewed and all(a.owed_by.endswith("（汇总上级单位意见）") for a in reviewed), reviewed[:1]


def test_an_office_names_its_levels_in_its_own_words(tmp_path):
    """省质量奖's plan called its 设区市 "市（州）", Sichuan's word."""
    from qcycle.loader import load_programme
    from qcycle.workcal import WorkCalendar

    source = Path(__file__).parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"
    text = source.read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("  issuer:", "  level_names: {city: 设区市}\n  issuer:", 1), encoding="utf-8")
    assert "level_names" in path.read_text(encoding="utf-8")
    said = {a.owed_by for a in expand(load_programme(path).programme, WorkCalendar()).actions if a.owed_by}
    before = {a.owed_by for a in expand(load_programme(source).programme, WorkCalendar()).actions if a.owed_by}
    assert any("市（州）" in x for x in before) and not any("市（州）" in x for x in said), said
    assert any("设区市" in x for x in said)


def test_a_counted_deadline_before_its_window_opens_is_refused(tmp_path):
    """{date, workdays} resolves with the calendar: one falling before its window opens is caught by validate, as a
    written one is (checks._window_order compares only written dates)."""
    from qcycle.loader import load_programme

    path = tmp_path / "q.yaml"
    path.write_text(QUARTERLY.replace("opens: 2025-04-01,", "opens: 2025-05-06,"), encoding="utf-8")
    with pytest.raises(ConfigError, match="截止于 2025-04-15，早于开始受理日 2025-05-06"):
        load_programme(path)


def test_the_plan_shows_the_last_day_of_an_event_of_several_days(tmp_path):
    """强检计量器具, 商标品牌指导站: the plan showed the 现场核查 of 7月11日至8月31日 by its first day alone, and an
    officer checking it against the letters ("至2027年8月31日") took it for one day."""
    from typer.testing import CliRunner

    from qcycle.cli import app

    source = Path(__file__).parent.parent / "config" / "programmes" / "bs-quality-award-4.yaml"
    path = tmp_path / "bs.yaml"
    path.write_text(source.read_text(encoding="utf-8").replace(
        "    name: 现场评审\n    kind: event\n    on: 2022-08-01\n", "    name: 现场评审\n    kind: event\n    on: 2022-08-01\n    days: 10\n", 1),
        encoding="utf-8")
    shown = CliRunner().invoke(app, ["plan", str(path)], terminal_width=240)
    assert shown.exit_code == 0, shown.output
    assert "现场评审（至2022-08-10）" in shown.output, shown.output
    assert "资料评审（至" not in shown.output  # one day: nothing to add
