"""Pulling from a real HTTP source: paging, retries, timeouts, garbage, tokens, quarantine."""

from __future__ import annotations

import logging
import sqlite3
import traceback

import pytest
from pydantic import ValidationError
from sqlmodel import Session, func, select

from qcycle import db
from qcycle.errors import IntakeError
from qcycle.intake import HttpSource, SourceFailed, pull_http, pull_into_database
from qcycle.loader import load_programme
from qcycle.models import QuarantinedRecord, Review, Submission
from tests.intake.conftest import P1, TOKEN, TOKEN_ENV
from tests.servers import free_port

LOADED = load_programme(P1)  # read once: the tests pull many times


class Sleeps(list):
    """Records the waits instead of sleeping (backoff is asserted, not waited for)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _source(server, path: str, **kwargs) -> HttpSource:
    options = {"token_env": TOKEN_ENV, "page_size": 3, "timeout": 2, "retries": 2, "backoff": 0.05}
    return HttpSource(url=server.url(path), **(options | kwargs))


def _pull(session, server, path: str, sleeps: Sleeps | None = None, **kwargs):
    return pull_http(source=_source(server, path, **kwargs), programme=LOADED, session=session,
                     sleep=sleeps if sleeps is not None else Sleeps())  # fmt: skip


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_pull_that_reaches_max_pages_says_pages_may_be_left(session, source_server, token_env):
    report = _pull(session, source_server, "/good", max_pages=2)
    assert report.pages == 2 and len(source_server.requests) == 2
    assert "已达 2 页上限" in report.stopped and report.as_dict()["stopped"] == report.stopped
    assert _pull(session, source_server, "/good").stopped == ""  # the whole source: nothing left


def test_three_pages_are_taken_and_the_same_records_pulled_twice_are_stored_once(
    session, source_server, token_env
):
    first = _pull(session, source_server, "/good")
    assert first.pages == 3
    assert [r.split("?")[1] for r in source_server.requests] == [
        "page=1&page_size=3", "page=2&page_size=3", "page=3&page_size=3"]  # fmt: skip
    assert first.counts == {"accepted": 5, "late_accepted": 1, "rejected_late": 1,
                            "duplicate": 0, "revised": 0, "conflict": 0, "quarantined": 0}  # fmt: skip
    second = _pull(session, source_server, "/good")
    # Submissions are kept once by fingerprint; scores once per reviewer and component (and
    # counted as the duplicates they are, not 按时受理 again).
    assert second.counts["duplicate"] == 7 and second.counts["accepted"] == 0 and second.counts["quarantined"] == 0
    assert (_count(session, Submission), _count(session, Review)) == (5, 2)
    chinese = session.exec(select(Submission).where(Submission.external_id == "A2")).one()
    assert (chinese.kind, chinese.unit_code, chinese.item_code) == (
        "application",
        "510300",
        "cxyl-02",
    )
    assert chinese.submitted_at.isoformat() == "2023-04-19T16:00:00+08:00"
    first_row = session.exec(select(Submission).where(Submission.external_id == "A1")).one()
    assert (
        first_row.payload == {"联系人": "王芳"}
        and first_row.source == f"http:{source_server.url('/good')}"
    )


def test_next_links_are_followed_until_null(session, source_server, token_env):
    report = _pull(session, source_server, "/cursor")
    assert report.pages == 2 and report.total == 4
    assert source_server.requests[1] == "/cursor?cursor=b"
    assert all(a == f"Bearer {TOKEN}" for a in source_server.auth_seen)


def test_a_chain_of_links_that_comes_back_is_a_loop_and_stops_the_pull(session, source_server, token_env):
    """Pages that link to each other were fetched 10,000 times, then the pull ended "done" (rc 0)."""
    with pytest.raises(SourceFailed, match="分页链接成环") as info:
        _pull(session, source_server, "/link-loop")
    assert info.value.kind == "unreadable" and info.value.report is not None
    assert info.value.report.pages == 3 and source_server.hits["/link-loop"] == 3  # a, b, a again: seen
    assert info.value.report.total == 6 and info.value.report.counts["duplicate"] == 2  # page a twice, stored once


def test_a_500_is_retried_with_backoff(session, source_server, token_env):
    sleeps = Sleeps()
    report = _pull(session, source_server, "/flaky", sleeps)
    assert report.counts["accepted"] == 1
    assert source_server.hits["/flaky"] == 3  # 500, then page 1, then the empty page 2
    assert len(sleeps) == 1 and 0.025 <= sleeps[0] <= 0.05  # backoff 0.05 with jitter


def test_429_waits_as_long_as_retry_after_says(session, source_server, token_env):
    sleeps = Sleeps()
    report = _pull(session, source_server, "/limited", sleeps)
    assert report.counts["accepted"] == 1 and sleeps == [1.0]


def test_backoff_grows_and_the_failure_names_the_url_and_the_status(
    session, source_server, token_env
):
    sleeps = Sleeps()
    with pytest.raises(SourceFailed) as info:
        _pull(session, source_server, "/always-500", sleeps, retries=3, backoff=0.1)
    assert source_server.hits["/always-500"] == 4
    # 0.1 s doubling, each wait jittered within its upper half.
    for wait, full in zip(sleeps, (0.1, 0.2, 0.4), strict=True):
        assert full / 2 <= wait <= full
    message = str(info.value)
    assert (
        source_server.url("/always-500") in message
        and "HTTP 503" in message
        and "重试 3 次" in message
    )
    assert info.value.retryable and isinstance(info.value, IntakeError)


def test_a_reply_slower_than_the_timeout_is_retried_then_fails_clearly(
    session, source_server, token_env
):
    with pytest.raises(SourceFailed, match="超时") as info:
        _pull(session, source_server, "/slow", timeout=0.2, retries=1)
    assert source_server.hits["/slow"] == 2 and "/slow" in str(info.value)
    # One slow reply, then a prompt one: the retry saves the pull.
    report = _pull(session, source_server, "/slow-once", timeout=0.2, retries=1)
    assert report.counts["accepted"] == 1


def test_refused_connection_fails_after_retries(session, token_env):
    url = f"http://127.0.0.1:{free_port()}/submissions"
    sleeps = Sleeps()
    with pytest.raises(SourceFailed, match="无法连接") as info:
        pull_http(source=HttpSource(url=url, token_env=token_env, retries=2, backoff=0.01),
                  programme=P1, session=session, sleep=sleeps)  # fmt: skip
    assert len(sleeps) == 2 and url in str(info.value)


def test_html_page_is_quarantined_and_the_next_page_taken(session, source_server, token_env):
    report = _pull(session, source_server, "/html")
    assert (report.counts["quarantined"], report.counts["accepted"]) == (1, 1)
    kept = session.exec(select(QuarantinedRecord)).one()
    assert "502 Bad Gateway" in kept.raw and "HTML" in kept.reason and "第 1 页" in kept.reason


def test_truncated_json_page_is_quarantined_and_paging_goes_on(session, source_server, token_env):
    report = _pull(session, source_server, "/truncated")
    assert (
        report.pages == 3 and report.counts["accepted"] == 2 and report.counts["quarantined"] == 1
    )
    kept = session.exec(select(QuarantinedRecord)).one()
    assert kept.raw == '{"records": [{"kind": "applica' and "不是有效的 JSON" in kept.reason
    assert "第 2 页" in kept.reason


def test_page_of_the_wrong_shape_is_quarantined(session, source_server, token_env):
    report = _pull(session, source_server, "/shape")
    assert report.counts["quarantined"] == 1 and "不是预期的结构" in report.quarantined[0].reason
    assert "维护中" in session.exec(select(QuarantinedRecord)).one().raw


def test_broken_page_in_a_link_chain_stops_the_pull_but_keeps_what_came_before(
    sqlite_url, source_server, token_env
):
    source = _source(source_server, "/cursor-broken")
    with pytest.raises(SourceFailed, match="无法得知下一页") as info:
        pull_into_database(source=source, programme=P1, database_url=sqlite_url, sleep=Sleeps())
    assert info.value.report is not None and info.value.report.counts["accepted"] == 1
    with Session(db.get_engine(sqlite_url)) as session:  # committed despite the failure
        assert _count(session, Submission) == 1
        kept = session.exec(select(QuarantinedRecord)).one()
        assert kept.raw == "Service Unavailable" and "cursor=x" in kept.reason


def test_every_malformed_record_is_kept_in_quarantine_with_its_reason(
    session, source_server, token_env
):
    report = _pull(session, source_server, "/mixed")
    assert report.counts["accepted"] == 1 and report.counts["quarantined"] == 5
    rows = session.exec(select(QuarantinedRecord)).all()
    assert len(rows) == 5
    reasons = " | ".join(r.reason for r in rows)
    for expected in ("999999", "提交时间", "不是对象", "'wish'", "不是数字"):
        assert expected in reasons, expected
    assert any(r.raw == "42" for r in rows)
    assert [q.where for q in report.quarantined] == [f"第 1 页第 {i} 条" for i in (2, 3, 4, 5, 6)]
    again = _pull(session, source_server, "/mixed")  # pulled again: kept once, not twice
    assert again.counts["quarantined"] == 5 and _count(session, QuarantinedRecord) == 5


def test_missing_or_wrong_token_is_refused_without_retrying(session, source_server, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(SourceFailed, match=f"环境变量 {TOKEN_ENV} 未设置"):
        _pull(session, source_server, "/good")
    assert source_server.hits["/good"] == 0
    monkeypatch.setenv(TOKEN_ENV, "wrong-token-value")
    with pytest.raises(SourceFailed, match="HTTP 401") as info:
        _pull(session, source_server, "/good")
    assert source_server.hits["/good"] == 1 and not info.value.retryable
    assert TOKEN_ENV in str(info.value) and "wrong-token-value" not in str(info.value)
    with pytest.raises(SourceFailed, match="HTTP 401"):  # no token at all
        _pull(session, source_server, "/good", token_env=None)
    with pytest.raises(SourceFailed, match="HTTP 404"):
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        _pull(session, source_server, "/nowhere")
    assert source_server.hits["/nowhere"] == 1


def test_config_refuses_a_token_in_the_wrong_place_without_echoing_it():
    with pytest.raises(ValidationError) as info:
        HttpSource(url="http://127.0.0.1/x", token_env=TOKEN)  # the token pasted as the name
    assert TOKEN not in str(info.value) and "环境变量名" in str(info.value)
    for url in (f"http://127.0.0.1/x?token={TOKEN}", f"http://user:{TOKEN}@127.0.0.1/x"):
        with pytest.raises(ValidationError) as info:
            HttpSource(url=url, token_env=TOKEN_ENV)
        assert TOKEN not in str(info.value)
    assert TOKEN not in HttpSource(url="http://127.0.0.1/x", token_env=TOKEN_ENV).model_dump_json()


def test_the_token_never_reaches_logs_exceptions_or_the_database(
    sqlite_url, source_server, token_env, caplog
):
    caplog.set_level(logging.DEBUG)
    errors = []
    for path, kwargs in [("/good", {}), ("/mixed", {}), ("/echo", {}), ("/flaky", {}),
                         ("/always-500", {"retries": 1}), ("/slow", {"timeout": 0.2, "retries": 0}),
                         ("/cursor-broken", {})]:  # fmt: skip
        try:
            pull_into_database(source=_source(source_server, path, **kwargs), programme=LOADED,
                               database_url=sqlite_url, sleep=Sleeps())  # fmt: skip
        except SourceFailed as exc:
            errors.append(exc)
    assert len(errors) == 4  # echo (3 unreadable pages), always-500, slow, cursor-broken
    assert "Authorization" in caplog.text or "HTTP Request" in caplog.text  # httpx did log
    assert TOKEN not in caplog.text
    for exc in errors:
        assert TOKEN not in "".join(traceback.format_exception(exc)) and TOKEN not in repr(exc)
    # The echo page showed the token; it is quarantined with the token masked.
    dump = "\n".join(sqlite3.connect(sqlite_url.removeprefix("sqlite:///")).iterdump())
    assert "Authorization: Bearer ***" in dump
    assert TOKEN not in dump
