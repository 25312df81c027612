"""A large import's SQLite settings are its own: none is left on the connections after it."""

from __future__ import annotations

from qcycle import db


def test_a_large_import_leaves_no_bulk_settings_on_the_pooled_connections(home, tmp_path):
    """An import's pragmas (a 64 MB cache, a far checkpoint threshold) are its own: the commands
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
