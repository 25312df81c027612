"""What the repository modules share: dialect-aware INSERT … ON CONFLICT, complete rows without
building objects, chunks of ``IN (...)`` values, plain column reads through Core, and the moment
records are read as of (:func:`as_recorded_at`).

Not re-exported by :mod:`qcycle.crud` (but :func:`as_recorded_at` and :func:`recorded_moment`):
only the repository modules use these.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python
from sqlalchemy import JSON, select
from sqlalchemy.exc import StatementError
from sqlmodel import Session, SQLModel

from qcycle.errors import QcycleError

__all__ = [
    "CHUNK",
    "as_recorded_at",
    "choice",
    "chunks",
    "column_values",
    "complete",
    "fields_of",
    "insert_absent",
    "insert_if_absent",
    "insert_into",
    "insert_many",
    "plain_rows",
    "recorded_by",
    "recorded_moment",
    "row_values",
    "to_json",
    "upsert",
]


_recorded_at: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("qcycle_recorded_at",
                                                                                 default=None)


@contextlib.contextmanager
def as_recorded_at(moment: dt.datetime | None) -> Iterator[None]:
    """Within the block, decisions and hand-ins are read as the records stood at ``moment``
    (None: as they stand): a decision made, or a record handed in, after it is left out.
    ``qcycle status --as-of`` lists who was overdue then, not who is still overdue now."""
    token = _recorded_at.set(moment)
    try:
        yield
    finally:
        _recorded_at.reset(token)


def recorded_moment() -> dt.datetime | None:
    """The moment of the enclosing :func:`as_recorded_at` (None outside one)."""
    return _recorded_at.get()


def recorded_by(stamp: Any) -> tuple[Any, ...]:
    """The conditions that keep rows whose ``stamp`` column is at or before the moment of
    :func:`as_recorded_at` (none outside one), for ``.where(*recorded_by(column))``."""
    moment = _recorded_at.get()
    return () if moment is None else (stamp <= moment,)


def insert_into(session: Session, model: type[SQLModel]) -> Any:
    """INSERT into ``model``'s table in the session's dialect (for its ON CONFLICT clauses)."""
    # Imported here: the PostgreSQL dialect alone is ~50 ms of every command's start-up.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model.__table__)  # type: ignore[attr-defined]
    if dialect == "sqlite":
        return sqlite.insert(model.__table__)  # type: ignore[attr-defined]
    raise QcycleError(f"unsupported database {dialect!r}: qcycle runs on SQLite or PostgreSQL")


def insert_many(session: Session, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> int:
    """Execute the INSERT ``stmt`` (e.g. :func:`insert_into` … ON CONFLICT DO NOTHING) for
    ``rows`` (complete column values, the same keys in each) through the driver's executemany,
    each column's own bind processing applied value by value: SQLAlchemy's per-row parameter
    handling was most of a large import's time. Returns how many rows went in, or -1 when
    the driver cannot say."""
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = stmt.compile(dialect=dialect, column_keys=keys)
    table = stmt.table
    names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
    unknown = [n for n in names if n not in table.c or n not in rows[0]]
    if unknown:
        raise ValueError(f"insert_many: no value for {', '.join(unknown)} in {table.name}")
    # Only the columns with a bind processor are touched value by value (texts have none): a
    # generator over every column of every row was a tenth of a large import's time.
    processors = [(i, p) for i, n in enumerate(names) if (p := _bind_processor(table.c[n], dialect)) is not None]
    take = operator.itemgetter(*names)
    sql = str(compiled)
    try:
        params: list[Any] = []
        for row in rows:
            values = list(take(row)) if len(names) > 1 else [take(row)]
            for i, process in processors:
                values[i] = process(values[i])
            params.append(tuple(values) if compiled.positional else dict(zip(names, values, strict=True)))
    except (TypeError, ValueError) as e:  # a value its column refuses, raised as SQLAlchemy would
        raise StatementError(str(e), sql, None, e) from e
    return connection.exec_driver_sql(sql, params).rowcount


def _plain_bind_processor(column: Any, dialect: Any) -> Any:
    """The column's bind processor (None: the driver takes the value as it is)."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _bind_processor(column: Any, dialect: Any) -> Any:
    """The column's bind processor, remembering each value's result within one call when the
    column repeats values (a round id, one receipt stamp, a few hundred deadlines): most of a
    large insert's Python time was converting the same datetimes and ids again."""
    process = _plain_bind_processor(column, dialect)
    if process is None or column.primary_key or isinstance(column.type, JSON):
        return process
    seen: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            result = seen[value] = process(value)
            return result
        except TypeError:  # unhashable
            return process(value)

    return remembered


def row_values(obj: SQLModel) -> dict[str, Any]:
    """Column values of an unsaved table object, defaults (id, timestamps) included."""
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}  # type: ignore[attr-defined]


@functools.cache
def _column_defaults(model: type[SQLModel]) -> tuple[frozenset[str], dict[str, Any], tuple[tuple[str, Any], ...],
                                                      tuple[str, ...]]:
    """A table's columns: (their keys, the plain defaults, the default factories, those with neither)."""
    fields = model.model_fields
    keys = [c.key for c in model.__table__.columns]  # type: ignore[attr-defined]
    plain = {k: fields[k].default for k in keys
             if fields[k].default_factory is None and fields[k].default is not PydanticUndefined}
    factories = tuple((k, fields[k].default_factory) for k in keys if fields[k].default_factory is not None)
    required = tuple(k for k in keys if k not in plain and fields[k].default_factory is None)
    return frozenset(keys), plain, factories, required


def complete(model: type[SQLModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`row_values` gives for ``model(**values)``, without building the object: a
    bulk write of tens of thousands of rows spent more time constructing objects than writing."""
    columns, plain, factories, required = _column_defaults(model)
    # Set operations and one merge per row: a loop over every column was 3 % of a national year.
    out = {**plain, **values} if values.keys() <= columns else {**plain, **{k: values[k] for k in values if k in columns}}
    for key, factory in factories:
        if key not in values:
            out[key] = factory()
    for key in required:
        if key not in out:
            raise ValueError(f"{model.__name__}: missing {key}")
    return out


CHUNK = 500  # values per IN (...): well inside every SQLite build's parameter limit


def chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def insert_absent(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str] | None,
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """INSERT ``rows`` (complete column values) … ON CONFLICT (``keys``; None: any unique
    constraint) DO NOTHING; returns the ``returning`` columns of the rows this call inserted.

    A concurrent writer of the same key makes PostgreSQL wait for it to finish, then do
    nothing: no exception, and the caller's transaction stays usable.
    """
    if not rows:
        return []
    session.flush()  # pending rows (e.g. the round) must reach the database first
    table = model.__table__  # type: ignore[attr-defined]
    # Without RETURNING the driver's executemany does the work (RETURNING made SQLAlchemy
    # handle each row in Python). The ids are the caller's, so when some row was a repeat,
    # which ones went in is read back by primary key.
    stmt = insert_into(session, model).on_conflict_do_nothing(index_elements=list(keys) if keys else None)
    if insert_many(session, stmt, rows) == len(rows):
        return [tuple(row[c] for c in returning) for row in rows]
    wanted = {row["id"]: row for row in rows}
    inserted: set[Any] = set()
    for chunk in chunks(wanted):
        inserted.update(column_values(session, select(table.c.id).where(table.c.id.in_(chunk))))
    return [tuple(row[c] for c in returning) for row_id, row in wanted.items() if row_id in inserted]


def insert_if_absent(session: Session, obj: SQLModel, *, keys: Sequence[str]) -> bool:
    """INSERT ``obj`` unless a row with the same ``keys`` exists; True if this call inserted."""
    return bool(insert_absent(session, type(obj), [row_values(obj)], keys=keys))


def upsert(
    session: Session,
    model: type[SQLModel],
    rows: list[dict[str, Any]],
    *,
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """INSERT ``rows``, or UPDATE ``update_columns`` of rows whose ``keys`` already exist."""
    if not rows:
        return
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in seen:
            # PostgreSQL refuses to update one row twice in a statement; it is a caller bug.
            raise ValueError(f"{model.__name__}: duplicate {dict(zip(keys, key, strict=True))}")
        seen.add(key)
    session.flush()
    # Rows in key order: concurrent upserts then lock rows in one order and cannot deadlock.
    rows = sorted(rows, key=lambda row: tuple(str(row[k]) for k in keys))
    stmt = insert_into(session, model)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update_columns}
    )
    insert_many(session, stmt, rows)


def column_values(session: Session, query: Any) -> list[Any]:
    """One column of rows through a Core connection: the ORM's per-row bookkeeping made reading
    the ~10,000 decisions of a national round several times slower. A column the driver
    returns as it is (a text) is read from the driver's own rows: building a row object for
    each value was still an eighth of a national year."""
    return [row[0] for row in plain_rows(session, query)]


def plain_rows(session: Session, query: Any) -> list[tuple[Any, ...]]:
    """Rows of ``query`` as tuples through a Core connection, pending ORM changes flushed first
    (as ``session.exec`` does). When every column comes back as the driver gives it (texts),
    from the driver's own rows (tuples with sqlite3 and psycopg): see :func:`column_values`."""
    session.flush()
    connection = session.connection()
    dialect = connection.dialect
    with connection.execute(query) as result:
        options = result.context.execution_options
        # A streamed result has read its first row into SQLAlchemy's buffer already.
        if (options.get("stream_results") or options.get("yield_per")
                or not all(_as_driver_gives(c, dialect) for c in query.selected_columns)):
            return [tuple(row) for row in result.all()]
        return list(result.cursor.fetchall())


def _as_driver_gives(column: Any, dialect: Any) -> bool:
    """Whether SQLAlchemy returns the column's values as the driver gives them (no result processor)."""
    try:
        return column.type.dialect_impl(dialect).result_processor(dialect, None) is None
    except (TypeError, ValueError):  # a processor that needs the driver's own type code (PostgreSQL numerics)
        return False


def fields_of(item: Any) -> dict[str, Any]:
    """Fields of a mapping, pydantic model, dataclass or plain object."""
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, BaseModel):
        return item.model_dump()
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
    if hasattr(item, "__dict__"):
        return dict(vars(item))
    raise TypeError(f"cannot read fields from {type(item).__name__}")


def choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    text = str(value.value if hasattr(value, "value") else value)  # plain str or an Enum
    if text not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {text!r}")
    return text


def to_json(value: Any) -> Any:
    # Dates, UUIDs, Decimals and models become JSON text the same way everywhere.
    return to_jsonable_python(value)
