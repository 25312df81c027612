"""SQLite page size: new database files get qcycle's, existing ones keep theirs."""

from __future__ import annotations

import sqlite3

from qcycle import db


def _page_size(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA page_size").fetchone()[0]
    finally:
        con.close()


def test_a_new_database_file_is_made_with_sixteen_kilobyte_pages(tmp_path):
    path = tmp_path / "new.db"
    db.upgrade(f"sqlite:///{path}")
    assert db.SQLITE_PAGE_SIZE == 16384
    assert _page_size(path) == db.SQLITE_PAGE_SIZE


def test_an_existing_database_keeps_its_page_size_and_works(tmp_path):
    """A file made before (SQLite's 4 KB pages) is migrated and written as it is: the setting
    only chooses the size of a new file, it never rewrites one."""
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA page_size=4096")
    con.execute("CREATE TABLE made_before (x)")
    con.close()
    url = f"sqlite:///{path}"
    db.upgrade(url)
    with db.session_scope(url) as session:
        session.connection().exec_driver_sql("INSERT INTO made_before VALUES (1)")
    with db.session_scope(url, read_only=True) as session:
        assert session.connection().exec_driver_sql("SELECT count(*) FROM made_before").scalar() == 1
        assert session.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert _page_size(path) == 4096
