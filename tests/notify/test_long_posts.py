"""A bot message longer than its service takes goes as several posts, in order, each once.

The stand-in (``tests/notify/botserver.py``) refuses what the services refuse: WeCom text over
2,048 bytes or markdown over 4,096 (errcode 40058), a DingTalk or Feishu request over 20 KB. A
待审核 of forty items to a WeCom group had been cut at 2,048 bytes: the items after the cut
reached nobody.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest

from qcycle import crud, db
from qcycle.clock import at
from qcycle.notify import Message, RateLimiter, deliver_batch
from qcycle.notify.bots import Framing, plain_text
from qcycle.notify.dingtalk import dingtalk_framing
from qcycle.notify.feishu import feishu_framing
from qcycle.notify.outbox import deliver_due, requeue_message
from qcycle.notify.wecom import wecom_framing
from tests.notify.botserver import BotServer
from tests.notify.outbox_helpers import DAY, kill_worker_midway, round_id, write_programme

SUBJECT = "【待审核】测试用小周期：评价确认40项"
# Forty lines a reviewer must read, each naming its own item: none may be lost or said twice.
LINES = [f"{i}. 第{i}号市场监督管理局的“质量提升示范项目（第{i}批）”，2023年12月{i % 28 + 1}日提交；" for i in range(1, 41)]
BODY = "省局审核人员：\n\n截至2023年12月21日，共40项等待评价确认：\n" + "\n".join(LINES) + "\n\n按日程，请于今日完成。"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _numbered(parts: list[tuple[str, str]]) -> list[str]:
    return [re.search(r"（(\d+/\d+)）$", title).group(1) for title, _ in parts]


# ---------------------------------------------------------------- splitting (no server)


@pytest.mark.parametrize("framing", [wecom_framing(False), wecom_framing(True), dingtalk_framing(False),
                                     dingtalk_framing(True), feishu_framing(False), feishu_framing(True)],
                         ids=["wecom-text", "wecom-md", "dingtalk-text", "dingtalk-md", "feishu-text", "feishu-md"])
def test_a_message_that_fits_goes_as_it_is(framing: Framing) -> None:
    assert framing.split(SUBJECT, BODY[:500]) == [(SUBJECT, BODY[:500])]


def test_a_long_message_is_cut_at_line_ends_into_numbered_posts_that_each_fit() -> None:
    framing = wecom_framing(False)
    assert _size(plain_text(SUBJECT, BODY)) > 2048  # what the service would refuse, or the guard cut
    parts = framing.split(SUBJECT, BODY)
    n = len(parts)
    assert n >= 2 and _numbered(parts) == [f"{i}/{n}" for i in range(1, n + 1)]
    assert all(title.startswith(SUBJECT) for title, _ in parts)
    assert all(_size(framing.frame(title, body)) <= 2048 for title, body in parts)
    # Every line once, in order, none cut in two: the posts read one after another are the letter.
    lines = [line for _, body in parts for line in body.split("\n")]
    assert [line for line in lines if line] == [line for line in BODY.split("\n") if line]
    assert not parts[1][1].startswith("\n")  # a post does not open on a blank line


def test_a_line_longer_than_a_post_is_cut_between_characters_and_nothing_is_lost() -> None:
    framing = Framing(300, plain_text)
    body = "开头\n" + "质量" * 200 + "\n结尾"
    parts = framing.split("标题", body)
    assert all(_size(framing.frame(t, b)) <= 300 for t, b in parts)
    assert "".join(b.replace("\n", "") for _, b in parts) == body.replace("\n", "")


def test_ten_posts_or_more_are_numbered_in_two_digits_and_still_fit() -> None:
    framing = Framing(200, plain_text)
    body = "\n".join(f"第{i}行：质量工作" for i in range(200))
    parts = framing.split("标题", body)
    assert len(parts) >= 10 and _numbered(parts)[-1] == f"{len(parts)}/{len(parts)}"
    assert all(_size(framing.frame(t, b)) <= 200 for t, b in parts)


# ---------------------------------------------------------------- delivery to the stand-in


@pytest.fixture
def limiter() -> RateLimiter:
    return RateLimiter()


def _wecom(monkeypatch, server: BotServer, key: str, markdown: bool = False) -> str:
    fmt = "&format=markdown" if markdown else ""
    monkeypatch.setenv("QCYCLE_T_LONG", f"qwecom://{key}?base={quote(server.base, safe='')}&rate=1000/1{fmt}")
    return "env:QCYCLE_T_LONG"


@pytest.mark.parametrize("markdown", [False, True], ids=["text", "markdown"])
def test_a_long_letter_reaches_a_wecom_group_whole_in_several_posts(botserver, monkeypatch, limiter, markdown):
    ref = _wecom(monkeypatch, botserver, f"long-{markdown}", markdown)
    body = BODY if not markdown else BODY * 2  # markdown takes 4,096 bytes
    ((_, result),) = deliver_batch([Message(id="m1", channel=ref, subject=SUBJECT, body=body)], limiter=limiter)
    assert result.ok, result
    field = "markdown" if markdown else "text"
    posts = [r.payload[field]["content"] for r in botserver.received]
    assert len(posts) >= 2  # each accepted by the stand-in, which refuses what WeCom refuses
    assert [re.search(r"（(\d+)/\d+）", p.split("\n")[0]).group(1) for p in posts] == \
        [str(i) for i in range(1, len(posts) + 1)]
    said = "\n".join(posts)
    assert all(said.count(line) == body.count(line) for line in LINES)


def test_a_post_refused_midway_is_sent_again_from_there_not_from_the_start(botserver, monkeypatch, limiter):
    ref = _wecom(monkeypatch, botserver, "midway")
    botserver.behave("ok", "500", "500", "500")  # the first post goes, then the bot fails
    message = Message(id="m1", channel=ref, subject=SUBJECT, body=BODY)
    ((_, first),) = deliver_batch([message], limiter=limiter, backoff_base=0.01)
    assert not first.ok and first.retryable and first.parts_sent == 1
    assert "已发出前1条" in first.error  # what ops read: how far it came
    botserver.behave("ok")
    ((_, second),) = deliver_batch([Message(id="m1", channel=ref, subject=SUBJECT, body=BODY, first_part=1)],
                                   limiter=limiter)
    assert second.ok
    contents = [r.payload["text"]["content"] for r in botserver.received]
    firsts = [c for c in contents if "（1/" in c.split("\n")[0]]
    assert len(firsts) == 1  # the first post once; the rest after it, each once delivered
    n = int(re.search(r"/(\d+)）", contents[0]).group(1))
    delivered = [contents[0]] + contents[-(n - 1):]
    assert [re.search(r"（(\d+)/", c).group(1) for c in delivered] == [str(i) for i in range(1, n + 1)]


# ---------------------------------------------------------------- through the outbox


def test_the_outbox_records_how_far_a_long_message_came_and_the_next_run_sends_the_rest(
        tmp_path, botserver, monkeypatch, home_db):
    key = f"outbox-long-{abs(hash(str(tmp_path))) % 10**8}"
    monkeypatch.setenv("QC_TEST_LONG", f"qwecom://{key}?base={botserver.base}")
    loaded = write_programme(tmp_path / "prog", channels=[{"name": "group", "kind": "wecom", "url": "env:QC_TEST_LONG",
                                                           "rate_per_minute": 100_000}],
                             units=[{"code": "c0", "name": "0号市局", "channels": ["group"]}])
    rid = round_id(loaded)
    with db.session_scope() as session:
        crud.enqueue_message(session=session, idempotency_key="long-1", action="review:decision_due@2023-04-13",
                             unit_code="c0", channel="group", logical_date=DAY, subject=SUBJECT,
                             body=f"0号市局：\n{BODY}", round_id=rid)
    botserver.behave_for(key, "ok", "500", "500", "500")
    noon = at(DAY, dt.time(10))
    report = deliver_due(programme=loaded.programme, round_id=rid, now=noon)
    assert report.sent == 0 and report.failed >= 1
    with db.session_scope() as session:
        row = crud.find_message(session=session, ref=_id_of("long-1"))
        assert (row.status, row.parts_sent) == ("failed", 1) and "已发出前1条" in row.last_error
        due = row.next_attempt_at
    botserver.behave_for(key, "ok")
    deliver_due(programme=loaded.programme, round_id=rid, now=due)
    with db.session_scope() as session:
        assert crud.find_message(session=session, ref=_id_of("long-1")).status == "sent"
    # The letter's posts (the issuer's ops digest of the failure shares the bot).
    contents = [c for r in botserver.requests_for(key) if (c := r.payload["text"]["content"]).startswith(SUBJECT)]
    heads = [c.split("\n")[0] for c in contents]
    n = int(re.search(r"/(\d+)）", heads[0]).group(1))
    # Part 1 went once (its retries after the failure were of part 2), and every part arrived.
    assert sum("（1/" in h for h in heads) == 1
    assert {re.search(r"（(\d+)/", h).group(1) for h in heads} == {str(i) for i in range(1, n + 1)}
    said = "\n".join(contents)
    assert all(line in said for line in LINES)


def _id_of(key: str) -> str:
    from sqlmodel import select

    from qcycle.models import OutboxMessage

    with db.session_scope() as session:
        return session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)).one().hex


# A letter of ~6 KB: three or four posts to WeCom's 2,048 bytes of text.
LONG_TEMPLATE = ("{% block subject %}【通知】长函{{ n }}{% endblock %}{% block body %}"
                 "{% for i in range(1, 151) %}第{{ i }}行：请各单位按要求报送材料。\n{% endfor %}{% endblock %}")


def test_killed_while_a_later_post_is_out_ops_resend_from_that_post_not_the_first(tmp_path, botserver, monkeypatch,
                                                                                  home_db):
    key = f"kill-long-{abs(hash(str(tmp_path))) % 10**8}"
    monkeypatch.setenv("QC_TEST_LONG", f"qwecom://{key}?base={botserver.base}")
    loaded = write_programme(tmp_path / "prog", channels=[{"name": "group", "kind": "wecom", "url": "env:QC_TEST_LONG",
                                                           "rate_per_minute": 100_000}],
                             units=[{"code": "c0", "name": "0号市局", "channels": ["group"]}],
                             templates={"long.j2": LONG_TEMPLATE})
    botserver.behave_for(key, "ok", "slow")  # the second post hangs: the worker is killed with it out
    botserver.behave("slow", delay=30)
    now = at(DAY, dt.time(10))
    kill_worker_midway(loaded, botserver, 1, now, 2, "long")
    botserver.behave_for(key, "ok")
    botserver.behave("ok")
    rid = round_id(loaded)
    from sqlmodel import select

    from qcycle.models import OutboxMessage

    with db.session_scope() as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.unit_code == "c0")).one()
        assert (row.status, row.parts_sent) == ("sending", 1)  # the first post arrived; the second was out
    report = deliver_due(programme=loaded.programme, round_id=rid, now=now)  # a rerun takes the lease over
    assert report.unknown == 1  # the post out at the kill may have arrived: held for ops
    with db.session_scope() as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.unit_code == "c0")).one()
        assert row.status == "unknown" and row.parts_sent == 1
        assert "长消息的第2条（前1条已送达）已发出但未收到结果" in row.last_error  # what ops check in the group
        assert requeue_message(session=session, row=row)  # ops: not delivered
    deliver_due(programme=loaded.programme, round_id=rid, now=now)
    heads = [r.payload["text"]["content"].split("\n")[0] for r in botserver.requests_for(key)
             if isinstance(r.payload, dict) and r.payload["text"]["content"].startswith("【通知】长函")]
    n = int(re.search(r"/(\d+)）", heads[0]).group(1))
    assert n >= 3 and sum("（1/" in h for h in heads) == 1  # the first post once, though the letter went twice
    assert {re.search(r"（(\d+)/", h).group(1) for h in heads} == {str(i) for i in range(1, n + 1)}


def test_a_reminder_row_some_posts_of_which_went_is_not_merged_into_again(tmp_path, home_db):
    """A long merged reminder that failed after its first post and was requeued by ops (queued, no attempt
    counted) is not re-rendered when the day's next reminder comes: that one starts a continuation row."""
    from sqlmodel import select

    from qcycle.models import OutboxMessage
    from qcycle.notify.outbox import queue_drafts
    from tests.notify.outbox_helpers import reminder, template_dir

    loaded = write_programme(tmp_path / "prog", channels=[{"name": "sink", "kind": "sink"}],
                             units=[{"code": "c1", "name": "1号市局", "channels": ["sink"]}])
    rid = round_id(loaded)

    def queue(draft) -> None:
        with db.session_scope() as session:
            queue_drafts(session=session, programme=loaded.programme, round_id=rid, drafts=[draft],
                         template_dir=template_dir(loaded))

    queue(reminder(loaded, "c1"))
    with db.session_scope() as session:
        row = session.exec(select(OutboxMessage)).one()
        row.parts_sent, before = 1, row.body  # as after: post 1 arrived, then ops requeued it (queued, attempts 0)
        session.add(row)
    queue(reminder(loaded, "c1", key="evaluation:reminder:T-1", item="评价确认申请"))
    with db.session_scope() as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.created_at)).all()
        assert [r.body == before for r in rows] == [True, False]  # the first untouched
        assert rows[1].idempotency_key.endswith("#2") and "评价确认申请" in rows[1].body
