"""Read-only commands take no write lock: they answer while a writer holds one."""

from __future__ import annotations

import sqlite3
import time

import pytest
from typer.testing import CliRunner

from qcycle import db
from qcycle.cli import app
from qcycle.settings import get_settings

runner = CliRunner()


def _database_file() -> str:
    url = get_settings().effective_database_url
    return url.removeprefix("sqlite:///")


def test_outbox_list_answers_while_a_writer_holds_the_lock(home):
    writer = sqlite3.connect(_database_file(), isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM outbox_message")  # a write, not committed
    try:
        started = time.monotonic()
        result = runner.invoke(app, ["outbox", "list"])
        elapsed = time.monotonic() - started
    finally:
        writer.rollback()
        writer.close()
    assert result.exit_code == 0, result.output
    assert "发件箱" in result.output
    assert elapsed < 5  # busy_timeout is 30 s: a reader that took the lock would wait for it


def test_a_read_only_session_begins_deferred_and_keeps_nothing(home):
    with db.session_scope(read_only=True) as session:
        session.connection().exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
    with db.session_scope(read_only=True) as session:
        names = session.connection().exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name = 'scratch'").all()
    assert names == []
    # writers still take the lock up front: a second writer cannot begin meanwhile
    with db.session_scope() as session:
        session.connection()
        other = sqlite3.connect(_database_file(), isolation_level=None, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_what_a_read_only_session_read_stays_readable_and_a_stray_write_is_not_kept(home):
    from qcycle import crud

    with db.session_scope() as session:
        crud.get_or_create_round(session=session, code="ro-2023", name="只读测试", issuer_code="p",
                                 config_path="x.yaml", config_sha256="0", first_year=2023, last_year=2023,
                                 programme=None)
    with db.session_scope(read_only=True) as session:
        row = crud.get_round(session=session, code="ro-2023")
        row.name = "改了"  # a write by mistake, flushed into the read-only transaction
        session.add(row)
        session.flush()
    # The commands use what they read after the block (``open_round`` returns ``row.id``).
    assert row.code == "ro-2023" and row.id is not None
    with db.session_scope(read_only=True) as session:
        assert crud.get_round(session=session, code="ro-2023").name == "只读测试"
