"""A file's rows into a round: :func:`import_file` in the caller's transaction, and
:func:`import_file_in_batches` for files of any size (short write transactions, resumable
after a kill through the file's checkpoint)."""

from __future__ import annotations

import gc
import hashlib
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.errors import IntakeError
from qcycle.gcpause import without_full_collections
from qcycle.intake.files.detect import FileRow, RecordFile, _unreadable, line_where, scan_file
from qcycle.intake.files.reading import open_file
from qcycle.intake.files.tabular import PlainRows, csv_batches, in_batches
from qcycle.intake.lane import Lane, LanePlan, lane_for
from qcycle.intake.normalise import fields_of_headers
from qcycle.intake.records import set_aside_unreadable
from qcycle.intake.report import ImportReport, Readable, RoundContext, open_round, readable_rows
from qcycle.loader import LoadedProgramme
from qcycle.models import ImportCheckpoint
from qcycle.settings import get_settings

__all__ = ["BATCH_ROWS", "DEFER_INDEX_ROWS", "bulk_pragmas", "import_file", "import_file_in_batches"]


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
# SQLite's busy handler retries a waiting writer every 100 ms at most: after each second the
# import has held the write lock, it leaves it free that long, so a writer waiting beside it
# usually gets in within about a second (at worst after one more batch, or after a second pause
# when its retry oversleeps the first). A pause after every batch was most of a large import's
# time once a batch took ~40 ms; after every half second, still ~0.9 s of a 500,000-row
# import's sleep. The next batches are read and planned in the pause (up to _AHEAD of them);
# only the rest is slept.
_SQLITE_PAUSE = 0.1
_SQLITE_HOLD = 1.0
_AHEAD = 3
# The young objects' cycles are collected every few batches: each pass walks the batches
# alive (planned rows, cells), ~3 ms, and the garbage between passes is a few sessions'.
_COLLECT_EVERY = 8


# A large import's WAL is checkpointed every ~40 MB (SQLite's default: every 1,000 pages).
_CHECKPOINT_BYTES = 40 * 2**20


def bulk_pragmas(cache_mib: int, page_size: int) -> tuple[str, ...]:
    """SQLite, for the import's connection: a page cache that holds the indexes a batch touches
    (the default 2 MB is re-read from disk every batch once the file has ~50,000 rows; the cache
    is a fixed cost, ``QCYCLE_IMPORT_CACHE_MIB``, whatever the file's size), and a WAL checkpoint
    every ~40 MB instead of every 1,000 pages (4 MB of 4 KB pages): a checkpoint writes each page
    once however many batches changed it, and syncs the file. SQLite counts the threshold in
    pages, so it follows the database's ``page_size``. Both are per connection, and the
    connections are closed when the import ends (:func:`import_file_in_batches`)."""
    return (f"PRAGMA cache_size=-{cache_mib * 1024}", f"PRAGMA wal_autocheckpoint={_CHECKPOINT_BYTES // page_size}")


# A file this large (and at least as large as the submissions already stored) is loaded without
# the handed-in index, built once at its end: SQLite's bulk-loading practice. Smaller files keep
# it, as rebuilding it reads every stored submission.
DEFER_INDEX_ROWS = 50_000


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
    for batch in in_batches(rows, BATCH_ROWS):
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
    the file's checkpoint; on SQLite the write lock is left free at intervals so other writers
    get in (``_SQLITE_HOLD``), and memory stays bounded by a few batches (``_AHEAD``). Rerun
    after a kill or an error, it resumes after the last committed batch (batches planned and
    not yet written are read again) and reports the counts of the whole file; run again after
    it finished, it imports it again as before (all duplicates). ``on_batch(rows_done,
    rows_expected)`` reports progress."""
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
        sqlite = session.get_bind().dialect.name == "sqlite"
        pragmas = bulk_pragmas(get_settings().import_cache_mib, crud.sqlite_page_size(session=session)) \
            if sqlite else ()
        lane = _lane(session, ctx, result, _source(path), default_kind) if (
            sqlite and result.format == "csv" and get_settings().import_lane) else None
    report = ImportReport(source=_source(path), round_code=ctx.loaded.programme.round.code, amended=ctx.amended)
    done = 0
    if resume is not None and seen:
        done = report.resumed_rows = seen[0]
        report.not_in_force = resume.pop("not_in_force", 0)  # kept beside the counts, not one of them
        report.counts.update(resume)
    batches: Iterator[list[FileRow] | PlainRows]
    if lane is not None and result.encoding:
        batches = csv_batches(Path(path), result.encoding, result, batch_size, skip=done)
    else:
        for _ in itertools.islice(rows, done):  # read again, not stored again
            pass
        batches = in_batches(rows, batch_size)
    if done:
        first = next(batches, None)
        report.resumed_at = "文件末尾" if first is None else (
            line_where(first.numbers[0]) if isinstance(first, PlainRows) else first[0].where)
        batches = itertools.chain([first] if first is not None else [], batches)
    expected = max(scan.lines - 1, done)
    writer = _Writer(url=url, ctx=ctx, report=report, key=key, path=str(path), seen=seen, done=done,
                     expected=expected, sqlite=sqlite, default_kind=default_kind, on_batch=on_batch,
                     pragmas=pragmas)
    try:
        _write_batches(writer, batches, lane)
    finally:
        if sqlite and db.is_file_database(url):
            # The pooled connections keep none of the import's pragmas (a 64 MB cache, its
            # checkpoint threshold): the commands and flows after it in this process get SQLite's.
            db.get_engine(url).dispose()
    return report


def _write_batches(writer: _Writer, batches: Iterator[list[FileRow] | PlainRows], lane: Lane | None) -> None:
    with without_full_collections():
        # A few batches in memory at a time (a list of all batches held the whole file).
        ahead: deque[_Prepared] = deque()
        for n, batch in enumerate(batches, 1):
            ahead.append(_prepare(batch, lane, writer.ctx, writer.default_kind))
            if n % _COLLECT_EVERY == 0:
                gc.collect(1)
            if len(ahead) < _AHEAD and writer.pausing():
                continue  # planned ahead while the write lock is left free
            writer.write(ahead.popleft())  # sleeps what is left of a pause
            while ahead and not writer.pausing():
                writer.write(ahead.popleft())
        for prepared in ahead:
            writer.write(prepared)
        writer.write(_Prepared([]))  # marks it finished


@dataclass
class _Writer:
    """Writes an import's batches one after the other, each in its own short transaction with
    the file's checkpoint (see :func:`import_file_in_batches`)."""

    url: str | None
    ctx: RoundContext
    report: ImportReport
    key: str
    path: str
    seen: tuple[int, bool] | None
    done: int
    expected: int
    sqlite: bool
    default_kind: str | None
    on_batch: Callable[[int, int], None] | None
    pragmas: tuple[str, ...]
    released: float = 0.0  # when the last batch's write lock was let go
    held: float = 0.0  # how long the write lock was held since the last pause
    defer: bool = True  # the first batch decides whether to build the handed-in index at the end

    def _pause_due(self) -> bool:
        """Whether the write lock has been held long enough to be left free before the next
        write (see ``_SQLITE_HOLD``)."""
        return self.sqlite and self.held >= _SQLITE_HOLD  # held: counted from the first write on

    def pausing(self) -> bool:
        """Whether the write lock is being left free now."""
        return self._pause_due() and time.monotonic() - self.released < _SQLITE_PAUSE

    def write(self, prepared: _Prepared) -> None:
        from qcycle import db

        ctx, report = self.ctx, self.report
        if self._pause_due():
            time.sleep(max(0.0, _SQLITE_PAUSE - (time.monotonic() - self.released)))
            self.held = 0.0
        taken = time.monotonic()
        with db.session_scope(self.url) as session:
            if self.sqlite:
                crud.run_pragmas(session=session, pragmas=self.pragmas)
            checkpoint = _checkpoint(session, ctx.round_id, self.key)
            now_seen = (checkpoint.rows_done, checkpoint.finished) if checkpoint else None
            if now_seen != self.seen:
                raise IntakeError(f"文件 {self.path} 正由另一个导入处理（检查点已变），本次停止；"
                                  "已提交的行不受影响")  # fmt: skip
            left = self.expected - self.done
            if self.defer and self.sqlite and left >= DEFER_INDEX_ROWS and left >= crud.count_submissions(
                    session=session):
                crud.defer_handed_in_index(session=session)
            self.defer = False  # decided once, in the first batch's transaction
            if prepared.size:
                prepared.take(session, ctx, report, self.default_kind)
            else:
                crud.restore_handed_in_index(session=session)
            self.done += prepared.size
            if checkpoint is None:
                checkpoint = ImportCheckpoint(round_id=ctx.round_id, fingerprint=self.key, source=report.source)
            checkpoint.rows_done = self.done
            checkpoint.counts = dict(report.counts) | {"not_in_force": report.not_in_force}
            checkpoint.finished = not prepared.size
            checkpoint.updated_at = clock.now()
            session.add(checkpoint)
            self.seen = (self.done, not prepared.size)
        self.released = time.monotonic()
        self.held += self.released - taken
        if self.on_batch is not None:
            self.on_batch(self.done, max(self.expected, self.done))


def _lane(session: Session, ctx: RoundContext, result: RecordFile, source: str,
          default_kind: str | None) -> Lane | None:
    """The bulk lane for this file (SQLite, a CSV whose columns it takes), or None."""
    convert = crud.driver_value(session=session)
    sample = uuid.uuid4()
    if convert("id", sample) != sample.hex:  # the lane writes ids as SQLite stores them
        return None
    assert result.headers is not None
    return lane_for(ctx.loaded.programme, ctx.timetable, result.headers, source=source,
                    round_value=convert("round_id", ctx.round_id), convert=convert,
                    default_kind=default_kind, unit_names=ctx.unit_names)


@dataclass
class _Prepared:
    """A batch as worked out before its write transaction: file rows normalised, or plain rows
    the lane planned."""

    rows: list[FileRow] | PlainRows
    planned: LanePlan | None = None
    readable: Readable = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.rows)

    def take(self, session: Session, ctx: RoundContext, report: ImportReport, default_kind: str | None) -> None:
        if isinstance(self.rows, PlainRows):
            assert self.planned is not None
            _take_planned(session, ctx, report, self.rows, self.planned, default_kind)
        else:
            report.take_rows(session=session, ctx=ctx, rows=self.rows, default_kind=default_kind,
                             readable=self.readable)


def _prepare(batch: list[FileRow] | PlainRows, lane: Lane | None, ctx: RoundContext,
             default_kind: str | None) -> _Prepared:
    if isinstance(batch, PlainRows) and lane is not None:
        planned = lane.plan(batch.cells)
        if not planned.whole:
            return _Prepared(batch, planned)
    rows = batch.file_rows() if isinstance(batch, PlainRows) else batch
    return _Prepared(rows, readable=readable_rows(ctx, rows, default_kind))


def _take_planned(session: Session, ctx: RoundContext, report: ImportReport, batch: PlainRows,
                  planned: LanePlan, default_kind: str | None) -> None:
    """Store a batch the lane planned: its new keys by one statement, a repeat of a held
    record counted a duplicate, a record intake cannot read quarantined with its reason; every
    other row (unreadable as a row, a new version of a held record, a repeat of an earlier
    version) ingested per row after them. The quarantine list keeps file order."""
    rows = planned.rows
    earlier = crud.received_fingerprints(session=session, round_id=ctx.round_id, fingerprints=[r[8] for r in rows]) \
        if rows else set()
    kept = [k for k, row in enumerate(rows) if row[8] not in earlier]
    held = crud.add_planned(session=session, columns=Lane.COLUMNS, rows=[rows[k] for k in kept])
    again = {planned.places[k] for k, row in enumerate(rows) if row[8] in earlier} | set(batch.problems)
    counts = report.counts
    for n, k in enumerate(kept):
        if n not in held:
            counts[planned.outcomes[k]] += 1
        elif held[n] == rows[k][8]:
            counts["duplicate"] += 1
        else:
            again.add(planned.places[k])
    aside = [(fp, reason, batch.lines[i].rstrip("\r\n"), line_where(batch.numbers[i])) for i, fp, reason in planned.left]
    line = {line_where(batch.numbers[i]): batch.numbers[i] for i in again} | {
        where: batch.numbers[i] for (i, _, _), (_, _, _, where) in zip(planned.left, aside, strict=True)}
    with report.listing_in_file_order(line):
        for (_, _, raw, where), result in zip(aside, set_aside_unreadable(
                session=session, round_id=ctx.round_id, source=report.source, rows=aside), strict=True):
            report.count(result, where=where, raw=raw)
        if again:
            report.take_rows(session=session, ctx=ctx, rows=batch.file_rows(sorted(again)),
                             default_kind=default_kind)
