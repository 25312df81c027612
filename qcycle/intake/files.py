"""Submissions from files: CSV, XLSX and JSON / JSON Lines, as offices export them.

CSV may be UTF-8 (with or without BOM), UTF-16 ("Unicode 文本") or GB18030 (Excel and WPS on
Chinese Windows): the encoding is detected. Headers may be English keys or Chinese
(see :mod:`qcycle.intake.normalise`). A row that cannot be read (wrong column count, a broken
JSON line) is quarantined with its raw text and its line number; a file that cannot be read at
all raises :class:`~qcycle.errors.IntakeError` before anything is stored.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import json
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.errors import IntakeError
from qcycle.intake.normalise import FIELD_ALIASES, fields_of_headers
from qcycle.intake.report import (
    ImportReport,
    IncomingRow,
    open_round,
    raw_json,
    readable_rows,
)
from qcycle.loader import LoadedProgramme
from qcycle.models import ImportCheckpoint

__all__ = ["BATCH_ROWS", "FileRow", "FileScan", "RecordFile", "decode_text", "import_file",
           "import_file_in_batches", "open_file", "read_file", "scan_file"]

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_JSON_SUFFIXES = {".json"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}


FileRow = IncomingRow  # a file's rows are what every source hands in


@dataclass
class RecordFile:
    path: Path
    format: str  # csv | xlsx | json | jsonl
    encoding: str | None = None
    headers: list[str] | None = None  # tabular files only
    rows: list[FileRow] = field(default_factory=list)


def _unreadable(path: Path, what: str) -> IntakeError:
    return IntakeError(f"无法读取文件 {path}：{what}")


def decode_text(data: bytes, *, path: Path | str = "") -> tuple[str, str]:
    """Text and encoding of a file from a Chinese office: UTF-8 (BOM or not), UTF-16, GB18030."""
    for encoding in _candidates(data):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise _unreadable(Path(path), "编码无法识别（应为 UTF-8 或 GB18030/GBK）")


def _format_of(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in _XLSX_SUFFIXES:
        return "xlsx"
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    if suffix in _JSON_SUFFIXES:
        return "json"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix == ".xls":
        raise _unreadable(path, "不支持旧版 .xls 格式，请在 Excel/WPS 中另存为 .xlsx 或 CSV")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:1] in (b"[", b"{"):
        return "json"
    return "csv"


@dataclass(frozen=True)
class FileScan:
    """One pass over a file's bytes: its sha256 (the import checkpoint's key), its size, its
    line count (the progress bar's total) and its text encoding, decided as :func:`decode_text`
    decides it for the whole file, without holding the file in memory."""

    sha256: str
    size: int
    lines: int
    head: bytes
    encoding: str | None  # None: not text in any encoding we read


_CHUNK = 1 << 20


def scan_file(path: str | Path) -> FileScan:
    path = Path(path)
    digest = hashlib.sha256()
    size = lines = 0
    head = b""
    decoders: dict[str, Any] | None = None
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                if decoders is None:
                    head = chunk[:64]
                    decoders = {e: codecs.getincrementaldecoder(e)() for e in _candidates(chunk)}
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                for encoding, decoder in list(decoders.items()):
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        del decoders[encoding]
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from exc
    for encoding, decoder in (decoders or {"utf-8": None}).items():
        try:
            if decoder is not None:
                decoder.decode(b"", final=True)
            return FileScan(digest.hexdigest(), size, lines + 1, head, encoding)
        except UnicodeDecodeError:
            continue
    return FileScan(digest.hexdigest(), size, lines + 1, head, None)


def open_file(
    path: str | Path, *, sheet: str | None = None, scan: FileScan | None = None
) -> tuple[RecordFile, Iterator[FileRow]]:
    """A file's description and its rows, read lazily (CSV, JSON Lines, XLSX): memory stays
    bounded by what the caller holds, not by the file. Raises IntakeError before the first
    row when the file cannot be read at all (encoding, no header row, not a workbook)."""
    path = Path(path)
    scan = scan or scan_file(path)
    fmt = _format_of(path, scan.head)
    result = RecordFile(path, fmt)
    if fmt == "xlsx":
        rows = _xlsx_rows(path, sheet, result)
    else:
        if sheet:
            raise _unreadable(path, f"--sheet 只适用于 XLSX 文件（这是 {fmt.upper()}）")
        if scan.encoding is None:
            raise _unreadable(path, "编码无法识别（应为 UTF-8 或 GB18030/GBK）")
        result.encoding = scan.encoding
        if fmt == "csv":
            rows = _csv_rows(path, scan.encoding, result)
        elif fmt == "jsonl":
            rows = _jsonl_rows(_text_lines(path, scan.encoding))
        else:  # one JSON document: parsed whole
            text = path.read_text(encoding=scan.encoding)
            parsed = _read_json(path, text, lines=False)
            result.format, rows = parsed.format, iter(parsed.rows)
    return result, _until_headers(result, rows)


def read_file(path: str | Path, *, sheet: str | None = None) -> RecordFile:
    """Every row of a CSV, XLSX or JSON file; raises IntakeError if the file cannot be read."""
    result, rows = open_file(path, sheet=sheet)
    result.rows = list(rows)
    return result


def _candidates(data: bytes) -> list[str]:
    if data.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ["utf-16"]
    # GB18030 decodes GBK and GB2312 too; UTF-8 first, since GB18030 would also accept
    # many UTF-8 byte sequences and turn them into the wrong characters.
    return ["utf-8", "gb18030"]


def _until_headers(result: RecordFile, rows: Iterator[FileRow]) -> Iterator[FileRow]:
    """Read ahead to the header row, so a file without one fails before anything is stored."""
    ahead: list[FileRow] = []
    if result.format in ("csv", "xlsx"):
        for row in rows:
            ahead.append(row)
            if result.headers is not None:
                break  # (a file without one raises at its end, inside the loop)
    return itertools.chain(ahead, rows)


def _text_lines(path: Path, encoding: str) -> Iterator[str]:
    # newline="": line ends are kept as they are (CSV cells may hold line breaks).
    with path.open(encoding=encoding, newline="") as f:
        yield from f


# -- tabular files ------------------------------------------------------------------------------


def _unique(headers: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, header in enumerate(headers):
        name = str(header).strip() if header not in (None, "") else f"column_{i + 1}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _delimiter(lines: Iterable[str]) -> str:
    first = next((line for line in lines if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_records(
    source: Iterable[str], delimiter: str
) -> Iterator[tuple[int, str, list[str] | None, str]]:
    """(first line number, raw text, cells or None, csv error) per CSV record."""
    buffer: list[str] = []

    def lines() -> Iterator[str]:
        for line in source:
            buffer.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    start = 1
    while True:
        try:
            cells: list[str] | None = next(reader)
            problem = ""
        except StopIteration:
            return
        except csv.Error as exc:
            cells, problem = None, f"CSV 格式错误（{exc}）"
        raw = "".join(buffer).rstrip("\r\n")
        buffer.clear()
        yield start, raw, cells, problem
        start = reader.line_num + 1


def _csv_rows(path: Path, encoding: str, result: RecordFile) -> Iterator[FileRow]:
    """Rows of a CSV file, one at a time; sets ``result.headers`` when it meets the header."""
    delimiter = _delimiter(_text_lines(path, encoding))
    headers: list[str] | None = None
    for line, raw, cells, problem in _csv_records(_text_lines(path, encoding), delimiter):
        where = f"第 {line} 行"
        if cells is None:
            yield FileRow(where, raw, None, problem)
            continue
        if not "".join(cells).strip():  # _blank(cells) for text cells, in one call per row
            continue
        if headers is None:
            headers = result.headers = _unique(cells)
            continue
        if len(cells) > len(headers) and _blank(cells[len(headers) :]):
            cells = cells[: len(headers)]  # trailing separators of empty cells
        if len(cells) != len(headers):
            problem = f"有 {len(cells)} 列，表头有 {len(headers)} 列"
            yield FileRow(where, raw, None, problem)
            continue
        yield FileRow(where, raw, dict(zip(headers, cells, strict=True)))
    if headers is None:
        raise _unreadable(path, "文件是空的（没有表头行）")


def _xlsx_rows(path: Path, sheet: str | None, result: RecordFile) -> Iterator[FileRow]:
    """Rows of a worksheet, one at a time (openpyxl's read-only mode streams them)."""
    import openpyxl
    from openpyxl.utils.datetime import from_excel
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _unreadable(path, f"不是有效的 XLSX 工作簿（{exc}）") from exc
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            names = "、".join(workbook.sheetnames)
            raise _unreadable(path, f"没有名为 {sheet!r} 的工作表（有：{names}）")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        title = worksheet.title
        headers: list[str] | None = None
        time_columns: set[int] = set()
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            cells = list(values)
            if _blank(cells):
                continue
            where = f"第 {number} 行" if sheet is None else f"工作表 {title} 第 {number} 行"
            raw = "\t".join("" if c is None else str(c) for c in cells).rstrip("\t")
            if headers is None:
                while cells and cells[-1] in (None, ""):
                    cells.pop()
                headers = result.headers = _unique(cells)
                time_columns = {
                    i for i, f in enumerate(fields_of_headers(headers)) if f == "submitted_at"
                }
                continue
            extra = [i + 1 for i, c in enumerate(cells[len(headers):], start=len(headers))
                     if c not in (None, "")]  # fmt: skip
            if extra:
                problem = f"表头之外的第 {extra[0]} 列还有内容（表头有 {len(headers)} 列）"
                yield FileRow(where, raw, None, problem)
                continue
            cells += [None] * (len(headers) - len(cells))
            for i in time_columns:
                if isinstance(cells[i], (int, float)) and not isinstance(cells[i], bool):
                    cells[i] = from_excel(cells[i])  # a serial day number without a date format
            yield FileRow(where, raw, dict(zip(headers, cells[: len(headers)], strict=True)))
    finally:
        workbook.close()
    if headers is None:
        raise _unreadable(path, f"工作表 {title} 是空的（没有表头行）")


# -- JSON -------------------------------------------------------------------------------------


def _json_rows(items: list[Any]) -> list[FileRow]:
    rows = []
    for number, item in enumerate(items, start=1):
        where = f"第 {number} 条"
        if isinstance(item, dict):
            rows.append(FileRow(where, raw_json(item), item))
        else:
            rows.append(FileRow(where, raw_json(item), None, '不是对象（应为 {"kind": ...}）'))
    return rows


def _jsonl_rows(source: Iterable[str]) -> Iterator[FileRow]:
    # Numbered as str.splitlines() numbers the whole text (it also splits on \v, \u2028, ...).
    lines = (piece for line in source for piece in line.splitlines())
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"第 {number} 行"
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield FileRow(where, line, None, f"不是有效的 JSON（{exc}）")
            continue
        if isinstance(item, dict):
            yield FileRow(where, line, item)
        else:
            yield FileRow(where, line, None, '不是对象（应为 {"kind": ...}）')


def _looks_like_jsonl(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        return isinstance(json.loads(lines[0]), dict)
    except ValueError:
        return False


def _read_json(path: Path, text: str, *, lines: bool) -> RecordFile:
    if lines:
        return RecordFile(path, "jsonl", rows=list(_jsonl_rows(text.splitlines())))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if _looks_like_jsonl(text):  # JSON Lines saved as .json
            return RecordFile(path, "jsonl", rows=list(_jsonl_rows(text.splitlines())))
        raise _unreadable(
            path, f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if isinstance(data, dict) and any(k in FIELD_ALIASES for k in data):
        data = [data]  # one record on its own
    if not isinstance(data, list):
        raise _unreadable(path, 'JSON 顶层应为记录列表，或 {"records": [...]}')
    return RecordFile(path, "json", rows=_json_rows(data))


# -- import -----------------------------------------------------------------------------------


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


# SQLite, for the import's connection: a page cache that holds the indexes a batch touches
# (the default 2 MB is re-read from disk every batch once the file has ~50,000 rows), and a
# WAL checkpoint every ~40 MB instead of every ~4 MB: a checkpoint writes each page once
# however many batches changed it, and syncs the file. Both are per connection.
SQLITE_BULK_PRAGMAS = ("PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=10000")


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
    report = ImportReport(source=_source(path), round_code=ctx.loaded.programme.round.code)
    done = 0
    if resume is not None and seen:
        done = report.resumed_rows = seen[0]
        report.counts.update(resume)
        for _ in itertools.islice(rows, done):  # read again, not stored again
            pass
        nxt = next(rows, None)
        report.resumed_at = nxt.where if nxt else "文件末尾"
        rows = itertools.chain([nxt] if nxt else [], rows)
    expected = max(scan.lines - 1, done)
    sqlite = db.get_engine(url).dialect.name == "sqlite"
    released: float | None = None  # when the last batch's write lock was let go
    # One batch in memory at a time (a list of all batches held the whole file).
    for batch in itertools.chain(_batches(rows, batch_size), [[]]):  # the empty one marks it finished
        readable = readable_rows(ctx, batch, default_kind)
        if sqlite and released is not None:
            time.sleep(max(0.0, _SQLITE_PAUSE - (time.monotonic() - released)))
        with db.session_scope(url) as session:
            if sqlite:
                crud.run_pragmas(session=session, pragmas=SQLITE_BULK_PRAGMAS)
            checkpoint = _checkpoint(session, ctx.round_id, key)
            now_seen = (checkpoint.rows_done, checkpoint.finished) if checkpoint else None
            if now_seen != seen:
                raise IntakeError(f"文件 {path} 正由另一个导入处理（检查点已变），本次停止；"
                                  "已提交的行不受影响")  # fmt: skip
            if batch:
                report.take_rows(session=session, ctx=ctx, rows=batch, default_kind=default_kind,
                                 readable=readable)
            done += len(batch)
            if checkpoint is None:
                checkpoint = ImportCheckpoint(round_id=ctx.round_id, fingerprint=key,
                                              source=report.source)  # fmt: skip
            checkpoint.rows_done, checkpoint.counts = done, dict(report.counts)
            checkpoint.finished = not batch
            checkpoint.updated_at = clock.now()
            session.add(checkpoint)
            seen = (done, not batch)
        released = time.monotonic()
        if on_batch is not None:
            on_batch(done, max(expected, done))
    return report
