"""Engines, sessions and schema upgrades.

``get_engine(url)`` gives one engine per URL (default: the settings' database), with
SQLite set up for several writers (WAL, busy timeout, foreign keys, BEGIN IMMEDIATE).
``session_scope(read_only=True)`` begins a deferred transaction instead (a reader never
waits for a writer) and never commits. ``upgrade()`` runs the Alembic migrations in
``qcycle/migrations`` without an ini file.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from qcycle.jsontext import compact
from qcycle.settings import get_settings

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "SQLITE_PAGE_SIZE",
    "alembic_config",
    "current_revision",
    "dispose_engines",
    "get_engine",
    "head_revision",
    "is_file_database",
    "require_current",
    "session_scope",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_STATEMENT_CACHE = 16
# SQLite pages of a new database file (an existing file keeps the size it was made with).
# 16 KB instead of the default 4 KB: a 500,000-row import ran 4-8 % faster (fewer pages and
# B-tree levels to write per batch), and the national year's floor was no slower.
SQLITE_PAGE_SIZE = 16384

# Execution option that marks a connection's transactions as read-only (plain BEGIN).
_READ_ONLY = "qcycle_read_only"

# Any constant will do: it only has to be the same for every process upgrading one database.
_UPGRADE_LOCK_ID = 7_142_023

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _resolve(url: str | None) -> str:
    return url or get_settings().effective_database_url


def _file_path(database: str | None) -> bool:
    """Whether an SQLite URL's database is a file path (not in memory, not a URI)."""
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")


def _setup_sqlite(engine: Engine) -> None:
    database = engine.url.database
    if database and _file_path(database):
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens transactions lazily and breaks SAVEPOINT; take over BEGIN ourselves
        # (the recipe in SQLAlchemy's SQLite dialect documentation).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # before WAL: takes only on a new file
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        # With WAL, NORMAL keeps every commit across a killed process (the outbox relies on
        # that); only a power cut can lose the last commits. FULL would fsync every result.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")  # wait for a concurrent writer, not fail
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
        # would otherwise fail with "database is locked" when another writer got in between,
        # and busy_timeout cannot help it. Writers queue instead (sessions are short).
        # Readers take no lock at all: in WAL mode a deferred transaction reads a snapshot
        # while a writer works, so a read-only command never waits for a large import.
        read_only = connection.get_execution_options().get(_READ_ONLY)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_file_database(url: str | None = None) -> bool:
    """Whether ``url`` (default: settings) is an SQLite database in a file of its own (not
    PostgreSQL, an in-memory or a URI database, whose connections must not all be closed)."""
    parsed = make_url(_resolve(url))
    return parsed.get_backend_name() == "sqlite" and _file_path(parsed.database)


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: settings), created once per URL and process."""
    url = _resolve(url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            backend = make_url(url).get_backend_name()
            # JSON columns as UTF-8 text without padding (json.dumps wrote each Chinese character
            # as a six-byte \u escape): a merged reminder's items, most of an outbox row, took
            # 1.5 KB instead of 1.1, written again each time the row's status changes.
            if backend == "sqlite":
                # sqlite3 keeps 128 prepared statements per connection; bulk intake makes many
                # large, one-off ones (IN lists of a few hundred keys, of varying length), and
                # they held ~0.2 MiB per 1,000 records pulled (350 MiB at 500,000). A short cache
                # still holds the statements a run repeats.
                engine = create_engine(url, connect_args={"cached_statements": _STATEMENT_CACHE},
                                       json_serializer=compact)
                _setup_sqlite(engine)
            else:
                engine = create_engine(url, pool_pre_ping=True, json_serializer=compact)
            _engines[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (tests, shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _read_engine(url: str | None) -> Engine:
    return get_engine(url).execution_options(**{_READ_ONLY: True})


@contextlib.contextmanager
def session_scope(url: str | None = None, *, read_only: bool = False) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises.

    Objects stay readable after the block (``expire_on_commit=False``), so a task can
    return what it wrote. ``read_only``: for commands that only look. On SQLite the
    transaction is deferred (no write lock, never waits for a writer); it is never committed,
    so nothing written by mistake is kept.
    """
    bind = _read_engine(url) if read_only else get_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            if not read_only:
                session.commit()
            # A read-only block ends without commit: closing the session ends its transaction
            # (nothing written is kept) and, unlike rollback(), leaves what was read readable.
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for ``qcycle/migrations`` (no alembic.ini needed)."""
    # Alembic is imported where it is used: read-only commands (outbox list) only compare
    # revisions, and importing it costs them a third of a second.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = _resolve(url)
    return config


def upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; returns the revision it is at afterwards.

    Safe to run from several processes at once: on PostgreSQL they queue on an advisory
    lock and the later ones find nothing to do. A database at the newest migration already is
    left as it is without Alembic (its import was a third of a second of every write command).
    """
    if revision == "head" and (head := head_revision()) == current_revision(url):
        return head
    from alembic import command

    engine = get_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK_ID})")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(url)


def current_revision(url: str | None = None) -> str | None:
    """The Alembic revision the database is at (None before the first upgrade)."""
    with _read_engine(url).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


_REVISION = re.compile(r'^revision(?:: str)? = "([^"]+)"\s*$\n^down_revision(?:: [^=]+)? = (?:"([^"]+)"|None)',
                       re.MULTILINE)


def head_revision() -> str:
    """The newest migration: the one no other revises (the migrations are one line; a test
    checks this agrees with Alembic's own answer)."""
    revises: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        match = _REVISION.search(path.read_text("utf-8"))
        if match:
            revises[match[1]] = match[2]
    heads = set(revises) - set(revises.values())
    if len(heads) != 1:
        raise RuntimeError(f"migrations must form one line, found heads {sorted(heads)}")
    return heads.pop()


def require_current(url: str | None = None) -> None:
    """For read-only commands: the database must exist and be migrated. Never creates one
    (connecting to a missing SQLite file would), so a wrong ``--home`` says so instead of
    leaving an empty database behind."""
    from qcycle.errors import NotFoundError, StateError

    url = _resolve(url)
    parsed = make_url(url)
    if is_file_database(url) and parsed.database and not Path(parsed.database).exists():
        raise NotFoundError(f"应用数据库不存在：{parsed.database}。请确认 --home（或 QCYCLE_DATABASE_URL）；"
                            "新建数据库请运行 qcycle db upgrade")
    head = head_revision()
    current = current_revision(url)
    if current != head:
        raise StateError(f"应用数据库版本为 {current or '空'}，应为 {head}：请先运行 qcycle db upgrade")
