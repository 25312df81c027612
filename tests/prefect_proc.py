"""A real Prefect server (``qcycle server``) in a subprocess, and the client environment to reach it.

Tests that need what only a standalone server gives (the UI, PostgreSQL, basic auth, a
scheduler that fires deployments served by another process) start one with
:func:`prefect_server_process`.

A fresh Prefect SQLite database costs a server ~18 s of migrations on these machines (25 s to
start against 7 s). The test session makes one once (:func:`prefect_db_template`: a fresh
server started and stopped, shared by the xdist workers) and gives every new Prefect home a
copy (:func:`seed_prefect_home`); the tests that are about a fresh start do not use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import free_port

VENV_BIN = Path(sys.executable).parent
PREFECT = str(VENV_BIN / "prefect")
QCYCLE = str(VENV_BIN / "qcycle")
REPO = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Prefect/qcycle settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "QCYCLE_"))}
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"})
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    url: str  # .../api
    home: Path
    proc: subprocess.Popen
    auth: tuple[str, str] | None = None
    log: Path | None = None

    @property
    def ui(self) -> str:
        return self.url.removesuffix("/api")

    def client_env(self, **extra: str) -> dict[str, str]:
        env = clean_env(PREFECT_API_URL=self.url, PREFECT_HOME=str(self.home / "client"), **extra)
        if self.auth:
            env["PREFECT_API_AUTH_STRING"] = ":".join(self.auth)
        return env

    def send(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        # A busy SQLite makes the server answer 503 ("database is locked"); Prefect's own
        # client retries those, and so do we.
        for attempt in range(8):
            reply = httpx.request(method, f"{self.url}{path}", json=body, auth=self.auth, timeout=30)
            if reply.status_code not in (502, 503) or attempt == 7:
                break
            time.sleep(1 + attempt)
        reply.raise_for_status()
        return reply

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.send("POST", path, body or {})

    def get(self, path: str) -> httpx.Response:
        return self.send("GET", path)


TEMPLATE_NAME = "prefect-template.db"


def prefect_db_template(root: Path) -> Path:
    """The Prefect database a first server start leaves (migrated, its block types registered),
    made once under ``root`` (the test session's temporary root, shared by its workers): the
    first caller starts and stops a server on a fresh home, the others wait for it."""
    template = root / TEMPLATE_NAME
    with open(root / f"{TEMPLATE_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not template.exists():
            home = root / "prefect-template-home"
            shutil.rmtree(home, ignore_errors=True)
            with prefect_server_process(home):
                pass
            part = root / f"{TEMPLATE_NAME}.part"
            part.unlink(missing_ok=True)
            # SQLite's backup reads through the WAL, whatever the stop left in it.
            with contextlib.closing(sqlite3.connect(home / "prefect.db")) as source, \
                    contextlib.closing(sqlite3.connect(part)) as copy:
                source.backup(copy)
            os.replace(part, template)
    return template


def seed_prefect_home(home: Path, template: Path | None) -> Path:
    """``home`` as a ``PREFECT_HOME`` whose database is a copy of ``template`` (if given and
    the home has none yet)."""
    home.mkdir(parents=True, exist_ok=True)
    if template is not None and not (home / "prefect.db").exists():
        shutil.copyfile(template, home / "prefect.db")
    return home


@contextlib.contextmanager
def prefect_server_process(home: Path, *, database_url: str | None = None, auth: str | None = None,
                           scheduler_seconds: float = 2, timeout: float = 90,
                           template: Path | None = None) -> Iterator[ServerProcess]:
    """Start ``qcycle server`` on a free port (its SQLite database a copy of
    ``template`` when given); stop it (and wait) at the end."""
    seed_prefect_home(home, None if database_url else template)
    port = free_port()
    env = clean_env(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=str(scheduler_seconds),
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        # The UI is told where the API is from these settings (PREFECT_UI_API_URL defaults to
        # http://HOST:PORT/api built from them), not from `--port`: without them the UI of a
        # server on another port calls 127.0.0.1:4200 and shows "Can't connect to Server API".
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
    )
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    if auth:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth
    log = home / "server.log"
    with open(log, "wb") as out:
        # `qcycle server`, as the runbook starts it: Prefect's server, its SQLite transactions
        # begun IMMEDIATE. With `prefect server start` a busy test (three runs, two workers)
        # saw "database is locked" and API reads stalled past 30 s.
        proc = subprocess.Popen([QCYCLE, "server", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    creds = tuple(auth.split(":", 1)) if auth else None
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", auth=creds, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not answer in {timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield ServerProcess(url, home, proc, creds, log)
    finally:
        stop(proc)


def interruptible() -> None:
    """Let the processes this one starts be interrupted: a suite started in the background by a
    script (``cmd &``, as CI or ``bench/suite.py`` may be) inherits SIGINT ignored, and so would
    every server, ``qcycle serve`` and worker it starts; :func:`stop` then waited out its timeout
    before killing each (test_serve and test_workers took 95 and 72 s instead of 38 and 18)."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Interrupt a process we started (its own session) and wait for it; kill it if it hangs."""
    if proc.poll() is not None:
        return
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def flow_runs(server: ServerProcess, flow_name: str, name_like: str | None = None) -> list[dict]:
    """Flow runs of one flow through the REST API (omitted filters, not explicit nulls)."""
    body: dict = {"flows": {"name": {"any_": [flow_name]}}, "sort": "START_TIME_ASC", "limit": 200}
    if name_like:
        body["flow_runs"] = {"name": {"like_": name_like}}
    return server.post("/flow_runs/filter", body).json()
