"""Ops decisions (single, bulk, validated) and result export, through the CLI."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from qcycle import db, ops
from qcycle.cli import app
from qcycle.settings import get_settings
from tests.variants import compulsory_sichuan

P1 = Path(__file__).resolve().parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"
runner = CliRunner()


def _seed_applications(units_items, path: Path = P1):
    from qcycle.cli.common import open_round
    from qcycle.intake import ingest
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    loaded, rid = open_round(path)
    t = expand(loaded.programme, WorkCalendar())
    with db.session_scope() as session:
        for unit, item in units_items:
            ingest(session=session, programme=loaded.programme, timetable=t, round_id=rid, source="test",
                   record={"kind": "application", "unit": unit, "item": item,
                           "submitted_at": "2023-04-12T10:00:00+08:00"})
    return loaded, rid


def test_list_then_decide_one_and_the_rest(home):
    _seed_applications([("510100", "zlcx-01"), ("510300", "cxyl-02"), ("510400", "tssd-01")])
    listed = runner.invoke(app, ["decide", str(P1), "--list"])
    assert listed.exit_code == 0 and "待决定 3 项" in listed.output
    # The code to type, then whose subject it is and what (ops decide by names, type codes).
    assert "510300:cxyl-02  自贡市市场监督管理局：" in listed.output, listed.output
    one = runner.invoke(app, ["decide", str(P1), "--stage", "takers_review", "--subject", "510300:cxyl-02",
                              "--reject", "--note", "揭榜条件不符", "--by", "张三"])
    assert one.exit_code == 0 and "已记录：审核揭榜书（takers_review）510300:cxyl-02 自贡市市场监督管理局 → 不同意" in one.output
    rest = runner.invoke(app, ["decide", str(P1), "--stage", "takers_review", "--all-pending", "--by", "张三"])
    assert rest.exit_code == 0 and rest.output.count("→ 同意") == 2
    assert "待决定 0 项" in runner.invoke(app, ["decide", str(P1), "--list"]).output


def test_a_decision_made_is_changed_only_on_purpose_and_the_audit_keeps_what_it_was(home, tmp_path):
    """太仓's first-ranked winner, approved by the committee and sent its award letter, was rejected by
    one command with no warning and no trace of the approval: a change now needs --change and a note."""
    from sqlmodel import select

    from qcycle.models import AuditLog, Decision

    _seed_applications([("510100", "zlcx-01")])
    args = ["decide", str(P1), "--stage", "takers_review", "--subject", "510100:zlcx-01", "--by", "张三"]
    assert runner.invoke(app, [*args, "--approve"]).exit_code == 0
    assert runner.invoke(app, [*args, "--approve"]).exit_code == 0  # the same decision again changes nothing
    refused = runner.invoke(app, [*args, "--reject", "--note", "材料不实"])
    assert refused.exit_code == 2 and "已决定为“同意”" in refused.output and "--change" in refused.output
    bare = runner.invoke(app, [*args, "--reject", "--change"])  # a refusal here says why
    assert bare.exit_code == 2 and "须写明理由" in bare.output
    with db.session_scope() as session:
        assert [d.outcome for d in session.exec(select(Decision)).all()] == ["approved"]
    changed = runner.invoke(app, [*args, "--reject", "--change", "--note", "复议：材料不实"])
    assert changed.exit_code == 0 and "→ 不同意" in changed.output
    back = runner.invoke(app, [*args, "--approve", "--change"])  # a change says why, an approval too
    assert back.exit_code == 2 and "--note" in back.output and "须写明理由" not in back.output, back.output
    with db.session_scope() as session:
        assert [d.outcome for d in session.exec(select(Decision)).all()] == ["rejected"]
        last = session.exec(select(AuditLog).where(AuditLog.action == "decide:takers_review")
                            .order_by(AuditLog.at.desc())).first()
        assert last is not None and last.detail["before"] == "approved" and last.detail["note"] == "复议：材料不实"
    # Read back as ops read it, newest first, in the office's words.
    log = runner.invoke(app, ["audit", str(P1), "--action", "decide"], terminal_width=200)
    assert log.exit_code == 0 and len(log.output.strip().splitlines()) == 2, log.output
    first = log.output.splitlines()[0]
    assert "cli:张三 decide:takers_review" in first and "决定：不同意；" in first and "原决定：同意" in first
    assert "说明：复议：材料不实" in first
    assert "没有符合条件" in runner.invoke(app, ["audit", str(P1), "--action", "extend"]).output
    # A run's counts its note gives are said once ("一等奖 4，…；一等奖：4；…" had repeated them).
    from qcycle import crud
    from qcycle.loader import load_programme

    with db.session_scope() as session:
        crud.audit(session=session, actor="run:test", action="scoring:assess",
                   round_code=load_programme(P1).programme.round.code,
                   detail={"note": "评分：3 个对象，A级 1，合格 2", "A": 1, "合格": 2, "pending": 3})
    ran = runner.invoke(app, ["audit", str(P1), "--action", "scoring"], terminal_width=200).output
    assert "（说明：评分：3 个对象，A级 1，合格 2；待决定：3）" in ran, ran
    # A reason told to the unit is changed on purpose too, and one file cannot decide a subject twice quietly.
    assert "--change" in runner.invoke(app, [*args, "--reject", "--note", "另一个理由"]).output
    _seed_applications([("510300", "cxyl-02")])
    f = tmp_path / "twice.csv"
    f.write_text("阶段,对象,决定,说明\ntakers_review,510300:cxyl-02,同意,\ntakers_review,510300:cxyl-02,不同意,材料不实\n",
                 encoding="utf-8")
    twice = runner.invoke(app, ["decide", str(P1), "--file", str(f), "--by", "张三"])
    assert twice.exit_code == 2 and "已决定为“同意”" in twice.output, twice.output


def test_bad_decisions_write_nothing_and_say_why(home, tmp_path):
    _seed_applications([("510100", "zlcx-01")])
    f = tmp_path / "d.csv"
    f.write_text("阶段,对象,决定\ntakers_review,510100:zlcx-01,同意\ntakers_review,999:zz,同意\n", encoding="utf-8")
    bad = runner.invoke(app, ["decide", str(P1), "--file", str(f)])
    assert bad.exit_code == 2 and "999:zz" in bad.output
    said = bad.output.replace("\n", "")
    assert f"{f}:3: 审核揭榜书：没有待决定的对象 '999:zz'" in said, bad.output  # the row's line
    assert f"见 qcycle decide {P1} --list" in said  # a command that runs as printed
    assert "待决定 1 项" in runner.invoke(app, ["decide", str(P1), "--list"]).output
    wrong = runner.invoke(app, ["decide", str(P1), "--stage", "application", "--all-pending"])
    assert wrong.exit_code == 2 and "不需要决定" in wrong.output


def test_bulk_decisions_from_csv_with_chinese_headers(home, tmp_path):
    _seed_applications([("510100", "zlcx-01"), ("510300", "cxyl-02")])
    f = tmp_path / "d.csv"
    f.write_text("阶段,对象,决定,说明\ntakers_review,510100:zlcx-01,同意,材料齐全\n"
                 "审核揭榜书,510300:cxyl-02,不同意,条件不符\n", encoding="utf-8-sig")  # the stage by its name too
    result = runner.invoke(app, ["decide", str(P1), "--file", str(f), "--by", "李四"])
    assert result.exit_code == 0, result.output
    assert "510100:zlcx-01 成都市市场监督管理局 → 同意" in result.output
    assert "510300:cxyl-02 自贡市市场监督管理局 → 不同意" in result.output


def test_export_results_to_xlsx_and_csv(home, tmp_path):
    from qcycle import crud
    from qcycle.cli.common import open_round

    _, rid = open_round(P1)
    with db.session_scope() as session:
        crud.save_results(session=session, round_id=rid, stage="assessment", results=[
            {"unit_code": "510100:zlcx-01", "total": 91.51867, "grade": "优秀", "rank": 1,
             "components": {"effect": 45, "innovation": 28, "replicable": 18.5}},
            {"unit_code": "510300:zlcx-02", "total": 58, "grade": "不合格", "rank": 2, "components": {}},
            {"unit_code": "510400:cxyl-01", "total": 70, "grade": "合格", "rank": 1, "components": {}},
        ])
    xlsx, csv_path = tmp_path / "结果.xlsx", tmp_path / "r.csv"
    assert runner.invoke(app, ["export", str(P1), "--out", str(xlsx)]).exit_code == 0
    assert runner.invoke(app, ["export", str(P1), "--out", str(csv_path)]).exit_code == 0
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["评价打分汇总"]  # one sheet per assessment stage, named by it
    ws = wb.active
    rows = list(ws.values)
    assert rows[0][:6] == ("排名组", "名次", "单位代码", "单位", "项目", "总分")
    # Ranks restart per category: the group says which ranking a rank belongs to.
    assert [(r[0], r[1]) for r in rows[1:]] == [("创先引领", 1), ("质量创新", 1), ("质量创新", 2)]
    assert rows[2][3] == "成都市市场监督管理局" and rows[2][-1] == "优秀" and rows[2][6] == 45
    assert rows[2][5] == 91.52 and ws["F3"].number_format == "0.00"
    assert ws.freeze_panes == "A2" and ws.column_dimensions["D"].width > 20
    with csv_path.open(encoding="utf-8-sig") as fh:
        data = list(csv.DictReader(fh))
    assert [(r["单位代码"], r["等次"]) for r in data] == [("510400", "合格"), ("510100", "优秀"), ("510300", "不合格")]
    assert data[1]["项目"] == "贯彻执行《四川省质量促进条例》成效明显地方" and data[1]["阶段"] == "评价打分汇总"
    # Points to the cent, as the letters give them (an officer read "97.0" and "4.0").
    assert (data[1]["总分"], data[1]["名次"], data[2]["总分"]) == ("91.52", "1", "58.00"), data
    assert "45.00" in data[1].values(), data[1]


def test_export_makes_formula_like_text_inert_in_both_formats(home, tmp_path):

    sheets = {"考核": [{"单位": "=HYPERLINK(\"http://x\",\"点击\")", "项目": "+1+1", "说明": "-2", "备注": "@SUM(A1)",
                        "总分": 80.0}]}
    xlsx = ops.export_results(sheets, tmp_path / "r.xlsx")
    cells = next(load_workbook(xlsx).active.iter_rows(min_row=2))
    assert [c.data_type for c in cells[:4]] == ["s"] * 4 and cells[0].value.startswith("=HYPERLINK")
    csv_path = ops.export_results(sheets, tmp_path / "r.csv")
    row = next(csv.DictReader(csv_path.open(encoding="utf-8-sig")))
    assert (row["单位"][:2], row["项目"], row["说明"], row["备注"]) == ("'=", "'+1+1", "'-2", "'@SUM(A1)")


def test_export_refuses_unknown_format(home, tmp_path):
    result = runner.invoke(app, ["export", str(P1), "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2 and ".xlsx" in result.output




@pytest.mark.parametrize("compulsory", [True, False], ids=["compulsory", "shipped-voluntary"])
def test_status_shows_stage_next_actions_missed_overdue_and_pending(home, compulsory):
    import datetime as dt

    from qcycle import crud
    from qcycle.clock import at

    path = compulsory_sichuan() if compulsory else P1
    loaded, rid = _seed_applications([("510100", "zlcx-01")], path)
    from qcycle.intake import ingest
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    with db.session_scope() as session:  # 自贡 hands in after the deadline: refused
        ingest(session=session, programme=loaded.programme, timetable=expand(loaded.programme, WorkCalendar()),
               round_id=rid, source="test", record={"kind": "application", "unit": "510300", "item": "cxyl-02",
                                                    "submitted_at": "2023-04-20T18:00:00+08:00"})
    # The deadline action was carried out; the next morning's overdue notice (compulsory) was not.
    t = expand(loaded.programme, WorkCalendar())
    deadline = t.by_name()["application:deadline"]
    with db.session_scope() as session:
        crud.record_action(session=session, round_id=rid, action_key=deadline.key, action="deadline",
                           due_at=deadline.at)
    result = runner.invoke(app, ["status", str(path), "--as-of", "2023-04-21T10:00"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "当前阶段：审核揭榜书" in out
    assert "待决定：审核揭榜书 1 项" in out
    assert "发布揭榜名单" in out  # among the next actions (2023-04-25)
    assert at(dt.date(2023, 4, 20), dt.time(17, 30)) == deadline.at
    # Asked about a past moment: the lists are today's records, and it says so.
    assert "（以下逾期未交与待决定按 2023-04-21 10:00 时的记录列出：此后提交的材料、作出或改变的决定不计入）" in out.replace("\n", ""), out
    if compulsory:
        assert "应执行未执行" in out and "逾期提醒" in out
        assert "逾期未交：提交揭榜书（2023-04-20 17:30 截止） 20 个单位" in out
        assert "自贡市市场监督管理局（逾期提交，不予受理）" in out and "成都市市场监督管理局" not in out.split("逾期未交")[1]
    else:  # 各市（州）自主选择揭榜: a city that took nothing is not overdue; no overdue notice is owed
        assert "逾期未交：" not in out and "提交揭榜书 逾期提醒" not in out, out
        assert "印发《榜单》" in out.split("应执行未执行")[1].split("等待决定")[0], out


def test_read_only_commands_never_create_a_database_and_say_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("QCYCLE_HOME", str(tmp_path / "nowhere"))
    get_settings.cache_clear()
    db.dispose_engines()
    try:
        for args in (["outbox", "list"], ["status", str(P1)], ["decide", str(P1), "--list"],
                     ["export", str(P1), "--out", str(tmp_path / "r.xlsx")]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2 and "应用数据库不存在" in result.output and "qcycle db upgrade" in result.output, \
                (args, result.output)
        assert not (tmp_path / "nowhere" / "qcycle.db").exists()
    finally:
        db.dispose_engines()
        get_settings.cache_clear()


def test_outbox_list_pages_with_the_total_and_statuses_in_chinese(home):
    from qcycle import crud
    from qcycle.cli.common import open_round

    _, rid = open_round(P1)
    with db.session_scope() as session:
        for i in range(5):
            crud.enqueue_message(session=session, idempotency_key=f"k{i}", action="a", unit_code="510100",
                                 channel="email", logical_date=dt.date(2023, 4, 20), subject=f"第{i}条",
                                 body="正文", round_id=rid)
    first = runner.invoke(app, ["outbox", "list", "--limit", "2"], terminal_width=200)
    assert first.exit_code == 0 and "第 1–2 条，共 5 条" in first.output and "待发送" in first.output
    assert "还有 3 条：qcycle outbox list --limit 2 --offset 2" in first.output  # the next page, as long
    # A folder given on the command line is in the command it suggests (else it reads another database).
    there = runner.invoke(app, ["--home", str(home), "outbox", "list", "--status", "queued", "--limit", "2"],
                          terminal_width=300)
    assert f"还有 3 条：qcycle --home {home} outbox list --status queued --limit 2 --offset 2" in there.output
    assert "成都市市场监督管理局（510100）" in first.output  # the unit by name, with the code --unit takes
    last = runner.invoke(app, ["outbox", "list", "--limit", "2", "--offset", "4"], terminal_width=200)
    assert "第 5–5 条，共 5 条" in last.output and "还有" not in last.output


def test_status_as_of_a_past_day_of_a_finished_round_is_that_day(home):
    from qcycle import synthetic
    from qcycle.cli.common import open_round
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    loaded = load_programme(P1)
    _, rid = open_round(P1)
    synthetic.play_locally(loaded, expand(loaded.programme, WorkCalendar()), rid, seed=3)  # the whole round
    result = runner.invoke(app, ["status", str(P1), "--as-of", "2023-06-01"], terminal_width=200)
    assert result.exit_code == 0, result.output
    # What came after 06-01 is shown as next (the mid-term check of July), not "nothing left".
    assert "截至 2023-06-01" in result.output and "中期检查" in result.output
    end = runner.invoke(app, ["status", str(P1), "--as-of", "2025-12-31"], terminal_width=200)
    assert "接下来的动作：无" in end.output and "消息：已发送" in end.output and "sent" not in end.output


def test_simulation_summary_names_an_award_rounds_results_as_reviewed(capsys):
    from collections import Counter

    from flows.simulate import SimulationReport
    from qcycle.cli.rounds import _print_simulation
    from qcycle.lifecycle import result_kind
    from qcycle.loader import load_programme

    p = load_programme(P1.with_name("tc-mayor-quality-award-2024.yaml")).programme
    report = SimulationReport(p.round.code, p.round.name, grades=Counter({"质量奖": 5}),
                              refused=Counter({"质量奖": 1}), result_kind=result_kind(p), home="/tmp/s",
                              programme_file="/tmp/s/tc.yaml", ended="2024-12-31")
    _print_simulation(report)
    text = capsys.readouterr().out
    assert "评审结果：质量奖 5（其中 1 个未获通过）" in text, text
    # The copy the year ran on, for the commands on its folder (the shipped file reads as changed),
    # as of the year's last moment (as of today, a round of next year reads "尚未开始").
    assert ("本次模拟所用的方案文件：/tmp/s/tc.yaml（查看：qcycle --home /tmp/s status /tmp/s/tc.yaml --as-of 2024-12-31）"
            in text), text
    assert "考核" not in text and "审议" not in text  # a refusal may be the government's 审定


def test_status_sends_a_decision_waiting_past_its_day_to_decide_not_to_reconcile(home):
    """An action waiting on a decision stays undone: `status` told ops to reconcile, which does
    nothing for it; it now names `decide`, with the folder given on the command line."""
    _seed_applications([("510100", "zlcx-01")])  # and nothing carried out yet
    out = runner.invoke(app, ["--home", str(home), "status", str(P1), "--as-of", "2023-04-26"],
                        terminal_width=300).output
    assert f"等待决定 1 项（先决定：qcycle --home {home} decide {P1} --list）：\n  2023-04-21 09:00 审核揭榜书" in out, out
    missed = out.split("应执行未执行")[1].split("等待决定")[0]
    assert f"（运行 qcycle --home {home} reconcile {P1} 补做）" in missed and "提交揭榜书 截止" in missed, out
    assert "审核揭榜书" not in missed
    # The run history's status says the same: the decision waits, it is not a missed action.
    from flows.lifecycle import _status_lines
    from qcycle.clock import at
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    loaded = load_programme(P1)
    with db.session_scope(read_only=True) as session:
        from qcycle import crud

        rid = crud.get_round(session=session, code=loaded.programme.round.code).id
    lines = _status_lines(loaded, rid, expand(loaded.programme, WorkCalendar()), at(dt.date(2023, 4, 26), dt.time(0)))
    said = next(line for line in lines if line.startswith("- 应执行未执行"))
    assert said.endswith("项；等待决定：1 项") and not said.startswith("- 应执行未执行：0 项"), said


def test_a_refusal_at_a_step_that_tells_its_reason_needs_one(home, tmp_path):
    """宝山 writes the reason an objection failed into its reply (tell_reason); a refusal recorded
    without one went out as "异议不成立" and nothing more. ops are asked for it instead."""
    path = P1  # 四川's 审核揭榜书 tells its reason (a unit left off the 揭榜名单 is told why)
    assert "tell_reason: true" in P1.read_text(encoding="utf-8")
    _seed_applications([("510100", "zlcx-01"), ("510300", "cxyl-02")], path)
    bare = runner.invoke(app, ["decide", str(path), "--stage", "takers_review", "--subject", "510300:cxyl-02",
                               "--reject", "--by", "张三"], terminal_width=200)
    assert bare.exit_code == 2, bare.output
    assert "审核揭榜书：不同意 510300:cxyl-02 须写明理由" in bare.output.replace("\n", ""), bare.output
    assert "待决定 2 项" in runner.invoke(app, ["decide", str(path), "--list"]).output  # nothing written
    said = runner.invoke(app, ["decide", str(path), "--stage", "takers_review", "--subject", "510300:cxyl-02",
                               "--reject", "--note", "揭榜条件不符", "--by", "张三"])
    assert said.exit_code == 0, said.output
    approved = runner.invoke(app, ["decide", str(path), "--stage", "takers_review", "--all-pending", "--by", "张三"])
    assert approved.exit_code == 0 and "→ 同意" in approved.output  # approving needs no reason


def test_a_decision_with_a_changed_file_is_refused_and_changes_nothing(home, tmp_path):
    """A simulated year's round holds its simulated counties; `decide` with the shipped file (or
    any edited copy) had registered the file as a change found by a run, nobody's reason, even
    when the decision itself was refused. The decision is refused first and the round kept."""
    from sqlmodel import func, select

    from qcycle.models import RoundAmendment

    _seed_applications([("510100", "zlcx-01")])
    edited = tmp_path / P1.name
    edited.write_text(P1.read_text(encoding="utf-8").replace("on: 2023-04-24", "on: 2023-04-26"), encoding="utf-8")
    refused = runner.invoke(app, ["decide", str(edited), "--stage", "takers_review", "--subject", "510100:zlcx-01",
                                  "--approve", "--by", "张三"], terminal_width=300)
    assert refused.exit_code == 2, refused.output
    said = refused.output.replace("\n", "")
    assert "与周期 sc-jbgs-2023 登记的版本不同" in said and f"请用登记的文件，如 {P1}" in said, said
    assert f"qcycle amend {edited} --reason 原因" in said, said
    with db.session_scope(read_only=True) as session:
        assert session.exec(select(func.count()).select_from(RoundAmendment)).one() == 0
    assert "待决定 1 项" in runner.invoke(app, ["decide", str(edited), "--list"]).output  # reading is fine
    done = runner.invoke(app, ["decide", str(P1), "--stage", "takers_review", "--subject", "510100:zlcx-01",
                               "--approve", "--by", "张三"])
    assert done.exit_code == 0, done.output


def test_export_lists_the_hand_ins_with_what_became_of_each(home, tmp_path):
    """A report taken late (accept_flag) was marked and shown nowhere an office could see it: the
    hand-ins export says, per stage, who handed in what, when, and on time, late or refused."""
    from qcycle import clock
    from qcycle.intake import ingest
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    loaded, rid = _seed_applications([("510100", "zlcx-01")])
    t = expand(loaded.programme, WorkCalendar())
    for unit, item, kind, when in (("510300", "cxyl-02", "application", "2023-04-20T18:00:00+08:00"),
                                   ("510100", "zlcx-01", "progress_report", "2023-07-17T10:00:00+08:00")):
        with db.session_scope() as session, clock.frozen(dt.datetime.fromisoformat(when)):
            ingest(session=session, programme=loaded.programme, timetable=t, round_id=rid, source="test",
                   record={"kind": kind, "unit": unit, "item": item, "submitted_at": when, "period": "2023-07"}
                   if kind == "progress_report" else {"kind": kind, "unit": unit, "item": item, "submitted_at": when})
    out_csv = tmp_path / "材料.csv"
    result = runner.invoke(app, ["export", str(P1), "--submissions", "--out", str(out_csv)])
    assert result.exit_code == 0, result.output
    assert "已导出 3 份材料受理记录（2 个受理阶段）" in result.output
    with out_csv.open(encoding="utf-8-sig") as fh:
        rows = [(r["阶段"], r["期次"], r["单位"], r["项目"], r["提交时间"], r["受理结果"]) for r in csv.DictReader(fh)]
    assert rows == [  # stages in the file's order, then by time
        ("提交揭榜书", "", "成都市市场监督管理局", "贯彻执行《四川省质量促进条例》成效明显地方", "2023-04-12 10:00", "按时受理"),
        ("提交揭榜书", "", "自贡市市场监督管理局", "争创国家级质量标准实验室", "2023-04-20 18:00", "逾期不予受理"),
        ("中期检查（进展报告）", "2023年7月", "成都市市场监督管理局", "贯彻执行《四川省质量促进条例》成效明显地方",
         "2023-07-17 10:00", "逾期已受理"),
    ], rows
    xlsx = tmp_path / "材料.xlsx"
    assert runner.invoke(app, ["export", str(P1), "--submissions", "--out", str(xlsx)]).exit_code == 0
    assert sorted(load_workbook(xlsx).sheetnames) == ["中期检查（进展报告）", "提交揭榜书"]


def test_export_lists_the_decisions_of_a_round_and_points_to_them_where_there_are_no_results(home, tmp_path):
    """某省's station pilot, decided at 中期评估, 验收 and 复验 with no assessment, exported "0 条考核结果"."""
    _seed_applications([("510100", "zlcx-01"), ("510300", "cxyl-02")])
    # Nothing decided yet: the decisions' own columns (a risk grading's empty export had the results' header).
    empty = tmp_path / "none.csv"
    assert runner.invoke(app, ["export", str(P1), "--decisions", "--out", str(empty)]).exit_code == 0
    assert empty.read_text(encoding="utf-8-sig").splitlines() == ["阶段,单位代码,单位,项目,决定,说明,决定人,决定时间"]
    args = ["decide", str(P1), "--stage", "takers_review", "--by", "张三"]
    assert runner.invoke(app, [*args, "--subject", "510100:zlcx-01", "--approve"]).exit_code == 0
    assert runner.invoke(app, [*args, "--subject", "510300:cxyl-02", "--reject", "--note", "材料不全"]).exit_code == 0
    results = runner.invoke(app, ["export", str(P1), "--out", str(tmp_path / "r.csv")], terminal_width=200)
    assert "已导出 0 条考核结果（0 个考核阶段）" in results.output and "审核决定请加 --decisions 导出" in results.output
    out_csv = tmp_path / "决定.csv"
    done = runner.invoke(app, ["export", str(P1), "--decisions", "--out", str(out_csv)], terminal_width=200)
    assert done.exit_code == 0 and "已导出 2 项审核决定（1 个决定阶段）" in done.output, done.output
    with out_csv.open(encoding="utf-8-sig") as fh:
        rows = [(r["阶段"], r["单位"], r["项目"], r["决定"], r["说明"], r["决定人"]) for r in csv.DictReader(fh)]
    assert rows == [  # the file's order of units
        ("审核揭榜书", "成都市市场监督管理局", "贯彻执行《四川省质量促进条例》成效明显地方", "同意", "", "张三"),
        ("审核揭榜书", "自贡市市场监督管理局", "争创国家级质量标准实验室", "不同意", "材料不全", "张三"),
    ], rows
    # Who decided, in words: not "rule:missing" in a Chinese table.
    assert [ops.decider_label(x) for x in ("rule:missing", "rule:eligibility", "rule:handed_in", "simulate:ops", "cli:张三")] == [
        "系统（逾期未交，按规定判定）", "系统（按申报资格规定）", "系统（已提交，按规定判定）", "模拟运行", "张三"]
    both = runner.invoke(app, ["export", str(P1), "--decisions", "--submissions", "--out", str(out_csv)])
    assert both.exit_code == 2 and "一次只能用一个" in both.output


def test_a_final_result_of_one_a_decision_took_never_reads_as_left_out():
    """标准化良好行为's export read "确定确认名单=通过 | 最终结果=AAA级（未进入确定确认名单）" of firms a later yearly
    review had revoked: the 确定 had taken them, and said so in the column beside."""
    from qcycle.ops import _final
    from qcycle.schema import Stage

    decider = Stage.model_validate({"code": "confirm", "name": "确定确认名单", "kind": "decision", "decides": "scoring",
                                    "on": "2025-09-20", "among": {"grades": ["AAA级"]}})
    assert _final("AAA级", [(decider, "approved", False)]) == "AAA级"
    assert _final("AAA级", [(decider, None, False)]) == "AAA级（未进入确定确认名单）"
    assert _final("AAA级", [(decider, "rejected", True)]) == "确定确认名单未通过"
    # In the decision's own words where it has them (抽查's results.csv read "检验结论判定未通过" of a 不合格).
    judged = Stage.model_validate({"code": "verdict", "name": "检验结论判定", "kind": "decision", "decides": "scoring",
                                   "on": "2025-09-20", "verdicts": {"approved": "合格", "rejected": "不合格"}})
    assert _final("已检验", [(judged, "rejected", True)]) == "检验结论判定为不合格"  # as letters: “…判定”为
    midterm = judged.model_copy(update={"name": "中期检查"})
    assert _final("合格", [(midterm, "rejected", True)]) == "中期检查结论为不合格"


def test_a_decision_with_its_own_verdicts_is_taken_and_exported_in_those_words(home, tmp_path):
    """年度报告's 双随机 draw (抽中/未抽中) and 现场核查 (符合/不符合): decisions.csv said 同意/不同意 of both, and a
    decisions file written in the stage's own words was refused."""
    path = tmp_path / "p1.yaml"
    path.write_text(P1.read_text(encoding="utf-8").replace(
        "    name: 审核揭榜书\n    kind: decision\n",
        "    name: 审核揭榜书\n    kind: decision\n    verdicts: {approved: 合格, rejected: 不合格}\n", 1), encoding="utf-8")
    _seed_applications([("510100", "zlcx-01"), ("510300", "cxyl-02")], path)
    decisions = tmp_path / "决定清单.csv"
    decisions.write_text("阶段,对象,决定,说明\ntakers_review,510100:zlcx-01,合格,\n"
                         "takers_review,510300:cxyl-02,不合格,材料不全\n", encoding="utf-8")
    done = runner.invoke(app, ["decide", str(path), "--file", str(decisions), "--by", "张三"], terminal_width=200)
    assert done.exit_code == 0, done.output
    assert "510300:cxyl-02 自贡市市场监督管理局 → 不合格" in done.output, done.output
    wrong = tmp_path / "错.csv"
    wrong.write_text("阶段,对象,决定,说明\ntakers_review,510100:zlcx-01,抽中,\n", encoding="utf-8")
    refused = runner.invoke(app, ["decide", str(path), "--file", str(wrong), "--change"], terminal_width=200)
    assert refused.exit_code != 0 and "合格/不合格" in refused.output, refused.output
    out_csv = tmp_path / "决定.csv"
    assert runner.invoke(app, ["export", str(path), "--decisions", "--out", str(out_csv)]).exit_code == 0
    with out_csv.open(encoding="utf-8-sig") as fh:
        assert [(r["单位"], r["决定"]) for r in csv.DictReader(fh)] == [
            ("成都市市场监督管理局", "合格"), ("自贡市市场监督管理局", "不合格")]
