"""One real Prefect server (prefect_test_harness, ~10 s to start) for every test in this folder."""

from __future__ import annotations

import os

import pytest

from qcycle import db
from qcycle.settings import get_settings


@pytest.fixture(scope="session")
def prefect_server():
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


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
