"""``qcycle simulate``, ``decide``, ``export``, ``reconcile``, ``run``, ``status`` and
``db upgrade``: running a round and looking at it.

Commands that run flows import Prefect (through flows and deploy) lazily, when they run.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qcycle.cli.common import FileArg, again, app, fail, open_round, out, warn
from qcycle.errors import NotFoundError, QcycleError, UsageError

__all__ = ["db_app", "db_upgrade", "decide", "export", "reconcile", "run_stage", "simulate", "status"]

db_app = typer.Typer(help="应用数据库：迁移与状态。\n\n\b\n示例：qcycle db upgrade", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def simulate(
    files: Annotated[list[Path], typer.Argument(help="方案文件；给出多个时按顺序在同一目录中运行")],
    seed: Annotated[int, typer.Option(help="合成数据的随机种子（种子相同，模拟结果相同）")] = 2023,
    home: Annotated[Path | None, typer.Option(help="工作目录（默认 .qcycle/simulate/第一个文件的周期代码）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出结束报告")] = False,
) -> None:
    """模拟运行完整周期：虚拟时钟、合成的申报与评分、每个阶段都是真实的 Prefect 流程运行，消息写入本地收件箱。

    给出多个文件时按顺序在同一个工作文件夹（同一数据库）中运行，后一届读得到前一届的结果
    （如“获奖满5年后方可再次申报”）。--home 只接受本命令建立的文件夹或空文件夹：重新模拟会清空它。
    设置了 PREFECT_API_URL（如已运行 qcycle server）时，运行记录写入该服务器，可在其界面查看；
    否则本命令在 127.0.0.1 上启动一个本地 Prefect 服务器，运行结束后停止（日志写入 QCYCLE_HOME
    下的 prefect-server.log，默认 .qcycle/；运行记录留在 PREFECT_HOME 的数据库中）。

    \b
    示例：qcycle simulate config/programmes/sc-jbgs-2023.yaml
          qcycle simulate 天水-2023.yaml 天水-2024.yaml --home .qcycle/simulate/天水
    """
    from qcycle.deploy.server import embedded_api
    from qcycle.flows.simulate import simulate_rounds

    try:
        with embedded_api():
            reports = simulate_rounds(list(files), seed=seed, home=home, show_progress=not as_json)
    except QcycleError as exc:
        raise fail(exc) from None
    if as_json:
        data = [r.as_dict() for r in reports]
        sys.stdout.write(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=1) + "\n")
        return
    for report in reports:
        _print_simulation(report)


def _print_simulation(report) -> None:
    warn(report.warnings)
    out.print(f"\n[bold]{report.round_name}（{report.round_code}）模拟完成[/]，用时 {report.seconds:.1f} 秒")
    # Moments played: the timetable's, and the safety-net runs that answer late hand-ins.
    out.print(f"  对账时刻 {report.ticks} 个（日程时刻及兜底对账），Prefect 流程运行 {report.flow_runs} 次（含阶段子流程）；"
              f"完成动作 {report.actions_done} 项，跳过 {report.actions_skipped} 项")
    subs = "，".join(f"{k} {v}" for k, v in sorted(report.submissions.items())) or "无"
    out.print(f"  材料：{subs}；隔离（格式错误/未知单位）{report.quarantined} 条")
    from qcycle.schema import grade_label

    grades = "，".join(f"{grade_label(g)} {n}" + (f"（其中 {report.refused[g]} 个未获通过）" if report.refused.get(g) else "")
                      for g, n in report.grades.items() if n) or "无"
    out.print(f"  {report.result_kind}：{grades}")
    from qcycle.notify.outbox import STATUS_LABELS

    for channel, counts in sorted(report.messages.items()):
        posts = report.posts.get(channel, 0)
        grouped = f"（群内合并为 {posts} 次发布）" if posts < counts.get("sent", 0) else ""
        out.print(f"  消息·{channel}：" + "，".join(f"{STATUS_LABELS.get(k, k)} {v}" + (grouped if k == "sent" else "")
                                                 for k, v in sorted(counts.items())))
    out.print(f"  数据库与收件箱：{report.home}")
    # The year ran on its own copy of the file (with the simulated counties): commands on this
    # folder take that copy; the shipped file would read as a changed programme.
    # As of the year's end: today (a round of next year) the status reads "尚未开始".
    as_of = f" --as-of {report.ended}" if report.ended else ""
    out.print(f"  本次模拟所用的方案文件：{report.programme_file}（查看：qcycle --home {report.home} status "
              f"{report.programme_file}{as_of}）", markup=False, soft_wrap=True)


@app.command()
def decide(
    file: FileArg,
    stage: Annotated[str | None, typer.Option(help="作决定的阶段代码，如 takers_review")] = None,
    subject: Annotated[list[str] | None, typer.Option(help="决定对象：单位代码:项目代码（可多次给出）")] = None,
    approve: Annotated[bool, typer.Option("--approve/--reject", help="同意 / 不同意")] = True,
    all_pending: Annotated[bool, typer.Option("--all-pending", help="对该阶段全部待定对象作同一决定")] = False,
    from_file: Annotated[Path | None, typer.Option("--file", help="批量决定：CSV（stage,subject,outcome[,note]）或 JSON")] = None,
    by: Annotated[str | None, typer.Option(help="决定人（记入审计日志）")] = None,
    note: Annotated[str, typer.Option(help="说明（记入审计；阶段设 tell_reason 时，不同意的说明写进给该单位的函件）")] = "",
    list_only: Annotated[bool, typer.Option("--list", help="只列出待定事项")] = False,
    change: Annotated[bool, typer.Option("--change", help="改变已作出的决定（须用 --note 写明原因；此前发出的函件不撤回，"
                                                          "已执行的后续环节不重算）")] = False,
) -> None:
    """审核决定：揭榜书审核、评价确认等待运维决定的事项（单条、全部待定或从文件批量）。

    \b
    示例：qcycle decide config/programmes/sc-jbgs-2023.yaml --list
          qcycle decide config/programmes/sc-jbgs-2023.yaml --stage takers_review --subject 510100:zlcx-01 --approve --by 张三
          qcycle decide config/programmes/sc-jbgs-2023.yaml --file decisions.csv --by 张三
    """
    import getpass

    from qcycle import db, ops

    try:
        loaded, round_id = open_round(file, read_only=list_only, as_registered=True)
        p = loaded.programme
        with db.session_scope(read_only=list_only) as session:
            pending = ops.pending(session, p, round_id)
            if list_only:
                if not pending:
                    out.print(f"{p.round.name}没有需要决定的阶段（方案中没有 kind: decision 的阶段）", markup=False)
                for code, subjects in pending.items():
                    made = ops.decided_counts(session, p, round_id, code)
                    out.print(f"{p.stage(code).name}（{code}）：待决定 {len(subjects)} 项" + (
                        f"；已决定 {sum(made.values())} 项（{'，'.join(f'{k} {v}' for k, v in made.items())}）" if made else ""),
                        markup=False)
                    reviewer = None
                    for s_ in ops.by_reviewer(p, code, subjects):  # the code to type, then whose it is and what
                        if (r := p.reviewer(code, s_.partition(":")[0], asked=False)) != reviewer and r:
                            reviewer = r  # a reviewer's own together (某省's 24 candidates of three cities read mixed)
                            out.print(f"  {p.unit(r).name}：", markup=False)
                        said = [ops.p_unit_name(p, s_), ops.p_item_name(p, s_)]
                        out.print(f"  {'  ' if reviewer else ''}{s_}  {'：'.join(x for x in said if x)}", markup=False)
                    for line in ops.places_lines(session, p, round_id, code, subjects):
                        out.print(f"  {line}", markup=False)
                return
            if from_file is not None:
                rows = ops.read_decisions(from_file)
            else:
                if stage is None:
                    raise ops.DecisionError("请用 --stage 指明阶段，或用 --file 批量决定")
                if stage not in pending:
                    raise ops.DecisionError(f"阶段 {stage!r} 不需要决定（可选：{'、'.join(pending) or '无'}）")
                subjects = pending[stage] if all_pending else list(subject or [])
                if not subjects:
                    raise ops.DecisionError("没有要决定的对象：用 --subject 指定，或 --all-pending")
                rows = [ops.DecisionRow(stage, s_, "yes" if approve else "no", note) for s_ in subjects]
            done = ops.decide(session=session, programme=p, round_id=round_id, rows=rows,
                              decided_by=f"cli:{by or getpass.getuser()}", change=change)
    except QcycleError as exc:
        raise fail(exc) from None
    if len(done) < len(rows):
        out.print(f"{len(rows) - len(done)} 项与已作出的决定相同，未重复记录", markup=False)
    for stage_code, subject_code, outcome in done:
        who = f" {name}" if (name := ops.p_unit_name(p, subject_code)) else ""
        out.print(f"已记录：{p.stage(stage_code).name}（{stage_code}）{subject_code}{who} → {ops.outcome_word(p.stage(stage_code), outcome)}",
                  markup=False)


@app.command()
def export(
    file: FileArg,
    out_path: Annotated[Path, typer.Option("--out", help="结果文件：.xlsx 或 .csv")] = Path("results.xlsx"),
    submissions: Annotated[bool, typer.Option(
        "--submissions", help="导出材料受理记录（每份材料的期次、单位、项目、提交时间与受理结果：按时受理、逾期已受理、"
                              "逾期不予受理），而不是考核结果")] = False,
    decisions: Annotated[bool, typer.Option(
        "--decisions", help="导出审核决定（每个决定阶段一张表：单位、项目、同意/不同意、说明、决定人、决定时间），"
                            "如中期评估、验收、复验")] = False,
) -> None:
    """导出考核结果（排名组、名次、单位、各部分得分、加扣分、否决、等次）为 Excel（每个考核阶段一张表）或 CSV；
    加 --submissions 导出材料受理记录（每个受理阶段一张表），加 --decisions 导出审核决定（每个决定阶段一张表）。

    \b
    示例：qcycle export config/programmes/jz-assessment-2016.yaml --out 考核结果.xlsx
          qcycle --home .qcycle/simulate/sc-jbgs-2023 export .qcycle/simulate/sc-jbgs-2023/sc-jbgs-2023.yaml --out r.csv
          qcycle export config/programmes/sc-jbgs-2023.yaml --submissions --out 材料受理.xlsx
          qcycle export config/programmes/sc-jbgs-2023.yaml --decisions --out 审核决定.xlsx
    """
    from qcycle import db, ops

    try:
        if out_path.suffix.lower() not in (".xlsx", ".csv"):
            raise UsageError(f"不支持的导出格式 {out_path.suffix!r}（应为 .xlsx 或 .csv）")
        if submissions and decisions:
            raise UsageError("--submissions 与 --decisions 一次只能用一个")
        loaded, round_id = open_round(file, read_only=True)
        with db.session_scope(read_only=True) as session:
            read = ops.submission_rows if submissions else ops.decision_rows if decisions else ops.result_rows
            sheets = read(session, loaded.programme, round_id)
            # A round decided without an assessment has no results: where its decisions are said.
            hint = (not submissions and not decisions and not sheets
                    and bool(ops.decision_rows(session, loaded.programme, round_id)))
        ops.export_results(sheets, out_path, headers=ops.SUBMISSION_HEADERS if submissions
                           else ops.DECISION_HEADERS if decisions else None)
    except QcycleError as exc:
        raise fail(exc) from None
    count = sum(len(rows) for rows in sheets.values())
    what = (("份材料受理记录", "个受理阶段") if submissions else ("项审核决定", "个决定阶段") if decisions
            else ("条考核结果", "个考核阶段"))
    out.print(f"已导出 {count} {what[0]}（{len(sheets)} {what[1]}）：{out_path}"
              + ("。本周期没有考核结果，审核决定请加 --decisions 导出" if hint else ""))


def _as_of(value: str | None) -> dt.datetime | None:
    from qcycle import clock

    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} 不是日期时间（应为 2023-04-20 或 2023-04-20T17:30）",
                                 param_hint="'--as-of'") from None
    if len(value) <= 10:
        moment = moment.replace(hour=23, minute=59)  # a bare date means "by the end of that day"
    return clock.to_local(moment)


def _run_flow(file: Path, as_of: str | None, stage: str | None, actor: str) -> None:
    import getpass

    from qcycle import db
    from qcycle.deploy.server import embedded_api
    from qcycle.flows.lifecycle import reconcile as reconcile_flow

    db.upgrade()  # a command that writes migrates a fresh database itself
    with embedded_api():
        summary = reconcile_flow(programme_file=str(file), as_of=_as_of(as_of), only_stage=stage,
                                 actor=f"{actor}:{getpass.getuser()}")
    out.print(f"完成 {len(summary['done'])} 项，跳过 {len(summary['skipped'])} 项，"
              f"待决定 {sum(summary['pending'].values())} 项", markup=False)
    for key in summary["done"]:
        out.print(f"  完成：{key}", markup=False)
    for key, reason in summary["skipped"].items():
        out.print(f"  跳过：{key}：{reason}", markup=False)
    if summary["messages"]:
        m = summary["messages"]
        out.print(f"  消息：发送 {m['sent']}，待重试 {m['failed']}，失败 {m['dead']}")


@app.command()
def reconcile(
    file: FileArg,
    as_of: Annotated[str | None, typer.Option("--as-of", help="逻辑日期/时刻（默认现在）")] = None,
) -> None:
    """对账：执行截至某时刻应做而未做的全部动作（停机后补做关闭、逾期、督办；过期提醒跳过）。

    \b
    示例：qcycle reconcile config/programmes/sc-jbgs-2023.yaml
          qcycle reconcile config/programmes/sc-jbgs-2023.yaml --as-of 2023-04-21T10:00
    """
    try:
        _run_flow(file, as_of, None, "cli")
    except QcycleError as exc:
        raise fail(exc) from None


@app.command("run")
def run_stage(
    stage: Annotated[str, typer.Argument(help="阶段代码，如 application")],
    file: FileArg,
    as_of: Annotated[str | None, typer.Option("--as-of", help="逻辑日期/时刻（默认现在）")] = None,
) -> None:
    """运行某一阶段在某日应做的动作（同一套“到期”判断，只限该阶段）。

    \b
    示例：qcycle run application config/programmes/sc-jbgs-2023.yaml --as-of 2023-04-21
    """
    from qcycle.loader import load_programme

    try:
        # Refused here before a flow run starts (the flow refuses it too, for runs from the UI).
        stages = [s.code for s in load_programme(file).programme.stages]
        if stage not in stages:
            raise NotFoundError(f"阶段 {stage!r} 不存在（可选：{'、'.join(stages)}）")
        _run_flow(file, as_of, stage, "cli")
    except QcycleError as exc:
        raise fail(exc) from None


@app.command()
def status(
    file: FileArg,
    as_of: Annotated[str | None, typer.Option("--as-of", help="逻辑日期/时刻（默认现在）")] = None,
) -> None:
    """周期状态：当前阶段、接下来的动作与日期、逾期单位、待决定事项、应执行未执行的动作、发送失败的消息。

    \b
    示例：qcycle status config/programmes/sc-jbgs-2023.yaml
          qcycle --home .qcycle/simulate/sc-jbgs-2023 status .qcycle/simulate/sc-jbgs-2023/sc-jbgs-2023.yaml --as-of 2024-01-01
    """
    from qcycle import clock, crud, db
    from qcycle.lifecycle import round_timetable
    from qcycle.status import message_counts_line, overdue_line, round_status
    from qcycle.timetable import ACTION_LABELS

    moment = _as_of(as_of) or clock.now()
    try:
        loaded, round_id = open_round(file, read_only=True)
        with db.session_scope(read_only=True) as session:
            with crud.as_recorded_at(moment):  # the extensions granted by then
                timetable = round_timetable(session, loaded.programme, round_id)
            st = round_status(session, loaded.programme, round_id, timetable, moment, as_recorded=True)
    except QcycleError as exc:
        raise fail(exc) from None
    warn(timetable.warnings)
    p = loaded.programme
    out.print(f"[bold]{p.round.name}[/]（{p.round.code}） 截至 {moment:%Y-%m-%d %H:%M}")
    out.print(f"当前阶段：{st.current_stage or '尚未开始'}")
    table = Table(title="接下来的动作")
    for col in ("时间", "动作", "事项"):
        table.add_column(col)
    for a in st.next_actions:
        table.add_row(a.at.strftime("%Y-%m-%d %H:%M"), ACTION_LABELS.get(a.action, a.action), a.title)
    out.print(table if st.next_actions else "接下来的动作：无（本周期的日程已全部到期）")
    # A decision's action stays undone while its subjects wait: only `decide` moves it on.
    missed, waiting = st.missed, st.waiting
    for actions, said in ((missed, f"[yellow]应执行未执行 {len(missed)} 项[/]（运行 {again('reconcile', file)} 补做）："),
                          (waiting, f"[yellow]等待决定 {len(waiting)} 项[/]（先决定：{again('decide', file, '--list')}）：")):
        if actions:
            out.print(said)
            for a in actions[:10]:
                out.print(f"  {a.at:%Y-%m-%d %H:%M} {a.title}", markup=False)
    if (st.overdue or st.pending) and moment < clock.now() - dt.timedelta(hours=1):
        # Read as the records stood then; a decision changed since reads as not yet made (the
        # audit log keeps what it was): said, so that a gap is not taken for a lost record.
        out.print(f"（以下逾期未交与待决定按 {moment:%Y-%m-%d %H:%M} 时的记录列出：此后提交的材料、作出或改变的决定不计入）",
                  markup=False)
    for title, names in st.overdue.items():
        out.print(overdue_line(title, names), markup=False)
    for stage_name, subjects in st.pending.items():
        out.print(f"待决定：{stage_name} {len(subjects)} 项（{again('decide', file, '--list')}）", markup=False)
    out.print(f"消息：{message_counts_line(st.messages)}")
    for unit, channel, error in st.failed_messages:
        out.print(f"  失败：{unit} {channel} {error[:80]}", markup=False)


@db_app.command("upgrade")
def db_upgrade(
    url: Annotated[str | None, typer.Option(help="数据库 URL（默认 QCYCLE_DATABASE_URL，未设置时用 SQLite）")] = None,
) -> None:
    """把应用数据库迁移到最新版本（Alembic upgrade head）。

    \b
    示例：qcycle db upgrade
          QCYCLE_DATABASE_URL=postgresql://qcycle@127.0.0.1/qcycle qcycle db upgrade
    """
    from qcycle import db

    db.upgrade(url)
    out.print(f"数据库已是最新版本：{db.current_revision(url)}")
