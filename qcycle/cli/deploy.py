"""``qcycle serve``, ``qcycle deploy`` and ``qcycle backfill``: running rounds on schedules.

Registered on :data:`qcycle.cli.common.app` when :mod:`qcycle.cli` imports this module.
"""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer

from qcycle.cli.common import app, err, fail, out
from qcycle.errors import QcycleError

__all__ = ["backfill", "backfill_moments", "deploy", "serve", "server"]


def _extra_slots(values: list[str] | None) -> list[tuple[dt.timedelta, dt.datetime]]:
    from qcycle import clock

    slots = []
    for value in values or []:
        seconds, _, as_of = value.partition("=")
        try:
            slots.append((dt.timedelta(seconds=float(seconds)),
                          clock.to_local(dt.datetime.fromisoformat(as_of))))
        except ValueError:
            raise typer.BadParameter(f"{value!r}：应为 秒数=逻辑时间，如 20=2023-04-03T09:00") from None
    return slots


@app.command()
def serve(
    files: Annotated[list[Path] | None, typer.Argument(help="方案文件（默认：config/programmes/*.yaml）")] = None,
    limit: Annotated[int | None, typer.Option(help="同时运行的流程数上限")] = None,
    extra_slot: Annotated[list[str] | None, typer.Option(
        hidden=True, help="test only: SECONDS=AS_OF, a one-shot run SECONDS after the schedules are built, for logical time AS_OF")] = None,
) -> None:
    """在本进程中按日程运行全部方案（每个动作时间一次对账，另有工作日 09:05、17:35 兜底对账）。

    先迁移应用数据库；停止进程不会暂停日程，再次启动时替换为方案文件的最新日程，停机期间错过的动作由兜底对账补做。

    \b
    示例：qcycle serve
          qcycle serve config/programmes/sc-jbgs-2023.yaml
    """
    from qcycle.deploy.deployments import serve as run

    try:
        run(files or [], extra_slots=_extra_slots(extra_slot), limit=limit)
    except QcycleError as exc:
        raise fail(exc) from None


@app.command()
def server(
    host: Annotated[str | None, typer.Option(help="监听地址（默认 PREFECT_SERVER_API_HOST）")] = None,
    port: Annotated[int | None, typer.Option(help="端口（默认 PREFECT_SERVER_API_PORT，即 4200）")] = None,
) -> None:
    """启动 Prefect 服务（接口与运行记录界面），代替 prefect server start。

    即 Prefect 自带的服务，在本进程中启动，只有一处不同：使用 SQLite 时每个事务都以
    IMMEDIATE 开始，写入方排队等待，而不会报 "database is locked"（以及客户端随之而来的
    2–16 秒重试）。使用 PostgreSQL 时与 `prefect server start` 完全相同。

    \b
    示例：qcycle server
          qcycle server --host 0.0.0.0 --port 4200
    """
    from prefect.cli.server import start

    from qcycle.deploy.server import use_serial_sqlite

    if use_serial_sqlite():
        err.print("Prefect 数据库为 SQLite：事务一律 BEGIN IMMEDIATE，写入依次进行，不再报 database is locked")
    start(host=host, port=port)


@app.command()
def deploy(
    files: Annotated[list[Path] | None, typer.Argument(help="方案文件（默认：config/programmes/*.yaml）")] = None,
    pool: Annotated[str, typer.Option(help="运行流程的工作池（process 类型）")] = "qcycle",
) -> None:
    """把方案部署到工作池（由 `prefect worker start --pool POOL` 执行），日程来自方案的时间表；每次部署替换旧日程。

    \b
    示例：qcycle deploy --pool qcycle
          qcycle deploy config/programmes/sc-jbgs-2023.yaml --pool qcycle
    """
    from qcycle.deploy.deployments import apply

    try:
        for name, n in apply(files or [], pool):
            out.print(f"已部署：{name}（{n} 个日程，工作池 {pool}）", markup=False)
    except QcycleError as exc:
        raise fail(exc) from None


def backfill_moments(file: Path, start: dt.date, end: dt.date) -> list[dt.datetime]:
    """The distinct action times of the round from ``start`` to ``end`` (both days included),
    units' own deadlines (extensions) included once the round has run."""
    from qcycle import crud, db
    from qcycle.lifecycle import round_timetable
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import default_calendar

    loaded = load_programme(file)
    timetable = expand(loaded.programme, default_calendar())
    try:
        db.require_current()  # never creates a database
    except QcycleError:
        return sorted({a.at for a in timetable.actions if start <= a.at.date() <= end})
    with db.session_scope(read_only=True) as session:
        row = crud.get_round(session=session, code=loaded.programme.round.code)
        if row is not None:
            timetable = round_timetable(session, loaded.programme, row.id)
    return sorted({a.at for a in timetable.actions if start <= a.at.date() <= end})


@app.command()
def backfill(
    file: Annotated[Path, typer.Argument(help="方案文件")],
    start: Annotated[dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="起始日")],
    end: Annotated[dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="结束日（含当日）")],
    channel: Annotated[str | None, typer.Option(help="全部消息改由此渠道发送，如 sink")] = None,
    deliver: Annotated[bool, typer.Option("--deliver/--no-deliver", help="发送排队中的消息")] = True,
) -> None:
    """补跑一段日期：按时间顺序，在这段日期内日程表的每个动作时间各运行一次对账（与定时运行相同的逻辑时间）。

    以这段日期内日程表的每个动作时间为逻辑时间，按顺序各对账一次（不是每个日历日一次）：
    每条提醒都按它自己那天判断，与定时运行时一样。

    \b
    示例：qcycle backfill config/programmes/sc-jbgs-2023.yaml --from 2023-04-01 --to 2023-04-30 --channel sink
    """
    from qcycle import db
    from qcycle.deploy.server import embedded_api
    from qcycle.flows.lifecycle import reconcile

    try:
        db.upgrade()  # a command that writes migrates a fresh database itself
        moments = backfill_moments(file, start.date(), end.date())
        if not moments:
            out.print(f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d} 没有日程动作", markup=False)
            return
        with embedded_api():
            for moment in moments:
                summary = reconcile(programme_file=str(file.resolve()), as_of=moment, deliver=deliver,
                                    channel_override=channel, actor=f"cli:backfill:{getpass.getuser()}")
                out.print(f"{moment:%Y-%m-%d %H:%M} 完成 {len(summary['done'])} 项，跳过 {len(summary['skipped'])} 项",
                          markup=False)
    except QcycleError as exc:
        raise fail(exc) from None
    err.print(f"补跑完成：{len(moments)} 个时间点")
