"""SQLite's WAL beside a large import: its commits copied back into the database file by a
thread of their own, and none of its settings left on the connections after it."""

from __future__ import annotations

import sqlite3
import time

from qcycle import db


def test_the_wal_checkpointer_copies_a_writers_commits_into_the_database_file(tmp_path):
    """A writer with its own checkpoints off leaves its commits in the WAL; the checkpointer's
    thread copies them into the database file (a copy of that file alone holds them)."""
    path = tmp_path / "w.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x)")
    writer.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])

    def rows_in_the_file_alone() -> int:
        copy = tmp_path / f"copy-{time.monotonic_ns()}.db"
        copy.write_bytes(path.read_bytes())  # the database file, without its WAL
        con = sqlite3.connect(copy)
        try:
            return con.execute("SELECT count(*) FROM t").fetchone()[0]
        except sqlite3.OperationalError:  # no such table: nothing copied back yet
            return 0
        finally:
            con.close()

    try:
        assert rows_in_the_file_alone() == 0
        checkpointer = db.WalCheckpointer(str(path), every=60)
        checkpointer.poke()
        checkpointer.close()
        assert rows_in_the_file_alone() == 1000
    finally:
        writer.close()


def test_a_large_import_leaves_no_bulk_settings_on_the_pooled_connections(home, tmp_path):
    """An import's pragmas (no checkpoints of its own, a 64 MB cache) are its own: the commands
    and flows that use the same process's connections after it get SQLite's defaults."""
    from qcycle.intake.files import importing
    from tests.intake.conftest import P1

    f = tmp_path / "one.csv"
    f.write_text("材料种类,单位代码,项目代码,提交时间,编号\n"
                 + "".join(f"揭榜书,510100,zlcx-0{k % 4 + 1},2023-04-10 10:0{k},A{k},\n" for k in range(6)), "utf-8")
    importing.import_file_in_batches(path=f, programme=P1, batch_size=2)
    with db.session_scope() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
