"""A working folder (QCYCLE_HOME) with a fresh, migrated application database, for tests that
run whole rounds through the settings' database (as the CLI and the flows do)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcycle import db
from qcycle.settings import get_settings


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    monkeypatch.setenv("QCYCLE_HOME", str(home))
    monkeypatch.setenv("QCYCLE_SINK_DIR", str(home / "sink"))
    monkeypatch.delenv("QCYCLE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    db.dispose_engines()
    db.upgrade()
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
