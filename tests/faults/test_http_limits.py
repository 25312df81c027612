"""HTTP intake against hostile or broken servers: it ends, it stays small, it keeps every record.

Real servers on 127.0.0.1 (tests/intake/conftest.py): bodies dripped a byte a second, a 200 MiB
body, redirects to another origin, an endpoint that flaps. Time bounds are about termination
(generous margins), not speed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from qcycle import db
from qcycle.cli import app
from qcycle.intake import HttpSource, SourceFailed, pull_http, pull_into_database
from qcycle.loader import load_programme
from qcycle.models import QuarantinedRecord, Review, Submission
from tests.intake import conftest as intake
from tests.intake.conftest import GOOD_RECORDS, P1, TOKEN, TOKEN_ENV

pytestmark = [pytest.mark.faults]

# The stand-in servers and the environment of tests/intake, as fixtures here too.
source_server, other_server = intake.source_server, intake.other_server
token_env, qcycle_home = intake.token_env, intake.qcycle_home

LOADED = load_programme(P1)
MARGIN = 10  # seconds on top of what the settings allow: scheduling, a slow CI machine
MEMORY_CAP_MIB = 100
runner = CliRunner()


def _source(server, path: str, **kwargs) -> HttpSource:
    options = {"token_env": TOKEN_ENV, "page_size": 3, "timeout": 2, "retries": 2, "backoff": 0.05}
    return HttpSource(url=server.url(path), **(options | kwargs))


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _pull_cli(server, path: str, *options: str):
    args = ["pull", "--round", str(P1), "--url", server.url(path), "--token-env", TOKEN_ENV]
    return runner.invoke(app, [*args, "--page-size", "3", *options])


def _assert_clean_failure(result, code: int, *phrases: str) -> str:
    """Exit code as documented, one error line, no traceback, no token."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and TOKEN not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("错误：")]
    assert len(errors) == 1, result.output
    for phrase in phrases:
        assert phrase in errors[0], errors[0]
    return errors[0]


def test_a_body_dripped_a_byte_a_second_times_out_within_the_settings(
    session, source_server, token_env
):
    timeout, retries, backoff = 2, 1, 0.1
    bound = timeout * (retries + 1) + backoff * 2**retries + MARGIN
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="超时") as info:
        pull_http(source=_source(source_server, "/drip", timeout=timeout, retries=retries,
                                 backoff=backoff),
                  programme=LOADED, session=session)  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"slow drip: ended after {elapsed:.1f} s (bound {bound:.1f} s)")
    assert elapsed < bound
    assert source_server.hits["/drip"] == retries + 1 and info.value.kind == "unavailable"
    assert info.value.report is not None and info.value.report.total == 0


def test_headers_dripped_a_byte_a_second_do_not_hold_the_request_open(
    session, source_server, token_env
):
    # Each read gets a byte, so no per-read timeout fires: only the overall deadline ends it.
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="超时"):
        pull_http(source=_source(source_server, "/drip-headers", timeout=2, retries=0),
                  programme=LOADED, session=session)  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"header drip: ended after {elapsed:.1f} s (bound {2 + MARGIN} s)")
    assert elapsed < 2 + MARGIN


def test_the_pull_deadline_stops_the_pull_keeps_the_pages_taken_and_exits_4(
    qcycle_home, source_server, token_env
):
    # Page 1 comes at once, page 2 drips: a deadline shorter than the request timeout ends it.
    deadline = 3
    started = time.monotonic()
    result = _pull_cli(source_server, "/then-drip", "--timeout", "60", "--retries", "5",
                       "--deadline", str(deadline))  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"pull deadline {deadline} s: ended after {elapsed:.1f} s")
    assert elapsed < deadline + MARGIN
    _assert_clean_failure(result, 4, "超过总时限 3 秒", "已取得的页已保存", "其余未拉取")
    assert "按时受理 2，逾期已受理 0，逾期不予受理 1，重复 0，修改重报 0，冲突隔离 0，隔离 0（1 页）" in result.stdout
    assert "拉取提前停止" in result.stdout
    with Session(db.get_engine()) as session:  # page 1 committed
        assert _count(session, Submission) == 3


def test_a_pull_holds_no_write_lock_while_it_waits_on_the_source(sqlite_url, source_server, token_env):
    """Page 1 is committed when it is taken: while page 2 drips, others read it and write."""
    source = _source(source_server, "/then-drip", timeout=60, deadline=6)
    failed: list[SourceFailed] = []

    def pull() -> None:
        try:
            pull_into_database(source=source, programme=LOADED, database_url=sqlite_url)
        except SourceFailed as exc:
            failed.append(exc)

    puller = threading.Thread(target=pull)
    puller.start()
    path = sqlite_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 5
    seen = 0
    while seen == 0 and time.monotonic() < deadline:
        with sqlite3.connect(path, timeout=0.5) as conn:
            seen = conn.execute("SELECT count(*) FROM submission").fetchone()[0]
        time.sleep(0.05)
    assert seen == 3 and puller.is_alive()  # page 1 stored while page 2 is still coming
    with sqlite3.connect(path, timeout=0.5) as conn:  # a writer gets the lock at once
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE programme_round SET name = name")
        conn.commit()
    puller.join(timeout=6 + MARGIN)
    assert not puller.is_alive() and failed and failed[0].kind == "deadline"


def test_the_report_of_a_pull_stopped_by_its_deadline_says_so(sqlite_url, source_server,
                                                               token_env):  # fmt: skip
    source = _source(source_server, "/then-drip", timeout=60, deadline=2)
    with pytest.raises(SourceFailed) as info:
        pull_into_database(source=source, programme=LOADED, database_url=sqlite_url)
    report = info.value.report
    assert info.value.kind == "deadline" and info.value.retryable and report is not None
    assert report.pages == 1 and report.total == 3
    assert "超过总时限 2 秒" in report.stopped and report.as_dict()["stopped"] == report.stopped
    # Waiting for a retry past the deadline is not done either: it stops at once.
    source = _source(source_server, "/always-500", retries=5, backoff=60, max_backoff=60,
                     deadline=30)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(SourceFailed, match="超过总时限 30 秒"):
        pull_http(source=source, programme=LOADED, session=Session(db.get_engine(sqlite_url)))
    assert time.monotonic() - started < MARGIN


def test_a_200_mib_body_over_a_1_mib_cap_is_quarantined_with_memory_bounded(
    tmp_path: Path, source_server
):
    """Run in a subprocess through the CLI, so the high-water mark is this pull's alone."""
    script = """
import json, resource, sys
import qcycle.cli.intake, qcycle.intake.http
from qcycle import db
from qcycle.cli import app

def status_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

db.upgrade()
try:  # start the high-water mark afresh: imports and migrations are not the pull
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
rss = status_kib("VmRSS")
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    app(sys.argv[1:])
    code = 0
except SystemExit as exc:
    code = exc.code
maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak = status_kib("VmHWM") if reset else maxrss_after
print(json.dumps({"code": code, "rss_kib": rss, "peak_kib": peak, "reset": reset,
                  "maxrss_before_kib": maxrss_before, "maxrss_after_kib": maxrss_after}))
"""
    env = os.environ | {"QCYCLE_HOME": str(tmp_path / "home"), TOKEN_ENV: TOKEN}
    env.pop("QCYCLE_DATABASE_URL", None)
    args = ["pull", "--round", str(P1), "--url", source_server.url("/huge"),
            "--token-env", TOKEN_ENV, "--max-page-bytes", str(1024 * 1024), "--timeout", "30"]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          check=False, env=env, timeout=120, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    elapsed = time.monotonic() - started
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # Peak during the pull minus resident before it: what the pull added, at most.
    growth_mib = (figures["peak_kib"] - figures["rss_kib"]) / 1024
    print(f"huge body: resident {figures['rss_kib'] / 1024:.0f} MiB before the pull, peak "
          f"{figures['peak_kib'] / 1024:.0f} MiB during it (high-water mark reset: "
          f"{figures['reset']}; ru_maxrss {figures['maxrss_before_kib'] / 1024:.0f} → "
          f"{figures['maxrss_after_kib'] / 1024:.0f} MiB): growth {growth_mib:.1f} MiB "
          f"(cap {MEMORY_CAP_MIB} MiB; body 200 MiB), {elapsed:.1f} s")  # fmt: skip
    assert figures["code"] == 5, done.stdout + done.stderr
    assert growth_mib < MEMORY_CAP_MIB
    assert "Traceback" not in done.stderr and TOKEN not in done.stdout + done.stderr
    assert "响应超过 1 MiB 上限" in done.stderr and "错误：" in done.stderr
    assert "第 1 页" in done.stdout and "隔离 1" in done.stdout
    with Session(db.get_engine(f"sqlite:///{tmp_path / 'home' / 'qcycle.db'}")) as session:
        kept = session.exec(select(QuarantinedRecord)).one()
        assert "响应超过 1 MiB 上限，已隔离" in kept.reason and "第 1 页" in kept.reason
        assert kept.raw.startswith('{"records": [') and len(kept.raw) <= 4096
        assert _count(session, Submission) == 0


def test_a_page_over_the_cap_in_process_keeps_the_pages_before_it(
    sqlite_url, source_server, token_env
):
    source = _source(source_server, "/huge", max_page_bytes=64 * 1024)
    with pytest.raises(SourceFailed, match="响应超过 64 KiB 上限") as info:
        pull_into_database(source=source, programme=LOADED, database_url=sqlite_url)
    assert info.value.kind == "too_large" and not info.value.retryable
    report = info.value.report
    assert report is not None and report.counts["quarantined"] == 1 == report.total
    assert "已停止" in report.stopped


def test_a_redirect_to_another_origin_is_refused_unless_allowed(
    qcycle_home, source_server, other_server, token_env
):
    refused = _pull_cli(source_server, "/moved")
    line = _assert_clean_failure(refused, 6, "重定向到另一来源", other_server.base,
                                 "allow_redirects_to")  # fmt: skip
    assert "open-good" not in line  # the origin, not the address it was sent to
    assert other_server.hits["/open-good"] == 0  # never even asked
    with Session(db.get_engine()) as session:
        assert (_count(session, Submission), _count(session, Review)) == (0, 0)

    allowed = _pull_cli(source_server, "/moved", "--allow-redirect-to", other_server.base)
    assert allowed.exit_code == 0, allowed.output
    assert "按时受理 5，逾期已受理 1，逾期不予受理 1，重复 0，修改重报 0，冲突隔离 0，隔离 0（3 页）" in allowed.stdout
    assert other_server.hits["/open-good"] == 3
    assert set(other_server.auth_seen) == {None}  # the token stays with its own origin
    with Session(db.get_engine()) as session:
        assert (_count(session, Submission), _count(session, Review)) == (5, 2)


def test_redirects_within_the_origin_are_followed_and_loops_end(session, source_server, token_env):
    report = pull_http(source=_source(source_server, "/moved-home"), programme=LOADED,
                       session=session)  # fmt: skip
    assert report.counts["accepted"] == 5 and source_server.hits["/good"] == 3
    assert set(source_server.auth_seen) == {f"Bearer {TOKEN}"}
    with pytest.raises(SourceFailed, match="重定向超过 5 次") as info:
        pull_http(source=_source(source_server, "/loop"), programme=LOADED, session=session)
    assert source_server.hits["/loop"] == 6 and info.value.kind == "redirect"
    with pytest.raises(SourceFailed, match="location header"):  # httpx refuses it first
        pull_http(source=_source(source_server, "/bad-location"), programme=LOADED,
                  session=session)  # fmt: skip
    # A next link is held to the same rule: page 1 is taken, the other origin is not asked.
    with pytest.raises(
        SourceFailed, match="下一页链接指向另一来源 http://other.invalid:8443，"
    ) as info:
        pull_http(source=_source(source_server, "/next-elsewhere"), programme=LOADED,
                  session=session)  # fmt: skip
    assert "s3cr3t" not in str(info.value) and info.value.report.total == 1  # page 1: taken


def test_allow_redirects_to_takes_origins_only():
    ok = HttpSource(url="http://127.0.0.1/x", allow_redirects_to=["HTTPS://Files.example.cn:443/"])
    assert ok.allow_redirects_to == ("https://files.example.cn",)
    for bad in ("files.example.cn", "https://files.example.cn/path", "https://u:p@files.cn"):
        with pytest.raises(ValueError, match="allow_redirects_to"):
            HttpSource(url="http://127.0.0.1/x", allow_redirects_to=[bad])


def test_a_flapping_endpoint_loses_nothing_and_doubles_nothing(sqlite_url, source_server,
                                                               token_env):  # fmt: skip
    # Every page: 503, then a connection cut halfway through the body, then the page.
    source = _source(source_server, "/flapping", retries=2, backoff=0.01)
    first = pull_into_database(source=source, programme=LOADED, database_url=sqlite_url)
    assert source_server.hits["/flapping"] == 9 and first.pages == 3
    assert first.counts == {"accepted": 5, "late_accepted": 1, "rejected_late": 1,
                            "duplicate": 0, "revised": 0, "conflict": 0, "quarantined": 0}  # fmt: skip
    assert first.total == len(GOOD_RECORDS)
    again = pull_into_database(source=source, programme=LOADED, database_url=sqlite_url)
    assert again.total == len(GOOD_RECORDS) and again.counts["duplicate"] == 7  # the two scores too
    with Session(db.get_engine(sqlite_url)) as session:
        assert (_count(session, Submission), _count(session, Review)) == (5, 2)
        assert _count(session, QuarantinedRecord) == 0
