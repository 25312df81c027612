"""One real Prefect server for every test in this folder: the one the main job embeds (serial
SQLite transactions), its database a copy of the session's migrated template (7 s to start
instead of 25)."""

from __future__ import annotations

import os

import pytest

from qcycle import db
from qcycle.settings import get_settings
from tests.prefect_proc import seed_prefect_home


@pytest.fixture(scope="session")
def prefect_server(prefect_template, tmp_path_factory):
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_API_URL,
        temporary_settings,
    )
    from qcycle.deploy.server import local_api

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    folder = seed_prefect_home(tmp_path_factory.mktemp("prefect-server"), prefect_template)
    with temporary_settings({PREFECT_API_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{folder / 'prefect.db'}"}), \
            local_api(folder / "server.log", timeout=60) as url, temporary_settings({PREFECT_API_URL: url}):
        yield url


@pytest.fixture
def qcycle_home(tmp_path, monkeypatch, prefect_server):
    """A fresh application database and sink for one test (the simulator sets these too)."""
    monkeypatch.setenv("QCYCLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QCYCLE_SINK_DIR", str(tmp_path / "home" / "sink"))
    get_settings.cache_clear()
    db.dispose_engines()
    db.upgrade()  # as `qcycle db upgrade` does before flows are served
    yield tmp_path / "home"
    get_settings.cache_clear()
    db.dispose_engines()
