"""``qcycle amend``, ``qcycle extend``, ``qcycle plan FILE --diff`` and ``qcycle audit``: changing a round
while it runs, and the record of who changed what.

Registered on :data:`qcycle.cli.common.app` when :mod:`qcycle.cli` imports this module.
"""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qcycle.cli.common import FileArg, again, app, err, fail, open_round, out
from qcycle.errors import NotFoundError, QcycleError, UsageError

__all__ = ["amend", "audit", "extend", "print_plan_diff"]


def _changes(file: Path, *, need_base: bool = True):
    """(loaded file, its round row, the plan changes against the version the round last ran on).
    ``need_base``: refuse when that version was not kept (a round begun before versions were)."""
    from qcycle import crud, db
    from qcycle.lifecycle import plan_changes
    from qcycle.loader import load_programme

    loaded = load_programme(file)
    db.require_current()
    with db.session_scope(read_only=True) as session:
        row = crud.get_round(session=session, code=loaded.programme.round.code)
        if row is None:
            raise NotFoundError(f"数据库中还没有周期 {loaded.programme.round.code}：它尚未运行过，没有可比较的旧版本"
                                "（检查 --home）")
        if need_base and row.config_sha256 != loaded.sha256 and not row.config_text:
            raise UsageError(f"周期 {row.code} 运行时的方案文件未留存（升级前开始的周期），无法比较；"
                             f"可直接登记修改：{again('amend', file, '--reason', '原因')}")
        return loaded, row, plan_changes(session, row, loaded)


def print_plan_diff(file: Path, found=None) -> None:
    """The table of ``qcycle plan FILE --diff``; ``found``: what :func:`_changes` returned, if
    the caller has it."""
    from qcycle.timetable import ACTION_LABELS

    loaded, row, (members, changes) = found or _changes(file)
    if row.config_sha256 == loaded.sha256:
        out.print(f"方案文件与周期 {row.code} 当前所用版本相同，日程没有变化。", markup=False)
        return
    for line in members:
        out.print(line, markup=False)
    if any(line.startswith("新增单位") for line in members):
        out.print("新增的单位参与此后的动作；登记修改当日另发给它仍在受理的申报通知和尚未举行的活动通知，"
                  "其余已执行的动作不再为其补做。", markup=False)
    if not changes:
        out.print("方案文件已修改，但日程没有变化（时间、提醒、截止均不变）。", markup=False)
        return
    table = Table(title=f"{loaded.programme.round.name}（{row.code}）日程变化", show_lines=False)
    for col in ("变化", "动作", "事项", "原时间", "新时间", "原动作"):
        table.add_column(col)
    for c in changes:
        a = c.action
        table.add_row(c.label, ACTION_LABELS.get(a.action, a.action), a.title,
                      f"{c.old.at:%Y-%m-%d %H:%M}" if c.old else "", f"{c.new.at:%Y-%m-%d %H:%M}" if c.new else "",
                      ("已执行" if c.done else "未执行") if c.old else "")
    out.print(table)
    counts = {label: sum(c.label == label for c in changes) for label in ("新增", "改期", "更新", "取消")}
    out.print("，".join(f"{k} {v} 项" for k, v in counts.items() if v) + "；已执行的动作记录保留，改期后的动作按新时间执行。"
              f"确认后登记：{again('amend', file, '--reason', '原因')}", markup=False)


@app.command()
def amend(
    file: FileArg,
    reason: Annotated[str | None, typer.Option(help="修改原因（如：省局通知延期），记入审计日志")] = None,
    by: Annotated[str | None, typer.Option(help="决定人（记入审计日志；默认为当前系统用户）")] = None,
    history: Annotated[bool, typer.Option("--list", help="列出本周期已登记的修改")] = False,
    allow_passed: Annotated[bool, typer.Option(
        "--allow-passed-deadline", help="允许把截止时间改到本周期已执行到的时间（或现在）之前（须已另行通知各单位）")] = False,
) -> None:
    """登记对运行中周期的修改（延期、改期、增减单位或事项）：显示日程变化，记录修改人、原因与前后两版方案。

    先显示日程变化（同 `qcycle plan FILE --diff`），再登记这次修改，此后周期按新文件运行。
    运行时发现方案文件改过而未登记的，也会记下（没有原因）；`--list` 列出全部修改。
    把尚未到的截止时间改到已过的时间（本周期已执行到的时间或现在之前）会被拒绝：尚未提交的单位会直接逾期，
    却从未收到新的截止时间；确需如此时加 `--allow-passed-deadline`。

    \b
    示例：qcycle amend config/programmes/sc-jbgs-2023.yaml --reason "省局通知申报延期至4月28日" --by 张三
          qcycle amend config/programmes/sc-jbgs-2023.yaml --list
    """
    from qcycle import db
    from qcycle.lifecycle import sync_round

    try:
        if history:
            _print_history(file)
            return
        if not reason:
            raise UsageError("请用 --reason 说明修改原因（将记入修改记录，例如：省局通知申报延期）")
        found = _changes(file, need_base=False)
        loaded, row, _ = found
        if row.config_sha256 == loaded.sha256:
            out.print(f"方案文件与周期 {row.code} 当前所用版本相同，无需登记。", markup=False)
            return
        if row.config_text:
            print_plan_diff(file, found)
        else:
            out.print("运行时的方案文件未留存（升级前开始的周期），无法列出日程变化；登记后以新文件为准。", markup=False)
        with db.session_scope() as session:
            sync_round(session, loaded, actor=f"cli:{by or getpass.getuser()}", reason=reason,
                       allow_passed_deadline=allow_passed)
    except QcycleError as exc:
        raise fail(exc) from None
    err.print(f"已登记修改：{reason}")


def _round_rows(file: Path, read, empty: str):
    """(loaded programme, rows that ``read`` returns for the file's round); says ``empty`` if none."""
    from qcycle import db

    loaded, round_id = open_round(file, read_only=True)
    with db.session_scope(read_only=True) as session:
        rows = read(session=session, round_id=round_id)
    if not rows:
        out.print(empty, markup=False)
    return loaded, rows


def _print_history(file: Path) -> None:
    from qcycle import crud

    _, rows = _round_rows(file, crud.list_amendments, "该周期没有登记过修改。")
    for r in rows:
        out.print(f"{r.recorded_at:%Y-%m-%d %H:%M} {r.actor}：{r.reason or '（运行时发现方案文件已修改，未登记原因）'}"
                  f"（{r.sha_before[:8]} → {r.sha_after[:8]}）", markup=False)
        for line in r.changes:
            out.print(f"  {line}", markup=False)


@app.command()
def extend(
    file: FileArg,
    stage: Annotated[str | None, typer.Option(help="受理阶段代码，如 application")] = None,
    unit: Annotated[str | None, typer.Option(help="单位代码，如 510400")] = None,
    to: Annotated[str | None, typer.Option("--to", help="该单位的新截止时间：YYYY-MM-DD（当日 17:30）、YYYY-MM-DDTHH:MM，或 +N（原截止后N个工作日）；须为工作日")] = None,
    period: Annotated[str | None, typer.Option(help="期次代码，分期受理的阶段才需要（如 2023-07）")] = None,
    reason: Annotated[str | None, typer.Option(help="延期原因（如：4月18日的延期申请），记入审计日志")] = None,
    by: Annotated[str | None, typer.Option(help="批准人（记入审计日志；默认为当前系统用户）")] = None,
    table: Annotated[Path | None, typer.Option(
        "--from", help="批量延期的 CSV 文件，每行一条：阶段,单位,截止时间,期次,原因（或 stage,unit,to,period,reason）",
        exists=True, dir_okay=False)] = None,
    history: Annotated[bool, typer.Option("--list", help="列出本周期已批准的单位延期")] = False,
    past: Annotated[bool, typer.Option("--past", help="新截止时间已过仍登记（补登早已批准的延期；该单位随即按逾期处理，"
                                                      "下次运行会发逾期通知和督办）")] = False,
) -> None:
    """批准单位延期申请：该单位在某一阶段使用自己的截止时间，提醒、逾期判断与督办都随之调整。

    该单位不再收到本阶段统一的提醒、逾期通知和督办，改为按它自己的截止时间收到；在该时间前
    提交的材料按时受理。同一受理阶段再次批准的，以后一次为准。记入审计日志。--from 一次
    批准一批：先逐行检查，有一行不对则全部不登记（并指出是哪一行）。

    \b
    示例：qcycle extend config/programmes/sc-jbgs-2023.yaml --stage application --unit 510400 --to 2023-04-28 --reason "4月18日延期申请" --by 张三
          qcycle extend config/programmes/sc-jbgs-2023.yaml --from 延期名单.csv --by 张三
          qcycle extend config/programmes/sc-jbgs-2023.yaml --list
    """
    try:
        if history:
            _print_extensions(file)
        elif table is not None:
            if stage or unit or to or period or reason:
                raise UsageError("--from 与 --stage/--unit/--to/--period/--reason 不能同时使用")
            _grant(file, _read_extensions(table), by, past)
        else:
            if not (stage and unit and to and reason):
                raise UsageError("需要 --stage、--unit、--to 和 --reason（延期原因将记入记录），或 --from 延期名单")
            _grant(file, [(0, {"stage": stage, "unit": unit, "to": to, "period": period, "reason": reason})], by, past)
    except QcycleError as exc:
        raise fail(exc) from None


# A list of extensions as an office keeps it: English or Chinese column names.
_COLUMNS = {"stage": "stage", "阶段": "stage", "unit": "unit", "单位": "unit", "单位代码": "unit",
            "to": "to", "截止时间": "to", "新截止时间": "to", "period": "period", "期次": "period",
            "reason": "reason", "原因": "reason", "延期原因": "reason"}


def _read_extensions(path: Path) -> list[tuple[int, dict[str, str | None]]]:
    """(line number, row) of each extension in a CSV (UTF-8, with or without BOM)."""
    import csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path}：不是 UTF-8 编码的 CSV（请在表格软件中另存为“CSV UTF-8”）") from None
    reader = csv.DictReader(text.splitlines())
    header = [(h or "").strip() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in _COLUMNS]
    missing = {"stage", "unit", "to", "reason"} - {_COLUMNS[h] for h in header if h in _COLUMNS}
    if unknown or missing:
        raise UsageError(f"{path}：表头应为 stage,unit,to,period,reason（或 阶段,单位,截止时间,期次,原因）"
                         + (f"；无法识别的列：{'、'.join(unknown)}" if unknown else "")
                         + (f"；缺少的列：{'、'.join(sorted(missing))}" if missing else ""))
    rows = []
    for raw in reader:
        row = {_COLUMNS[(k or "").strip()]: (v or "").strip() or None for k, v in raw.items() if k}
        if any(row.values()):
            rows.append((reader.line_num, row))
    if not rows:
        raise UsageError(f"{path}：没有延期记录")
    return rows


def _deadline_of(value: str, standard: dt.datetime | None) -> dt.datetime:
    """The extended deadline: a date (17:30), a date and time, or "+N", N working days after the
    stage's own deadline at its hour (an officer counting "延期5个工作日" by hand landed on a Saturday).
    A day off is refused: the letters would have read "应于2026年12月19日（星期六）17:30前提交"."""
    from qcycle import clock
    from qcycle.workcal import default_calendar

    calendar = default_calendar()
    if value.strip().startswith("+") and value.strip()[1:].isdigit():
        if standard is None:
            raise UsageError("该阶段没有统一的截止时间，请写明延期后的日期")
        day = calendar.add_workdays(calendar.previous_workday(standard.date()), int(value.strip()[1:]))
        return clock.to_local(dt.datetime.combine(day, standard.time()))
    try:
        moment = dt.datetime.fromisoformat(value) if "T" in value or " " in value.strip() else None
        if moment is None:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(17, 30))
    except ValueError:
        raise UsageError(f"截止时间 {value!r} 无法识别（应为 YYYY-MM-DD、YYYY-MM-DDTHH:MM，"
                         "或 +N：原截止后N个工作日）") from None
    if not calendar.is_workday(moment.date()):
        raise UsageError(f"延期后的截止日 {moment:%Y-%m-%d} 不是工作日：请改为工作日（如 "
                         f"{calendar.next_workday(moment.date()):%Y-%m-%d}），或用 +N 表示原截止后N个工作日")
    return clock.to_local(moment)


def _checked(p, timetable, row: dict[str, str | None], now: dt.datetime, past: bool
             ) -> tuple[str, str, str | None, dt.datetime, str]:
    """One extension, checked against the programme, the stage's own deadline and the clock:
    (stage, unit, period, deadline, reason). A new deadline already passed grants no time: the unit
    is overdue at once, and the next run sent 督办 to the unit just given more time."""
    from qcycle.schema import StageKind

    stage, unit, to, period, reason = (row.get(k) for k in ("stage", "unit", "to", "period", "reason"))
    if not (stage and unit and to and reason):
        raise UsageError("阶段、单位、截止时间和原因都不能为空")
    windows = [s.code for s in p.stages if s.kind in (StageKind.submission, StageKind.followup)]
    if stage not in windows:
        raise UsageError(f"阶段 {stage!r} 不是受理材料的阶段（可选：{'、'.join(windows)}）")
    if not p.has_unit(unit):
        raise NotFoundError(f"单位 {unit!r} 不在本周期的单位名单中")
    periods = [x.code for x in p.stage(stage).periods or []]
    if periods and period not in periods or not periods and period:
        raise UsageError(f"阶段 {stage} 分期提交，请用 --period 指明期次（{'、'.join(periods)}）" if periods
                         else f"阶段 {stage} 没有期次，不用 --period")
    standard = timetable.cutoff(stage, period, None)
    deadline = _deadline_of(to, standard)
    if standard is not None and deadline <= standard:
        raise UsageError(f"延期后的截止时间 {deadline:%Y-%m-%d %H:%M} 应晚于原截止时间 {standard:%Y-%m-%d %H:%M}")
    if deadline <= now and not past:
        raise UsageError(f"延期后的截止时间 {deadline:%Y-%m-%d %H:%M} 已经过去：该单位会随即按逾期处理（逾期通知、督办）；"
                         "补登早已批准的延期请加 --past")
    return stage, unit, period, deadline, reason


def _grant(file: Path, rows: list[tuple[int, dict[str, str | None]]], by: str | None, past: bool = False) -> None:
    """Check every row, then record them all in one transaction (or none)."""
    from qcycle import clock, crud, db
    from qcycle.lifecycle import round_timetable
    from qcycle.lifecycle.changes import extension_granted
    from qcycle.notify.outbox import queue_drafts
    from qcycle.timetable import ACTION_LABELS

    loaded, round_id = open_round(file)
    p = loaded.programme
    actor = f"cli:{by or getpass.getuser()}"
    now = clock.now()  # one moment for the checks and the audit log's "past"
    with db.session_scope() as session:
        timetable = round_timetable(session, p, round_id)
        grants, errors, seen = [], [], {}
        for line, row in rows:
            try:
                grant = _checked(p, timetable, row, now, past)
            except QcycleError as exc:
                if not line:  # the one extension given as options: its own error
                    raise
                errors.append(f"第{line}行：{exc}")
                continue
            window = grant[:3]
            if window in seen:
                errors.append(f"第{line}行：与第{seen[window]}行重复（同一单位同一阶段只能有一个截止时间）")
                continue
            seen[window] = line
            grants.append(grant)
        if errors:
            raise UsageError(f"{len(errors)} 行有误，未记录任何延期：\n" + "\n".join(errors))
        for stage, unit, period, deadline, reason in grants:
            crud.grant_extension(session=session, round_id=round_id, stage=stage, unit_code=unit, period=period,
                                 deadline=deadline, reason=reason, actor=actor)
            crud.audit(session=session, actor=actor, action=f"extend:{stage}", round_code=p.round.code,
                       detail={"unit": unit, "period": period, "deadline": deadline.isoformat(), "reason": reason}
                       | ({"past": True} if deadline <= now else {}))
        session.flush()
        planned = round_timetable(session, p, round_id).actions
        # Each unit given time is told so, by email (a grant recorded after its new deadline, --past, gave none).
        letters = [d for stage, unit, period, deadline, _ in grants if deadline > now
                   for d in extension_granted(p, planned, unit, stage, period, _standard_day(timetable, stage, period, unit),
                                              clock.to_local(now).date())]
        queued = queue_drafts(session=session, programme=p, round_id=round_id, drafts=letters,
                              template_dir=loaded.template_dir) if letters else 0
    for stage, unit, period, deadline, _ in grants:
        out.print(f"已批准 {p.unit(unit).name}（{unit}）延期：{p.stage(stage).name}"
                  f"{'·' + period if period else ''}截止时间 {deadline:%Y-%m-%d %H:%M}。该单位此后的日程：", markup=False)
        for a in planned:
            if a.unit == unit and a.stage == stage and a.period == period:
                out.print(f"  {a.at:%Y-%m-%d %H:%M} {ACTION_LABELS.get(a.action, a.action)} {a.title}", markup=False)
    if queued:
        out.print(f"【同意延期】通知{len(letters)}份已排入发件箱，由本周期下次运行发出。", markup=False)


def _standard_day(timetable, stage: str, period: str | None, unit: str) -> dt.date | None:
    """The deadline the unit had before this grant: its earlier extension's, else the stage's."""
    standard = timetable.cutoff(stage, period, None, unit)
    return None if standard is None else standard.date()


def _print_extensions(file: Path) -> None:
    from qcycle import crud

    loaded, rows = _round_rows(file, crud.list_extensions, "该周期没有单位延期。")
    p = loaded.programme
    for r in rows:
        name = p.unit(r.unit_code).name if p.has_unit(r.unit_code) else r.unit_code
        out.print(f"{p.stage(r.stage).name}{'·' + r.period if r.period else ''}：{name}（{r.unit_code}）"
                  f"截止 {r.deadline:%Y-%m-%d %H:%M}；{r.actor}，{r.granted_at:%Y-%m-%d}：{r.reason}", markup=False)


# How an audit entry's details read (the log keeps them as the code writes them).
_AUDIT_WORDS = {"subject": "对象", "outcome": "决定", "before": "原决定", "note": "说明", "unit": "单位",
                "period": "期次", "deadline": "截止时间", "reason": "原因", "stage": "阶段", "pending": "待决定",
                "outstanding": "尚未提交", "overdue": "逾期", "escalated": "督办", "ineligible": "不符合条件",
                "past": "补登（截止时间已过）"}


@app.command()
def audit(
    file: FileArg,
    since: Annotated[str | None, typer.Option("--since", help="只列出这一天及以后的记录：YYYY-MM-DD")] = None,
    action: Annotated[str | None, typer.Option(
        "--action", help="只列出某类操作（按开头匹配）：decide 审核决定、extend 延期、amend 修改周期、outbox 消息处理，"
                         "或某一阶段的动作，如 midterm")] = None,
    limit: Annotated[int, typer.Option(help="最多列出多少条（最新的在前）")] = 50,
) -> None:
    """审计日志：谁在什么时候对本周期做了什么（审核决定及改变前的结果、延期、修改、消息处理、每次运行执行的动作），最新的在前。

    \b
    示例：qcycle audit config/programmes/sc-jbgs-2023.yaml --action decide
          qcycle audit config/programmes/sc-jbgs-2023.yaml --since 2023-04-20 --limit 200
    """
    from qcycle import clock, crud, db
    from qcycle.ops import OUTCOME_WORDS
    from qcycle.schema import grade_label

    try:
        start = None
        if since is not None:
            try:
                start = clock.at(dt.date.fromisoformat(since))
            except ValueError:
                raise UsageError(f"--since {since!r} 不是日期（应为 YYYY-MM-DD）") from None
        loaded, _ = open_round(file, read_only=True)
        with db.session_scope(read_only=True) as session:
            rows = crud.audit_entries(session=session, round_code=loaded.programme.round.code, since=start,
                                      action=action, limit=limit)
    except QcycleError as exc:
        raise fail(exc) from None
    if not rows:
        out.print("没有符合条件的审计记录。", markup=False)
    for r in rows:
        note = str(r.detail.get("note") or "")
        # A run's counts its note already gives (an assessment's "一等奖 4，二等奖 8") are not said twice.
        said = [f"{_AUDIT_WORDS.get(k, k)}：{OUTCOME_WORDS.get(v, v) if k in ('outcome', 'before') else v}"
                for k, v in r.detail.items() if v not in (None, "")
                and not (k != "note" and isinstance(v, int) and f"{grade_label(k)} {v}" in note)]
        out.print(f"{r.at:%Y-%m-%d %H:%M} {r.actor} {r.action}" + (f"（{'；'.join(said)}）" if said else ""),
                  markup=False)
