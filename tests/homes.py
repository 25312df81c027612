"""A working folder (QCYCLE_HOME) with a fresh, migrated application database, for tests that
run whole rounds through the settings' database (as the CLI and the flows do)."""

from __future__ import annotations

import functools
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from qcycle import db
from qcycle.settings import get_settings
from tests.scratch import scratch_dir


def migrated(url: str | None = None) -> str:
    """``url`` (default: the settings'), migrated to head, as ``db.upgrade`` leaves it. A SQLite file not there yet
    is a copy of one this process migrated through Alembic once: migrating each test's database anew took ~0.1 s,
    and a thousand tests make one (the migrations themselves are tested by tests/test_models.py and tests/migrations.py)."""
    url = url or get_settings().effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not db._file_path(parsed.database) or Path(str(parsed.database)).exists():
        db.upgrade(url)
        return url
    target = Path(parsed.database)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_template(), target)
    return url


@functools.cache
def _migrated_template() -> Path:
    """The database each test's is copied from: migrated through Alembic once a process."""
    folder = scratch_dir("migrated")
    url = f"sqlite:///{folder / 'qcycle.db'}"
    db.upgrade(url)
    db.get_engine(url).dispose()
    con = sqlite3.connect(folder / "qcycle.db")
    try:  # everything in the file itself, nothing left in a WAL
        busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        con.close()
    assert busy == 0, "the template database could not be checkpointed"
    return folder / "qcycle.db"


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    monkeypatch.setenv("QCYCLE_HOME", str(home))
    monkeypatch.setenv("QCYCLE_SINK_DIR", str(home / "sink"))
    monkeypatch.delenv("QCYCLE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    db.dispose_engines()
    migrated()
    return home


def leave_home() -> None:
    db.dispose_engines()
    get_settings.cache_clear()


def play_programme(path: Path, seed: int, after=None):
    """A shipped programme file as a whole round without Prefect (with simulated counties), in
    the current home; returns (programme, timetable, round id). ``after(programme, timetable,
    round id, tick)`` is called after each moment."""
    from qcycle import synthetic
    from qcycle.lifecycle import sync_round
    from qcycle.loader import LoadedProgramme, load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import WorkCalendar

    source = load_programme(path)
    p = synthetic.with_counties(source.programme, seed=seed)
    loaded = LoadedProgramme(p, source.path, source.sha256)
    timetable = expand(p, WorkCalendar())
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
    synthetic.play_locally(loaded, timetable, round_id, seed=seed,
                           after=None if after is None else lambda tick: after(p, timetable, round_id, tick))
    return p, timetable, round_id
