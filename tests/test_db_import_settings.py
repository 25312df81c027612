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


def test_a_large_imports_checkpoint_threshold_follows_the_databases_page_size(tmp_path, monkeypatch):
    """~40 MB of WAL between checkpoints, whether the database was made with 4 KB pages (before
    qcycle made 16 KB ones) or 16 KB: SQLite counts the threshold in pages."""
    import sqlite3

    from qcycle.intake.files import importing
    from tests.intake.conftest import P1

    assert importing.bulk_pragmas(64, 4096)[1] == "PRAGMA wal_autocheckpoint=10240"
    assert importing.bulk_pragmas(64, 16384)[1] == "PRAGMA wal_autocheckpoint=2560"
    f = tmp_path / "one.csv"
    f.write_text("材料种类,单位代码,项目代码,提交时间,编号\n揭榜书,510100,zlcx-01,2023-04-10 10:00,A1\n", "utf-8")
    seen: list[int] = []
    real = importing.bulk_pragmas
    monkeypatch.setattr(importing, "bulk_pragmas", lambda cache, page: seen.append(page) or real(cache, page))
    for size in (4096, 16384):
        path = tmp_path / f"pages-{size}.db"
        con = sqlite3.connect(path)
        con.execute(f"PRAGMA page_size={size}")
        con.execute("CREATE TABLE made_before (x)")
        con.close()
        url = f"sqlite:///{path}"
        db.upgrade(url)
        importing.import_file_in_batches(path=f, programme=P1, url=url)
    assert seen == [4096, 16384]
