"""Opening a file of any format for its rows (:func:`open_file`, lazily; :func:`read_file`,
all at once), failing before the first row when the file cannot be read at all."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from qcycle.intake.files.detect import (
    FileRow,
    FileScan,
    RecordFile,
    _format_of,
    _text_lines,
    _unreadable,
    scan_file,
)
from qcycle.intake.files.jsonfiles import _jsonl_rows, _read_json
from qcycle.intake.files.tabular import _csv_rows, _xlsx_rows

__all__ = ["open_file", "read_file"]


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


def _until_headers(result: RecordFile, rows: Iterator[FileRow]) -> Iterator[FileRow]:
    """Read ahead to the header row, so a file without one fails before anything is stored."""
    ahead: list[FileRow] = []
    if result.format in ("csv", "xlsx"):
        for row in rows:
            ahead.append(row)
            if result.headers is not None:
                break  # (a file without one raises at its end, inside the loop)
    return itertools.chain(ahead, rows)
