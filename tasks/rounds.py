"""Tasks that load a programme round and keep the database in step with it."""

from __future__ import annotations

import uuid

from prefect import task
from prefect.cache_policies import NONE

from qcycle import db
from qcycle.lifecycle import sync_round as _sync_round
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.timetable import Timetable, expand
from qcycle.workcal import default_calendar

__all__ = ["load_round", "sync_round", "plan_round"]


@task(name="读取方案", cache_policy=NONE)
def load_round(programme_file: str) -> LoadedProgramme:
    """Read and validate the programme file."""
    return load_programme(programme_file)


@task(name="同步周期", cache_policy=NONE, retries=2, retry_delay_seconds=2)
def sync_round(loaded: LoadedProgramme) -> uuid.UUID:
    """Upsert the round, its units and list items."""
    with db.session_scope() as session:
        return _sync_round(session, loaded).id


@task(name="生成日程", cache_policy=NONE)
def plan_round(loaded: LoadedProgramme) -> Timetable:
    """Expand the round into its dated actions."""
    return expand(loaded.programme, default_calendar())
