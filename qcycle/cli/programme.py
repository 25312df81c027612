"""``qcycle validate``, ``new-round``, ``schema`` and ``plan``: the programme file itself.

Nothing here needs a server, and only ``plan --diff`` reads the database; each command imports
what it needs when it runs, so these stay fast.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qcycle.cli.common import FileArg, app, err, fail, out, warn
from qcycle.errors import ConfigError, QcycleError, StateError

__all__ = ["new_round", "plan", "schema", "validate"]


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="要校验的方案文件")],
) -> None:
    """校验方案文件：引用、重复代码、日期、权重、等次分数线、通知渠道。

    发现问题时逐条列出“文件:行 [字段]：应为什么”，退出码为 1（找出问题正是本命令的结果；
    其他命令遇到有问题的方案文件，退出码为 2）。

    \b
    示例：qcycle validate config/programmes/*.yaml
    """
    from qcycle.loader import load_programmes
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    try:
        loaded = load_programmes(files)
    except ConfigError as exc:
        raise fail(exc, 1) from None
    cal = WorkCalendar()
    try:
        for item in loaded:
            expand(item.programme, cal)
    except QcycleError as exc:
        raise fail(exc, 1) from None
    warn(cal.warnings)
    for item in loaded:
        p = item.programme
        for notice in item.notices:
            err.print(f"提示：{notice}", markup=False)
        out.print(f"通过：{item.path}（{p.round.name}，{len(p.units)} 个单位，{len(p.stages)} 个阶段）")


@app.command("new-round")
def new_round(
    file: FileArg,
    year: Annotated[int, typer.Option("--year", help="新一届开始的年份")],
    out_file: Annotated[Path | None, typer.Option("--out", help="写到哪里（默认：与原文件同目录，以新周期代码命名）")] = None,
    force: Annotated[bool, typer.Option("--force", help="目标文件已存在时覆盖它（其中手工改动将丢失）")] = False,
) -> None:
    """按本届方案写出下一届的方案文件：日期整年顺移并落到法定工作日，周期代码、名称、年份随之更新；
    列出需要人工核对的日期（改到工作日的、将顺延的截止日、日历尚未覆盖的年份、2月29日、引用其他周期之处）。

    \b
    示例：qcycle new-round config/programmes/gz-mayor-quality-award-2024.yaml --year 2026
    """
    from qcycle.loader import load_programme
    from qcycle.newround import next_round
    from qcycle.workcal import WorkCalendar

    try:
        loaded = load_programme(file)
        made = next_round(file.read_text(encoding="utf-8"), loaded.programme, year, WorkCalendar())
    except QcycleError as exc:
        raise fail(exc) from None
    target = out_file or file.with_name(f"{made.code}.yaml")
    if target.exists() and not force:  # a file edited by hand since it was written would be lost
        raise StateError(f"{target} 已存在；用 --out 指定另一个文件，或加 --force 覆盖（其中的手工改动将丢失）")
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
    out_file: Annotated[Path | None, typer.Option("--out", help="写入此文件而不是标准输出")] = None,
) -> None:
    """输出方案文件的 JSON Schema（供编辑器补全与校验）。

    方案文件第一行写 # yaml-language-server: $schema=../../docs/programme.schema.json 即可在常见编辑器中获得提示。

    \b
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
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON 数组而不是表格")] = False,
    today: Annotated[
        dt.datetime | None, typer.Option(help="在表中标出这一天（默认今天）", formats=["%Y-%m-%d"])
    ] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="另将时间线写成独立的 HTML 文件")] = None,
    png_out: Annotated[Path | None, typer.Option("--png", help="另将时间线写成 PNG 图片")] = None,
    diff: Annotated[bool, typer.Option("--diff", help="显示该文件会使运行中周期的日程发生哪些变化")] = False,
) -> None:
    """列出周期的全部日程：发布、受理、提醒（提前N个工作日）、截止、逾期、督办、评价、考核、通知。

    --html / --png 另存一年的时间轴（阶段为从受理开始到截止的条，截止、提醒、今天均有标记）。
    --diff 只列出修改后的文件相对周期当前所用版本的日程变化（新增、改期、取消，原动作是否已执行）。

    \b
    示例：qcycle plan config/programmes/sc-jbgs-2023.yaml
          qcycle plan config/programmes/sc-jbgs-2023.yaml --json
          qcycle plan config/programmes/sc-jbgs-2023.yaml --html 日程.html --png 日程.png
          qcycle plan config/programmes/sc-jbgs-2023.yaml --diff
    """
    if diff:
        from qcycle.cli.amend import print_plan_diff

        try:
            print_plan_diff(file)
        except QcycleError as exc:
            raise fail(exc) from None
        return
    from qcycle import clock
    from qcycle.loader import load_programme
    from qcycle.timetable import ACTION_LABELS, expand
    from qcycle.timetable import as_json as timetable_json
    from qcycle.workcal import WorkCalendar

    try:
        loaded = load_programme(file)
        calendar = WorkCalendar()
        timetable = expand(loaded.programme, calendar)
    except QcycleError as exc:
        raise fail(exc) from None
    warn(timetable.warnings)
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
        if a.condition and a.condition != f"仅限{who}":  # "考核等次为不合格（仅限考核等次为不合格）" said it twice
            who = f"{who}（{a.condition}）" if who else a.condition
        # A Saturday that is a working day (调休) is marked: officers read "周六" in the plan as a mistake.
        swapped = "（调休上班日）" if a.at.weekday() >= 5 and calendar.is_workday(a.at.date()) else ""
        # An event of several days shows its last (现场核查 7月11日至8月31日 had read as one day in the plan).
        until = f"（至{a.deadline:%Y-%m-%d}）" if a.action == "event" and a.deadline and a.deadline.date() > a.at.date() else ""
        table.add_row(f"{a.at:%Y-%m-%d %H:%M} 周{'一二三四五六日'[a.at.weekday()]}{swapped}", ACTION_LABELS.get(a.action, a.action),
                      a.title + until, category, who)
    out.print(table)
    guessed = sorted({a.at.year for a in timetable.actions if calendar.source(a.at.year) == "fallback"})
    days = (f"工作日（{'、'.join(map(str, guessed))}年的官方安排未收录，按法定节假日与周末计算、不含调休，见上方警告）" if guessed
            else "法定工作日（含调休）")
    out.print(f"共 {len(timetable.actions)} 项；时区 Asia/Shanghai；提醒只落在{days}。")
