"""Tasks that load a programme round and keep the database in step with it.

Reading, validating and expanding a programme takes tens of milliseconds and ``reconcile``
runs at every moment of a round, so the parsed programme and its timetable are kept per
process, keyed by the file's identity (path, size, modification time) and content hash:
an edited file is read again at the next run.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE
from qcycle.deploy.schedules import PLANNED_SLUGS, schedules_for, sync_schedules
from qcycle.tasks.retrying import worth_retrying
from qcycle.tasks.runlog import run_name

from qcycle import crud, db
from qcycle.lifecycle import sync_round as _sync_round
from qcycle.lifecycle import unit_deadlines
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.moment import done_actions
from qcycle.timetable import Due, Timetable, UnitDeadline, due, expand
from qcycle.workcal import default_calendar

__all__ = [
    "PreparedRound",
    "cached_programme",
    "cached_timetable",
    "clear_caches",
    "prepare_round",
    "replan_schedules",
    "round_code_of",
]

_lock = threading.Lock()
_programmes: dict[tuple, LoadedProgramme] = {}
_timetables: dict[tuple, Timetable] = {}
# (database URL, round code) → (round id, config sha256) this process last synced
_synced: dict[tuple, tuple[uuid.UUID, str]] = {}


def round_code_of(programme_file: str | Path) -> str:
    """The round code of a programme file, for run names (the file's stem if it does not
    load: the run itself reports the problem, its name must not fail)."""
    try:
        return cached_programme(programme_file).programme.round.code
    except Exception:  # noqa: BLE001
        return Path(programme_file).stem


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


def cached_timetable(loaded: LoadedProgramme, extensions: tuple[UnitDeadline, ...] = ()) -> Timetable:
    """``expand`` of a loaded programme, once per programme content, unit extensions and calendar."""
    cal = default_calendar()
    key = (loaded.sha256, extensions, id(cal))
    with _lock:
        hit = _timetables.get(key)
    if hit is not None:
        return hit
    timetable = expand(loaded.programme, cal, extensions)
    with _lock:
        _timetables[key] = timetable
    return timetable


def _sync(loaded: LoadedProgramme, *, force: bool = False, at: dt.datetime | None = None) -> uuid.UUID:
    """Upsert the round, its units and list items; skipped when this process already synced
    this very configuration into this database (the round row still carries its hash)."""
    code = loaded.programme.round.code
    key = (str(db.get_engine().url), code)
    with db.session_scope() as session:
        if not force:
            row = crud.round_fingerprint(session=session, code=code)
            with _lock:
                known = _synced.get(key)
            if row is not None and known == (row[0], loaded.sha256) and row[1] == loaded.sha256:
                return row[0]
        # A changed file found by a run is an amendment made as of the run's moment.
        round_id = _sync_round(session, loaded, actor="flow:reconcile", at=at).id
    with _lock:
        _synced[key] = (round_id, loaded.sha256)
    return round_id


@dataclass(frozen=True)
class PreparedRound:
    loaded: LoadedProgramme
    round_id: uuid.UUID
    timetable: Timetable
    plan: Due | None = None


@task(name="准备周期", cache_policy=NONE, retries=2, retry_delay_seconds=2, retry_condition_fn=worth_retrying, task_run_name=run_name("准备周期"))
def prepare_round(programme_file: str, as_of: dt.datetime | None = None) -> PreparedRound:
    """Read the programme, keep the database in step with it, expand its timetable and
    (given ``as_of``) work out what is due, given what the database says is done.

    One task run instead of four: each task run costs several milliseconds of API calls
    and ``reconcile`` runs at every moment of the round. Parameters are kept small (a file
    name, not the parsed programme) because Prefect walks and records task inputs.
    """
    loaded = cached_programme(programme_file)
    round_id = _sync(loaded, at=as_of)
    with db.session_scope(read_only=True) as session:
        timetable = cached_timetable(loaded, unit_deadlines(session, round_id))
        plan = due(timetable, as_of, done_actions(session, round_id)) if as_of is not None else None
    return PreparedRound(loaded, round_id, timetable, plan)


@task(name="更新部署日程", cache_policy=NONE, retries=2, retry_delay_seconds=2, retry_condition_fn=worth_retrying, task_run_name=run_name("更新部署日程"))
def replan_schedules(programme_file: str, round_id: uuid.UUID, deployment_id: uuid.UUID) -> dict[str, list[str]]:
    """Bring the deployment's schedules in step with the round as it stands (the file as it
    reads now, the unit extensions granted): an amendment or an extension since they were
    planned adds the new moments and drops those gone; nothing changes when nothing did.
    Returns the slugs added (or replaced) and removed."""
    from prefect.client.orchestration import get_client

    loaded = cached_programme(programme_file)
    with db.session_scope(read_only=True) as session:
        extensions = unit_deadlines(session, round_id)
    schedules = schedules_for(loaded.path, extensions=extensions)
    with get_client(sync_client=True) as client:
        added, removed = sync_schedules(client, deployment_id, schedules, managed=PLANNED_SLUGS)
    return {"added": added, "removed": removed}
