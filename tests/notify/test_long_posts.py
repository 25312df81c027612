"""A bot message longer than its service takes goes as several posts, in order, each once.

The stand-in (``tests/notify/botserver.py``) refuses what the services refuse: WeCom text over
2,048 bytes or markdown over 4,096 (errcode 40058), a DingTalk or Feishu request over 20 KB. A
待审核 of forty items to a WeCom group had been cut at 2,048 bytes: the items after the cut
reached nobody.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from urllib.parse import quote

import pytest

from qcycle import crud, db
from qcycle.clock import at
from qcycle.loader import LoadedProgramme
from qcycle.notify import Message, RateLimiter, deliver_batch
from qcycle.notify.bots import plain_text
from qcycle.notify.dingtalk import dingtalk_framing
from qcycle.notify.feishu import feishu_framing
from qcycle.notify.outbox import deliver_due
from qcycle.notify.parts import Framing, Part
from qcycle.notify.wecom import wecom_framing
from tests.notify.botserver import BotServer
from tests.notify.outbox_helpers import DAY, kill_worker_midway, round_id, write_programme

SUBJECT = "【待审核】测试用小周期：评价确认40项"
# Forty lines a reviewer must read, each naming its own item: none may be lost or said twice.
LINES = [f"{i}. 第{i}号市场监督管理局的“质量提升示范项目（第{i}批）”，2023年12月{i % 28 + 1}日提交；" for i in range(1, 41)]
BODY = "省局审核人员：\n\n截至2023年12月21日，共40项等待评价确认：\n" + "\n".join(LINES) + "\n\n按日程，请于今日完成。"


def _numbered(posts: list[Part]) -> list[str]:
    return [re.search(r"（(\d+/\d+)）$", p.title).group(1) for p in posts]


# ---------------------------------------------------------------- splitting (no server)


FRAMINGS = [wecom_framing(False), wecom_framing(True), dingtalk_framing(False), dingtalk_framing(True),
            feishu_framing(False), feishu_framing(True)]
FRAMING_IDS = ["wecom-text", "wecom-md", "dingtalk-text", "dingtalk-md", "feishu-text", "feishu-md"]


@pytest.mark.parametrize("framing", FRAMINGS, ids=FRAMING_IDS)
def test_a_message_that_fits_goes_as_it_is(framing: Framing) -> None:
    assert [(p.title, p.text) for p in framing.parts(SUBJECT, BODY[:500])] == [(SUBJECT, BODY[:500])]


def _lines_said(posts: list[Part]) -> list[str]:
    return [line for p in posts for line in p.text.split("\n") if line]


def test_a_long_message_is_cut_at_line_ends_into_numbered_posts_that_each_fit() -> None:
    framing = wecom_framing(False)
    assert len(plain_text(SUBJECT, BODY).encode()) > 2048  # what the service would refuse, or the guard cut
    posts = framing.parts(SUBJECT, BODY)
    n = len(posts)
    assert n >= 2 and _numbered(posts) == [f"{i}/{n}" for i in range(1, n + 1)]
    assert all(p.title.startswith(SUBJECT) for p in posts)
    assert all(framing.size(framing.frame(p.title, p.text)) <= 2048 for p in posts)
    # Every line once, in order, none cut in two: the posts read one after another are the letter.
    assert _lines_said(posts) == [line for line in BODY.split("\n") if line]
    # How far each reaches, past the opening line: the last, all of it.
    rest = BODY[BODY.index("\n") + 1:]
    assert [BODY.index("\n") + 1 + p.upto for p in posts][-1] == len(BODY)
    assert all(rest[:p.upto].rstrip().endswith(p.text.rstrip()[-20:]) for p in posts)


@pytest.mark.parametrize("framing", FRAMINGS, ids=FRAMING_IDS)
@pytest.mark.parametrize("line", ["- 是", "“引号”与\\反斜杠\t", "x" * 25000, "质量" * 5000], ids=["short", "escaped", "x", "cjk"])
def test_posts_fit_as_the_service_counts_them_json_escapes_included(framing: Framing, line: str) -> None:
    body = "\n".join([line] * 4000 if len(line) < 100 else [line] * 3)
    posts = framing.parts("【通知】名单", body)
    assert len(posts) >= 2
    assert all(framing.size(framing.frame(p.title, p.text)) <= framing.limit for p in posts)
    assert "".join(p.text.replace("\n", "") for p in posts) == body.replace("\n", "")  # nothing lost or twice


def test_ten_posts_or_more_are_numbered_in_two_digits_and_still_fit() -> None:
    framing = Framing(200, plain_text)
    for body in ("\n".join(f"第{i}行：质量工作" for i in range(200)), "x" * 5000):  # short lines; one that fills each
        posts = framing.parts("标题", body)
        assert len(posts) >= 10 and _numbered(posts)[-1] == f"{len(posts)}/{len(posts)}"
        assert all(len(framing.frame(p.title, p.text).encode()) <= 200 for p in posts)


def test_the_rest_of_a_message_goes_on_from_how_far_it_came_whatever_its_opening_line_now_says() -> None:
    """A group post's opening line names the units of this try: another try may name others (a unit's row
    cancelled, or held). What follows it is what the posts that arrived are counted in."""
    framing = wecom_framing(False)
    whole = framing.parts(SUBJECT, "各市（州）市场监督管理局：\n" + BODY)
    first = whole[0]
    again = framing.parts(SUBJECT, "成都市、自贡市、攀枝花市、泸州市、德阳市、绵阳市市场监督管理局：\n" + BODY,
                          parts_sent=1, sent_chars=first.upto)
    said = _lines_said([first]) + _lines_said(again)
    assert said[1:] == [line for line in BODY.split("\n") if line]  # after the names: every line once, in order
    assert _numbered(again)[0] == f"2/{1 + len(again)}"  # numbered on from the post that arrived
    # Nothing left but blank lines: no post at all.
    assert framing.parts(SUBJECT, "名：\n正文\n\n", parts_sent=1, sent_chars=2) == []


def test_a_message_going_on_twice_still_says_each_line_once() -> None:
    framing = wecom_framing(False)
    body = "名：\n" + BODY * 3
    said = [framing.parts(SUBJECT, body)[0]]
    while len(said) < 40:  # each try: its first post arrives, then the bot fails
        rest = framing.parts(SUBJECT, body, parts_sent=len(said), sent_chars=said[-1].upto)
        if not rest:
            break
        said.append(rest[0])
    assert _numbered(said) == [f"{i}/{len(said)}" for i in range(1, len(said) + 1)]
    assert _lines_said(said)[1:] == [line for line in (BODY * 3).split("\n") if line]


def test_blank_lines_neither_make_a_post_of_their_own_nor_number_a_letter_that_reads_as_one() -> None:
    framing = wecom_framing(False)
    for body in ("名：\n" + "a" * 2000 + "\n" + "x" * 2037 + "\n\n\n", "名：\n" + "x" * 2030 + "\n\n" + "y" * 2037):
        posts = framing.parts("T", body)
        assert all(p.text.strip() for p in posts), posts
    (alone,) = framing.parts("T", "\n" * 3000 + "正文")  # only blank lines made it too long
    assert (alone.title, alone.text) == ("T", "正文")


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
    assert not first.ok and first.retryable and first.parts_sent == 1 and first.sent_chars > 0
    assert "已送达前1条" in first.error  # what ops read: how far it came
    botserver.behave("ok")
    ((_, second),) = deliver_batch([Message(id="m1", channel=ref, subject=SUBJECT, body=BODY, parts_sent=1,
                                            sent_chars=first.sent_chars)], limiter=limiter)
    assert second.ok
    contents = [r.payload["text"]["content"] for r in botserver.received]
    firsts = [c for c in contents if "（1/" in c.split("\n")[0]]
    assert len(firsts) == 1  # the first post once; the rest after it, each once delivered
    n = int(re.search(r"/(\d+)）", contents[0]).group(1))
    delivered = [contents[0]] + contents[-(n - 1):]
    assert [re.search(r"（(\d+)/", c).group(1) for c in delivered] == [str(i) for i in range(1, n + 1)]
    said = "\n".join(delivered)
    assert all(said.count(line) == 1 for line in LINES)


def test_each_post_has_its_own_tries(botserver, monkeypatch, limiter):
    """Every post but the first fails once, then goes: three tries a post are enough for each."""
    ref = _wecom(monkeypatch, botserver, "tries")
    n = len(wecom_framing(False).parts(SUBJECT, BODY))
    botserver.behave("ok", *(["500", "ok"] * (n - 1)))
    ((_, result),) = deliver_batch([Message(id="m1", channel=ref, subject=SUBJECT, body=BODY)], limiter=limiter,
                                   attempts=3, backoff_base=0.01)
    assert result.ok and len(botserver.received) == 2 * n - 1


def test_a_post_held_back_by_the_time_budget_says_so_not_an_earlier_posts_failure(botserver, monkeypatch, limiter):
    ref = _wecom(monkeypatch, botserver, "held")
    botserver.behave("500", "slow", delay=1.5)  # post 1 fails once, then arrives after the budget is spent
    ((_, result),) = deliver_batch([Message(id="m1", channel=ref, subject=SUBJECT, body=BODY)], limiter=limiter,
                                   time_budget=1.0, backoff_base=0.01)
    assert not result.ok and result.parts_sent == 1 and result.attempted  # post 1 arrived: an attempt
    assert "not sent within the time budget" in result.error and "500" not in result.error


def test_a_message_going_on_that_sent_nothing_before_the_time_budget_is_no_attempt(botserver, monkeypatch, limiter):
    ref = _wecom(monkeypatch, botserver, "budget")
    ((_, result),) = deliver_batch([Message(id="m1", channel=ref, subject=SUBJECT, body=BODY, parts_sent=1,
                                            sent_chars=100)], limiter=limiter, time_budget=0)
    assert not result.ok and not result.attempted and not botserver.received  # held back, as any message would be


@pytest.mark.parametrize("markdown", [False, True], ids=["text", "markdown"])
@pytest.mark.parametrize("scheme", ["qdingtalk", "qfeishu"])
def test_a_message_of_short_lines_fits_a_request_limit(botserver, monkeypatch, limiter, markdown, scheme):
    fmt = "&format=markdown" if markdown else ""
    monkeypatch.setenv("QC_DT", f"{scheme}://tok?base={quote(botserver.base, safe='')}&rate=1000/1{fmt}")
    body = "\n".join(['- 是“甲”\\"乙"'] * 6000)  # line breaks, quotes, backslashes: escaped in the JSON counted
    ((_, result),) = deliver_batch([Message(id="m", channel="env:QC_DT", subject="【通知】名单", body=body)],
                                   limiter=limiter)
    assert result.ok, result.error  # the stand-in refuses a request over 20,000 bytes (Feishu: 20 KB), as they do
    assert len(botserver.received) >= 2


def test_a_message_nothing_of_which_is_left_to_send_is_sent_without_a_post(botserver, monkeypatch, limiter):
    ref = _wecom(monkeypatch, botserver, "nothing-left")
    body = "名：\n" + BODY
    done = Message(id="m1", channel=ref, subject=SUBJECT, body=body, parts_sent=3, sent_chars=len(body) - 3)
    ((_, result),) = deliver_batch([done], limiter=limiter)
    assert result.ok and not botserver.received


# ---------------------------------------------------------------- through the outbox


KEY = "group-bot"  # the stand-in is started afresh for each test


def _group_bot(tmp_path, botserver, monkeypatch, names: dict[str, str], **kw) -> tuple[LoadedProgramme, uuid.UUID]:
    """A programme whose units share one WeCom group bot (the stand-in's ``KEY``): (loaded, round id)."""
    monkeypatch.setenv("QC_TEST_LONG", f"qwecom://{KEY}?base={botserver.base}")
    loaded = write_programme(tmp_path / "prog", channels=[{"name": "group", "kind": "wecom", "url": "env:QC_TEST_LONG",
                                                           "rate_per_minute": 100_000}],
                             units=[{"code": u, "name": n, "channels": ["group"]} for u, n in names.items()], **kw)
    return loaded, round_id(loaded)


def _queue_letters(rid: uuid.UUID, bodies: dict[str, str], key: str = "long") -> None:
    """One letter to each unit (``SUBJECT``, its body), as if a stage had queued them."""
    with db.session_scope() as session:
        for unit, body in bodies.items():
            crud.enqueue_message(session=session, idempotency_key=f"{key}-{unit}", action="notice:publish@2023-04-13",
                                 unit_code=unit, channel="group", logical_date=DAY, subject=SUBJECT, body=body,
                                 round_id=rid)


def test_the_outbox_records_how_far_a_long_message_came_and_the_next_run_sends_the_rest(
        tmp_path, botserver, monkeypatch, home_db):
    loaded, rid = _group_bot(tmp_path, botserver, monkeypatch, {"c0": "0号市局"})
    _queue_letters(rid, {"c0": f"0号市局：\n{BODY}"})
    botserver.behave_for(KEY, "ok", "500", "500", "500")
    noon = at(DAY, dt.time(10))
    report = deliver_due(programme=loaded.programme, round_id=rid, now=noon)
    assert report.sent == 0 and report.failed >= 1
    with db.session_scope() as session:
        row = crud.find_message(session=session, ref=_id_of("long-c0"))
        assert (row.status, row.parts_sent) == ("failed", 1) and "已送达前1条" in row.last_error
        due = row.next_attempt_at
    botserver.behave_for(KEY, "ok")
    deliver_due(programme=loaded.programme, round_id=rid, now=due)
    with db.session_scope() as session:
        assert crud.find_message(session=session, ref=_id_of("long-c0")).status == "sent"
    # The letter's posts (the issuer's ops digest of the failure shares the bot).
    contents = [c for r in botserver.requests_for(KEY) if (c := r.payload["text"]["content"]).startswith(SUBJECT)]
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


@pytest.mark.parametrize("found", ["not delivered", "delivered"])
def test_killed_while_a_later_post_is_out_ops_resolve_it_and_the_rest_goes(tmp_path, botserver, monkeypatch, home_db,
                                                                          found):
    """Part 2 of a long letter is out when the worker is killed. Ops look in the group: had it arrived, the
    posts after it go (each post once); had it not, it goes again with them. Part 1 goes once either way."""
    from sqlmodel import select

    from qcycle.models import OutboxMessage
    from qcycle.notify.outbox_ops import resolve_unknown

    loaded, rid = _group_bot(tmp_path, botserver, monkeypatch, {"c0": "0号市局"}, templates={"long.j2": LONG_TEMPLATE})
    botserver.behave_for(KEY, "ok", "slow")  # the second post hangs: the worker is killed with it out
    botserver.behave("slow", delay=30)
    now = at(DAY, dt.time(10))
    kill_worker_midway(loaded, botserver, 1, now, 2, "long")
    botserver.behave_for(KEY, "ok")
    botserver.behave("ok")
    rid = round_id(loaded)

    def row_now() -> OutboxMessage:
        with db.session_scope() as session:
            return session.exec(select(OutboxMessage).where(OutboxMessage.unit_code == "c0")).one()

    row = row_now()
    assert (row.status, row.parts_sent) == ("sending", 1) and row.sending_chars > row.sent_chars > 0
    report = deliver_due(programme=loaded.programme, round_id=rid, now=now)  # a rerun takes the lease over
    assert report.unknown == 1  # the post out at the kill may have arrived: held for ops
    row = row_now()
    assert row.status == "unknown" and row.parts_sent == 1
    assert "长消息的第2条（前1条已送达）已发出但未收到结果" in row.last_error  # what ops check in the group
    with db.session_scope() as session:
        resolve_unknown(session=session, row=session.get(OutboxMessage, row.id), delivered=found == "delivered",
                        actor="运维甲")
    assert row_now().status == "queued"  # delivered or not, the rest of the letter is still to go
    deliver_due(programme=loaded.programme, round_id=rid, now=now)
    assert row_now().status == "sent"
    heads = [r.payload["text"]["content"].split("\n")[0] for r in botserver.requests_for(KEY)
             if isinstance(r.payload, dict) and r.payload["text"]["content"].startswith("【通知】长函")]
    numbers = [int(re.search(r"（(\d+)/", h).group(1)) for h in heads]
    n = int(re.search(r"/(\d+)）", heads[0]).group(1))
    assert n >= 3 and sorted(set(numbers)) == list(range(1, n + 1))  # every post arrived
    assert numbers.count(1) == 1 and numbers.count(2) == (1 if found == "delivered" else 2)
    assert all(numbers.count(i) == 1 for i in range(3, n + 1))


NAMES = {"c0": "甲市质量强市工作领导小组办公室（甲市市场监督管理局质量发展科）",
         "c1": "乙市质量强市工作领导小组办公室（乙市市场监督管理局质量发展科）"}


def test_a_group_post_going_on_for_fewer_units_sends_the_rest_of_the_text_once(tmp_path, botserver, monkeypatch,
                                                                             home_db):
    """Two cities' letter went to their group as one post, and failed after its first post; ops cancelled one
    city's row. The other's goes on alone: from where the text had come, each line once."""
    from qcycle.notify.outbox_ops import cancel_message

    # Long names: the first post of the letter to both holds fewer of its lines than one to a city alone would.
    loaded, rid = _group_bot(tmp_path, botserver, monkeypatch, NAMES)
    _queue_letters(rid, {u: f"{name}：\n{BODY.replace('省局审核人员：', '请贵单位阅知：')}" for u, name in NAMES.items()})
    botserver.behave_for(KEY, "ok", "500", "500", "500")
    noon = at(DAY, dt.time(10))
    deliver_due(programme=loaded.programme, round_id=rid, now=noon)
    ids = [_id_of(f"long-{u}") for u in ("c0", "c1")]
    with db.session_scope() as session:
        rows = [crud.find_message(session=session, ref=i) for i in ids]
        assert [(r.status, r.parts_sent) for r in rows] == [("failed", 1), ("failed", 1)]
        assert rows[0].posted_with == rows[1].posted_with  # they had gone as one post
    from typer.testing import CliRunner

    from qcycle.cli import app

    shown = CliRunner().invoke(app, ["outbox", "list", "--channel", "group"], env={"COLUMNS": "300"})
    assert shown.output.count("1（已送达1条）") == 2, shown.output  # ops see how far each came
    with db.session_scope() as session:
        rows = [crud.find_message(session=session, ref=i) for i in ids]
        cancel_message(session=session, row=rows[1])
        due = rows[0].next_attempt_at
    botserver.behave_for(KEY, "ok")
    deliver_due(programme=loaded.programme, round_id=rid, now=due)
    contents = [c for r in botserver.requests_for(KEY) if (c := r.payload["text"]["content"]).startswith(SUBJECT)]
    assert contents[0].split("\n")[1] == f"{NAMES['c0']}、{NAMES['c1']}："  # the first post, to both
    arrived = [contents[0], *contents[4:]]  # the three answered 500 in between did not arrive
    said = "\n".join(arrived)
    assert all(said.count(line) == 1 for line in LINES)  # the rest, to 甲市 alone: each line once
    assert arrived[1].split("\n")[0].endswith("（2/3）") and "甲市" not in arrived[1]


def test_a_long_messages_progress_on_its_rows_as_posts_arrive_and_as_ops_requeue(tmp_path, home_db):
    """How far a long message came is written as each post arrives (none out then: a crash resends
    nothing that arrived, and nothing is held for ops); ops' requeue forgets the post that was out."""
    from sqlmodel import select

    from qcycle.models import OutboxMessage
    from qcycle.notify.outbox_ops import requeue_message
    from qcycle.notify.recording import Claimed, Starter

    loaded = write_programme(tmp_path / "prog", channels=[{"name": "sink", "kind": "sink"}],
                             units=[{"code": "c1", "name": "1号市局", "channels": ["sink"]}])
    with db.session_scope() as session:
        row, _ = crud.enqueue_message(session=session, idempotency_key="p-1", action="a:b@2023-04-13", unit_code="c1",
                                      channel="sink", logical_date=DAY, subject=SUBJECT, body=BODY,
                                      round_id=round_id(loaded))
        row.status, row.leased_by, row_id = "sending", "this-pass", row.id
        session.add(row)
    starter = Starter({"m": Claimed(row_id, "sink", "c1", SUBJECT, BODY, None, 1, False, "a:b")}, {}, "this-pass")
    starter("m", 300)  # post 1 leaves
    with db.session_scope() as session:
        row = session.exec(select(OutboxMessage)).one()
        assert row.started_at is not None and row.sending_chars == 300 and row.leased_at is not None
    starter.arrived("m", 1, 300)
    with db.session_scope() as session:
        row = session.exec(select(OutboxMessage)).one()
        assert (row.started_at, row.sending_chars, row.parts_sent, row.sent_chars) == (None, None, 1, 300)
    starter("m", 600)
    with db.session_scope() as session:
        row = session.exec(select(OutboxMessage)).one()
        row.status = "unknown"  # as a claim after a crash leaves it
        assert requeue_message(session=session, row=row)
        assert (row.status, row.sending_chars, row.parts_sent, row.sent_chars) == ("queued", None, 1, 300)


def test_a_reminder_row_some_posts_of_which_arrived_is_not_merged_into_again(tmp_path, home_db):
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
        row.parts_sent, row.sent_chars, before = 1, 40, row.body  # post 1 arrived, then ops requeued it
        session.add(row)
    queue(reminder(loaded, "c1", key="evaluation:reminder:T-1", item="评价确认申请"))
    with db.session_scope() as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.created_at)).all()
        assert [r.body == before for r in rows] == [True, False]  # the first untouched
        assert rows[1].idempotency_key.endswith("#2") and "评价确认申请" in rows[1].body


def test_a_letter_that_now_goes_in_one_post_forgets_an_earlier_tries_post(tmp_path, botserver, monkeypatch, home_db):
    """Two cities' letter took two posts as one group post, and its first failed every time; ops cancelled one
    city's row, and the other's letter now fits one post. Killed with that post out, the row is held for ops
    as any letter is (no numbered post of it), and found delivered it is sent: no line goes twice."""
    from sqlmodel import select

    from qcycle.models import OutboxMessage
    from qcycle.notify.outbox_ops import cancel_message, resolve_unknown

    framing = wecom_framing(False)
    lines: list[str] = []
    while framing.size(framing.frame(SUBJECT, f"{NAMES['c0']}：\n" + "\n".join(lines))) <= 2048 - 20:
        lines.append(f"第{len(lines) + 1}行：请贵单位按要求报送材料。")
    rest = "\n".join(lines[:-1])
    assert len(framing.parts(SUBJECT, f"{NAMES['c0']}：\n{rest}")) == 1
    assert len(framing.parts(SUBJECT, f"{NAMES['c0']}、{NAMES['c1']}：\n{rest}")) == 2
    loaded, rid = _group_bot(tmp_path, botserver, monkeypatch, NAMES)
    _queue_letters(rid, {u: f"{name}：\n{rest}" for u, name in NAMES.items()}, key="k")
    botserver.behave_for(KEY, "500", "500", "500")
    deliver_due(programme=loaded.programme, round_id=rid, now=at(DAY, dt.time(10)))

    def rows() -> dict[str, OutboxMessage]:
        with db.session_scope() as session:
            return {r.unit_code: r for r in session.exec(select(OutboxMessage)).all() if r.unit_code in NAMES}

    first = rows()
    assert first["c0"].status == "failed" and first["c0"].parts_sent == 0
    with db.session_scope() as session:
        cancel_message(session=session, row=session.get(OutboxMessage, first["c1"].id))
    due = first["c0"].next_attempt_at
    botserver.behave_for(KEY, "slow")
    botserver.behave("slow", delay=30)
    kill_worker_midway(loaded, botserver, 0, due, len(botserver.received) + 1, "due")
    botserver.behave_for(KEY, "ok")
    botserver.behave("ok")
    deliver_due(programme=loaded.programme, round_id=rid, now=due)
    row = rows()["c0"]
    assert row.status == "unknown" and "长消息" not in row.last_error
    with db.session_scope() as session:
        resolve_unknown(session=session, row=session.get(OutboxMessage, row.id), delivered=True, actor="运维甲")
    assert rows()["c0"].status == "sent"
    deliver_due(programme=loaded.programme, round_id=rid, now=due + dt.timedelta(hours=1))
    arrived = [c for r in botserver.requests_for(KEY) if isinstance(r.payload, dict)
               and (c := r.payload["text"]["content"]).startswith(SUBJECT)][3:]  # after the three 500s
    assert len(arrived) == 1 and all(arrived[0].count(line) == 1 for line in lines[:-1])
