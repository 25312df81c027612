"""The one clock. Everything that asks "what time is it" asks here.

All wall-clock times are Asia/Shanghai. Tests and the simulator move a virtual clock
with :func:`frozen` instead of patching ``datetime``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

__all__ = ["TZ", "at", "frozen", "now", "to_local", "today", "wall_now"]

TZ = ZoneInfo("Asia/Shanghai")

_frozen: dt.datetime | None = None


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
