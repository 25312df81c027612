"""A real ``prefect server start`` in a subprocess, and the client environment to reach it.

Tests that need what only a standalone server gives (the UI, PostgreSQL, basic auth, a
scheduler that fires deployments served by another process) start one with
:func:`prefect_server_process`; it takes about 10 s on these machines.
"""

from __future__ import annotations

import contextlib
import os
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


@contextlib.contextmanager
def prefect_server_process(home: Path, *, database_url: str | None = None, auth: str | None = None,
                           scheduler_seconds: float = 2, timeout: float = 90) -> Iterator[ServerProcess]:
    """Start ``prefect server start`` on a free port; stop it (and wait) at the end."""
    home.mkdir(parents=True, exist_ok=True)
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
        proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                 "--analytics-off"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
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
