"""Amendments: the Sichuan round ran to 2023-04-19, then the province moved the application
deadline from 04-20 to 04-28 (and the review and the takers list after it, to 05-04 and 05-08).
What the plan diff says, and what the round records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from qcycle import clock, crud, db
from qcycle.amendments import describe, diff_plans
from qcycle.cli import app
from qcycle.errors import StateError
from qcycle.lifecycle import sync_round
from qcycle.loader import load_programme
from qcycle.models import ActionRun, AuditLog, RoundAmendment
from qcycle.timetable import expand
from qcycle.workcal import default_calendar
from tests.variants import compulsory_sichuan

REPO = Path(__file__).resolve().parent.parent
# 揭榜 owed by every city: what moves with a deadline includes its overdue notice and 督办.
SICHUAN = compulsory_sichuan()
runner = CliRunner()


def _extended(folder: Path) -> Path:
    """The Sichuan file as the officer edits it: deadline 04-28, review 05-04, list 05-08."""
    text = SICHUAN.read_text(encoding="utf-8")
    for old, new in (("deadline: {date: 2023-04-20,", "deadline: {date: 2023-04-28,"),
                     ("on: 2023-04-21", "on: 2023-05-04"), ("on: 2023-04-24", "on: 2023-05-08")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / SICHUAN.name
    path.write_text(text, encoding="utf-8")
    return path


def _by_name(changes, name: str):
    return [c for c in changes if c.action.name == name]


def test_a_moved_deadline_moves_its_reminders_overdue_notice_and_the_decisions_after_it(tmp_path):
    cal = default_calendar()
    before = expand(load_programme(SICHUAN).programme, cal)
    after = expand(load_programme(_extended(tmp_path)).programme, cal)
    ran_to = clock.at(dt.date(2023, 4, 19), dt.time(23, 59))
    done = {a.key for a in before.actions if a.at <= ran_to}
    changes = diff_plans(before, after, done)

    reminders = [c for c in changes if c.action.action == "reminder" and c.action.stage == "application"]
    assert {(c.old.at.date(), c.new.at.date()) for c in reminders} == {
        (dt.date(2023, 4, 13), dt.date(2023, 4, 23)),  # T-5: Sunday 04-23 was a 调休 working day
        (dt.date(2023, 4, 17), dt.date(2023, 4, 25)),  # T-3
        (dt.date(2023, 4, 19), dt.date(2023, 4, 27)),  # T-1
        (dt.date(2023, 4, 20), dt.date(2023, 4, 28)),  # the day itself
    }
    assert all(c.change == "moved" for c in reminders)
    # Sent for the old deadline: they stay done; the reminders for the new one are new actions.
    assert [c.done for c in sorted(reminders, key=lambda c: c.old.at)] == [True, True, True, False]
    assert all(c.new.key not in done and c.new.deadline.date() == dt.date(2023, 4, 28) for c in reminders)

    overdue = _by_name(changes, "application:overdue")
    assert len(overdue) == 1 and overdue[0].new.at.date() > dt.date(2023, 4, 28) and not overdue[0].done
    review = [c for c in changes if c.action.stage == "takers_review"]
    assert review and all(c.change == "moved" and c.new.at.date() == dt.date(2023, 5, 4) for c in review)
    # The window opened on 04-07 as before; only the deadline it announces changed.
    (opening,) = _by_name(changes, "application:window_open")
    assert opening.change == "retargeted" and opening.done and opening.old.at == opening.new.at
    assert "所对应的截止日 2023-04-20 → 2023-04-28（已执行）" in describe(opening)
    # Nothing else in the year changed: the mid-term checks and the evaluation keep their days.
    assert {c.action.stage for c in changes} == {"application", "takers_review", "takers_list"}
    assert not [c for c in changes if c.change in ("added", "dropped")]

    line = describe(next(c for c in reminders if c.old.at.date() == dt.date(2023, 4, 17)))
    assert line.startswith("改期 提醒") and "2023-04-17 09:00 → 2023-04-25 09:00" in line
    assert "原日期的已执行" in line


def test_same_file_no_change_and_an_action_dropped_or_added_is_said_so(tmp_path):
    cal = default_calendar()
    plan = expand(load_programme(SICHUAN).programme, cal)
    assert diff_plans(plan, plan) == []
    fewer = plan.__class__(plan.round, [a for a in plan.actions if a.name != "takers_list:publish"], [])
    dropped = diff_plans(plan, fewer, done=set())
    assert [(c.change, c.action.name) for c in dropped] == [("dropped", "takers_list:publish")]
    assert describe(dropped[0]).startswith("取消 ") and "原定 2023-04-24" in describe(dropped[0])
    added = diff_plans(fewer, plan)
    assert [(c.change, c.action.name, c.old) for c in added] == [("added", "takers_list:publish", None)]


@pytest.fixture
def ran_to_april_19(home):
    """The round in the database as it ran until 2023-04-19: its actions so far recorded done."""
    loaded = load_programme(SICHUAN)
    timetable = expand(loaded.programme, default_calendar())
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
        for a in timetable.actions:
            if a.at.date() <= dt.date(2023, 4, 19):
                crud.record_action(session=session, round_id=round_id, action_key=a.key, action=a.action,
                                   due_at=a.at)
    return round_id


def test_plan_diff_and_amend_record_who_why_and_what_changed(ran_to_april_19, tmp_path):
    unchanged = runner.invoke(app, ["plan", str(SICHUAN), "--diff"])
    assert unchanged.exit_code == 0 and "日程没有变化" in unchanged.output

    extended = _extended(tmp_path)
    shown = runner.invoke(app, ["plan", str(extended), "--diff"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "改期" in shown.output and "2023-04-28" in shown.output and "已执行" in shown.output
    with db.session_scope(read_only=True) as session:
        assert session.exec(select(RoundAmendment)).all() == []  # looking changes nothing

    refused = runner.invoke(app, ["amend", str(extended)])
    assert refused.exit_code == 2 and "--reason" in refused.output

    done = runner.invoke(app, ["amend", str(extended), "--reason", "省局通知申报延期至4月28日", "--by", "张三"],
                         terminal_width=200)
    assert done.exit_code == 0, done.output
    with db.session_scope(read_only=True) as session:
        (row,) = session.exec(select(RoundAmendment)).all()
        rnd = crud.get_round(session=session, code="sc-jbgs-2023")
        audit = session.exec(select(AuditLog).where(AuditLog.action == "amend")).all()
    assert (row.actor, row.reason) == ("cli:张三", "省局通知申报延期至4月28日")
    assert row.config_before == SICHUAN.read_text(encoding="utf-8")
    assert row.config_after == extended.read_text(encoding="utf-8") == rnd.config_text
    assert rnd.config_sha256 == row.sha_after != row.sha_before
    assert any("2023-04-17 09:00 → 2023-04-25 09:00（原日期的已执行" in line for line in row.changes), row.changes
    assert len(audit) == 1 and audit[0].detail["reason"] == "省局通知申报延期至4月28日"

    # Recorded once: the round now runs on the new file.
    again = runner.invoke(app, ["plan", str(extended), "--diff"])
    assert "日程没有变化" in again.output
    listed = runner.invoke(app, ["amend", str(extended), "--list"], terminal_width=200)
    assert "张三" in listed.output and "省局通知申报延期至4月28日" in listed.output and "2023-04-25" in listed.output


def test_a_deadline_moved_behind_the_round_is_refused_unless_ops_say_the_units_were_told(
        ran_to_april_19, tmp_path):
    """The round ran to 04-19; the deadline of 04-20 typed as 04-18: every city that had not
    handed in would be overdue at once, never told. Refused by `amend` and by a run that finds
    the file; registered with --allow-passed-deadline."""
    text = SICHUAN.read_text(encoding="utf-8").replace("deadline: {date: 2023-04-20,", "deadline: {date: 2023-04-18,")
    path = tmp_path / SICHUAN.name
    path.write_text(text, encoding="utf-8")
    refused = runner.invoke(app, ["amend", str(path), "--reason", "笔误", "--by", "张三"], terminal_width=200)
    assert refused.exit_code == 1, refused.output
    assert ("截止时间改到了已过的时间（本周期已执行到 2023-04-19 09:00）：提交揭榜书 截止：2023-04-20 17:30 → "
            "2023-04-18 17:30") in refused.output and "--allow-passed-deadline" in refused.output
    with db.session_scope() as session, pytest.raises(StateError):  # a run that finds the file changed
        sync_round(session, load_programme(path), actor="flow:reconcile",
                   at=clock.at(dt.date(2023, 4, 19), dt.time(17, 35)))
    with db.session_scope(read_only=True) as session:
        assert session.exec(select(RoundAmendment)).all() == []
    told = runner.invoke(app, ["amend", str(path), "--reason", "已电话通知各市提前至4月18日", "--by", "张三",
                               "--allow-passed-deadline"])
    assert told.exit_code == 0, told.output
    with db.session_scope(read_only=True) as session:
        assert [a.reason for a in session.exec(select(RoundAmendment)).all()] == ["已电话通知各市提前至4月18日"]


def test_a_changed_file_picked_up_by_a_run_is_recorded_without_a_reason(ran_to_april_19, tmp_path):
    extended = load_programme(_extended(tmp_path))
    with db.session_scope() as session:
        sync_round(session, extended)  # what reconcile, import and pull do first
        sync_round(session, extended)  # and again: one amendment, not two
    with db.session_scope(read_only=True) as session:
        (row,) = session.exec(select(RoundAmendment)).all()
    assert row.reason == "" and row.actor == "qcycle" and row.changes
    listed = runner.invoke(app, ["amend", str(extended.path), "--list"], terminal_width=200)
    assert "未登记原因" in listed.output


def _messages(round_id, action_prefix: str):
    from qcycle.models import OutboxMessage

    with db.session_scope(read_only=True) as session:
        return [m for m in session.exec(select(OutboxMessage).where(OutboxMessage.round_id == round_id)).all()
                if m.action.startswith(action_prefix)]


def test_an_extension_is_told_once_to_the_units_that_still_owe_and_only_the_new_deadline_counts(
        ran_to_april_19, tmp_path):
    from qcycle.intake import ingest
    from qcycle.moment import run_due
    from tests.test_letters import problems_of

    round_id = ran_to_april_19
    original = load_programme(SICHUAN)
    cal = default_calendar()
    with db.session_scope() as session:  # two cities handed in before the change
        for unit in ("510100", "510300"):
            ingest(session=session, programme=original.programme, timetable=expand(original.programme, cal),
                   round_id=round_id, source="test", record={"kind": "application", "unit": unit,
                                                             "item": "cxyl-01", "submitted_at": "2023-04-12T10:00:00+08:00"})
    extended = load_programme(_extended(tmp_path))
    plan = expand(extended.programme, cal)
    amended_at = clock.at(dt.date(2023, 4, 19), dt.time(18, 0))
    with db.session_scope() as session:
        sync_round(session, extended, actor="flow:reconcile", at=amended_at)

    def run(day: dt.date, hour: int = 9):
        run_due(extended.programme, round_id, plan, clock.at(day, dt.time(hour, 5)),
                template_dir=extended.template_dir, actor="test")

    run(dt.date(2023, 4, 20))
    notices = _messages(round_id, "application:window_open@2023-04-28")
    cities = {u.code for u in extended.programme.units if u.level == "city"}
    assert {m.unit_code for m in notices} == cities - {"510100", "510300"}
    letter = next(m for m in notices if m.unit_code == "510400")
    assert letter.subject.startswith("【截止时间调整】") and "截止时间延长至2023年4月28日" in letter.subject
    assert "截止时间由2023年4月20日延长至2023年4月28日（星期五）17:30" in letter.body
    assert letter.logical_date == dt.date(2023, 4, 19)  # the day of the change, not the window's opening
    both = plan.__class__(plan.round, plan.actions + expand(original.programme, cal).actions, [])
    assert problems_of(extended.programme, both, letter) == []

    # Told once; no reminder or overdue notice for the old deadline; reminders for the new one.
    for day in (dt.date(2023, 4, 21), dt.date(2023, 4, 23), dt.date(2023, 4, 25), dt.date(2023, 4, 27)):
        run(day)
    assert len(_messages(round_id, "application:window_open@2023-04-28")) == len(notices)
    assert _messages(round_id, "application:overdue") == []
    assert _messages(round_id, "application:reminder:T-0@2023-04-20") == []
    for n, day in ((5, dt.date(2023, 4, 23)), (3, dt.date(2023, 4, 25)), (1, dt.date(2023, 4, 27))):
        sent = _messages(round_id, f"application:reminder:T-{n}@2023-04-28")
        assert {m.unit_code for m in sent} == cities - {"510100", "510300"}, n
        assert {m.logical_date for m in sent} == {day}, n
    run(dt.date(2023, 5, 4), hour=10)
    overdue = _messages(round_id, "application:overdue@2023-04-28")
    assert overdue and all(m.logical_date == dt.date(2023, 5, 4) for m in overdue)


def test_a_moved_deadline_run_for_past_days_is_dated_then_and_spares_units_with_their_own(
        ran_to_april_19, tmp_path):
    """The change is recorded today (wall clock) and the round is run for April 2023
    (backfill); 510400 had its own deadline granted, later than the stage's new one."""
    from qcycle.lifecycle import round_timetable
    from qcycle.moment import run_due

    round_id = ran_to_april_19
    path = _extended(tmp_path)
    extended = load_programme(path)
    with db.session_scope() as session:
        sync_round(session, extended, actor="cli:张三")  # recorded now, years after April 2023
    granted = runner.invoke(app, ["extend", str(path), "--stage", "application", "--unit", "510400",
                                  "--to", "2023-05-05", "--reason", "延期申请", "--past"])  # recorded after the fact
    assert granted.exit_code == 0, granted.output
    with db.session_scope(read_only=True) as session:
        plan = round_timetable(session, extended.programme, round_id)
        (entry,) = crud.audit_entries(session=session, round_code=extended.programme.round.code,
                                      action="extend:application")
    assert entry.detail == {"unit": "510400", "period": None, "deadline": "2023-05-05T17:30:00+08:00",
                            "reason": "延期申请", "past": True}  # the audit log says it was granted after the fact
    run_due(extended.programme, round_id, plan, clock.at(dt.date(2023, 4, 20), dt.time(9, 5)),
            template_dir=extended.template_dir, actor="test")

    notices = _messages(round_id, "application:window_open@2023-04-28")
    cities = {u.code for u in extended.programme.units if u.level == "city"}
    # 510400 answers to its own deadline (05-05): "延长至4月28日" would tell it the wrong day.
    assert {m.unit_code for m in notices} == cities - {"510400"}
    assert {m.logical_date for m in notices} == {dt.date(2023, 4, 20)}
    assert all(m.body.rstrip().endswith("2023年4月20日") for m in notices), notices[0].body
    own = _messages(round_id, "application:reminder:T-5:510400@2023-05-05")
    assert [m.unit_code for m in own] == []  # its own reminders start on 04-26


def test_a_moved_deadline_told_on_a_reminder_day_is_said_once(ran_to_april_19, tmp_path):
    """Backfilled from 04-23 (a 调休 Sunday), the notice of the new deadline and the T-5
    reminder of it fall on one day: the notice gives the deadline, the reminder is not sent
    beside it (once merged into it; now skipped as with any opening): one thing to do, said once."""
    from qcycle.models import OutboxMessage
    from qcycle.moment import run_due

    round_id = ran_to_april_19
    extended = load_programme(_extended(tmp_path))
    with db.session_scope() as session:
        sync_round(session, extended, actor="cli:张三")
    run_due(extended.programme, round_id, expand(extended.programme, default_calendar()),
            clock.at(dt.date(2023, 4, 23), dt.time(9, 5)), template_dir=extended.template_dir, actor="test")
    with db.session_scope(read_only=True) as session:
        (letter,) = session.exec(select(OutboxMessage).where(
            OutboxMessage.unit_code == "510500", OutboxMessage.channel == "email")).all()
    assert {i["action_key"] for i in letter.merge_items} == {"application:window_open@2023-04-28"}
    with db.session_scope(read_only=True) as session:
        assert session.exec(select(ActionRun.outcome).where(
            ActionRun.round_id == round_id, ActionRun.action_key == "application:reminder:T-5@2023-04-28")).one() == "skipped"
    assert letter.subject.startswith("【截止时间调整】"), letter.subject
    assert letter.body.count("揭榜书") == 1 and "延长至2023年4月28日（星期五）17:30" in letter.body, letter.body
    assert letter.body.rstrip().endswith("2023年4月23日"), letter.body


JIAOZUO = REPO / "config" / "programmes" / "jz-assessment-2016.yaml"
NEWCOMER = '  - {code: "410899", name: 焦作市城乡一体化示范区管委会, level: county, parent: "410800", ' \
           'email: zl@410899.example.cn, channels: [email, jz-counties-dingtalk]}\n'


def test_a_county_added_after_the_window_opened_is_sent_the_call_then_what_is_still_to_come(home, tmp_path):
    from qcycle.moment import run_due

    cal = default_calendar()
    original = load_programme(JIAOZUO)
    with db.session_scope() as session:
        round_id = sync_round(session, original).id
    moments = sorted({a.at for a in expand(original.programme, cal).actions})
    for moment in [m for m in moments if m.date() <= dt.date(2016, 7, 15)]:
        run_due(original.programme, round_id, expand(original.programme, cal), moment,
                template_dir=original.template_dir, actor="test")
    # The window opens the day the assessment is launched: the launch's letter announces it.
    assert _messages(round_id, "self_evaluation:window_open") == []
    opened = [m for m in _messages(round_id, "launch:publish") if "自我评价报告及考核资料自2016年7月15日起开始受理" in m.body]
    assert opened and "410899" not in {m.unit_code for m in opened}

    text = JIAOZUO.read_text(encoding="utf-8")
    anchor = next(line for line in text.splitlines(keepends=True) if '{code: "410883"' in line)
    (tmp_path / JIAOZUO.name).write_text(text.replace(anchor, anchor + NEWCOMER), encoding="utf-8")
    shown = runner.invoke(app, ["plan", str(tmp_path / JIAOZUO.name), "--diff"], terminal_width=200)
    assert "新增单位 焦作市城乡一体化示范区管委会（410899）" in shown.output and "日程没有变化" in shown.output
    amended = load_programme(tmp_path / JIAOZUO.name)
    with db.session_scope() as session:
        sync_round(session, amended, at=clock.at(dt.date(2016, 7, 16), dt.time(10)))
    with db.session_scope(read_only=True) as session:
        (row,) = session.exec(select(RoundAmendment)).all()
    assert row.changes == ["新增单位 焦作市城乡一体化示范区管委会（410899）"]

    plan = expand(amended.programme, cal)
    for moment in [m for m in moments if dt.date(2016, 7, 16) <= m.date() <= dt.date(2016, 7, 19)]:
        run_due(amended.programme, round_id, plan, moment, template_dir=amended.template_dir, actor="test")
    # The day it joins, the launch it missed, with the window it must hand in by, dated that day
    # (its first letter was a reminder, then a 督办, for a window nobody had told it of).
    [welcome] = [m for m in _messages(round_id, "amend:") if m.unit_code == "410899" and m.channel == "email"]
    assert welcome.action.startswith("amend:launch:publish") and welcome.logical_date == dt.date(2016, 7, 16)
    assert "自我评价报告及考核资料自2016年7月15日起开始受理，截止时间为2016年7月18日" in welcome.body, welcome.body
    assert welcome.body.rstrip().endswith("2016年7月16日"), welcome.body
    assert {m.unit_code for m in _messages(round_id, "amend:")} == {"410899"}  # the others had it
    to_newcomer = [m for m in _messages(round_id, "self_evaluation") if m.unit_code == "410899"]
    # Then the reminder on the deadline day and, having handed in nothing, the office's 督办 the
    # next morning (its superior is the office, and the 督办 falls on the overdue notice's day).
    kinds = sorted({m.action.split("@")[0] for m in to_newcomer})
    assert kinds == ["self_evaluation:escalation", "self_evaluation:reminder:T-0"], kinds
    assert min(m.logical_date for m in to_newcomer) == dt.date(2016, 7, 18)


def test_a_unit_extension_moves_that_units_reminders_lateness_and_overdue_notice_only(ran_to_april_19):
    from qcycle.intake import ingest
    from qcycle.lifecycle import round_timetable
    from qcycle.moment import run_due

    round_id = ran_to_april_19
    refused = runner.invoke(app, ["extend", str(SICHUAN), "--stage", "application", "--unit", "510400",
                                  "--to", "2023-04-18", "--reason", "延期申请"])
    assert refused.exit_code == 2 and "应晚于原截止时间 2023-04-20 17:30" in refused.output
    wrong = runner.invoke(app, ["extend", str(SICHUAN), "--stage", "takers_review", "--unit", "510400",
                                "--to", "2023-04-28", "--reason", "延期申请"])
    assert wrong.exit_code == 2 and "不是受理材料的阶段" in wrong.output
    no_period = runner.invoke(app, ["extend", str(SICHUAN), "--stage", "midterm", "--unit", "510400",
                                    "--to", "2023-07-21", "--reason", "延期申请"], terminal_width=200)
    assert no_period.exit_code == 2 and "请用 --period 指明期次（2023-07、2023-10、2024-06）" in no_period.output
    # A new deadline already passed grants no time (the next run sent 督办 to the unit just given more).
    passed = runner.invoke(app, ["extend", str(SICHUAN), "--stage", "application", "--unit", "510400",
                                 "--to", "2023-04-28", "--reason", "4月18日延期申请", "--by", "张三"], terminal_width=200)
    assert passed.exit_code == 2 and "已经过去" in passed.output and "--past" in passed.output
    with clock.frozen(dt.date(2023, 4, 19)):  # granted when it was asked for
        granted = runner.invoke(app, ["extend", str(SICHUAN), "--stage", "application", "--unit", "510400",
                                      "--to", "2023-04-28", "--reason", "4月18日延期申请", "--by", "张三"],
                                terminal_width=200)
    assert granted.exit_code == 0, granted.output
    assert "截止时间 2023-04-28 17:30" in granted.output and "2023-04-23 09:00 提醒" in granted.output
    assert "【同意延期】通知1份已排入发件箱" in granted.output, granted.output
    listed = runner.invoke(app, ["extend", str(SICHUAN), "--list"], terminal_width=200)
    assert "自贡" not in listed.output and "（510400）截止 2023-04-28 17:30" in listed.output and "cli:张三" in listed.output

    loaded = load_programme(SICHUAN)
    with db.session_scope(read_only=True) as session:
        plan = round_timetable(session, loaded.programme, round_id)
    cities = {u.code for u in loaded.programme.units if u.level == "city"}

    def run(day: dt.date, hour: int = 9):
        run_due(loaded.programme, round_id, plan, clock.at(day, dt.time(hour, 5)),
                template_dir=loaded.template_dir, actor="test")

    def hand_in(unit: str, when: str):
        with db.session_scope() as session:
            return ingest(session=session, programme=loaded.programme, timetable=plan, round_id=round_id,
                          source="test", record={"kind": "application", "unit": unit, "item": "cxyl-02",
                                                 "submitted_at": when}).status

    run(dt.date(2023, 4, 20))  # the stage's deadline day: everyone still owing is reminded, but 510400
    today = {m.unit_code for m in _messages(round_id, "application:reminder:T-0@2023-04-20")}
    assert today == cities - {"510400"}
    # The unit hears that its request was granted, once, by email, dated the day it was granted
    # (it had learned its new date only from its first reminder).
    [told] = _messages(round_id, "extend:")
    assert (told.unit_code, told.channel) == ("510400", "email")
    assert told.subject.startswith("【同意延期】") and "截止时间延长至2023年4月28日" in told.subject, told.subject
    assert "同意延期，贵单位揭榜书的截止时间由2023年4月20日延长至2023年4月28日（星期五）17:30。" in told.body, told.body
    assert told.body.rstrip().endswith("2023年4月19日"), told.body
    run(dt.date(2023, 4, 21))
    overdue = {m.unit_code for m in _messages(round_id, "application:overdue@2023-04-20")}
    assert overdue == cities - {"510400"}
    run(dt.date(2023, 4, 23))  # a 调休 Sunday: 510400's own T-5
    own = _messages(round_id, "application:reminder:T-5:510400@2023-04-28")
    assert {m.unit_code for m in own} == {"510400"}
    # Its own deadline is its own news: by email, not in the group of the 21 cities.
    assert {m.channel for m in own} == {"email"}, {m.channel for m in own}
    assert "2023年4月28日" in own[0].body and "5个工作日" in own[0].body
    from tests.test_letters import problems_of

    assert problems_of(loaded.programme, plan, own[0]) == []
    assert problems_of(loaded.programme, plan, told) == []

    run(dt.date(2023, 4, 25))
    # On time for 510400 until its own deadline; late for the others (the stage rejects late ones).
    assert hand_in("510400", "2023-04-25T10:00:00+08:00") == "accepted"
    assert hand_in("510500", "2023-04-25T10:00:00+08:00") == "rejected_late"
    for day in (dt.date(2023, 4, 27), dt.date(2023, 4, 28)):
        run(day)
    run(dt.date(2023, 5, 4), hour=10)
    assert _messages(round_id, "application:reminder:T-3:510400") != []  # before it handed in
    assert _messages(round_id, "application:reminder:T-1:510400") == []  # handed in on 04-25
    assert _messages(round_id, "application:overdue:510400") == []
    with db.session_scope(read_only=True) as session:
        audit = session.exec(select(AuditLog).where(AuditLog.action == "extend:application")).all()
    assert len(audit) == 1 and audit[0].actor == "cli:张三" and audit[0].detail["unit"] == "510400"


def test_an_extension_is_given_on_a_working_day_or_counted_in_working_days(ran_to_april_19):
    """An officer's "延期5个工作日", counted by hand, landed on a Saturday and the unit's letters read
    "应于…（星期六）17:30前提交". A day off is refused with the next working day; "+N" counts N working
    days after the stage's own deadline (2023-04-20; 04-23 was a 调休 Sunday)."""
    args = ["extend", str(SICHUAN), "--stage", "application", "--unit", "510400", "--reason", "延期申请"]
    with clock.frozen(dt.date(2023, 4, 19)):
        saturday = runner.invoke(app, [*args, "--to", "2023-04-22"], terminal_width=200)
        assert saturday.exit_code == 2 and "2023-04-22 不是工作日" in saturday.output, saturday.output
        assert "如 2023-04-23" in saturday.output, saturday.output
        counted = runner.invoke(app, [*args, "--to", "+3"], terminal_width=200)
    assert counted.exit_code == 0, counted.output
    assert "截止时间 2023-04-24 17:30" in counted.output, counted.output


def test_a_list_of_extensions_is_granted_whole_or_not_at_all(ran_to_april_19, tmp_path):
    from qcycle.lifecycle import unit_deadlines

    bad = tmp_path / "bad.csv"
    bad.write_text("阶段,单位,截止时间,期次,原因\n"
                   "application,510400,2023-04-28,,4月18日延期申请\n"
                   "application,519999,2023-04-28,,不存在的单位\n"
                   "application,510700,2023-04-19,,早于原截止\n"
                   "application,510400,2023-04-27,,重复\n", encoding="utf-8")
    with clock.frozen(dt.date(2023, 4, 19)):
        refused = runner.invoke(app, ["extend", str(SICHUAN), "--from", str(bad), "--by", "张三"], terminal_width=200)
    assert refused.exit_code == 2
    assert "3 行有误，未记录任何延期" in refused.output
    assert "第3行：单位 '519999' 不在本周期的单位名单中" in refused.output
    assert "第4行：延期后的截止时间 2023-04-19 17:30 应晚于原截止时间 2023-04-20 17:30" in refused.output
    assert "第5行：与第2行重复" in refused.output
    with db.session_scope(read_only=True) as session:
        assert unit_deadlines(session, ran_to_april_19) == ()

    good = tmp_path / "good.csv"  # saved from a spreadsheet: UTF-8 with a BOM, English headers
    good.write_text("\ufeffstage,unit,to,period,reason\n"
                    "application,510400,2023-04-28,,4月18日延期申请\n"
                    "application,510700,2023-04-26T12:00,,4月19日延期申请\n", encoding="utf-8")
    with clock.frozen(dt.date(2023, 4, 19)):
        granted = runner.invoke(app, ["extend", str(SICHUAN), "--from", str(good), "--by", "张三"], terminal_width=200)
    assert granted.exit_code == 0, granted.output
    assert "攀枝花市市场监督管理局（510400）延期：提交揭榜书截止时间 2023-04-28 17:30" in granted.output
    assert "绵阳市市场监督管理局（510700）延期：提交揭榜书截止时间 2023-04-26 12:00" in granted.output
    with db.session_scope(read_only=True) as session:
        got = {(e.unit, e.cutoff.strftime("%m-%d %H:%M")) for e in unit_deadlines(session, ran_to_april_19)}
        audit = session.exec(select(AuditLog).where(AuditLog.action == "extend:application")).all()
    assert got == {("510400", "04-28 17:30"), ("510700", "04-26 12:00")}
    assert len(audit) == 2 and {a.actor for a in audit} == {"cli:张三"}
    header = tmp_path / "header.csv"
    header.write_text("unit,deadline\n510400,2023-04-28\n", encoding="utf-8")
    wrong = runner.invoke(app, ["extend", str(SICHUAN), "--from", str(header)], terminal_width=200)
    assert wrong.exit_code == 2 and "无法识别的列：deadline" in wrong.output and "缺少的列" in wrong.output


def test_a_round_begun_before_versions_were_kept_can_still_be_amended(ran_to_april_19, tmp_path):
    with db.session_scope() as session:  # as a round stored before migration 0011 looks
        crud.update_round(session=session, round_id=ran_to_april_19, config_text=None)
    extended = _extended(tmp_path)
    shown = runner.invoke(app, ["plan", str(extended), "--diff"], terminal_width=200)
    assert shown.exit_code == 2 and "未留存" in shown.output and "qcycle amend" in shown.output
    done = runner.invoke(app, ["amend", str(extended), "--reason", "省局通知延期", "--by", "李四"],
                         terminal_width=200)
    assert done.exit_code == 0, done.output
    with db.session_scope(read_only=True) as session:
        (row,) = session.exec(select(RoundAmendment)).all()
    assert row.config_before is None and row.changes == [] and row.reason == "省局通知延期"
    assert "日程没有变化" in runner.invoke(app, ["plan", str(extended), "--diff"]).output


def test_a_withdrawn_item_is_told_to_its_takers_once_and_then_nothing_more_is_about_it(ran_to_april_19, tmp_path):
    from qcycle.intake import ingest
    from qcycle.lifecycle import round_timetable
    from qcycle.moment import run_due
    from qcycle.ops import DecisionRow, decide
    from tests.test_letters import problems_of

    round_id = ran_to_april_19
    loaded = load_programme(SICHUAN)
    plan = expand(loaded.programme, default_calendar())
    # Takers: 510100 of cxyl-01, 510300 of cxyl-02 only, 510400 of both.
    taken = [("510100", "cxyl-01"), ("510300", "cxyl-02"), ("510400", "cxyl-02"), ("510400", "cxyl-01")]
    with db.session_scope() as session:
        for unit, item in taken:
            ingest(session=session, programme=loaded.programme, timetable=plan, round_id=round_id, source="test",
                   record={"kind": "application", "unit": unit, "item": item,
                           "submitted_at": "2023-04-12T10:00:00+08:00"})
        decide(session=session, programme=loaded.programme, round_id=round_id, decided_by="test",
               rows=[DecisionRow("takers_review", f"{u}:{i}", "approved") for u, i in taken])

    text = SICHUAN.read_text(encoding="utf-8")
    withdrawn = tmp_path / SICHUAN.name
    withdrawn.write_text("".join(line + ("  contact: 质量发展处 张三，028-00000000\n" if line.startswith("  issuer:") else "")
                                 for line in text.splitlines(keepends=True) if "code: cxyl-02," not in line),
                         encoding="utf-8")
    amended = load_programme(withdrawn)
    with db.session_scope() as session:
        sync_round(session, amended, actor="cli:张三", reason="省局通知撤销该项目", at=clock.at(dt.date(2023, 6, 1), dt.time(10)))
        sync_round(session, amended)  # found again by a later run: nothing new
        (row,) = session.exec(select(RoundAmendment)).all()
        later = round_timetable(session, amended.programme, round_id)
    assert row.changes == ["撤销事项 争创国家级质量标准实验室（创先引领类，cxyl-02）"]

    told = _messages(round_id, "amend:withdraw:cxyl-02")
    assert {m.unit_code for m in told if m.channel == "email"} == {"510300", "510400"}
    letter = next(m for m in told if m.unit_code == "510300" and m.channel == "email")
    assert letter.subject.endswith("“争创国家级质量标准实验室”已撤销") and letter.logical_date == dt.date(2023, 6, 1)
    # What will not happen, named from this programme (withdrawn on 1 June: the list was out in April).
    assert "贵单位该项目的中期检查（进展报告）、申请评价确认、发布揭榜挂帅成果不再进行" in letter.body, letter.body
    assert "\n联系人：质量发展处 张三，028-00000000\n" in letter.body, letter.body
    assert problems_of(amended.programme, later, letter) == []

    for moment in sorted({a.at for a in later.actions if dt.date(2023, 7, 1) <= a.at.date() <= dt.date(2023, 7, 20)}):
        run_due(amended.programme, round_id, later, moment, template_dir=amended.template_dir, actor="test")
    midterm = {m.unit_code for m in _messages(round_id, "midterm:")}
    # 510300 took only the withdrawn item: nothing more; 510400 still owes for cxyl-01.
    assert midterm == {"510100", "510400"}
    assert len(_messages(round_id, "amend:withdraw:cxyl-02")) == len(told)


def test_an_item_withdrawn_before_its_review_is_told_to_those_who_applied_for_it(ran_to_april_19, tmp_path):
    """凉山 applied only for the item taken out on 04-19, before the review: it is told its
    application will not be reviewed, and that applications are taken until 04-20."""
    from qcycle.intake import ingest

    round_id = ran_to_april_19
    loaded = load_programme(SICHUAN)
    plan = expand(loaded.programme, default_calendar())
    with db.session_scope() as session:
        for unit, item in (("513400", "cxyl-02"), ("510100", "cxyl-01")):
            ingest(session=session, programme=loaded.programme, timetable=plan, round_id=round_id, source="test",
                   record={"kind": "application", "unit": unit, "item": item,
                           "submitted_at": "2023-04-12T10:00:00+08:00"})
    text = SICHUAN.read_text(encoding="utf-8")
    withdrawn = tmp_path / SICHUAN.name
    withdrawn.write_text("".join(line + ("  contact: 质量发展处 张三，028-00000000\n" if line.startswith("  issuer:") else "")
                                 for line in text.splitlines(keepends=True) if "code: cxyl-02," not in line),
                         encoding="utf-8")
    with db.session_scope() as session:
        sync_round(session, load_programme(withdrawn), actor="cli:张三", at=clock.at(dt.date(2023, 4, 19), dt.time(10)))
    told = [m for m in _messages(round_id, "amend:withdraw:cxyl-02") if m.channel == "email"]
    assert [m.unit_code for m in told] == ["513400"]
    assert "贵单位对该项目的申报不再审核" in told[0].body, told[0].body
    assert "如需申报其他项目，请于2023年4月20日（星期四）17:30前提交。" in told[0].body
    assert "中期检查" not in told[0].body  # what a taker is told will not happen is not said to an applicant


HUAIAN = REPO / "config" / "programmes" / "ha-county-assessment-2015.yaml"


def test_an_event_moved_after_its_notice_is_told_when_the_change_is_recorded_and_not_announced_again(home, tmp_path):
    """淮安's hearing, announced on 03-15 for 03-22, is put back to 03-29 on 03-16: the counties
    are told that day (改期), not on 03-22, the day they had prepared for; the new day's notice
    writes nothing more."""
    from qcycle.moment import run_due

    cal = default_calendar()
    original = load_programme(HUAIAN)
    with db.session_scope() as session:
        round_id = sync_round(session, original).id
    before = expand(original.programme, cal)
    for moment in sorted({a.at for a in before.actions if a.at.date() <= dt.date(2016, 3, 15)}):
        run_due(original.programme, round_id, before, moment, template_dir=original.template_dir, actor="test")
    assert {m.logical_date for m in _messages(round_id, "hearing:event_notice")} == {dt.date(2016, 3, 15)}

    moved = tmp_path / HUAIAN.name
    text = HUAIAN.read_text(encoding="utf-8")
    moved.write_text(text.replace("on: 2016-03-22", "on: 2016-03-29").replace("on: 2016-03-24", "on: 2016-03-31"),
                     encoding="utf-8")
    amended = load_programme(moved)
    with db.session_scope() as session:
        sync_round(session, amended, actor="cli:张三", at=clock.at(dt.date(2016, 3, 16), dt.time(10)))
        sync_round(session, amended)  # found again by a later run: nothing new
    told = [m for m in _messages(round_id, "amend:hearing:event_notice") if m.channel == "email"]
    counties = {u.code for u in amended.programme.units if str(u.level) == "county"}
    assert {m.unit_code for m in told} == counties and all(m.logical_date == dt.date(2016, 3, 16) for m in told)
    letter = told[0]
    assert letter.subject.startswith("【改期通知】") and letter.subject.endswith("改期至2016年3月29日"), letter.subject
    assert "原定于2016年3月22日（星期二）组织的" in letter.body and "改期至2016年3月29日（星期二）" in letter.body

    after = expand(amended.programme, cal)
    for moment in sorted({a.at for a in after.actions if dt.date(2016, 3, 16) < a.at.date() <= dt.date(2016, 3, 30)}):
        run_due(amended.programme, round_id, after, moment, template_dir=amended.template_dir, actor="test")
    assert {m.logical_date for m in _messages(round_id, "hearing:event_notice")} == {dt.date(2016, 3, 15)}
    assert len(_messages(round_id, "amend:hearing:event_notice")) == len(_messages(round_id, "amend:hearing:"))


def test_an_item_added_while_applications_are_taken_is_announced_to_the_units_that_may_apply(
        ran_to_april_19, tmp_path):
    """An item added to the 榜单 on 04-19 was announced to nobody: the call of 04-07 named the
    items of its day. Every city that may apply is told of it, with the deadline; an item added
    after the window closed is told to none."""
    from tests.test_letters import problems_of

    round_id = ran_to_april_19
    text = SICHUAN.read_text(encoding="utf-8")
    anchor = "      - {code: cxyl-02, name: 争创国家级质量标准实验室}\n"
    added = tmp_path / SICHUAN.name
    added.write_text(text.replace(anchor, anchor + "      - {code: cxyl-09, name: 争创国家级计量测试中心}\n"),
                     encoding="utf-8")
    amended = load_programme(added)
    with db.session_scope() as session:
        sync_round(session, amended, actor="cli:张三", at=clock.at(dt.date(2023, 4, 19), dt.time(10)))
    told = [m for m in _messages(round_id, "amend:add:cxyl-09") if m.channel == "email"]
    cities = {u.code for u in amended.programme.units if u.level == "city"}
    assert {m.unit_code for m in told} == cities and len(told) == len(cities)
    letter = told[0]
    assert letter.subject.endswith("新增“争创国家级计量测试中心”"), letter.subject
    assert "1. “争创国家级计量测试中心”（创先引领）。" in letter.body, letter.body
    assert "如申报，请于2023年4月20日（星期四）17:30前提交揭榜书。" in letter.body
    plan = expand(amended.programme, default_calendar())
    assert letter.logical_date == dt.date(2023, 4, 19) and problems_of(amended.programme, plan, letter) == []

    later = tmp_path / "later" / SICHUAN.name
    later.parent.mkdir()
    later.write_text(added.read_text(encoding="utf-8").replace(
        anchor, anchor + "      - {code: cxyl-10, name: 争创国家级检验检测中心}\n"), encoding="utf-8")
    with db.session_scope() as session:
        sync_round(session, load_programme(later), actor="cli:张三", at=clock.at(dt.date(2023, 4, 21), dt.time(10)),
                   allow_passed_deadline=True)
    assert _messages(round_id, "amend:add:cxyl-10") == []


def test_an_extension_overtaken_by_a_later_deadline_for_all_no_longer_holds_its_unit_to_it(tmp_path):
    """内江 was granted 04-25; the office then moved everyone's deadline to 04-28. Its 04-25 stood:
    it was sent an overdue notice and a 督办 on 04-27 while every other city still had a day, and
    left out of the notice of the new date. The later deadline is its deadline too."""
    from qcycle.timetable import UnitDeadline

    extension = UnitDeadline("application", "511000", clock.at(dt.date(2023, 4, 25), dt.time(17, 30)))
    before = expand(load_programme(SICHUAN).programme, default_calendar(), (extension,))
    assert before.cutoff("application", None, None, "511000") == extension.cutoff  # it held until then
    after = expand(load_programme(_extended(tmp_path)).programme, default_calendar(), (extension,))
    assert after.cutoff("application", None, None, "511000") == after.cutoff("application", None, None)
    assert not [a for a in after.actions if a.unit == "511000"]
    assert all("511000" not in a.detail.get("extended", ()) for a in after.actions)


def _with_a_late_city(folder: Path) -> Path:
    """Sichuan's file with one more city (519901 晚到市), as ops would add it after the round began."""
    text = SICHUAN.read_text(encoding="utf-8")
    anchor = next(line for line in text.splitlines(keepends=True) if '{code: "510100"' in line)
    added = folder / SICHUAN.name
    added.write_text(text.replace(anchor, anchor + anchor.replace('"510100"', '"519901"')
                                  .replace("成都市", "晚到市")), encoding="utf-8")
    return added


def test_a_unit_added_after_a_deadline_is_not_overdue_for_it(ran_to_april_19, tmp_path):
    """A city added on 05-11, after the application window closed, was listed by `status` as
    overdue for it (逾期未交：提交揭榜书 … 晚到市), though it was never called to it."""
    from qcycle.lifecycle import outstanding, round_timetable

    loaded = load_programme(_with_a_late_city(tmp_path))
    with db.session_scope() as session:
        sync_round(session, loaded, actor="cli:张三", at=clock.at(dt.date(2023, 5, 11), dt.time(10)))
    with db.session_scope() as session:
        plan = round_timetable(session, loaded.programme, ran_to_april_19)
        application = outstanding(session, loaded.programme, ran_to_april_19, plan.by_name()["application:deadline"])
    assert "519901" not in application and "510100" in application  # the others still owe it
    with db.session_scope() as session:
        assert crud.units_joined(session=session, round_id=ran_to_april_19) == {
            "519901": clock.at(dt.date(2023, 5, 11), dt.time(10))}  # and only it joined late


def test_a_unit_added_after_a_deadline_is_not_among_those_missing_it(ran_to_april_19, tmp_path):
    """`missing_at` (whom a 约谈 or a result for 未按期提交 reaches) named a city added after the
    window closed, as if it had been called to the window and ignored it."""
    from qcycle.lifecycle import select_subjects
    from qcycle.schema import Who

    loaded = load_programme(_with_a_late_city(tmp_path))
    missing = Who(missing_at="application")
    with db.session_scope() as session:
        before = select_subjects(session, load_programme(SICHUAN).programme, ran_to_april_19, missing)
    with db.session_scope() as session:
        sync_round(session, loaded, actor="cli:张三", at=clock.at(dt.date(2023, 5, 11), dt.time(10)))
    with db.session_scope() as session:
        after = select_subjects(session, loaded.programme, ran_to_april_19, missing)
    assert "510100" in after and "519901" not in after
    assert after == before  # the others are as missing as they were
