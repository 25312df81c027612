"""The embedded Prefect server (``deploy/server.py``): serial SQLite transactions, a start-up
that waits as long as configured and fails with one line, every run recorded before it stops."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy.exc
from prefect.server.database.configurations import AioSqliteConfiguration
from qcycle.deploy.server import SerialSqliteConfiguration

from tests.prefect_proc import QCYCLE, REPO, clean_env

PROGRAMME = REPO / "config" / "programmes" / "sc-jbgs-2023.yaml"


async def _race(config: AioSqliteConfiguration) -> list[str]:
    """Transaction A reads, B reads, writes and commits, then A writes: the order in which
    Prefect's task-run recorder and an API call met on SQLite."""
    engine = await config.engine()
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (who TEXT)")
    a_read, b_done = asyncio.Event(), asyncio.Event()
    written: list[str] = []

    async def writer(name: str, first: bool) -> None:
        session = await config.session(engine)
        async with session, config.begin_transaction(session):
            if not first:
                await a_read.wait()
            await session.execute(sqlalchemy.text("SELECT count(*) FROM t"))
            if first:
                a_read.set()
                # With IMMEDIATE, B waits at its BEGIN until A commits: do not wait for it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(b_done.wait(), 1.0)
            await session.execute(sqlalchemy.text("INSERT INTO t VALUES (:who)"), {"who": name})
        written.append(name)
        if not first:
            b_done.set()

    try:
        results = await asyncio.gather(writer("A", True), writer("B", False), return_exceptions=True)
    finally:
        await engine.dispose()
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return written


def _config(cls, path: Path) -> AioSqliteConfiguration:
    return cls(connection_url=f"sqlite+aiosqlite:///{path}")


def test_prefects_deferred_transactions_lose_the_race_that_serial_ones_queue_for(tmp_path):
    # Prefect's own configuration: A's write after B's commit fails at once (the snapshot it
    # read is stale), whatever the busy timeout: the "database is locked" of simulated years.
    with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
        asyncio.run(_race(_config(AioSqliteConfiguration, tmp_path / "stock.db")))
    # Serial: B waits at its BEGIN until A has committed; both rows are written, A first.
    assert asyncio.run(_race(_config(SerialSqliteConfiguration, tmp_path / "serial.db"))) == ["A", "B"]
    rows = sqlite3.connect(tmp_path / "serial.db").execute("SELECT who FROM t ORDER BY rowid").fetchall()
    assert rows == [("A",), ("B",)]


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    # PREFECT_HOME: tmp_path/prefect, seeded with a migrated database by the prefect_home fixture
    # (the start itself is what these tests look at, not Prefect's migrations).
    env = clean_env(QCYCLE_HOME=str(tmp_path / "home"), PREFECT_HOME=str(tmp_path / "prefect"),
                    PREFECT_SERVER_LOG_RETRYABLE_ERRORS="true", **extra)
    return subprocess.run([QCYCLE, *args], env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_a_cli_flow_run_starts_the_embedded_server_and_records_every_run_before_it_stops(tmp_path, prefect_home):
    done = _run(tmp_path, "reconcile", str(PROGRAMME), "--as-of", "2023-04-21T10:00")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "完成" in done.stdout
    log = tmp_path / "home" / "prefect-server.log"
    assert log.exists() and "database is locked" not in log.read_text()
    con = sqlite3.connect(tmp_path / "prefect" / "prefect.db")
    flows = dict(con.execute("SELECT f.name, count(*) FROM flow_run r JOIN flow f ON f.id = r.flow_id "
                             "GROUP BY f.name").fetchall())
    assert flows.get("qcycle-reconcile") == 1
    tasks = [name for (name,) in con.execute("SELECT name FROM task_run")]
    # The reconcile's own steps are all in, though task runs are written from events after
    # the flow returned: the server was stopped only once they had arrived.
    assert any("准备周期" in name for name in tasks) and any("投递消息" in name for name in tasks), tasks
    assert all(state == "COMPLETED" for (state,) in con.execute("SELECT state_type FROM task_run")), tasks
    # Stopped: no process is left serving that database.
    ps = subprocess.run(["pgrep", "-f", "qcycle.deploy.server:create_app"], capture_output=True, text=True, check=False)
    assert str(tmp_path) not in ps.stdout


def test_a_server_that_does_not_start_in_time_is_one_line_naming_its_log(tmp_path):
    done = _run(tmp_path, "reconcile", str(PROGRAMME), "--as-of", "2023-04-21T10:00",
                QCYCLE_PREFECT_STARTUP_TIMEOUT="0.5")
    assert done.returncode == 2
    message = done.stderr.strip()
    assert "Prefect 服务在 0.5 秒内未就绪" in message and "prefect-server.log" in message
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.slow
def test_qcycle_server_serves_the_api_and_the_ui_on_serial_sqlite(tmp_path, prefect_home):
    import signal
    import time

    import httpx

    from tests.servers import free_port

    port = free_port()
    env = clean_env(PREFECT_HOME=str(prefect_home), QCYCLE_HOME=str(tmp_path / "home"))
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([QCYCLE, "server", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline, health = time.monotonic() + 180, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert health is not None and health.status_code == 200, log.read_text()
        flow = httpx.post(f"http://127.0.0.1:{port}/api/flows/", json={"name": "probe"}, timeout=10)
        assert flow.status_code in (200, 201)
        assert "<html" in httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text.lower()  # the UI
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert "BEGIN IMMEDIATE" in log.read_text()
