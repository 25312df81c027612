"""The outbox against real servers on 127.0.0.1: idempotent queuing, merged reminders, truthful
results, retries, dead letters, the ops digest, office hours, scale and a kill mid-fan-out."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from qcycle import clock, crud, db
from qcycle.clock import at
from qcycle.models import OutboxMessage
from qcycle.notify import outbox as outbox_mod
from qcycle.notify.outbox import (
    OfficeHours,
    deliver_due,
    next_send_time,
    queue_drafts,
    requeue_message,
)
from qcycle.settings import get_settings
from qcycle.workcal import WorkCalendar
from tests.notify.outbox_helpers import (
    DAY,
    PLAIN_TEMPLATE,
    kill_worker_midway,
    plain,
    reminder,
    round_id,
    template_dir,
    write_programme,
)

REPO = Path(__file__).resolve().parent.parent.parent
NOON = at(DAY, dt.time(10))


pytestmark = pytest.mark.usefixtures("home_db")  # a fresh migrated database per test


def _rows(**where) -> list[OutboxMessage]:
    with db.session_scope() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at)
        for k, v in where.items():
            query = query.where(getattr(OutboxMessage, k) == v)
        return list(session.exec(query).all())


def _queue(loaded, drafts, rid=None) -> int:
    rid = rid or round_id(loaded)
    with db.session_scope() as session:
        return queue_drafts(session=session, programme=loaded.programme, round_id=rid, drafts=drafts,
                            template_dir=template_dir(loaded))


def _sink_programme(tmp_path, n_units=2, **kw):
    return write_programme(tmp_path / "prog", channels=[{"name": "sink", "kind": "sink"}],
                           units=[{"code": f"c{i}", "name": f"{i}号市局", "channels": ["sink"]}
                                  for i in range(1, n_units + 1)], **kw)


def _bot_programme(tmp_path, botserver, monkeypatch, n_bots=1, n_units=1, rate_per_minute=1_000_000,
                   units_per_bot=None, **kw):
    # Unpaced unless a test paces it: WeCom's own 20 a minute had each test of failures wait 3 s a post.
    channels = []
    for b in range(n_bots):
        monkeypatch.setenv(f"QC_TEST_BOT{b}", f"qwecom://{_key(tmp_path, b)}?base={botserver.base}")
        channels.append({"name": f"bot{b}", "kind": "wecom", "url": f"env:QC_TEST_BOT{b}",
                         **({"rate_per_minute": rate_per_minute[b] if isinstance(rate_per_minute, list)
                             else rate_per_minute} if rate_per_minute else {})})
    units = [{"code": f"c{i}", "name": f"{i}号市局", "channels": [f"bot{i % n_bots}"]} for i in range(n_units)]
    return write_programme(tmp_path / "prog", channels=channels, units=units, **kw)


def _key(tmp_path, b: int) -> str:
    """A bot key of this test's own: the process-wide rate limiter remembers endpoints."""
    return f"botkey{b}-{abs(hash(str(tmp_path))) % 10**8}"


# ---------------------------------------------------------------- queuing and rendering


def test_queuing_the_same_message_twice_stores_it_once(tmp_path):
    loaded = _sink_programme(tmp_path)
    drafts = [reminder(loaded, "c1"), reminder(loaded, "c2"), plain("c1", 1)]
    loaded_t = _sink_programme(tmp_path, templates={"plain.j2": PLAIN_TEMPLATE})
    assert _queue(loaded_t, drafts) == 3
    assert _queue(loaded_t, drafts) == 0
    assert _queue(loaded_t, drafts[:1] + drafts[:1]) == 0
    rows = _rows()
    assert len(rows) == 3
    assert len({r.idempotency_key for r in rows}) == 3
    c1 = next(r for r in rows if r.unit_code == "c1" and r.merge_items)
    # The Chinese template, with Chinese dates.
    assert c1.subject == "【提醒】测试用小周期：揭榜书将于2023年4月14日截止"
    assert "贵单位应于2023年4月14日（星期五）17:30前提交揭榜书" in c1.body


def test_a_programme_can_override_a_template(tmp_path):
    override = ("{% block subject %}【本地提醒】{{ unit_name }}：{{ item }}{% endblock %}"
                "{% block body %}请于{{ deadline|cn_date }}前办理。{% endblock %}")
    loaded = _sink_programme(tmp_path, templates={"reminder.j2": override})
    _queue(loaded, [reminder(loaded, "c1")])
    (row,) = _rows()
    assert (row.subject, row.body) == ("【本地提醒】1号市局：揭榜书", "请于2023年4月14日前办理。")


def test_reminders_of_one_unit_and_day_are_merged_and_rerendered_while_queued(tmp_path):
    loaded = _sink_programme(tmp_path)
    rid = round_id(loaded)
    # One call: a reminder and an overdue notice for c1 become one message per channel.
    assert _queue(loaded, [reminder(loaded, "c1"), reminder(
        loaded, "c1", key="progress:overdue", template="overdue.j2", item="进展报告", days_overdue=2),
        reminder(loaded, "c2")], rid) == 3
    rows = _rows(unit_code="c1")
    assert len(rows) == 1
    assert rows[0].subject == "【提醒】测试用小周期：2项事项待办理（其中1项已逾期）"  # which work, and that one is late
    assert "揭榜书" in rows[0].body and "进展报告" in rows[0].body and "已逾期2个工作日" in rows[0].body
    # A later call the same day merges into the still-queued row and re-renders it.
    assert _queue(loaded, [reminder(loaded, "c1", key="evaluation:reminder:T-1", item="评价确认申请")], rid) == 1
    (row,) = _rows(unit_code="c1")
    assert row.subject == "【提醒】测试用小周期：3项事项待办理（其中1项已逾期）" and "评价确认申请" in row.body
    assert row.action.split("+") == ["application:reminder:T-1", "progress:overdue", "evaluation:reminder:T-1"]
    # Queuing any of them again changes nothing.
    assert _queue(loaded, [reminder(loaded, "c1")], rid) == 0
    # Once sent, a new reminder that day goes in a continuation row; the sent one is untouched.
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert report.sent == 2
    assert _queue(loaded, [reminder(loaded, "c1", key="rectify:reminder:T-1", item="整改报告")], rid) == 1
    rows = _rows(unit_code="c1")
    assert [r.status for r in rows] == ["sent", "queued"]
    assert rows[1].idempotency_key.endswith("|reminders|c1|sink|2023-04-13#2")
    assert "整改报告" in rows[1].subject and "整改报告" not in rows[0].body


def test_a_units_reminders_sent_one_by_one_go_on_in_continuation_rows_past_any_number(tmp_path):
    """Each reminder queued after the day's last one was sent starts the next row (#2, #3, …):
    the rows are found in blocks of continuation keys, and none is lost or overwritten past
    the first block of eight."""
    loaded = _sink_programme(tmp_path)
    rid = round_id(loaded)
    for n in range(1, 13):
        assert _queue(loaded, [reminder(loaded, "c1", key=f"step{n}:reminder:T-1", item=f"材料{n}")], rid) == 1
        assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 1
    rows = _rows(unit_code="c1")
    assert [r.idempotency_key.rpartition("2023-04-13")[2] for r in rows] == ["", *(f"#{n}" for n in range(2, 13))]
    assert [f"材料{n}" in r.body for n, r in enumerate(rows, 1)] == [True] * 12 and {r.status for r in rows} == {"sent"}
    # The same reminders again: each is known, in whichever row it went.
    assert _queue(loaded, [reminder(loaded, "c1", key=f"step{n}:reminder:T-1", item=f"材料{n}") for n in (1, 9, 12)],
                  rid) == 0


def test_a_claim_reads_the_rounds_unsent_rows_only(tmp_path):
    """A round's outbox keeps every message it sent; a claim must not read them all again at
    every delivery pass (it read each sent row of the round: 7.6 ms a pass at 51,000 rows)."""
    from sqlalchemy import event

    from qcycle import crud

    loaded = _sink_programme(tmp_path)
    rid = round_id(loaded)
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, *args):
        if "FROM outbox_message" in statement and "ORDER BY outbox_message.created_at" in statement:
            seen.append((statement, parameters))

    engine = db.get_engine()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with db.session_scope() as session:
            crud.claimable_messages(session=session, round_id=rid, now=NOON, holders_gone=["gone:1:x"],
                                    stale_before=NOON, limit=10)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    ((statement, parameters),) = seen
    with engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
    assert "ix_outbox_message_round_status (round_id=? AND status=?)" in plan, plan


def test_merged_reminders_all_overdue_are_headed_as_overdue(tmp_path):
    """44 national digests of overdue notices came headed 【提醒】: a unit's letters of the day, all past their
    deadlines, are an 【逾期提醒】."""
    loaded = _sink_programme(tmp_path)
    late = [reminder(loaded, "c1", key=f"{stage}:overdue", template="overdue.j2", item=item, days_overdue=2)
            for stage, item in (("progress", "进展报告"), ("evaluation", "评价确认申请"))]
    assert _queue(loaded, late, round_id(loaded)) == 2
    (row,) = _rows(unit_code="c1")
    assert row.subject == "【逾期提醒】测试用小周期：2项事项待办理", row.subject


def test_a_moved_deadline_notice_is_merged_with_the_units_reminders_of_that_day(tmp_path):
    loaded = _sink_programme(tmp_path)
    rid = round_id(loaded)
    moved = clock.at(dt.date(2023, 4, 28), dt.time(17, 30))
    notice = reminder(loaded, "c1", key="application:window_open@2023-04-28", template="deadline_moved.j2",
                      deadline=moved, moved_from=dt.date(2023, 4, 14), working_days_left=10, today=DAY)
    other = reminder(loaded, "c1", key="progress:reminder:T-1", item="进展报告", today=DAY)
    assert _queue(loaded, [notice, reminder(loaded, "c2", template="deadline_moved.j2", deadline=moved,
                                            moved_from=dt.date(2023, 4, 14), today=DAY)], rid) == 2
    assert _queue(loaded, [other], rid) == 1
    (row,) = _rows(unit_code="c1")
    assert row.subject == "【提醒】测试用小周期：2项事项待办理"
    assert "进展报告，截止2023年4月14日（星期五）17:30，还有1个工作日" in row.body
    assert "揭榜书，截止时间由2023年4月14日延长至2023年4月28日（星期五）17:30，还有10个工作日" in row.body
    assert row.body.index("进展报告") < row.body.index("延长至")  # by deadline
    # Alone, the notice is its own letter.
    (alone,) = _rows(unit_code="c2")
    assert alone.subject.startswith("【截止时间调整】") and "贵单位尚未提交" in alone.body


# ---------------------------------------------------------------- truthful results, retries


def test_http_200_with_rate_limit_errcode_is_retried_in_a_later_run_with_backoff(
        tmp_path, botserver, monkeypatch):
    monkeypatch.setenv("QCYCLE_NOTIFY_BACKOFF_BASE_SECONDS", "600")
    get_settings.cache_clear()
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c0", 1)], rid)
    # HTTP 200 {"errcode": 45009}: rate limited. The service's wait is longer than a run waits.
    botserver.behave("ratelimit", retry_after=0)
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    botserver.behave_for(_key(tmp_path, 0), "ratelimit")
    assert report.sent == 0 and report.dead == 0 and report.failed >= 1
    (row,) = _rows(action="kill:1")
    assert row.status == "failed" and row.attempts == 1 and "45009" in row.last_error
    wait = (row.next_attempt_at - NOON).total_seconds()
    assert 300 <= wait <= 600  # first step of the backoff, jittered
    # Not due before then; due afterwards, and the bot now answers ok. (The process-wide limiter
    # holds the bot for the service's wait in real seconds; minutes pass between runs in life.)
    from qcycle.notify.ratelimit import RateLimiter

    monkeypatch.setattr("qcycle.notify.deliver.DEFAULT_LIMITER", RateLimiter())
    botserver.behave_for(_key(tmp_path, 0), "ok")
    botserver.behave("ok")
    deliver_due(programme=loaded.programme, round_id=rid, now=NOON + dt.timedelta(seconds=wait - 1))
    assert _rows(action="kill:1")[0].status == "failed"
    later = deliver_due(programme=loaded.programme, round_id=rid, now=NOON + dt.timedelta(seconds=wait))
    (row,) = _rows(action="kill:1")
    assert later.sent >= 1 and row.status == "sent" and row.attempts == 2


def test_errcode_that_retrying_cannot_fix_is_dead_at_once(tmp_path, botserver, monkeypatch):
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c0", 1)], rid)
    botserver.behave("errcode")  # HTTP 200 {"errcode": 93000, invalid webhook url}
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert report.sent == 0 and report.dead >= 1  # the issuer's digest shares the broken bot
    msg = next(r for r in _rows() if r.action == "kill:1")
    assert msg.status == "dead" and "93000" in msg.last_error


def test_dead_letter_after_configured_attempts_and_one_digest_per_run_to_the_issuer(
        tmp_path, botserver, monkeypatch):
    monkeypatch.setenv("QCYCLE_NOTIFY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("QCYCLE_NOTIFY_BACKOFF_BASE_SECONDS", "60")
    get_settings.cache_clear()
    # Units on bot1, which always fails; the issuer (ops) reads bot0.
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, n_bots=2, n_units=4, rate_per_minute=100_000,
                            templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c1", 1), plain("c3", 2)], rid)
    botserver.behave_for(_key(tmp_path, 1), "500")
    now = NOON
    for run in range(3):
        report = deliver_due(programme=loaded.programme, round_id=rid, now=now)
        assert report.failed + report.dead == 2
        assert report.digests == 1  # one digest per run that saw failures
        now += dt.timedelta(hours=3)
    msgs = [r for r in _rows() if r.action.startswith("kill:")]
    assert [(m.status, m.attempts) for m in msgs] == [("dead", 3), ("dead", 3)]
    assert all("HTTP 500" in m.last_error for m in msgs)
    digests = [r for r in _rows() if r.action.startswith("ops_digest")]
    assert len(digests) == 3 and {d.unit_code for d in digests} == {"p"} and {d.status for d in digests} == {"sent"}
    last = digests[-1]
    assert last.subject == "【发送失败汇总】2023年4月13日：2条消息未送达"
    assert "已停止重试" in last.body and "HTTP 500" in last.body and "1号市局" in last.body
    ops = [r for r in botserver.requests_for(_key(tmp_path, 0))]
    assert len(ops) == 3
    # A rerun with nothing due sends no digest; the same failures are never reported twice.
    assert deliver_due(programme=loaded.programme, round_id=rid, now=now).digests == 0


def test_a_failing_digest_never_produces_another_digest(tmp_path, botserver, monkeypatch):
    monkeypatch.setenv("QCYCLE_NOTIFY_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c0", 1)], rid)
    botserver.behave("500")  # everything fails, the issuer's bot included
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert report.digests == 1 and report.dead == 2
    again = deliver_due(programme=loaded.programme, round_id=rid, now=NOON + dt.timedelta(hours=1))
    assert again.digests == 0
    assert sum(r.action.startswith("ops_digest") for r in _rows()) == 1


def test_retrying_all_dead_messages_leaves_the_stale_failure_digest(tmp_path, botserver, monkeypatch):
    """`outbox retry --all-dead` after an outage queued the digest of that outage again: ops were
    told the retried messages had failed while they were being sent. The digest stays dead; a
    retried message that fails again is in the next run's own digest."""
    from typer.testing import CliRunner

    from qcycle.cli import app

    monkeypatch.setenv("QCYCLE_NOTIFY_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c0", 1)], rid)
    botserver.behave("500")
    deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert {(r.action.split(":")[0], r.status) for r in _rows()} == {("kill", "dead"), ("ops_digest", "dead")}
    result = CliRunner().invoke(app, ["outbox", "retry", "--all-dead"])
    assert result.exit_code == 0, result.output
    assert "已重新排队 1 条消息" in result.output and "1 份发送失败汇总未重新排队" in result.output
    assert {(r.action.split(":")[0], r.status) for r in _rows()} == {("kill", "queued"), ("ops_digest", "dead")}
    botserver.behave("ok")
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON + dt.timedelta(hours=1)).sent == 1


def test_programme_rate_per_minute_paces_one_bot_without_serialising_the_fan_out(
        tmp_path, botserver, monkeypatch):
    # bot0: 80 a minute (bursts of 20, then 1 a second); bot1: effectively unlimited. The slow
    # bot's messages are queued first: a serial fan-out would hold the fast bot's behind them.
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, n_bots=2, n_units=2,
                            rate_per_minute=[80, 60000], templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c0", n) for n in range(22)] + [plain("c1", 22 + n) for n in range(10)], rid)
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert report.sent == 32
    slow = [r.at for r in botserver.requests_for(_key(tmp_path, 0))]
    fast = [r.at for r in botserver.requests_for(_key(tmp_path, 1))]
    assert (len(slow), len(fast)) == (22, 10)
    assert slow[-1] - slow[0] >= 1.5  # the 2 past the burst, 1 a second (unpaced: ~0.1 s)
    # The fast bot did not wait: it started with the slow one and was done long before the
    # slow one's paced messages (a margin of a second and more, whatever the machine's load).
    assert abs(fast[0] - slow[0]) < 0.5 and fast[-1] < slow[-1] - 0.5


# ---------------------------------------------------------------- office hours


@pytest.mark.parametrize(("when", "deadline", "expected"), [
    (at(DAY, dt.time(10)), None, at(DAY, dt.time(10))),  # Thursday 10:00: now
    (at(DAY, dt.time(7)), None, at(DAY, dt.time(9))),  # before opening: today 09:00
    (at(DAY, dt.time(18)), None, at(dt.date(2023, 4, 14), dt.time(9))),  # after closing: tomorrow
    (at(dt.date(2023, 4, 15), dt.time(10)), None, at(dt.date(2023, 4, 17), dt.time(9))),  # Saturday
    (at(dt.date(2023, 4, 22), dt.time(10)), None, at(dt.date(2023, 4, 23), dt.time(9))),  # Sunday 4-23 is a 调休 workday
    (at(DAY, dt.time(19)), at(DAY, dt.time(20)), at(DAY, dt.time(19))),  # deadline today: until then
    (at(DAY, dt.time(20, 30)), at(DAY, dt.time(20)), at(dt.date(2023, 4, 14), dt.time(9))),  # deadline passed
])
def test_next_send_time_follows_working_days_and_office_hours(when, deadline, expected):
    got = next_send_time(when, deadline=deadline, hours=OfficeHours.parse("09:00-17:30"),
                         calendar=WorkCalendar(), deadline_exception=True)
    assert got == expected


def test_reminders_outside_office_hours_wait_for_the_next_slot_unless_due_today(tmp_path, monkeypatch):
    monkeypatch.setenv("QCYCLE_OFFICE_HOURS", "09:00-17:30")
    get_settings.cache_clear()
    loaded = _sink_programme(tmp_path, n_units=3, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    evening = at(DAY, dt.time(19))
    today_deadline = at(DAY, dt.time(23, 59))
    _queue(loaded, [reminder(loaded, "c1"),  # deadline tomorrow: waits
                    reminder(loaded, "c2", deadline=today_deadline, working_days_left=0),  # today: goes
                    plain("c3", 1)], rid)  # not a reminder: not held
    report = deliver_due(programme=loaded.programme, round_id=rid, now=evening)
    assert (report.sent, report.deferred) == (2, 1)
    held = _rows(unit_code="c1", status="queued")
    assert len(held) == 1 and held[0].attempts == 0
    assert held[0].next_attempt_at == at(dt.date(2023, 4, 14), dt.time(9))
    # Nothing is sent before the slot; at the slot it goes.
    assert deliver_due(programme=loaded.programme, round_id=rid, now=at(DAY, dt.time(23))).sent == 0
    assert deliver_due(programme=loaded.programme, round_id=rid,
                       now=at(dt.date(2023, 4, 14), dt.time(9))).sent == 1


def test_a_units_later_letter_waits_behind_its_reminder_held_for_office_hours(tmp_path, monkeypatch):
    """A run caught up at night queues a unit's 逾期提醒 (held for office hours) and then its 督办:
    the 督办 went at once and the notice it follows only the next morning. Now it waits with it;
    a letter to another unit, or one written before the held reminder, still goes."""
    monkeypatch.setenv("QCYCLE_OFFICE_HOURS", "09:00-17:30")
    get_settings.cache_clear()
    loaded = _sink_programme(tmp_path, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c1", 0)], rid)  # written before the reminder
    _queue(loaded, [reminder(loaded, "c1")], rid)
    _queue(loaded, [plain("c1", 1), plain("c2", 2)], rid)  # after it: c1's waits, c2's goes
    evening = at(DAY, dt.time(19))
    report = deliver_due(programme=loaded.programme, round_id=rid, now=evening)
    assert (report.sent, report.deferred) == (2, 2)
    slot = at(dt.date(2023, 4, 14), dt.time(9))
    waiting = _rows(unit_code="c1", status="queued")
    assert len(waiting) == 2 and {r.next_attempt_at for r in waiting} == {slot}
    # A later pass the same night still holds the letter behind the reminder it held before.
    assert deliver_due(programme=loaded.programme, round_id=rid, now=at(DAY, dt.time(22))).sent == 0
    assert len(_rows(unit_code="c1", status="sent")) == 1  # the letter written before the reminder
    assert deliver_due(programme=loaded.programme, round_id=rid, now=slot).sent == 2
    assert len(_rows(unit_code="c1", status="sent")) == 3


# ---------------------------------------------------------------- scale


def test_three_thousand_messages_are_a_few_batches_with_bounded_concurrency(tmp_path, monkeypatch):
    loaded = _sink_programme(tmp_path, n_units=30, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    started = time.perf_counter()
    assert _queue(loaded, [plain(f"c{n % 30 + 1}", n) for n in range(3000)], rid) == 3000
    queued = time.perf_counter() - started
    calls = []
    real = outbox_mod.deliver_batch

    def counting(messages, **kw):
        calls.append((len(messages), kw["max_workers"]))
        return real(messages, **kw)

    monkeypatch.setattr(outbox_mod, "deliver_batch", counting)
    started = time.perf_counter()
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON, max_workers=4)
    delivered = time.perf_counter() - started
    assert report.sent == 3000 and report.failed == report.dead == 0
    assert [n for n, _ in calls] == [2000, 1000] and {w for _, w in calls} == {4}
    assert len(list((tmp_path / "home" / "sink").glob("*.json"))) == 3000
    assert {r.status for r in _rows()} == {"sent"}
    print(f"\n3,000 messages: queued in {queued:.1f}s, delivered in {delivered:.1f}s")


# ---------------------------------------------------------------- kill mid-fan-out


MSG_ID = re.compile(r"MSG-(\d+)")


def _kill_mid_fan_out(tmp_path, botserver, monkeypatch, n_bots=4, total=200):
    """A subprocess delivers ``total`` messages to ``n_bots`` slow bots and is SIGKILLed
    midway; returns (loaded, requests received at the kill, the logical time it ran as of)."""
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, n_bots=n_bots, n_units=8,
                            rate_per_minute=1_000_000, templates={"plain.j2": PLAIN_TEMPLATE})
    botserver.behave("slow", delay=0.05)
    now = at(DAY, dt.time(10))
    kill_worker_midway(loaded, botserver, total, now, total // 3)
    at_kill = len(botserver.received)
    assert at_kill < total, "the fan-out finished before the kill: slow the stand-in down"
    statuses = Counter(r.status for r in _rows())
    assert statuses["sending"] > 0 and statuses["sent"] >= at_kill - n_bots
    botserver.behave("ok")
    return loaded, at_kill, now


def _whole(botserver) -> list[str]:
    """The text of each request that arrived whole. The kill can cut a request after its headers
    (its body empty or partial): a bot API refuses that one, and no message arrives."""
    return [r.payload["text"]["content"] for r in botserver.received if isinstance(r.payload, dict)]


def _arrivals(botserver) -> Counter:
    """Numbered test messages received, by number (the ops digest carries no number)."""
    everything = Counter()
    for text in _whole(botserver):
        for n in set(MSG_ID.findall(text)):
            everything[int(n)] += 1
    return everything


def _digests(botserver) -> list[str]:
    return [text for text in _whole(botserver) if not MSG_ID.search(text)]


def _number(row) -> int:
    (n,) = set(MSG_ID.findall(f"{row.subject}\n{row.body}"))
    return int(n)


def test_killed_mid_fan_out_nothing_is_lost_and_nothing_arrives_twice(tmp_path, botserver, monkeypatch):
    n_bots, total = 4, 200
    loaded, at_kill, same = _kill_mid_fan_out(tmp_path, botserver, monkeypatch, n_bots, total)
    left = sum(1 for r in _rows() if r.status == "sending")

    # A rerun at the same as-of, seconds later, takes over the dead process's leases: it sends
    # every message that never left and holds the ones whose request was out at the kill.
    report = deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=same)
    assert sum(report.reclaimed.values()) == left > 0 and "收回中断的投递" in report.summary()
    rows = _rows()
    unknown = [r for r in rows if r.status == "unknown"]
    assert {r.status for r in rows} <= {"sent", "unknown"}
    assert report.unknown == len(unknown) <= n_bots  # one request in flight per bot at most
    arrived = _arrivals(botserver)
    assert max(arrived.values()) == 1  # nothing arrived twice
    held = {_number(r) for r in unknown}
    assert set(arrived) | held == set(range(total))  # nothing lost: arrived, or held for ops
    assert all("可能已送达" in r.last_error for r in unknown)
    if unknown:  # ops are told, in the run's one digest
        assert any("中断未知" in d for d in _digests(botserver))

    # Ops check and resend the held ones (here: those that had not arrived).
    with db.session_scope() as session:
        for r in unknown:
            if _number(r) not in arrived:
                assert requeue_message(session=session, row=session.get(OutboxMessage, r.id))
    deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=same)
    arrived = _arrivals(botserver)
    assert set(arrived) == set(range(total)) and max(arrived.values()) == 1
    print(f"\nkilled after {at_kill} of {total} requests; held as unknown: {len(unknown)}")


def test_killed_mid_fan_out_with_resend_ambiguous_delivers_at_least_once(tmp_path, botserver, monkeypatch):
    monkeypatch.setenv("QCYCLE_NOTIFY_RESEND_AMBIGUOUS", "true")
    get_settings.cache_clear()
    n_bots, total = 4, 200
    loaded, _, same = _kill_mid_fan_out(tmp_path, botserver, monkeypatch, n_bots, total)
    report = deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=same)
    assert report.unknown == report.failed == report.dead == 0
    assert {r.status for r in _rows()} == {"sent"}
    arrived = _arrivals(botserver)
    assert set(arrived) == set(range(total))  # every message arrived
    assert sum(c - 1 for c in arrived.values()) <= n_bots  # at most the ones in flight, again


# ---------------------------------------------------------------- leases and ops resolution


def _lease_all(holder: str, leased_at: dt.datetime, started: bool = False) -> None:
    """Leave every row as a claimed, unsent row of another run (what a crash leaves)."""
    from sqlmodel import update

    with db.session_scope() as session:
        session.exec(update(OutboxMessage).values(status="sending", attempts=1, leased_by=holder,
                                                  leased_at=leased_at, next_attempt_at=NOON,
                                                  started_at=NOON if started else None))


def test_a_live_holders_lease_is_kept_and_an_old_one_is_taken_over_whatever_the_as_of(tmp_path):
    import socket

    loaded = _sink_programme(tmp_path, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c1", 1), plain("c2", 2)], rid)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = f"{socket.gethostname()}:{sleeper.pid}:abcd1234"
        _lease_all(live, clock.wall_now())
        # The holder lives and its lease is fresh: a run (even one as of years later) leaves it.
        report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON + dt.timedelta(days=900))
        assert report.sent == 0 and not report.reclaimed
        assert {r.status for r in _rows()} == {"sending"}
        # A holder on another host is never known gone: fresh, its lease is kept too.
        _lease_all("elsewhere:1:abcd1234", clock.wall_now())
        assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 0
        # Older than notify_stale_sending_seconds of real time: taken over, even by a run as of a
        # logical moment before the claim.
        old = clock.wall_now() - dt.timedelta(seconds=get_settings().notify_stale_sending_seconds + 5)
        _lease_all(live, old)
        report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON - dt.timedelta(days=30))
        assert report.sent == 2 and report.reclaimed == Counter({live: 2})
        assert {r.status for r in _rows()} == {"sent"}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_dead_holders_lease_is_taken_over_at_once_and_the_run_says_so(tmp_path):
    import socket

    loaded = _sink_programme(tmp_path, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c1", 1), plain("c2", 2)], rid)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    holder = f"{socket.gethostname()}:{gone.pid}:abcd1234"
    _lease_all(holder, clock.wall_now())
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    assert report.sent == 2 and report.reclaimed == Counter({holder: 2})
    assert report.as_dict()["reclaimed"] == {holder: 2}
    assert "收回中断的投递 2 条" in report.summary()
    assert {(r.status, r.last_error) for r in _rows()} == {("sent", None)}


def _unknown_message(tmp_path):
    import socket

    loaded = _sink_programme(tmp_path, n_units=1, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c1", 7)], rid)
    _lease_all(f"{socket.gethostname()}:999999999:abcd1234", clock.wall_now(), started=True)
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    (row,) = _rows(unit_code="c1")
    assert report.unknown == 1 and row.status == "unknown" and "outbox resolve" in row.last_error
    assert "结果未知，待运维核实" in report.summary()
    return loaded, rid, row


def _audit(action: str) -> list:
    from qcycle.models import AuditLog

    with db.session_scope() as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_ops_resolve_an_unknown_message_as_delivered_it_is_never_sent_again(tmp_path):
    from typer.testing import CliRunner

    from qcycle.cli import app

    loaded, rid, row = _unknown_message(tmp_path)
    result = CliRunner().invoke(app, ["outbox", "resolve", crud.short_id(row.id), "--delivered", "--by", "张三",
                                      "--note", "电话确认已收到"])
    assert result.exit_code == 0, result.output
    assert "已记为已发送" in result.output
    (row,) = _rows(unit_code="c1")
    assert row.status == "sent" and "运维核实已送达" in row.last_error and "张三" in row.last_error
    (entry,) = _audit("outbox.resolve")
    assert entry.actor == "cli:张三" and entry.round_code == loaded.programme.round.code
    assert entry.detail["delivered"] is True and entry.detail["note"] == "电话确认已收到"
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 0
    sink = [p.read_text(encoding="utf-8") for p in (tmp_path / "home" / "sink").glob("*.json")]
    assert not any("MSG-7" in text for text in sink)  # only the ops digest went out
    # Resolved once: a second resolution is refused, and says why.
    again = CliRunner().invoke(app, ["outbox", "resolve", crud.short_id(row.id), "--not-delivered"])
    assert again.exit_code == 1 and "只有结果未知的消息" in again.output


def test_ops_resolve_an_unknown_message_as_not_delivered_it_is_sent_by_the_next_run(tmp_path):
    from typer.testing import CliRunner

    from qcycle.cli import app

    loaded, rid, row = _unknown_message(tmp_path)
    missing = CliRunner().invoke(app, ["outbox", "resolve", crud.short_id(row.id)])
    assert missing.exit_code == 2 and "--delivered" in missing.output
    result = CliRunner().invoke(app, ["outbox", "resolve", crud.short_id(row.id), "--not-delivered", "--by", "李四"])
    assert result.exit_code == 0 and "已重新排队" in result.output
    assert _rows(unit_code="c1")[0].status == "queued"
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 1
    assert _rows(unit_code="c1")[0].status == "sent"
    assert [e.detail["delivered"] for e in _audit("outbox.resolve")] == [False]


def test_an_unknown_message_can_be_cancelled_with_an_audit_line(tmp_path):
    from typer.testing import CliRunner

    from qcycle.cli import app

    loaded, rid, row = _unknown_message(tmp_path)
    result = CliRunner().invoke(app, ["outbox", "cancel", crud.short_id(row.id), "--by", "王五"])
    assert result.exit_code == 0, result.output
    assert _rows(unit_code="c1")[0].status == "cancelled"
    (entry,) = _audit("outbox.cancel")
    assert entry.actor == "cli:王五" and entry.detail["message"] == str(row.id)
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 0


def test_a_sent_message_is_neither_cancelled_nor_requeued_and_the_refusal_says_its_status_in_chinese(tmp_path):
    from typer.testing import CliRunner

    from qcycle.cli import app

    loaded = _sink_programme(tmp_path, n_units=1, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c1", 3)], rid)
    assert deliver_due(programme=loaded.programme, round_id=rid, now=NOON).sent == 1
    (row,) = _rows(unit_code="c1")
    for command, refused in (("cancel", "不能取消"), ("retry", "不能重新排队")):
        result = CliRunner().invoke(app, ["outbox", command, crud.short_id(row.id)])
        assert result.exit_code == 1, result.output
        assert f"消息 {crud.short_id(row.id)} 状态为已发送，{refused}" in result.stderr and "sent" not in result.stderr
    assert _rows(unit_code="c1")[0].status == "sent"


def test_a_row_whose_stale_lease_another_run_took_over_is_left_to_it(tmp_path, botserver, monkeypatch):
    """A pass's bot lane is paced (20 posts a minute), and a long one can outlast the stale-lease rule: a
    row another run took over meanwhile is that run's to send. This pass neither sends it nor writes on it."""
    import threading

    # Renewals every 0.1 s: the one at the second send's start must pass over the row the other run holds.
    monkeypatch.setenv("QCYCLE_NOTIFY_STALE_SENDING_SECONDS", "0.3")
    get_settings.cache_clear()
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c0", n) for n in range(3)], rid)
    botserver.behave("slow", "ok", delay=1.0)  # the first send takes a second: the takeover comes meanwhile

    def take_over() -> None:
        time.sleep(0.3)
        with db.get_engine().begin() as conn:
            conn.exec_driver_sql("UPDATE outbox_message SET leased_by = 'other-host:1:run2', "
                                 "leased_at = '2023-04-13 10:00:00.000000' WHERE action = 'kill:1'")

    thread = threading.Thread(target=take_over)
    thread.start()
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    thread.join()
    assert sorted(_arrivals(botserver)) == [0, 2]  # MSG-1 was not sent by this pass
    taken = _rows(action="kill:1")[0]
    assert (taken.status, taken.leased_by, taken.started_at) == ("sending", "other-host:1:run2", None)
    assert taken.leased_at is not None and taken.leased_at.replace(tzinfo=None) == dt.datetime(2023, 4, 13, 10)  # not renewed
    assert [r.status for r in _rows() if r.action in ("kill:0", "kill:2")] == ["sent", "sent"]
    assert report.sent == 2 and report.failed == 0  # the row left to the other run is not this pass's to count


def test_a_pass_working_through_a_slow_lane_keeps_its_rows_from_going_stale(tmp_path, botserver, monkeypatch):
    """A lane that takes longer than the stale-lease rule renews the lease of the rows still waiting in it as it
    goes, by real time: another run claiming at any moment meanwhile finds none of them to take over (and post
    alongside, past the bot's rate). The run's own clock stands still, as a simulated year's does."""
    import threading

    monkeypatch.setenv("QCYCLE_NOTIFY_STALE_SENDING_SECONDS", "3")  # renewed every second
    get_settings.cache_clear()
    loaded = _bot_programme(tmp_path, botserver, monkeypatch, templates={"plain.j2": PLAIN_TEMPLATE})
    rid = round_id(loaded)
    _queue(loaded, [plain("c0", n) for n in range(8)], rid)
    botserver.behave("slow", delay=0.5)  # one after another: ~4 s for the lane, past the 3 s rule
    # (seconds since the pass began, rows another run could take over, rows still sending), every 0.1 s or so
    looks: list[tuple[float, int, int]] = []
    done = threading.Event()
    began = time.monotonic()

    def another_run_looks() -> None:
        while not done.wait(0.1):
            with db.session_scope() as session:
                wall = clock.wall_now()
                claimable = crud.claimable_messages(session=session, round_id=rid, now=NOON, holders_gone=[],
                                                    stale_before=wall - dt.timedelta(seconds=3), limit=100)
                takeable = [r for r in claimable if r.status == "sending"]  # not the queued rows before the claim
                sending = session.exec(select(OutboxMessage).where(OutboxMessage.status == "sending")).all()
                looks.append((time.monotonic() - began, len(takeable), len(sending)))
                session.rollback()

    thread = threading.Thread(target=another_run_looks)
    thread.start()
    try:
        with clock.frozen(NOON):
            report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    finally:
        done.set()
        thread.join()
    # Rows were still waiting past the rule's 3 s (else this proves nothing), and at no look was one stale.
    assert any(at > 3.2 and sending for at, _, sending in looks), looks
    assert all(takeable == 0 for _, takeable, _ in looks), looks
    assert sorted(_arrivals(botserver)) == list(range(8))
    assert report.sent == 8 and {r.status for r in _rows()} == {"sent"}
