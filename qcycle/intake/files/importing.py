"""A file's rows into a round: :func:`import_file` in the caller's transaction, and
:func:`import_file_in_batches` for files of any size (short write transactions, resumable
after a kill through the file's checkpoint)."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.errors import IntakeError
from qcycle.intake.files.detect import FileRow, RecordFile, _unreadable, scan_file
from qcycle.intake.files.reading import open_file
from qcycle.intake.normalise import fields_of_headers
from qcycle.intake.report import ImportReport, open_round, readable_rows
from qcycle.loader import LoadedProgramme
from qcycle.models import ImportCheckpoint
from qcycle.settings import get_settings

__all__ = ["BATCH_ROWS", "DEFER_INDEX_ROWS", "SQLITE_BULK_PRAGMAS", "import_file", "import_file_in_batches"]


def _check_headers(result: RecordFile, default_kind: str | None) -> None:
    assert result.headers is not None
    fields = set(fields_of_headers(result.headers))
    missing = []
    if "kind" not in fields and not default_kind:
        missing.append("材料种类（kind）")
    if "unit" not in fields:
        missing.append("单位代码（unit）")
    if missing:
        shown = "、".join(result.headers[:12])
        raise _unreadable(
            result.path,
            f"表头缺少 {'、'.join(missing)} 列（表头为：{shown}）"
            + ("；全部为同一种材料时可指定种类，如 --kind 揭榜书" if "kind" not in fields else ""),
        )


# Rows per write transaction: well under a second of lock, a few MB. Each commit rewrites
# every index page its rows touched (the keys are random: ids, fingerprints), so fewer,
# larger batches write far less than many small ones (100,000 rows into this schema with
# plain sqlite3: 9.5 s in batches of 2,000, 6.6 s in batches of 5,000).
BATCH_ROWS = 5000
# SQLite's busy handler retries a waiting writer every 100 ms at most: the lock is left free
# this long between batches, so it gets in instead of losing every race to the next batch.
# Reading and normalising the next batch happens in that time; only the rest is slept.
_SQLITE_PAUSE = 0.1


def bulk_pragmas(cache_mib: int) -> tuple[str, ...]:
    """SQLite, for the import's connection: a page cache that holds the indexes a batch touches
    (the default 2 MB is re-read from disk every batch once the file has ~50,000 rows; the cache
    is a fixed cost, ``QCYCLE_IMPORT_CACHE_MIB``, whatever the file's size), and a WAL checkpoint
    every ~40 MB instead of every ~4 MB: a checkpoint writes each page once however many batches
    changed it, and syncs the file. Both are per connection."""
    return (f"PRAGMA cache_size=-{cache_mib * 1024}", "PRAGMA wal_autocheckpoint=10000")


SQLITE_BULK_PRAGMAS = bulk_pragmas(64)  # the default setting's (the benchmark's schema floor)

# A file this large (and at least as large as the submissions already stored) is loaded without
# the handed-in index, built once at its end: SQLite's bulk-loading practice. Smaller files keep
# it, as rebuilding it reads every stored submission.
DEFER_INDEX_ROWS = 50_000


def _batches(rows: Iterator[FileRow], size: int) -> Iterator[list[FileRow]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _source(path: str | Path) -> str:
    return f"import:{Path(path).resolve()}"


def import_file(
    *,
    path: str | Path,
    programme: str | Path | LoadedProgramme,
    session: Session,
    sheet: str | None = None,
    default_kind: str | None = None,
) -> ImportReport:
    """Read a file and ingest every row into the programme's round; never drops a row.

    Readable rows go through :func:`qcycle.intake.ingest` (lateness rule, stored once);
    unreadable rows are quarantined with their line. Raises IntakeError, storing nothing,
    when the file cannot be read at all. The caller commits (``db.session_scope``); for
    large files see :func:`import_file_in_batches`.
    """
    result, rows = open_file(path, sheet=sheet)
    if result.headers is not None:
        _check_headers(result, default_kind)
    ctx = open_round(session, programme)
    report = ImportReport(source=_source(path), round_code=ctx.loaded.programme.round.code)
    for batch in _batches(rows, BATCH_ROWS):
        report.take_rows(session=session, ctx=ctx, rows=batch, default_kind=default_kind)
    return report


def _checkpoint(session: Session, round_id: Any, key: str) -> ImportCheckpoint | None:
    return crud.get_checkpoint(session=session, round_id=round_id, fingerprint=key)


def import_file_in_batches(
    *,
    path: str | Path,
    programme: str | Path | LoadedProgramme,
    sheet: str | None = None,
    default_kind: str | None = None,
    batch_size: int = BATCH_ROWS,
    url: str | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """:func:`import_file` for files of any size: rows are read lazily and committed
    ``batch_size`` at a time, each batch in its own short write transaction together with
    the file's checkpoint, so other writers get in between and memory stays bounded by the
    batch. Rerun after a kill, it resumes after the last committed batch and reports the
    counts of the whole file; run again after it finished, it imports it again as before
    (all duplicates). ``on_batch(rows_done, rows_expected)`` reports progress."""
    from qcycle import db

    scan = scan_file(path)
    result, rows = open_file(path, sheet=sheet, scan=scan)
    if result.headers is not None:
        _check_headers(result, default_kind)
    key = scan.sha256
    if sheet or default_kind:
        key = hashlib.sha256(f"{key}\0{sheet or ''}\0{default_kind or ''}".encode()).hexdigest()
    with db.session_scope(url) as session:
        ctx = open_round(session, programme)
        found = _checkpoint(session, ctx.round_id, key)
        seen = (found.rows_done, found.finished) if found else None
        resume = dict(found.counts) if found and not found.finished else None
    report = ImportReport(source=_source(path), round_code=ctx.loaded.programme.round.code, amended=ctx.amended)
    done = 0
    if resume is not None and seen:
        done = report.resumed_rows = seen[0]
        report.not_in_force = resume.pop("not_in_force", 0)  # kept beside the counts, not one of them
        report.counts.update(resume)
        for _ in itertools.islice(rows, done):  # read again, not stored again
            pass
        nxt = next(rows, None)
        report.resumed_at = nxt.where if nxt else "文件末尾"
        rows = itertools.chain([nxt] if nxt else [], rows)
    expected = max(scan.lines - 1, done)
    sqlite = db.get_engine(url).dialect.name == "sqlite"
    pragmas = bulk_pragmas(get_settings().import_cache_mib)
    released: float | None = None  # when the last batch's write lock was let go
    defer = sqlite and expected - done >= DEFER_INDEX_ROWS
    # One batch in memory at a time (a list of all batches held the whole file).
    for batch in itertools.chain(_batches(rows, batch_size), [[]]):  # the empty one marks it finished
        readable = readable_rows(ctx, batch, default_kind)
        if sqlite and released is not None:
            time.sleep(max(0.0, _SQLITE_PAUSE - (time.monotonic() - released)))
        with db.session_scope(url) as session:
            if sqlite:
                crud.run_pragmas(session=session, pragmas=pragmas)
            checkpoint = _checkpoint(session, ctx.round_id, key)
            now_seen = (checkpoint.rows_done, checkpoint.finished) if checkpoint else None
            if now_seen != seen:
                raise IntakeError(f"文件 {path} 正由另一个导入处理（检查点已变），本次停止；"
                                  "已提交的行不受影响")  # fmt: skip
            if defer and expected - done >= crud.count_submissions(session=session):
                crud.defer_handed_in_index(session=session)
            defer = False  # decided once, in the first batch's transaction
            if batch:
                report.take_rows(session=session, ctx=ctx, rows=batch, default_kind=default_kind,
                                 readable=readable)
            else:
                crud.restore_handed_in_index(session=session)
            done += len(batch)
            if checkpoint is None:
                checkpoint = ImportCheckpoint(round_id=ctx.round_id, fingerprint=key,
                                              source=report.source)  # fmt: skip
            checkpoint.rows_done, checkpoint.counts = done, dict(report.counts) | {"not_in_force": report.not_in_force}
            checkpoint.finished = not batch
            checkpoint.updated_at = clock.now()
            session.add(checkpoint)
            seen = (done, not batch)
        released = time.monotonic()
        if on_batch is not None:
            on_batch(done, max(expected, done))
    return report
