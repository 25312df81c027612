"""The one clock. Everything that asks "what time is it" asks here.

All wall-clock times are Asia/Shanghai. Tests and the simulator move a virtual clock
with :func:`frozen` instead of patching ``datetime``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar
from zoneinfo import ZoneInfo

__all__ = ["TZ", "at", "carrying_out", "frozen", "now", "run_day", "to_local", "today", "wall_now"]

TZ = ZoneInfo("Asia/Shanghai")

_frozen: dt.datetime | None = None
# The moment a run carries actions out "as of" (a reconcile or backfill of a past day).
_as_of: ContextVar[dt.datetime | None] = ContextVar("qcycle_as_of", default=None)


def now() -> dt.datetime:
    """Current time, timezone-aware in Asia/Shanghai (or the frozen virtual time)."""
    return _frozen if _frozen is not None else dt.datetime.now(TZ)


def wall_now() -> dt.datetime:
    """The real time, even while :func:`now` is frozen or a run works "as of" another moment.

    Only for measuring how long something has been left, such as an outbox lease whose
    process may have died: a run's logical time says nothing about that.
    """
    return dt.datetime.now(TZ)


def today() -> dt.date:
    return now().date()


@contextlib.contextmanager
def carrying_out(as_of: dt.datetime | None) -> Iterator[None]:
    """Work in the block is done as of ``as_of`` (None: now). Only what a letter is dated
    by follows it (:func:`run_day`); :func:`now` does not, so records keep the real time."""
    token = _as_of.set(to_local(as_of) if as_of is not None else None)
    try:
        yield
    finally:
        _as_of.reset(token)


def run_moment() -> dt.datetime | None:
    """The moment being carried out (:func:`carrying_out`), None outside a run."""
    return _as_of.get()


def run_day() -> dt.date | None:
    """The day of the moment being carried out (:func:`carrying_out`), None outside a run."""
    moment = run_moment()
    return moment.date() if moment is not None else None


def at(day: dt.date, time: dt.time = dt.time(0, 0)) -> dt.datetime:
    """A local Asia/Shanghai datetime for a calendar day and time of day."""
    return dt.datetime.combine(day, time, tzinfo=TZ)


def to_local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        # Naive values come from SQLite, which drops offsets; we only ever store local time.
        return value.replace(tzinfo=TZ)
    return value.astimezone(TZ)


@contextlib.contextmanager
def frozen(moment: dt.datetime | dt.date) -> Iterator[dt.datetime]:
    """Freeze :func:`now` at ``moment`` (a date means 09:00 that day) for the block."""
    global _frozen
    if not isinstance(moment, dt.datetime):
        moment = at(moment, dt.time(9, 0))
    previous, _frozen = _frozen, to_local(moment)
    try:
        yield _frozen
    finally:
        _frozen = previous
