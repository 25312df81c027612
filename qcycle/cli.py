"""The ``qcycle`` command.

Every command has help text with an example (a test checks it). Commands that run flows
import Prefect lazily, so ``plan`` and ``validate`` stay fast and need no server.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qcycle.errors import ConfigError, QcycleError

__all__ = ["app", "main"]

app = typer.Typer(
    name="qcycle",
    help="qcycle：质量工作年度周期（榜单发布、揭榜申报、中期检查、评价确认、考核、通知）。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="应用数据库：迁移与状态。\n\n示例：qcycle db upgrade", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(width=160, soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FileArg = Annotated[Path, typer.Argument(help="programme file, e.g. config/programmes/sc-jbgs-2023.yaml")]


@app.callback()
def _root(
    home: Annotated[Path | None, typer.Option(help="working folder (QCYCLE_HOME): database and sink")] = None,
) -> None:
    """qcycle：质量工作年度周期。"""
    if home is not None:
        import os

        from qcycle.settings import get_settings

        os.environ["QCYCLE_HOME"] = str(home)
        get_settings.cache_clear()


def open_round(file: Path, *, read_only: bool = False):
    """Load a programme file and find its round in the database; returns (loaded, round_id).

    Writing commands migrate the database and register the round if needed; ``read_only``
    ones never create or change anything and say what to run when the round is not there."""
    from qcycle import crud, db
    from qcycle.lifecycle import sync_round
    from qcycle.loader import load_programme

    loaded = load_programme(file)
    if read_only:
        db.require_current()
        with db.session_scope(read_only=True) as session:
            row = crud.get_round(session=session, code=loaded.programme.round.code)
        if row is None:
            raise QcycleError(f"数据库中还没有周期 {loaded.programme.round.code}：它尚未运行过"
                              f"（运行 qcycle reconcile {file} 开始，或检查 --home）")
        return loaded, row.id
    db.upgrade()
    with db.session_scope() as session:
        return loaded, sync_round(session, loaded).id


def _fail(exc: QcycleError, code: int = 2) -> typer.Exit:
    if isinstance(exc, ConfigError):
        err.print(f"[bold red]配置有误[/]（{len(exc.problems)} 处）：")
        for p in exc.problems:
            err.print(f"  {p}", markup=False)
    else:
        err.print(f"错误：{exc}", markup=False)
    return typer.Exit(code)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]警告：[/]{w}")


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="programme files to check")],
) -> None:
    """校验方案文件：引用、重复代码、日期、权重、等次分数线、通知渠道。

    Exits 1 and prints file:line [field]: what was expected, for every problem.

    示例：qcycle validate config/programmes/*.yaml
    """
    from qcycle.loader import load_programmes
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    try:
        loaded = load_programmes(files)
    except ConfigError as exc:
        raise _fail(exc, 1) from None
    cal = WorkCalendar()
    try:
        for item in loaded:
            expand(item.programme, cal)
    except QcycleError as exc:
        raise _fail(exc, 1) from None
    _warn(cal.warnings)
    for item in loaded:
        p = item.programme
        for notice in item.notices:
            err.print(f"提示：{notice}", markup=False)
        out.print(f"通过：{item.path}（{p.round.name}，{len(p.units)} 个单位，{len(p.stages)} 个阶段）")


@app.command("new-round")
def new_round(
    file: FileArg,
    year: Annotated[int, typer.Option("--year", help="the year the new round starts")],
    out_file: Annotated[Path | None, typer.Option("--out", help="where to write (default: beside FILE, named by the new code)")] = None,
) -> None:
    """按本届方案写出下一届的方案文件：日期整年顺移并落到法定工作日，周期代码、名称、年份随之更新；
    列出需要人工核对的日期（改到工作日的、将顺延的截止日、日历尚未覆盖的年份、2月29日、引用其他周期之处）。

    示例：qcycle new-round config/programmes/gz-mayor-quality-award-2024.yaml --year 2026
    """
    from qcycle.loader import load_programme
    from qcycle.newround import next_round
    from qcycle.workcal import WorkCalendar

    try:
        loaded = load_programme(file)
        made = next_round(file.read_text(encoding="utf-8"), loaded.programme, year, WorkCalendar())
    except QcycleError as exc:
        raise _fail(exc) from None
    target = out_file or file.with_name(f"{made.code}.yaml")
    if target.exists() and out_file is None:
        err.print(f"错误：{target} 已存在；用 --out 指定另一个文件", markup=False)
        raise typer.Exit(1)
    target.write_text(made.text, encoding="utf-8")
    out.print(f"已写出：{target}（周期代码 {made.code}）", markup=False)
    for note in made.notes:
        out.print(f"  需核对：{note}", markup=False)
    try:
        checked = load_programme(target)
    except ConfigError as exc:
        err.print(f"新文件未通过校验，请修改：\n{exc}", markup=False)
        raise typer.Exit(1) from None
    for notice in checked.notices:
        out.print(f"  提示：{notice}", markup=False)


@app.command()
def schema(
    out_file: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
) -> None:
    """输出方案文件的 JSON Schema（供编辑器补全与校验）。

    方案文件第一行写 # yaml-language-server: $schema=../../docs/programme.schema.json 即可在常见编辑器中获得提示。

    示例：qcycle schema --out docs/programme.schema.json
    """
    from qcycle.schema import programme_json_schema

    text = json.dumps(programme_json_schema(), ensure_ascii=False, indent=1) + "\n"
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.write_text(text, encoding="utf-8")
    err.print(f"已写入：{out_file}", markup=False)


@app.command()
def plan(
    file: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array instead of a table")] = False,
    today: Annotated[
        dt.datetime | None, typer.Option(help="mark this day in the table (default: today)", formats=["%Y-%m-%d"])
    ] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="also write the timeline as a self-contained HTML file")] = None,
    png_out: Annotated[Path | None, typer.Option("--png", help="also write the timeline as a PNG image")] = None,
    diff: Annotated[bool, typer.Option("--diff", help="what the file changes in the running round's plan")] = False,
) -> None:
    """列出周期的全部日程：发布、受理、提醒（提前N个工作日）、截止、逾期、督办、评价、考核、通知。

    --html / --png 另存一年的时间轴（阶段为从受理开始到截止的条，截止、提醒、今天均有标记）。
    --diff 只列出修改后的文件相对周期当前所用版本的日程变化（新增、改期、取消，原动作是否已执行）。

    示例：qcycle plan config/programmes/sc-jbgs-2023.yaml
          qcycle plan config/programmes/sc-jbgs-2023.yaml --json
          qcycle plan config/programmes/sc-jbgs-2023.yaml --html 日程.html --png 日程.png
          qcycle plan config/programmes/sc-jbgs-2023.yaml --diff
    """
    if diff:
        from qcycle.cli_amend import print_plan_diff

        try:
            print_plan_diff(file)
        except QcycleError as exc:
            raise _fail(exc) from None
        return
    from qcycle import clock
    from qcycle.loader import load_programme
    from qcycle.timetable import ACTION_LABELS, expand
    from qcycle.timetable import as_json as timetable_json
    from qcycle.workcal import WorkCalendar

    try:
        loaded = load_programme(file)
        timetable = expand(loaded.programme, WorkCalendar())
    except QcycleError as exc:
        raise _fail(exc) from None
    _warn(timetable.warnings)
    p = loaded.programme
    marker = (today.date() if today else clock.today())
    if html_out or png_out:
        from qcycle import timeline

        moment = clock.at(marker, dt.time(12))
        if html_out:
            html_out.write_text(timeline.render_html(p, timetable, moment), encoding="utf-8")
            err.print(f"时间轴（HTML）：{html_out}")
        if png_out:
            timeline.render_png(p, timetable, png_out, moment)
            err.print(f"时间轴（PNG）：{png_out}")
    if as_json:
        sys.stdout.write(json.dumps(timetable_json(timetable), ensure_ascii=False, indent=1) + "\n")
        return
    table = Table(title=f"{p.round.name}（{p.round.code}）日程", show_lines=False)
    for col in ("时间", "动作", "事项", "类别", "对象"):
        table.add_column(col)
    shown_marker = False
    for a in timetable.actions:
        if not shown_marker and a.at.date() >= marker:
            table.add_row(f"—— 今天 {marker} ——", "", "", "", "", style="bold cyan")
            shown_marker = True
        category = p.category(a.category).name if a.category else ""
        who = a.owed_by or ""
        if a.condition:
            who = f"{who}（{a.condition}）" if who else a.condition
        table.add_row(f"{a.at:%Y-%m-%d %H:%M} 周{'一二三四五六日'[a.at.weekday()]}", ACTION_LABELS.get(a.action, a.action),
                      a.title, category, who)
    out.print(table)
    out.print(f"共 {len(timetable.actions)} 项；时区 Asia/Shanghai；提醒只落在法定工作日（含调休）。")


@app.command()
def simulate(
    files: Annotated[list[Path], typer.Argument(help="programme file(s); several run in order in one folder")],
    seed: Annotated[int, typer.Option(help="seed of the synthetic data (same seed, same year)")] = 2023,
    home: Annotated[Path | None, typer.Option(help="working folder (default .qcycle/simulate/ROUND of the first file)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the closing report as JSON")] = False,
) -> None:
    """模拟运行完整周期：虚拟时钟、合成的申报与评分、每个阶段都是真实的 Prefect 流程运行，消息写入本地收件箱。

    给出多个文件时按顺序在同一个工作文件夹（同一数据库）中运行，后一届读得到前一届的结果
    （如“获奖满5年后方可再次申报”）。--home 只接受本命令建立的文件夹或空文件夹：重新模拟会清空它。
    With PREFECT_API_URL set (e.g. after `prefect server start`), the runs appear in that
    server's UI; otherwise Prefect's in-process server is used.

    示例：qcycle simulate config/programmes/sc-jbgs-2023.yaml
          qcycle simulate 天水-2023.yaml 天水-2024.yaml --home .qcycle/simulate/天水
    """
    from deploy.server import embedded_api
    from flows.simulate import simulate_rounds

    try:
        with embedded_api():
            reports = simulate_rounds(list(files), seed=seed, home=home, show_progress=not as_json)
    except QcycleError as exc:
        raise _fail(exc) from None
    if as_json:
        data = [r.as_dict() for r in reports]
        sys.stdout.write(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=1) + "\n")
        return
    for report in reports:
        _print_simulation(report)


def _print_simulation(report) -> None:
    _warn(report.warnings)
    out.print(f"\n[bold]{report.round_name}（{report.round_code}）模拟完成[/]，用时 {report.seconds:.1f} 秒")
    out.print(f"  日程节点 {report.ticks} 个，Prefect 流程运行 {report.flow_runs} 次（含阶段子流程）；"
              f"完成动作 {report.actions_done} 项，跳过 {report.actions_skipped} 项")
    subs = "，".join(f"{k} {v}" for k, v in sorted(report.submissions.items())) or "无"
    out.print(f"  材料：{subs}；隔离（格式错误/未知单位）{report.quarantined} 条")
    from qcycle.schema import grade_label

    grades = "，".join(f"{grade_label(g)} {n}" for g, n in report.grades.items() if n) or "无"
    out.print(f"  考核等次：{grades}")
    from qcycle.notify.outbox import STATUS_LABELS

    for channel, counts in sorted(report.messages.items()):
        out.print(f"  消息·{channel}：" + "，".join(f"{STATUS_LABELS.get(k, k)} {v}" for k, v in sorted(counts.items())))
    out.print(f"  数据库与收件箱：{report.home}")


@app.command()
def decide(
    file: FileArg,
    stage: Annotated[str | None, typer.Option(help="deciding stage code, e.g. takers_review")] = None,
    subject: Annotated[list[str] | None, typer.Option(help="unit:item (repeatable)")] = None,
    approve: Annotated[bool, typer.Option("--approve/--reject", help="同意 / 不同意")] = True,
    all_pending: Annotated[bool, typer.Option("--all-pending", help="decide every pending subject of the stage")] = False,
    from_file: Annotated[Path | None, typer.Option("--file", help="bulk decisions: CSV stage,subject,outcome[,note] or JSON")] = None,
    by: Annotated[str | None, typer.Option(help="who decides (recorded in the audit log)")] = None,
    note: Annotated[str, typer.Option(help="说明")] = "",
    list_only: Annotated[bool, typer.Option("--list", help="only list pending decisions")] = False,
) -> None:
    """审核决定：揭榜书审核、评价确认等待运维决定的事项（单条、全部待定或从文件批量）。

    示例：qcycle decide config/programmes/sc-jbgs-2023.yaml --list
          qcycle decide config/programmes/sc-jbgs-2023.yaml --stage takers_review --subject 510100:zlcx-01 --approve --by 张三
          qcycle decide config/programmes/sc-jbgs-2023.yaml --file decisions.csv --by 张三
    """
    import getpass

    from qcycle import db, ops

    try:
        loaded, round_id = open_round(file, read_only=list_only)
        p = loaded.programme
        with db.session_scope(read_only=list_only) as session:
            pending = ops.pending(session, p, round_id)
            if list_only:
                if not pending:
                    out.print(f"{p.round.name}没有需要决定的阶段（方案中没有 kind: decision 的阶段）", markup=False)
                for code, subjects in pending.items():
                    out.print(f"{p.stage(code).name}（{code}）：待决定 {len(subjects)} 项")
                    for s_ in subjects:
                        out.print(f"  {s_}  {ops.p_item_name(p, s_) or ''}", markup=False)
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
                              decided_by=f"cli:{by or getpass.getuser()}")
    except QcycleError as exc:
        raise _fail(exc) from None
    for stage_code, subject_code, outcome in done:
        out.print(f"已记录：{stage_code} {subject_code} → {outcome}", markup=False)


@app.command()
def export(
    file: FileArg,
    out_path: Annotated[Path, typer.Option("--out", help="results file: .xlsx or .csv")] = Path("results.xlsx"),
) -> None:
    """导出考核结果（排名组、名次、单位、各部分得分、加扣分、否决、等次）为 Excel（每个考核阶段一张表）或 CSV。

    示例：qcycle export config/programmes/jz-assessment-2016.yaml --out 考核结果.xlsx
          qcycle --home .qcycle/simulate/sc-jbgs-2023 export .qcycle/simulate/sc-jbgs-2023/sc-jbgs-2023.yaml --out r.csv
    """
    from qcycle import db, ops

    try:
        if out_path.suffix.lower() not in (".xlsx", ".csv"):
            raise QcycleError(f"不支持的导出格式 {out_path.suffix!r}（应为 .xlsx 或 .csv）")
        loaded, round_id = open_round(file, read_only=True)
        with db.session_scope(read_only=True) as session:
            sheets = ops.result_rows(session, loaded.programme, round_id)
        ops.export_results(sheets, out_path)
    except QcycleError as exc:
        raise _fail(exc) from None
    count = sum(len(rows) for rows in sheets.values())
    out.print(f"已导出 {count} 条考核结果（{len(sheets)} 个考核阶段）：{out_path}")


def _as_of(value: str | None) -> dt.datetime | None:
    from qcycle import clock

    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} 不是日期时间（应为 2023-04-20 或 2023-04-20T17:30）") from None
    if len(value) <= 10:
        moment = moment.replace(hour=23, minute=59)  # a bare date means "by the end of that day"
    return clock.to_local(moment)


def _run_flow(file: Path, as_of: str | None, stage: str | None, actor: str) -> None:
    import getpass

    from deploy.server import embedded_api
    from flows.lifecycle import reconcile as reconcile_flow
    from qcycle import db

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
    as_of: Annotated[str | None, typer.Option("--as-of", help="logical date/time (default: now)")] = None,
) -> None:
    """对账：执行截至某时刻应做而未做的全部动作（停机后补做关闭、逾期、督办；过期提醒跳过）。

    示例：qcycle reconcile config/programmes/sc-jbgs-2023.yaml
          qcycle reconcile config/programmes/sc-jbgs-2023.yaml --as-of 2023-04-21T10:00
    """
    try:
        _run_flow(file, as_of, None, "cli")
    except QcycleError as exc:
        raise _fail(exc) from None


@app.command("run")
def run_stage(
    stage: Annotated[str, typer.Argument(help="stage code, e.g. application")],
    file: FileArg,
    as_of: Annotated[str | None, typer.Option("--as-of", help="logical date/time (default: now)")] = None,
) -> None:
    """运行某一阶段在某日应做的动作（同一套“到期”判断，只限该阶段）。

    示例：qcycle run application config/programmes/sc-jbgs-2023.yaml --as-of 2023-04-21
    """
    try:
        _run_flow(file, as_of, stage, "cli")
    except QcycleError as exc:
        raise _fail(exc) from None
    except ValueError as exc:
        err.print(f"错误：{exc}", markup=False)
        raise typer.Exit(2) from None


@app.command()
def status(
    file: FileArg,
    as_of: Annotated[str | None, typer.Option("--as-of", help="logical date/time (default: now)")] = None,
) -> None:
    """周期状态：当前阶段、接下来的动作与日期、逾期单位、待决定事项、应执行未执行的动作、发送失败的消息。

    示例：qcycle status config/programmes/sc-jbgs-2023.yaml
          qcycle --home .qcycle/simulate/sc-jbgs-2023 status .qcycle/simulate/sc-jbgs-2023/sc-jbgs-2023.yaml --as-of 2024-01-01
    """
    from qcycle import clock, db
    from qcycle.lifecycle import round_timetable
    from qcycle.status import round_status
    from qcycle.timetable import ACTION_LABELS

    moment = _as_of(as_of) or clock.now()
    try:
        loaded, round_id = open_round(file, read_only=True)
        with db.session_scope(read_only=True) as session:
            timetable = round_timetable(session, loaded.programme, round_id)
            st = round_status(session, loaded.programme, round_id, timetable, moment)
    except QcycleError as exc:
        raise _fail(exc) from None
    _warn(timetable.warnings)
    p = loaded.programme
    out.print(f"[bold]{p.round.name}[/]（{p.round.code}） 截至 {moment:%Y-%m-%d %H:%M}")
    out.print(f"当前阶段：{st.current_stage or '尚未开始'}")
    table = Table(title="接下来的动作")
    for col in ("时间", "动作", "事项"):
        table.add_column(col)
    for a in st.next_actions:
        table.add_row(a.at.strftime("%Y-%m-%d %H:%M"), ACTION_LABELS.get(a.action, a.action), a.title)
    out.print(table if st.next_actions else "接下来的动作：无（本周期的日程已全部到期）")
    if st.missed:
        out.print(f"[yellow]应执行未执行 {len(st.missed)} 项[/]（运行 qcycle reconcile 补做）：")
        for a in st.missed[:10]:
            out.print(f"  {a.at:%Y-%m-%d %H:%M} {a.title}", markup=False)
    for title, names in st.overdue.items():
        out.print(f"逾期：{title}：{len(names)} 个单位（{'、'.join(names[:8])}{'等' if len(names) > 8 else ''}）",
                  markup=False)
    for stage_name, subjects in st.pending.items():
        out.print(f"待决定：{stage_name} {len(subjects)} 项（qcycle decide … --list）", markup=False)
    from qcycle.notify.outbox import STATUS_LABELS

    counts = "，".join(f"{STATUS_LABELS.get(k, k)} {v}" for k, v in sorted(st.messages.items())) or "无"
    out.print(f"消息：{counts}")
    for unit, channel, error in st.failed_messages:
        out.print(f"  失败：{unit} {channel} {error[:80]}", markup=False)


@db_app.command("upgrade")
def db_upgrade(
    url: Annotated[str | None, typer.Option(help="database URL (default: QCYCLE_DATABASE_URL or SQLite)")] = None,
) -> None:
    """把应用数据库迁移到最新版本（Alembic upgrade head）。

    示例：qcycle db upgrade
          QCYCLE_DATABASE_URL=postgresql://qcycle@127.0.0.1/qcycle qcycle db upgrade
    """
    from qcycle import db

    db.upgrade(url)
    out.print(f"数据库已是最新版本：{db.current_revision(url)}")


# Command groups that live beside their subject register themselves on ``app`` when imported,
# here, after every command above is defined.
from qcycle import cli_amend, cli_deploy, cli_intake, cli_outbox  # noqa: F401


def main() -> None:
    app()


if __name__ == "__main__":
    main()
