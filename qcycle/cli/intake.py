"""Intake commands of ``qcycle``: ``import`` a file, ``pull`` an HTTP source, ``quarantine``,
``revisions``.

Registered on :data:`qcycle.cli.common.app` when :mod:`qcycle.cli` imports this module. They use
the database from settings (``QCYCLE_DATABASE_URL`` or SQLite under ``QCYCLE_HOME``), migrated
first.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qcycle.cli.common import again, app, err, fail, out
from qcycle.errors import NotFoundError, QcycleError, UsageError

if TYPE_CHECKING:
    from sqlmodel import Session

    from qcycle.intake.report import ImportReport

__all__ = ["import_", "pull", "quarantine", "revisions"]

RoundFileOption = Annotated[
    Path,
    typer.Option(
        "--round", help="本周期的方案文件，如 config/programmes/sc-jbgs-2023.yaml"
    ),
]


SHOWN_ASIDE = 20  # reasons an import or pull prints; the rest are counted, with where to read them


def _print_report(report: ImportReport) -> None:
    kind, _, where = report.source.partition(":")  # the stored tag, "import:<path>" or "http:<url>"
    said = {"import": "导入文件", "http": "拉取"}.get(kind)
    out.print(f"{said} {where} → 周期 {report.round_code}" if said else f"{report.source} → 周期 {report.round_code}",
              markup=False, soft_wrap=True)
    if report.amended:  # decide refuses an unregistered edit; taking records may not wait for one, but says so
        out.print("  注意：方案文件与本周期上次运行的版本不同，已按修改后的方案登记为一次修改（未写原因）；"
                  "用 qcycle amend 方案文件 --list 查看改了什么", markup=False)
    if report.resumed_rows:
        out.print(f"  上次导入中断，已提交 {report.resumed_rows} 行：从{report.resumed_at}继续"
                  "（以下为整个文件的计数）", markup=False)  # fmt: skip
    pages = f"（{report.pages} 页）" if report.pages else ""
    out.print(f"  {report.summary()}{pages}", markup=False)
    if report.counts.get("rejected_late"):  # ops may be asked by the unit before the letter arrives
        out.print("  逾期不予受理的，本周期下一次对账运行会向提交单位发出【不予受理】告知（每份只告知一次）", markup=False)
    if report.quarantined:
        out.print("  隔离原因：", markup=False)
        for line in report.aside_reasons(SHOWN_ASIDE):
            out.print(f"    {line}", markup=False, soft_wrap=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="材料文件：CSV（UTF-8/GB18030）、XLSX 或 JSON/JSON Lines")],
    programme: RoundFileOption,
    sheet: Annotated[
        str | None, typer.Option(help="XLSX 工作表名称（默认第一张）")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="文件没有材料种类列时，每行的材料种类，如 揭榜书"),
    ] = None,
) -> None:
    """导入材料文件：揭榜书、进展报告、评价确认申请、自评、整改、异议、评审打分（CSV/XLSX/JSON）。

    表头可用英文键（kind, unit, item, period, submitted_at, id, reviewer, component, value）
    或中文（材料种类、单位代码、项目代码、期次、提交时间、编号、评审人、评分部分、分数）；
    其他列存入附加信息。按截止时间判定逾期；同一记录只存一次；读不了的行连同行号隔离。
    大文件逐批读取、逐批提交（每批 5000 行，终端上显示进度），导入期间其他命令照常可用；
    导入中断后对同一文件再运行一次，会从上次提交的批次之后自动继续，计数为整个文件的计数。
    有行被隔离时退出码仍为 0；整个文件读不了时退出码非 0。

    \b
    示例：qcycle import 揭榜书汇总.csv --round config/programmes/sc-jbgs-2023.yaml
          qcycle import 评分.xlsx --round config/programmes/sc-jbgs-2023.yaml --sheet 评分表
    """
    from qcycle import db
    from qcycle.intake.files import import_file_in_batches
    from qcycle.intake.normalise import normalise_kind
    from qcycle.models import SUBMISSION_KINDS

    if kind is not None:
        from qcycle.loader import load_programme

        try:
            known = (*SUBMISSION_KINDS, *load_programme(programme).programme.submission_kinds)
        except QcycleError:
            known = SUBMISSION_KINDS  # the import itself reports what is wrong with the file
        if normalise_kind(kind) not in known:
            raise UsageError(f"--kind {kind} 不是已知的材料种类（{'/'.join(known)}）")
    try:
        db.upgrade()
        with _progress() as on_batch:
            report = import_file_in_batches(path=file, programme=programme, sheet=sheet,
                                            default_kind=kind, on_batch=on_batch)  # fmt: skip
    except QcycleError as exc:
        raise fail(exc) from None
    _print_report(report)


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal (never in pipes, logs or tests)."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("导入", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=True) as bar:  # fmt: skip
        task = bar.add_task("rows", total=None)
        yield lambda done, expected: bar.update(task, completed=done, total=expected)


@app.command()
def pull(
    programme: RoundFileOption,
    url: Annotated[str, typer.Option(help="HTTP JSON 接口地址（以 ?page=N&page_size=M 分页）")],
    token_env: Annotated[
        str | None, typer.Option(help="存放访问令牌（Bearer）的环境变量名")
    ] = None,
    page_size: Annotated[int, typer.Option(help="每页记录数")] = 100,
    timeout: Annotated[
        float, typer.Option(help="每次请求的总时限，秒（连接、响应头、整个响应体）")
    ] = 10,
    retries: Annotated[int, typer.Option(help="每页重试次数（随机退避）")] = 4,
    max_pages: Annotated[int, typer.Option(min=1, help="最多拉取的页数（到达后停止，退出码 3）")] = 10_000,
    deadline: Annotated[
        float, typer.Option(help="整个拉取的总时限，秒（全部页面、重试与等待）")
    ] = 1800,
    max_page_bytes: Annotated[
        int, typer.Option(help="单页响应体上限，字节（默认 20 MiB）")
    ] = 20 * 1024 * 1024,
    allow_redirect_to: Annotated[
        list[str] | None,
        typer.Option(help="允许重定向前往的其他来源（scheme://host[:port]），可多次给出"),
    ] = None,
) -> None:
    """从 HTTP 接口拉取材料：分页读取，逐条受理或隔离；超时、5xx、429 自动重试。

    令牌不写在命令行里：放进环境变量，用 --token-env 写出变量名。
    有时限与大小上限：--timeout 是每次请求的总时长，--deadline 是整次拉取的总时长；
    超过 --max-page-bytes 的页面隔离（保存开头部分）并停止；重定向只跟随到本来源，
    或 --allow-redirect-to 列出的来源（令牌不会发往其他来源）。已取得的页总会保存。

    退出码 / exit codes: 0 完成（含隔离的记录）；2 参数有误或被数据源拒绝（令牌、HTTP 4xx）；
    3 数据源不可用、页面无法读取（已重试）或未拉取完（--max-pages 上限、分页链接成环）；4 超过总时限 --deadline；
    5 页面超过 --max-page-bytes（已隔离）；6 重定向到未允许的来源，已拒绝。

    \b
    示例：QCYCLE_INTAKE_TOKEN=... qcycle pull --round config/programmes/sc-jbgs-2023.yaml --url https://sb.example.cn/api/submissions --token-env QCYCLE_INTAKE_TOKEN
    """
    from pydantic import ValidationError

    from qcycle import db
    from qcycle.intake.http import HttpSource, SourceFailed, pull_into_database

    try:
        source = HttpSource(url=url, token_env=token_env, page_size=page_size, timeout=timeout,
                            retries=retries, deadline=deadline, max_page_bytes=max_page_bytes, max_pages=max_pages,
                            allow_redirects_to=allow_redirect_to or [])  # fmt: skip
    except ValidationError as exc:
        for e in exc.errors():
            err.print(f"错误：{e['loc'][0] if e['loc'] else ''}：{e['msg']}", markup=False)
        raise typer.Exit(2) from None
    try:
        db.upgrade()
        report = pull_into_database(source=source, programme=programme)
    except SourceFailed as exc:
        if exc.report is not None and exc.report.pages:
            _print_report(exc.report)
            out.print("  拉取提前停止：以上为已保存的部分，原因见下", markup=False)
        raise fail(exc) from None  # its exit code tells how it failed (SOURCE_EXIT_CODES)
    except QcycleError as exc:
        raise fail(exc) from None
    _print_report(report)
    if report.stopped:  # pages may be left: not "done" (exit 0) while the message says so
        err.print(f"错误：{report.stopped}", markup=False)
        raise typer.Exit(3)


def _round_code(value: str) -> str:
    """--round takes a round code, or a programme file (its round code is used)."""
    if Path(value).suffix.lower() in (".yaml", ".yml") and Path(value).is_file():
        from qcycle.loader import load_programme

        return load_programme(value).programme.round.code
    return value


@app.command()
def quarantine(
    round_code: Annotated[
        str | None, typer.Option("--round", help="周期代码（或方案文件）；默认全部周期")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="包括已处理的记录")
    ] = False,
    resolve: Annotated[
        str | None, typer.Option("--resolve", help="标记为已处理的记录 ID（或其开头几位）")
    ] = None,
    accept: Annotated[
        str | None, typer.Option("--accept", help="把冲突记录作为修改重报生效：冲突的 ID "
                                                  "（与 --round FILE 和 --by 一起使用）")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="处理人（与 --resolve 或 --accept 一起使用）")] = None,
) -> None:
    """查看隔离区：格式错误、单位不明、读不了的行和页面、记录冲突，原样保存并注明原因；处理后标记。

    列出编号、收到时间、来源、原因和原始记录的前 80 个字符。冲突（记录标识相同而内容不同）
    可按两种方式处理：--resolve 保留现行版本；--accept 把新内容作为修改版本生效。

    \b
    示例：qcycle quarantine --round sc-jbgs-2023
          qcycle quarantine --resolve 3f2a9c1e --by 张三
          qcycle quarantine --accept 3f2a9c1e --round config/programmes/sc-jbgs-2023.yaml --by 张三
    """
    from qcycle import crud, db

    if (resolve is not None or accept is not None) and not by:
        raise UsageError("--resolve、--accept 需要同时给出 --by 处理人")
    if accept is not None:
        _accept(accept.strip().lower(), round_code, by or "")
        return
    try:
        db.upgrade()
        with db.session_scope() as session:
            round_id = None
            if round_code is not None:
                code = _round_code(round_code)
                row = crud.get_round(session=session, code=code)
                if row is None:
                    raise NotFoundError(f"没有周期 {code}（先导入或拉取该周期的材料）")
                round_id = row.id
            if resolve is not None:
                _resolve(session, round_id, resolve.strip().lower(), by or "")
                return
            records = crud.list_quarantine(session=session, round_id=round_id,
                                           unresolved_only=not show_all)  # fmt: skip
    except QcycleError as exc:
        raise fail(exc) from None
    if not records:
        out.print("隔离区没有记录。" if show_all else "隔离区没有待处理的记录。")
        return
    for q in records:
        state = (
            f"  已处理（{q.resolved_by}，{q.resolved_at:%Y-%m-%d %H:%M}）" if q.resolved_at else ""
        )
        raw = " ".join(q.raw.split())[:80]
        out.print(f"[{str(q.id)[:8]}] {q.received_at:%Y-%m-%d %H:%M}  {q.source}{state}",
                  markup=False, soft_wrap=True)  # fmt: skip
        out.print(f"    原因：{q.reason}", markup=False, soft_wrap=True)
        out.print(f"    原始：{raw}", markup=False, soft_wrap=True)
    out.print(
        f"共 {len(records)} 条；处理后：{again('quarantine', '--resolve', 'ID', '--by', '姓名')}", markup=False
    )


FATE_LABELS = {"superseded": "被修改版本取代", "older": "晚到的旧版本（早于现行版本提交）",
               "refused_late": "逾期修改，不予受理"}


@app.command()
def revisions(
    round_code: Annotated[str, typer.Option("--round", help="周期代码（或方案文件）")],
    unit: Annotated[str | None, typer.Option("--unit", help="只看该单位的记录")] = None,
    record_id: Annotated[str | None, typer.Option("--id", help="只看该编号的记录")] = None,
) -> None:
    """查看修改记录：同一记录（按方案的记录标识）修改重报后，现行版本及其以前的各个版本。

    \b
    示例：qcycle revisions --round sc-jbgs-2023 --unit 510100
    """
    from qcycle import crud, db

    try:
        db.require_current()
        with db.session_scope(read_only=True) as session:
            code = _round_code(round_code)
            row = crud.get_round(session=session, code=code)
            if row is None:
                raise NotFoundError(f"没有周期 {code}（先导入或拉取该周期的材料）")
            found = crud.list_revised(session=session, round_id=row.id, unit_code=unit, external_id=record_id)
            named = _names(row)
    except QcycleError as exc:
        raise fail(exc) from None
    if not found:
        out.print("没有修改重报的记录。")
        return
    for current, history in found:
        what = "、".join(x for x in (named("unit", current.unit_code), named("item", current.item_code),
                                      current.period, current.external_id and f"编号 {current.external_id}") if x)
        out.print(f"{named('stage', current.stage)}：{what}（共 {len(history) + 1} 个版本）", markup=False, soft_wrap=True)
        out.print(f"    现行  提交 {current.submitted_at:%Y-%m-%d %H:%M}，收到 {current.received_at:%Y-%m-%d %H:%M}"
                  f"，来源 {current.source}", markup=False, soft_wrap=True)
        for r in history:
            out.print(f"    以前  提交 {r.submitted_at:%Y-%m-%d %H:%M}，收到 {r.received_at:%Y-%m-%d %H:%M}"
                      f"，{FATE_LABELS.get(r.fate, r.fate)}，来源 {r.source}", markup=False, soft_wrap=True)
    out.print(f"共 {len(found)} 条记录有修改", markup=False)


def _names(row: Any) -> Callable[[str, str | None], str | None]:
    """``named(kind, code)``: a stage, unit or item as ops read it, "中期检查（进展报告）（midterm）",
    from the file the round last ran on; the code alone when that file is not kept or no
    longer loads."""
    from qcycle.lifecycle import ran_on

    p = ran_on(row)
    names: dict[str, dict[str, str]] = {"stage": {}, "unit": {}, "item": {}}
    if p is not None:
        names = {"stage": {s.code: s.name for s in p.stages}, "unit": {u.code: u.name for u in p.units},
                 "item": {i.code: i.name for _, i in p.items}}

    def named(kind: str, code: str | None) -> str | None:
        name = names[kind].get(code) if code else None
        return f"{name}（{code}）" if name else code

    return named


def _accept(prefix: str, programme: str | None, by: str) -> None:
    """Put a quarantined conflict in force as a revision of the record it conflicts with."""
    from qcycle import crud, db
    from qcycle.intake.records import accept_conflict
    from qcycle.intake.report import open_round

    if programme is None or not Path(programme).is_file():
        raise UsageError("--accept 需要 --round 给出该周期的方案文件（按其规则受理）")
    try:
        db.upgrade()
        with db.session_scope() as session:
            ctx = open_round(session, Path(programme))
            record = _one_quarantined(session, ctx.round_id, prefix)
            result = accept_conflict(session=session, programme=ctx.loaded.programme, timetable=ctx.timetable,
                                     round_id=ctx.round_id, quarantined=record)
            crud.resolve_quarantine(session=session, record_id=record.id, resolved_by=by)
            crud.audit(session=session, actor=f"cli:{by}", action="quarantine.accept",
                       round_code=ctx.loaded.programme.round.code,
                       detail={"id": str(record.id), "source": record.source, "outcome": result.status,
                               "reason": result.reason})
    except QcycleError as exc:
        raise fail(exc) from None
    out.print(f"已按修改重报处理：{result.reason or result.status}（{by}）", markup=False)


def _one_quarantined(session: Session, round_id: uuid.UUID | None, prefix: str):
    from qcycle import crud

    if len(prefix) < 4:
        raise UsageError("至少给出编号的前 4 位")
    records = crud.list_quarantine(session=session, round_id=round_id, unresolved_only=False)
    matches = [q for q in records if str(q.id).startswith(prefix)]
    if not matches:
        raise NotFoundError(f"编号以 {prefix} 开头的隔离记录没有（应恰好一条）")
    if len(matches) > 1:
        raise UsageError(f"编号以 {prefix} 开头的隔离记录有 {len(matches)} 条（应恰好一条）")
    return matches[0]


def _resolve(session: Session, round_id: uuid.UUID | None, prefix: str, by: str) -> None:
    from qcycle import crud

    record = crud.resolve_quarantine(session=session, record_id=_one_quarantined(session, round_id, prefix).id,
                                     resolved_by=by)
    crud.audit(session=session, actor=f"cli:{by}", action="quarantine.resolve",
               detail={"id": str(record.id), "source": record.source})  # fmt: skip
    out.print(f"已标记为已处理：{record.id}（{by}）", markup=False)
