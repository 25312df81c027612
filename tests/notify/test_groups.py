"""Group bots: what several units of one group are told alike is posted once, addressed to them
all, against a real bot stand-in on 127.0.0.1; each unit's row records the post that told it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import pytest
from sqlmodel import select

from qcycle import db
from qcycle.clock import at
from qcycle.lifecycle import Draft
from qcycle.loader import load_programme
from qcycle.models import OutboxMessage
from qcycle.notify.groups import MAX_NAMES_CHARS, group_posts, joined_names
from qcycle.notify.outbox import deliver_due, queue_drafts
from qcycle.notify.ratelimit import RateLimiter
from qcycle.settings import get_settings
from tests.notify.outbox_helpers import (
    DAY,
    kill_worker_midway,
    round_id,
    template_dir,
    write_programme,
)

NOON = at(DAY, dt.time(10))
# A notice as the shipped templates write one: the unit's name as its salutation, then the text.
NOTICE = ("{% block subject %}【通知】第{{ n }}号通知{% endblock %}"
          "{% block body %}{{ unit_name }}：\n\n请贵单位按要求提交材料。编号 MSG-{{ n }}{% endblock %}")
CITIES = ["成都市市场监督管理局", "自贡市市场监督管理局", "阿坝藏族羌族自治州市场监督管理局"]


pytestmark = pytest.mark.usefixtures("home_db")  # a fresh migrated database per test


def _programme(tmp_path, botserver, monkeypatch, *, salutation: str | None = "各市（州）市场监督管理局",
               n_bots: int = 1, names: list[str] = CITIES):
    """Cities with their own email and a group bot each city of the bot's share."""
    key = abs(hash(str(tmp_path))) % 10**8  # the process-wide rate limiter remembers endpoints
    channels: list[dict] = [{"name": "email", "kind": "email", "url": "sink"}]
    for b in range(n_bots):
        monkeypatch.setenv(f"QC_GROUP_BOT{b}", f"qwecom://group{b}-{key}?base={botserver.base}")
        channels.append({"name": f"group{b}", "kind": "wecom", "url": f"env:QC_GROUP_BOT{b}", "rate_per_minute": 10**6,
                         **({"salutation": salutation} if salutation else {})})
    units = [{"code": f"c{i}", "name": name, "email": f"c{i}@example.gov.cn", "channels": ["email", f"group{i % n_bots}"]}
             for i, name in enumerate(names)]
    return write_programme(tmp_path / "prog", channels=channels, units=units, templates={"notice.j2": NOTICE})


def _notice(loaded, unit: str, n: int = 1) -> Draft:
    return Draft(unit, "notice.j2", {"n": n, "unit_name": loaded.programme.unit(unit).name}, f"notice:{n}", DAY)


def _queue(loaded, drafts) -> None:
    with db.session_scope() as session:
        queue_drafts(session=session, programme=loaded.programme, round_id=round_id(loaded), drafts=drafts,
                     template_dir=template_dir(loaded))


def _rows(channel: str) -> list[OutboxMessage]:
    with db.session_scope() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.channel == channel)
                                 .order_by(OutboxMessage.unit_code)).all())


def _texts(botserver) -> list[str]:
    return [r.payload["text"]["content"] for r in botserver.received if isinstance(r.payload, dict)]


# ---------------------------------------------------------------- how a group post is addressed


@pytest.mark.parametrize(("names", "expected"), [
    (["成都市市场监督管理局", "阿坝藏族羌族自治州市场监督管理局"], "成都市、阿坝藏族羌族自治州市场监督管理局"),
    (["淮安市清河区人民政府", "金湖县人民政府"], "淮安市清河区、金湖县人民政府"),
    (["泸州市市场监督管理局", "达州市市场监督管理局"], "泸州市、达州市市场监督管理局"),  # not 泸州、达州市…
    (["舟山市质量技术监督局", "岱山县质量技术监督局"], "舟山市、岱山县质量技术监督局"),
    # Not one office of several places: each name in full.
    (["杭州市政府", "宁波市政府"], "杭州市政府、宁波市政府"),
    (["榆阳区市场监督管理局", "榆阳区农业农村局"], "榆阳区市场监督管理局、榆阳区农业农村局"),
    (["余姚市凤山街道办事处", "余姚市泗门镇人民政府"], "余姚市凤山街道办事处、余姚市泗门镇人民政府"),
    (["质量办", "管理办"], "质量办、管理办"),
    (["成都市市场监督管理局"], "成都市市场监督管理局"),
])
def test_names_are_listed_as_an_official_letter_lists_them(names, expected):
    assert joined_names(names) == expected


@dataclass(frozen=True)
class _Row:
    id: str
    channel: str
    unit: str
    subject: str
    body: str
    tag: str | None = None
    digest: bool = False
    action: str = "results:notify@2024-01-10"
    parts_sent: int = 0
    sent_chars: int = 0


def test_what_is_posted_together_and_what_goes_alone(tmp_path, botserver, monkeypatch):
    p = _programme(tmp_path, botserver, monkeypatch).programme
    name = {u.code: u.name for u in p.units}

    def row(i, unit, channel="group0", subject="【通知】甲", text="请贵单位按时提交。", **kw):
        return _Row(str(i), channel, unit, subject, f"{name[unit]}：\n\n{text}", **kw)

    posts = group_posts(p, [
        row(1, "c0"), row(2, "c1"), row(3, "c2"),               # the same notice to the whole group
        row(4, "c0", subject="【提醒】乙"), row(5, "c2", subject="【提醒】乙"),  # two of the three
        row(6, "c1", text="请贵单位补正第3项。"),                   # its own text: alone
        row(7, "c0", channel="email"), row(8, "c1", channel="email"),  # email is each unit's own
        row(9, "c0", subject="【运维】", digest=True), row(10, "c1", subject="【运维】", digest=True),
        _Row("11", "group0", "c0", "【通知】丙", "请各单位注意。"),  # no salutation to replace: alone
        _Row("12", "group0", "c1", "【通知】丙", "请各单位注意。"),
        # A long letter that came further for one of them than for the other: each goes on from its own place.
        row(13, "c0", subject="【通知】丁", parts_sent=1, sent_chars=40),
        row(14, "c1", subject="【通知】丁", parts_sent=1, sent_chars=80),
    ])
    assert [post.ids for post in posts] == [("1", "2", "3"), ("4", "5"), ("6",), ("7",), ("8",), ("9",), ("10",),
                                           ("11",), ("12",), ("13",), ("14",)]
    whole, two, alone = posts[0], posts[1], posts[2]
    assert whole.body == "各市（州）市场监督管理局：\n\n请各单位按时提交。" and whole.units == ("c0", "c1", "c2")
    assert two.body == "成都市、阿坝藏族羌族自治州市场监督管理局：\n\n请各单位按时提交。"
    assert alone.body == f"{name['c1']}：\n\n请贵单位补正第3项。"  # a letter to one unit keeps 贵单位
    assert posts[3].body == row(7, "c0", channel="email").body


def test_without_a_salutation_the_whole_group_is_named(tmp_path, botserver, monkeypatch):
    p = _programme(tmp_path, botserver, monkeypatch, salutation=None).programme
    rows = [_Row(str(i), "group0", u.code, "【通知】", f"{u.name}：\n正文") for i, u in enumerate(p.units[1:])]
    (post,) = group_posts(p, rows)
    assert post.body == "成都市、自贡市、阿坝藏族羌族自治州市场监督管理局：\n正文"


@pytest.mark.parametrize("salutation", [None, "各市（州）市场监督管理局"])
def test_a_long_list_of_units_is_told_in_posts_a_bot_takes_whole(tmp_path, botserver, monkeypatch, salutation):
    """WeCom takes 2,048 bytes of text: 60 names before the text would have cut the text off."""
    names = [f"第{n}号市市场监督管理局" for n in range(60)]
    p = _programme(tmp_path, botserver, monkeypatch, salutation=salutation, names=names).programme
    rows = [_Row(str(i), "group0", u.code, "【通知】", f"{u.name}：\n正文") for i, u in enumerate(p.units[1:])]
    posts = group_posts(p, rows)
    assert sorted(i for post in posts for i in post.ids) == sorted(r.id for r in rows)  # each row once
    heads = [post.body.partition("：\n")[0] for post in posts]
    if salutation:
        assert heads == [salutation]
    else:
        assert len(posts) > 1 and all(len(h) <= MAX_NAMES_CHARS for h in heads)
        assert all(post.body.endswith("：\n正文") for post in posts)
        assert "、".join(h.removesuffix("市场监督管理局") for h in heads).split("、") == [n[:-7] for n in names]


@pytest.mark.parametrize("salutation", [None, "各市（州）市场监督管理局"])
def test_an_invitation_is_posted_once_to_the_group_naming_nobody(tmp_path, botserver, monkeypatch, salutation):
    """A district's 300 enterprises read "如需申报，请在截止时间前提交" in ten posts, each headed by the
    names of those that had not applied yet: an invitation is to the whole group, and who has not
    applied is nobody's business but theirs. A required hand-in still names who owes it."""
    names = [f"第{n}号市市场监督管理局" for n in range(60)]
    loaded = _programme(tmp_path, botserver, monkeypatch, salutation=salutation, names=names)
    path = loaded.path
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    lateness: reject\n    reminders: std", "    lateness: reject\n    voluntary: true\n"
                                 "    reminders: std", 1), encoding="utf-8")
    p = load_programme(path).programme
    assert p.stage("application").voluntary
    rows = [_Row(str(i), "group0", u.code, "【提醒】", f"{u.name}：\n如需申报，请在截止时间前提交。",
                 action="application:reminder:T-3@2023-04-11") for i, u in enumerate(p.units[1:-1])]
    (post,) = group_posts(p, rows)
    assert post.body == f"{salutation or '各有关单位'}：\n如需申报，请在截止时间前提交。"
    assert sorted(post.ids) == sorted(r.id for r in rows)
    opened = [_Row(str(i), "group0", u.code, "【通知】", f"{u.name}：\n即日起受理申报，如需申报请按时提交。",
                   action="application:window_open@2023-04-03") for i, u in enumerate(p.units[1:-1])]
    assert len(group_posts(p, opened)) == 1
    # A call to all but one unit, that one told by email alone (barred from applying): one post, naming
    # nobody (names of all the others had named the one left out); told in the group too, it is named.
    called = [_Row(str(i), "group0", u.code, "【通知】", f"{u.name}：\n现发布申报通知。", action="call:publish@2023-04-03")
              for i, u in enumerate(p.units[1:-1])]
    barred = _Row("x", "email", p.units[-1].code, "【通知】", f"{p.units[-1].name}：\n贵单位本届不符合申报条件。",
                  action="call:publish@2023-04-03")
    posts = group_posts(p, [*called, barred])
    assert [post.body for post in posts if post.rows[0].channel == "group0"] == [f"{salutation or '各有关单位'}：\n现发布申报通知。"]
    told = _Row("y", "group0", p.units[-1].code, "【通知】", f"{p.units[-1].name}：\n贵单位本届不符合申报条件。",
                action="call:publish@2023-04-03")
    assert all(not post.body.startswith(("各有关单位", str(salutation))) for post in group_posts(p, [*called, told])
               if len(post.rows) > 1)
    # A 公示's letter to those on its list, the others told by email they are left off: the listed are named.
    listed = [_Row(str(i), "group0", u.code, "【公示】", f"{u.name}：\n贵单位已列入名单。", action="notice:notice_open@2023-05-04")
              for i, u in enumerate(p.units[1:-1])]
    left = _Row("z", "email", p.units[-1].code, "【公示】", f"{p.units[-1].name}：\n贵单位未列入名单。",
                action="notice:notice_open@2023-05-04")
    assert all(not post.body.startswith(("各有关单位", str(salutation))) for post in group_posts(p, [*listed, left])
               if post.rows[0].channel == "group0")
    owed = [_Row(str(i), "group0", u.code, "【通知】", f"{u.name}：\n正文") for i, u in enumerate(p.units[1:-1])]
    assert all(not post.body.startswith(("各有关单位", str(salutation))) for post in group_posts(p, owed))


# ---------------------------------------------------------------- delivered to a real bot stand-in


def test_a_notice_to_every_city_is_one_post_in_their_group_and_each_city_keeps_its_record(
        tmp_path, botserver, monkeypatch):
    loaded = _programme(tmp_path, botserver, monkeypatch)
    _queue(loaded, [_notice(loaded, u) for u in ("c0", "c1", "c2")])
    report = deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=NOON)
    (text,) = _texts(botserver)  # one request to the bot, not three
    assert text.startswith("【通知】第1号通知\n各市（州）市场监督管理局：\n") and "请各单位按要求提交材料" in text
    rows = _rows("group0")
    assert [r.status for r in rows] == ["sent"] * 3 and report.sent == 3 + 3  # the group's three, the emails
    assert "其中 3 条在群内合并为 1 次发布" in report.summary()
    assert len({r.posted_with for r in rows}) == 1 and rows[0].posted_with in {r.id for r in rows}
    # Each city's email is its own letter, addressed to it alone.
    emails = _rows("email")
    assert [r.posted_with for r in emails] == [None] * 3
    assert [r.body.split("：")[0] for r in emails] == CITIES


def test_a_failed_group_post_fails_for_every_city_and_is_retried_as_one_post(tmp_path, botserver, monkeypatch):
    monkeypatch.setenv("QCYCLE_NOTIFY_BACKOFF_BASE_SECONDS", "600")
    get_settings.cache_clear()
    loaded = _programme(tmp_path, botserver, monkeypatch)
    rid = round_id(loaded)
    _queue(loaded, [_notice(loaded, u) for u in ("c0", "c1", "c2")])
    botserver.behave("ratelimit", retry_after=0)  # HTTP 200 {"errcode": 45009}, every time
    report = deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    rows = _rows("group0")
    assert [r.status for r in rows] == ["failed"] * 3 and report.by_channel["group0"]["failed"] == 3
    assert len({r.next_attempt_at for r in rows}) == 1  # due again together
    assert all("45009" in r.last_error and r.attempts == 1 for r in rows)
    tried = len(_texts(botserver))
    assert tried >= 1 and all(t.count("各市（州）") == 1 for t in _texts(botserver))

    monkeypatch.setattr("qcycle.notify.deliver.DEFAULT_LIMITER", RateLimiter())
    botserver.behave("ok")
    later = deliver_due(programme=loaded.programme, round_id=rid, now=rows[0].next_attempt_at)
    assert later.sent == 3 and len(_texts(botserver)) == tried + 1  # one post, for the three
    assert {r.status for r in _rows("group0")} == {"sent"}


def test_the_simulated_report_counts_posts_beside_messages(tmp_path, botserver, monkeypatch):
    from qcycle import crud

    loaded = _programme(tmp_path, botserver, monkeypatch)
    rid = round_id(loaded)
    _queue(loaded, [_notice(loaded, u, n) for u in ("c0", "c1", "c2") for n in (1, 2)])
    deliver_due(programme=loaded.programme, round_id=rid, now=NOON)
    with db.session_scope() as session:
        tallies = crud.round_tallies(session=session, round_id=rid)
    assert tallies["messages"][("group0", "sent")] == 6 and tallies["posts"]["group0"] == 2
    assert tallies["posts"]["email"] == tallies["messages"][("email", "sent")] == 6


# ---------------------------------------------------------------- killed mid-fan-out


def test_killed_mid_fan_out_of_group_posts_nothing_is_lost_and_nothing_posted_twice(tmp_path, botserver, monkeypatch):
    """A post carries several cities' rows: if it was out at the kill, all of them are held for
    ops (never resent silently); if it had not started, all of them go out in the rerun, once."""
    n_bots, total = 4, 120
    names = [f"{n}号市市场监督管理局" for n in "一二三四五六七八"]
    loaded = _programme(tmp_path, botserver, monkeypatch, n_bots=n_bots, names=names)
    botserver.behave("slow", delay=0.05)
    kill_worker_midway(loaded, botserver, total, NOON, total, "group")  # a quarter of the 4 × 120 posts
    assert len(botserver.received) < n_bots * total, "the fan-out finished before the kill"
    botserver.behave("ok")
    report = deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=NOON)
    rows = _rows("group0") + _rows("group1") + _rows("group2") + _rows("group3")
    assert len(rows) == 8 * total and {r.status for r in rows} <= {"sent", "unknown"}
    arrived = Counter((r.token.split("-")[0], r.payload["text"]["content"].split("MSG-")[1])
                      for r in botserver.received if isinstance(r.payload, dict))
    assert max(arrived.values()) == 1  # no post arrived twice in any group
    unknown = [r for r in rows if r.status == "unknown"]
    assert report.unknown == len(unknown) <= 2 * n_bots  # one post in flight per bot, two cities each
    assert all(n == 2 for n in Counter(r.posted_with for r in unknown).values())  # a post's rows held together
    held = {(r.channel, r.body.split("MSG-")[1]) for r in unknown}
    every = {(f"group{b}", str(n)) for b in range(n_bots) for n in range(total)}
    assert set(arrived) | held == every  # nothing lost: each post arrived, or is held for ops
    assert {(r.channel, r.body.split("MSG-")[1]) for r in rows if r.status == "sent"} <= set(arrived)


def test_outbox_list_says_which_post_carried_a_row(tmp_path, botserver, monkeypatch):
    from typer.testing import CliRunner

    from qcycle.cli import app

    loaded = _programme(tmp_path, botserver, monkeypatch)
    _queue(loaded, [_notice(loaded, u) for u in ("c0", "c1", "c2")])
    deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=NOON)
    lead = _rows("group0")[0].posted_with
    shown = CliRunner().invoke(app, ["outbox", "list", "--channel", "group0"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert shown.output.count(f"随 {lead.hex[-8:]} 群内合并发布") == 3, shown.output
    alone = CliRunner().invoke(app, ["outbox", "list", "--channel", "email"], env={"COLUMNS": "300"})
    assert "群内合并发布" not in alone.output and alone.output.count("已发送") == 3, alone.output


def test_a_group_post_of_one_units_letter_has_no_recipient_its_email_has(tmp_path, monkeypatch):
    """长兴's DingTalk group post of one enterprise's 通报表扬 was recorded as sent to that enterprise's mailbox."""
    import json

    channels = [{"name": "email", "kind": "email", "url": "sink"}, {"name": "group0", "kind": "dingtalk", "url": "sink"}]
    units = [{"code": "c0", "name": CITIES[0], "email": "c0@example.gov.cn", "channels": ["email", "group0"]},
             {"code": "c1", "name": CITIES[1], "email": "c1@example.gov.cn", "channels": ["email", "group0"]}]
    loaded = write_programme(tmp_path / "prog", channels=channels, units=units, templates={"notice.j2": NOTICE})
    _queue(loaded, [_notice(loaded, "c0")])
    report = deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=NOON)
    assert report.sent == 2
    records = [json.loads(f.read_text(encoding="utf-8")) for f in (tmp_path / "home" / "sink").glob("*.json")]
    recipients = {r["channel"]: r["recipient"] for r in records}
    assert recipients == {"email": "c0@example.gov.cn", "group0": None}, records


def test_a_simulated_group_post_is_written_to_the_sink_once_in_its_claim(tmp_path, botserver, monkeypatch):
    """Simulation sends every channel to the sink (channel_override): a group's rows still go out as one
    post, marked as carried by it, and recorded in the claim's own transaction, unleased."""
    loaded = _programme(tmp_path, botserver, monkeypatch)
    _queue(loaded, [_notice(loaded, u) for u in ("c0", "c1", "c2")])
    report = deliver_due(programme=loaded.programme, round_id=round_id(loaded), now=NOON, channel_override="sink")
    assert (report.sent, report.group_posts, report.grouped) == (6, 1, 3) and botserver.received == []
    rows = _rows("group0")
    lead = rows[0].posted_with
    assert lead in {r.id for r in rows} and {r.posted_with for r in rows} == {lead}
    assert {(r.status, r.attempts, r.started_at) for r in rows} == {("sent", 1, None)}
    assert {r.posted_with for r in _rows("email")} == {None}
