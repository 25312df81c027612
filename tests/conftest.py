"""Shared fixtures: a fresh SQLite database per test, a throwaway PostgreSQL per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from qcycle import db
from tests.prefect_proc import interruptible
from tests.servers import PG_BIN, ThrowawayPostgres

interruptible()  # before any test starts a process that stop() will interrupt

# Modules whose tests share a costly module-scoped setup (the UI test: a simulated round on its
# own server, a browser). Work stealing takes queued tests from the tail of a worker's queue, so
# tests at the very head stay together on the first worker and the setup is built once.
SHARED_SETUP = ("tests/e2e/test_ui.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow tests first (in their own order), the quick ones after: with two workers that
    steal work (``--dist worksteal``), a minute-long test started last would leave the other
    worker idle at the end; started first, the quick ones fill in around it."""
    def weight(item: pytest.Item) -> int:
        if item.nodeid.startswith(SHARED_SETUP):
            return -1
        if item.get_closest_marker("slow"):
            return 0
        return 1 if any(item.get_closest_marker(m) for m in ("server", "faults", "postgres")) else 2

    items.sort(key=weight)


@pytest.hookimpl(trylast=True)  # after pytest's own, which makes the session's temporary folders
def pytest_configure(config: pytest.Config) -> None:
    """What a worker makes once and reuses (tests/scratch.py: the migrated database each test's is copied from,
    programme variants) goes in this session's temporary folder, from collection on: a module asking at import
    had got a folder of its own, and a worker ending without ``atexit`` left it in /tmp."""
    from tests import scratch

    scratch.session_dir = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]  # pytest's, as its tmp_path_factory fixture reads it


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """URL of a fresh SQLite file migrated to head (through Alembic, as in production)."""
    from tests.homes import migrated

    url = migrated(f"sqlite:///{tmp_path / 'qcycle.db'}")
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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL 15 on 127.0.0.1 with an empty ``qcycle`` database.

    Started once per test session (about 2 s) in a temporary folder owned by postgres,
    with durability off (it is thrown away), and stopped at the end.
    """
    if not ThrowawayPostgres.available():
        pytest.skip(f"PostgreSQL 15 is not installed here ({PG_BIN / 'initdb'} is missing)")
    cluster = ThrowawayPostgres("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    try:
        cluster.start()
        cluster.create_database("qcycle")
        yield cluster.url("qcycle")
    finally:
        db.dispose_engines()  # close pooled connections before the server goes away
        cluster.stop()


@pytest.fixture(scope="session")
def prefect_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Prefect database to copy (tests/prefect_proc.py), made once per test session."""
    from tests.prefect_proc import prefect_db_template

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' common folder
    return prefect_db_template(root)


@pytest.fixture
def prefect_home(tmp_path: Path, prefect_template: Path) -> Path:
    """A PREFECT_HOME for a subprocess, its database already migrated (a copy of the template)."""
    from tests.prefect_proc import seed_prefect_home

    return seed_prefect_home(tmp_path / "prefect", prefect_template)


@pytest.fixture(scope="session")
def prefect_process(tmp_path_factory, prefect_template) -> Iterator:
    """A standalone ``qcycle server`` (SQLite, UI on, scheduler every 2 s), once per session.

    For tests that need what the server of ``tests/server`` (the main job's embedded one: no UI,
    only the services a run needs) does not give: the UI in a browser, and deployments served
    by another process that the scheduler fires.
    """
    from tests.prefect_proc import prefect_server_process

    with prefect_server_process(tmp_path_factory.mktemp("prefect-server"), template=prefect_template) as server:
        yield server
