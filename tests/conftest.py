"""Shared fixtures: a fresh SQLite database per test, a throwaway PostgreSQL per session."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from qcycle import db

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """URL of a fresh SQLite file migrated to head (through Alembic, as in production)."""
    url = f"sqlite:///{tmp_path / 'qcycle.db'}"
    db.upgrade(url)
    yield url
    db.get_engine(url).dispose()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """QCYCLE_HOME (and the sink) in tmp_path, its database migrated: the CLI, the core and the
    flows use it as they would in production."""
    from tests.homes import leave_home, use_home

    yield use_home(monkeypatch, tmp_path / "home")
    leave_home()


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    """A session on a fresh, migrated SQLite file; rolled back and closed afterwards."""
    with Session(db.get_engine(sqlite_url), expire_on_commit=False) as session:
        yield session
        session.rollback()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*args: str) -> list[str]:
    # PostgreSQL refuses to run as root; when we are root, run it as the postgres user.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return [*prefix, *args]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL 15 on 127.0.0.1 with an empty ``qcycle`` database.

    Started once per test session (about 2 s) in a temporary folder owned by postgres,
    with durability off (it is thrown away), and stopped at the end.
    """
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        pytest.skip(f"PostgreSQL 15 is not installed here ({initdb} is missing)")

    import psycopg

    # Not under pytest's tmp folder: that is private to root and postgres could not enter it.
    base = tempfile.mkdtemp(prefix="qcycle-pg-")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log = f"{base}/data", f"{base}/server.log"
    port = _free_port()

    def run(*args: str) -> None:
        result = subprocess.run(
            _as_postgres(*args), check=False, cwd=base, capture_output=True, text=True
        )
        if result.returncode != 0:
            server_log = Path(log).read_text() if Path(log).exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{server_log}"
            )

    options = (
        f"-p {port} -k {base} -h 127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    started = False
    try:
        run(str(initdb), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync")  # fmt: skip
        run(str(PG_BIN / "pg_ctl"), "-D", data, "-o", options, "-l", log, "-w", "-t", "30",
            "start")  # fmt: skip
        started = True
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE qcycle")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/qcycle"
    finally:
        db.dispose_engines()  # close pooled connections before the server goes away
        if started:
            run(str(PG_BIN / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_process(tmp_path_factory) -> Iterator:
    """A standalone ``prefect server start`` (SQLite, UI on, scheduler every 2 s), once per session.

    For tests that need what the in-process test harness does not give: the UI in a browser,
    and deployments served by another process that the scheduler fires.
    """
    from tests.prefect_proc import prefect_server_process

    with prefect_server_process(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server
