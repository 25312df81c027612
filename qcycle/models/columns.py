"""What every table's columns share: constraint names, :class:`LocalDateTime` (timezone-aware
timestamps on every database), and the id, round and timestamp column helpers."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from typing import Any

from sqlalchemy import DateTime, Interval
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from qcycle.clock import TZ, now

__all__ = ["LocalDateTime", "ordered_uuid"]

# Named constraints, so later migrations (SQLite batch mode included) can drop them by name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class LocalDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, Asia/Shanghai datetimes out, on every database.

    PostgreSQL keeps the instant (``timestamptz``) and answers in the session's zone;
    SQLite keeps only the wall-clock text, so we always write local wall-clock time there
    (what :func:`qcycle.clock.to_local` assumes). Naive values are refused: their zone is
    a guess. Migrations render this as ``sa.DateTime(timezone=True)`` (see env.py).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "LocalDateTime()"

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # Keep `column - timedelta` etc. working; compare datetimes through this type.
        if isinstance(value, dt.timedelta):
            return Interval()
        return self

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: use qcycle.clock.now() or "
                "qcycle.clock.at(day, time) for timezone-aware Asia/Shanghai times"
            )
        return value.astimezone(TZ)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.utcoffset() is None:  # SQLite: the local wall-clock time we wrote
            return value.replace(tzinfo=TZ)
        return value.astimezone(TZ)


def _uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


_last_id = [0, 0]  # (milliseconds, counter) of the last ordered id this process made
_id_lock = threading.Lock()
# Random bytes read ahead for ordered_uuid: one getrandom call per 512 ids instead of one each (a
# national year makes ~80,000 ids one by one: ~1.5 % of its time). A forked child starts afresh,
# or parent and child would give the same bits to ids of the same millisecond and counter.
_random_pool = bytearray()
os.register_at_fork(after_in_child=_random_pool.clear)


def _random_bits() -> int:
    """62 random bits (an id's last ones), from the pool."""
    with _id_lock:
        if len(_random_pool) < 8:
            _random_pool[:] = os.urandom(4096)
        bits = int.from_bytes(_random_pool[-8:], "big")
        del _random_pool[-8:]
    return bits & ((1 << 62) - 1)


def _reserve(n: int) -> list[tuple[int, int, int]]:
    """``n`` places in the ids' order: (millisecond, first counter, how many) per millisecond
    they take, after every id made before. The same millisecond, or a clock stepped back, keeps
    counting; a full counter (12 bits) moves to the next millisecond."""
    ms = time.time_ns() // 1_000_000
    with _id_lock:
        last_ms, counter = _last_id
        ms, counter = (last_ms, counter + 1) if ms <= last_ms else (ms, 0)
        spans = []
        while n:
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
            take = min(n, 0x1000 - counter)
            spans.append((ms, counter, take))
            n, counter = n - take, counter + take
        _last_id[:] = [ms, counter - 1]
    return spans


def ordered_uuid() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): the wall clock's milliseconds first, then a counter, then 62 random
    bits, so ids made one after the other sort one after the other. A batch of submissions then
    lands side by side in the primary key's B-tree instead of on thousands of random pages (a
    large import's writes; issue 13). The wall clock, not :mod:`qcycle.clock`: this is write
    order, not the programme's time. Ops name such rows by their last 8 hex digits (the first ones
    are the same for a minute)."""
    ((ms, counter, _),) = _reserve(1)
    return uuid.UUID(int=(ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | _random_bits())


def ordered_hex_ids(n: int) -> list[str]:
    """``n`` ids as :func:`ordered_uuid` makes them one by one, as the 32 hex digits SQLite
    stores: one clock read and one random read for a batch of an import."""
    random = bytearray(os.urandom(8 * n))
    random[::8] = bytes(b & 0x3F | 0x80 for b in random[::8])  # each id's variant bits: 10
    bits = random.hex()
    out: list[str] = []
    for ms, first, count in _reserve(n) if n else []:
        clock = f"{ms & ((1 << 48) - 1):012x}7"
        at = 16 * len(out)
        out += [f"{clock}{counter:03x}{bits[at + 16 * k:at + 16 * k + 16]}" for k, counter in
                enumerate(range(first, first + count))]
    return out


def _ordered_pk() -> Any:
    return Field(default_factory=ordered_uuid, primary_key=True)


def _round_fk(*, nullable: bool = False, index: bool = False) -> Any:
    # Most tables lead a unique constraint with round_id, whose index serves lookups by round.
    return Field(
        default=None if nullable else ...,
        foreign_key="programme_round.id",
        index=index,
        nullable=nullable,
    )


def _stamp(**kwargs: Any) -> Any:
    """A LocalDateTime column defaulting to the clock's now (virtual time in simulations)."""
    return Field(default_factory=now, sa_type=LocalDateTime, **kwargs)
