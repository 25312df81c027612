"""Prefect's API server as qcycle runs it: the embedded one of the main job, and ``qcycle server``.

Prefect 3.8.8 opens its SQLite transactions ``BEGIN DEFERRED``. One that reads and then writes
fails at once with "database is locked" when another writer (the task-run recorder, event
persistence) commits in between: ``busy_timeout`` does not cover that lock upgrade. The client
then retries the 503 after 2, 4, 8, 16 s, which made the main job's time a matter of luck
(PrefectHQ/prefect#18934). Here every transaction begins ``IMMEDIATE``: writers wait their turn
on the busy timeout instead of failing. Reads outside a transaction are unchanged (WAL readers
take no lock). PostgreSQL is left as Prefect configures it.

Prefect's own in-process server must answer within 20 s or the flow fails ("Timed out while
attempting to connect to ephemeral Prefect API server"), which happened on a loaded machine. The
embedded server here is the same app, started by qcycle with a longer, configurable wait
(``QCYCLE_PREFECT_STARTUP_TIMEOUT``), and a failure names its log file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

from prefect.server.database.configurations import SQLITE_BEGIN_MODE, AioSqliteConfiguration
from prefect.server.database.dependencies import MODELS_DEPENDENCIES
from prefect.server.utilities.database import get_dialect
from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from qcycle.errors import QcycleError
from qcycle.settings import get_settings

__all__ = ["SerialSqliteConfiguration", "create_app", "embedded_api", "local_api", "use_serial_sqlite"]

# uvicorn exits with 3 when it cannot bind the port (taken between our check and its bind).
_PORT_TAKEN = 3


class SerialSqliteConfiguration(AioSqliteConfiguration):
    """Prefect's SQLite configuration, every transaction begun IMMEDIATE."""

    @contextlib.asynccontextmanager
    async def begin_transaction(self, session: AsyncSession, with_for_update: bool = False
                                ) -> AsyncGenerator[AsyncSessionTransaction, None]:
        token = SQLITE_BEGIN_MODE.set("IMMEDIATE")
        try:
            async with session.begin() as transaction:
                yield transaction
        finally:
            SQLITE_BEGIN_MODE.reset(token)


def use_serial_sqlite() -> bool:
    """Make this process's Prefect server use :class:`SerialSqliteConfiguration`.

    Returns False (and changes nothing) when Prefect's database is not SQLite."""
    url = PREFECT_API_DATABASE_CONNECTION_URL.value()
    if get_dialect(url).name != "sqlite":
        return False
    MODELS_DEPENDENCIES["database_config"] = SerialSqliteConfiguration(connection_url=url)
    return True


def create_app():
    """The uvicorn factory: Prefect's app, on serial SQLite transactions."""
    from prefect.server.api.server import create_app as prefect_app

    use_serial_sqlite()
    return prefect_app()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env() -> dict[str, str]:
    from prefect.settings import get_current_settings

    env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True)}
    # As Prefect's own in-process server: no UI, only the services a local run needs.
    env.update({"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # these machines are offline
    return env


def _start(log_path: Path, timeout: float) -> tuple[subprocess.Popen, str]:
    started = time.monotonic()
    with open(log_path, "ab") as log:  # the child keeps its own handle
        for attempt in range(3):
            port = _free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "qcycle.deploy.server:create_app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "error", "--lifespan", "on"],
                env=_server_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}/api"
            while (code := proc.poll()) is None:
                if _healthy(url):
                    return proc, url
                if time.monotonic() - started > timeout:
                    _stop(proc)
                    raise QcycleError(f"Prefect 服务在 {timeout:g} 秒内未就绪（可调 QCYCLE_PREFECT_STARTUP_TIMEOUT）；"
                                      f"服务日志：{log_path}")
                time.sleep(0.2)
            # uvicorn exits with 3 both when the port was taken meanwhile and when the app
            # fails to start: only the first is worth another port.
            if code != _PORT_TAKEN or attempt == 2 or not _taken(port):
                raise QcycleError(f"Prefect 服务启动失败（退出码 {code}）；服务日志：{log_path}")
    raise AssertionError("unreachable")


def _taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _settle(url: str, limit: float = 15.0) -> None:
    """Send what the client still holds (events, logs) and wait until the server has recorded
    it: task runs are written from events, after the flow that made them has returned."""
    import httpx
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=limit)
    APILogWorker.drain_all(timeout=limit)
    deadline, last = time.monotonic() + limit, None
    while time.monotonic() < deadline:
        try:
            count = httpx.post(f"{url}/task_runs/count", json={}, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return
        if count == last:
            return
        last = count
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def embedded_api() -> Iterator[str]:
    """Run the block against a Prefect API: the one ``PREFECT_API_URL`` names, else a server
    started here for the block (Prefect's database as configured, by default under
    ``PREFECT_HOME``) and stopped after it, once the runs it recorded are all in."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    with local_api(settings.home / "prefect-server.log", settings.prefect_startup_timeout) as url, \
            temporary_settings({PREFECT_API_URL: url}):
        try:
            yield url
        finally:
            _settle(url)


@contextlib.contextmanager
def local_api(log_path: Path, timeout: float) -> Iterator[str]:
    """Prefect's API on a free port of 127.0.0.1 for the block, its database as configured (serial
    transactions on SQLite), its output in ``log_path``; the URL is yielded, the server stopped after."""
    proc, url = _start(log_path, timeout)
    try:
        yield url
    finally:
        _stop(proc)
