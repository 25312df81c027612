"""Alembic environment: URL from qcycle settings, metadata from the SQLModel tables.

Run programmatically by :func:`qcycle.db.upgrade` (which passes an open connection in
``config.attributes``), or by developers with ``alembic`` and the repository's alembic.ini.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

from qcycle import models
from qcycle.db import get_engine
from qcycle.settings import get_settings

config = context.config

if config.config_file_name is not None:
    # Keep the loggers of whoever called us (Prefect, pytest) alive.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _url() -> str:
    return (
        config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
        or get_settings().effective_database_url
    )


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # LocalDateTime only converts values in Python; the column is a plain timestamptz, and
    # migrations must not import application code that will change after they are written.
    if type_ == "type" and isinstance(obj, models.LocalDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    url = _url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # The same engine set-up as the application (SQLite folder, WAL, foreign keys, ...).
    with get_engine(_url()).begin() as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
