"""Tasks that load a programme round and keep the database in step with it.

Reading, validating and expanding a programme takes tens of milliseconds and ``reconcile``
runs at every moment of a round, so the parsed programme and its timetable are kept per
process, keyed by the file's identity (path, size, modification time) and content hash:
an edited file is read again at the next run.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from qcycle import db
from qcycle.lifecycle import sync_round as _sync_round
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.timetable import Timetable, expand
from qcycle.workcal import default_calendar

__all__ = ["load_round", "sync_round", "plan_round", "prepare_round", "PreparedRound",
           "cached_programme", "cached_timetable", "clear_caches"]

_lock = threading.Lock()
_programmes: dict[tuple, LoadedProgramme] = {}
_timetables: dict[tuple, Timetable] = {}
# (database URL, round code, config sha256) → round id, for rounds already synced by this process
_synced: dict[tuple, uuid.UUID] = {}


def clear_caches() -> None:
    with _lock:
        _programmes.clear()
        _timetables.clear()
        _synced.clear()


def cached_programme(programme_file: str | Path) -> LoadedProgramme:
    """``load_programme``, read again only when the file changed."""
    path = Path(programme_file)
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return load_programme(path)  # raises the ConfigError that names the problem
    with _lock:
        hit = _programmes.get(key)
    if hit is not None and hit.path == path:
        return hit
    loaded = load_programme(path)
    with _lock:
        _programmes[key] = loaded
    return loaded


def cached_timetable(loaded: LoadedProgramme) -> Timetable:
    """``expand`` of a loaded programme, once per programme content and calendar."""
    cal = default_calendar()
    key = (loaded.sha256, id(cal))
    with _lock:
        hit = _timetables.get(key)
    if hit is not None:
        return hit
    timetable = expand(loaded.programme, cal)
    with _lock:
        _timetables[key] = timetable
    return timetable


def _sync(loaded: LoadedProgramme) -> uuid.UUID:
    with db.session_scope() as session:
        return _sync_round(session, loaded).id


@task(name="读取方案", cache_policy=NONE)
def load_round(programme_file: str) -> LoadedProgramme:
    """Read and validate the programme file."""
    return cached_programme(programme_file)


@task(name="同步周期", cache_policy=NONE, retries=2, retry_delay_seconds=2)
def sync_round(loaded: LoadedProgramme) -> uuid.UUID:
    """Upsert the round, its units and list items."""
    return _sync(loaded)


@task(name="生成日程", cache_policy=NONE)
def plan_round(loaded: LoadedProgramme) -> Timetable:
    """Expand the round into its dated actions."""
    return cached_timetable(loaded)


@dataclass(frozen=True)
class PreparedRound:
    loaded: LoadedProgramme
    round_id: uuid.UUID
    timetable: Timetable


@task(name="准备周期", cache_policy=NONE, retries=2, retry_delay_seconds=2)
def prepare_round(programme_file: str) -> PreparedRound:
    """Read the programme, keep the database in step with it and expand its timetable.

    One task run instead of three: each task run costs several milliseconds of API calls
    and ``reconcile`` runs at every moment of the round.
    """
    loaded = cached_programme(programme_file)
    return PreparedRound(loaded, _sync(loaded), cached_timetable(loaded))
