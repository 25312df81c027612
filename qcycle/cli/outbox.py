"""Outbox commands of ``qcycle``: ``outbox list``, ``outbox retry``, ``outbox cancel``,
``outbox resolve``. The commands that change a message write an audit line (who, what).

Registered on :data:`qcycle.cli.common.app` when :mod:`qcycle.cli` imports this module. They use
the database from settings (``QCYCLE_DATABASE_URL`` or SQLite under ``QCYCLE_HOME``), migrated
first. A message is named by its 编号 as ``outbox list`` shows it (the last 8 hex digits of its
id, :func:`qcycle.crud.short_id`) or by its whole id. Errors end in :func:`qcycle.cli.common.fail`
like every command's: an unknown message or round exits 2, a message whose state does not allow
the change exits 1.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from qcycle.cli.common import again, app, out
from qcycle.errors import NotFoundError, StateError, UsageError

__all__ = ["outbox_app"]

outbox_app = typer.Typer(
    help="消息发件箱：查看、重新排队、取消、核实结果未知的消息。\n\n\b\n示例：qcycle outbox list --status dead",
    no_args_is_help=True,
)
app.add_typer(outbox_app, name="outbox")

from qcycle.models import OUTBOX_STATUSES

STATUSES = OUTBOX_STATUSES  # one list, from the model


def _actor(by: str | None) -> str:
    return f"cli:{by or getpass.getuser()}"


BY = Annotated[str | None, typer.Option("--by", help="经办人（记入审计日志；默认为当前系统用户）")]


def _message(session, ref: str):
    from qcycle.notify.outbox import find_message

    # Every caller changes the message: locked, so a delivery holding it finishes first (PostgreSQL).
    return find_message(session=session, ref=ref, lock=True)  # NotFoundError, or UsageError for too few digits


def _status(status: str) -> str:
    """A status as ops read it (已发送, not sent), as the list shows it."""
    from qcycle.models import OUTBOX_STATUS_LABELS

    return OUTBOX_STATUS_LABELS.get(status, status)


def _round_id(session, code: str | None):
    if code is None:
        return None
    from qcycle import crud

    rnd = crud.get_round(session=session, code=code)
    if rnd is None:
        raise NotFoundError(f"数据库中没有周期 {code}")
    return rnd.id


@outbox_app.command("list")
def list_(
    round_code: Annotated[str | None, typer.Option("--round", help="周期代码，如 sc-jbgs-2023")] = None,
    status: Annotated[str | None, typer.Option(help="状态（代码或中文）：queued 待发送 | sending 发送中 | sent 已发送 | failed 待重试 | dead 已停止重试 | cancelled 已取消 | unknown 结果未知")] = None,
    unit: Annotated[str | None, typer.Option(help="单位代码")] = None,
    channel: Annotated[str | None, typer.Option(help="方案文件中的渠道名称")] = None,
    limit: Annotated[int, typer.Option(min=1, help="最多列出条数（最新的在前）")] = 200,
    offset: Annotated[int, typer.Option(min=0, help="跳过条数（下一页：--offset 200）")] = 0,
) -> None:
    """列出发件箱中的消息（最新的在前）：编号、状态、单位、渠道、尝试次数、下次发送时间、最后错误；
    表头给出符合条件的总数，超过 --limit 时用 --offset 翻页。只读：不会新建或迁移数据库。
    群机器人把发给群内多个单位的相同消息合并为一条发布，渠道一栏注明随哪一条（编号）合并发布。

    \b
    示例：qcycle outbox list --round sc-jbgs-2023 --status dead
          qcycle outbox list --round sc-jbgs-2023 --limit 200 --offset 200
    """
    from qcycle import db

    # Not qcycle.notify.outbox: listing needs no channel code (apprise, httpx), and starts faster.
    from qcycle.crud import count_messages, list_messages, short_id, unit_fields
    from qcycle.models import OUTBOX_STATUS_LABELS as STATUS_LABELS

    status = {label: code for code, label in STATUS_LABELS.items()}.get(status, status)  # the table's own words too
    if status is not None and status not in STATUSES:
        raise UsageError(f"状态只能是 {' | '.join(f'{code}（{STATUS_LABELS[code]}）' for code in STATUSES)}")
    db.require_current()
    with db.session_scope(read_only=True) as session:
        round_id = _round_id(session, round_code)
        total = count_messages(session=session, round_id=round_id, status=status, unit=unit, channel=channel)
        rows = list_messages(session=session, round_id=round_id, status=status, unit=unit, channel=channel,
                             limit=limit, offset=offset)
        # Units by name, as ops know them (the code stays: --unit takes it).
        names = {rid: {code: f[0] for code, f in unit_fields(session=session, round_id=rid).items()}
                 for rid in {r.round_id for r in rows}}
        shown = f"第 {offset + 1}–{offset + len(rows)} 条，共 {total} 条" if rows else f"共 {total} 条"
        table = Table(title=f"发件箱（{shown}）")
        for name in ("编号", "状态", "单位", "渠道", "日期", "尝试", "下次发送", "标题", "最后错误"):
            table.add_column(name, overflow="fold")
        for r in rows:
            waiting = r.status in ("queued", "failed") and r.next_attempt_at is not None
            name = names[r.round_id].get(r.unit_code)
            table.add_row(short_id(r.id), _status(r.status),
                          f"{name}（{r.unit_code}）" if name else r.unit_code,
                          # A group post carries several units' rows: which post, by its first row.
                          f"{r.channel}（随 {short_id(r.posted_with)} 群内合并发布）" if r.posted_with else r.channel,
                          r.logical_date.isoformat(),
                          # A long bot message that has come part way: how many of its posts arrived.
                          f"{r.attempts}（已送达{r.parts_sent}条）" if r.parts_sent and r.status != "sent" else str(r.attempts),
                          f"{r.next_attempt_at:%Y-%m-%d %H:%M}" if waiting else "", r.subject,
                          (r.last_error or "")[:120])
    out.print(table)
    if offset + len(rows) < total:
        filters = [x for name, value in (("--round", round_code), ("--status", status), ("--unit", unit),
                                         ("--channel", channel)) if value for x in (name, value)]
        more = again("outbox", "list", *filters, *(["--limit", limit] if limit != 200 else []),
                     "--offset", offset + len(rows))
        out.print(f"还有 {total - offset - len(rows)} 条：{more}", markup=False)


@outbox_app.command("retry")
def retry(
    message: Annotated[str | None, typer.Argument(help="消息编号（列表所示的 8 位）或完整 ID")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="重新排队全部已停止重试（dead）的消息（发送失败汇总除外）")] = False,
    round_code: Annotated[str | None, typer.Option("--round", help="与 --all-dead 一起使用：只限该周期")] = None,
    by: BY = None,
) -> None:
    """把失败或已停止重试的消息重新排队（尝试次数清零），下次投递时发送。

    \b
    示例：qcycle outbox retry 1a2b3c4d
    示例：qcycle outbox retry --all-dead --round sc-jbgs-2023
    """
    from qcycle import db
    from qcycle.crud import short_id
    from qcycle.notify.outbox import DIGEST_ACTION, list_messages, requeue_message

    if (message is None) == (not all_dead):
        raise UsageError("请给出一个消息编号，或使用 --all-dead（二者选一）")
    db.upgrade()
    digests = 0
    with db.session_scope() as session:
        if all_dead:
            rows = list_messages(session=session, round_id=_round_id(session, round_code), status="dead",
                                 limit=1_000_000)
            # A failure digest tells of failures as they stood then: sent again with the messages it
            # lists, it reported them failed once more while they were being retried. Each retried
            # message that fails again is in the next run's own digest.
            stale = [r for r in rows if r.action.startswith(DIGEST_ACTION)]
            digests, rows = len(stale), [r for r in rows if r not in stale]
        else:
            rows = [_message(session, message)]
        done = sum(requeue_message(session=session, row=r, actor=_actor(by)) for r in rows)
        if not all_dead and not done:
            raise StateError(f"消息 {short_id(rows[0].id)} 状态为{_status(rows[0].status)}，不能重新排队")
    skipped = (f"（另有 {digests} 份发送失败汇总未重新排队：汇总的是当时的失败情况；重发的消息如再失败，"
               "下次投递会另发新的汇总）") if digests else ""
    out.print(f"已重新排队 {done} 条消息{skipped}", markup=False)


@outbox_app.command("cancel")
def cancel(
    message: Annotated[str, typer.Argument(help="消息编号（列表所示的 8 位）或完整 ID")],
    by: BY = None,
) -> None:
    """取消一条尚未发出的消息（排队中、待重试、已停止重试，或结果未知而核实后无需再发）。

    \b
    示例：qcycle outbox cancel 1a2b3c4d --by 张三
    """
    from qcycle import db
    from qcycle.crud import short_id
    from qcycle.notify.outbox import cancel_message

    db.upgrade()
    with db.session_scope() as session:
        row = _message(session, message)
        if not cancel_message(session=session, row=row, actor=_actor(by)):
            raise StateError(f"消息 {short_id(row.id)} 状态为{_status(row.status)}，不能取消")
    out.print(f"已取消消息 {short_id(row.id)}", markup=False)


@outbox_app.command("resolve")
def resolve(
    message: Annotated[str, typer.Argument(help="消息编号（列表所示的 8 位）或完整 ID")],
    delivered: Annotated[bool | None, typer.Option(
        "--delivered/--not-delivered",
        help="核实结果：--delivered 对方已收到（记为已发送，不再发送；分条发送的长消息，其后各条重新排队）；"
             "--not-delivered 未收到（重新排队，下次投递时发送）")] = None,
    by: BY = None,
    note: Annotated[str, typer.Option(help="核实情况（记入审计日志），如：电话确认已收到")] = "",
) -> None:
    """核实一条"结果未知"的消息：投递时进程中断，请求已发出但没有收到结果，可能已送达。
    向收件单位核实后，用 --delivered 或 --not-delivered 关闭它；审计日志记下经办人和结论。

    \b
    示例：qcycle outbox list --status unknown
          qcycle outbox resolve 1a2b3c4d --not-delivered --by 张三 --note "电话核实未收到"
    """
    from qcycle import db
    from qcycle.crud import short_id
    from qcycle.notify.outbox import resolve_unknown

    if delivered is None:
        raise UsageError("请给出核实结果：--delivered（已送达）或 --not-delivered（未送达，重发）")
    db.upgrade()
    with db.session_scope() as session:
        row = _message(session, message)
        resolve_unknown(session=session, row=row, delivered=delivered, actor=_actor(by), note=note)  # StateError
        short, sent, said = short_id(row.id), row.status == "sent", row.last_error
    # A long message whose post that was out arrived, with more after it: queued for the rest, not sent.
    out.print(f"消息 {short} 已记为已发送（核实已送达）" if sent else f"消息 {short} 已重新排队，下次投递时发送（{said}）",
              markup=False)
