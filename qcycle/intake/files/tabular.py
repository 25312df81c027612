"""Rows of tabular files, one at a time: CSV (any delimiter, cells across lines) and XLSX
worksheets (streamed by openpyxl). A row that cannot be read is handed on with its problem."""

from __future__ import annotations

import csv
import itertools
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcycle.intake.files.detect import FileRow, RecordFile, _text_lines, _unreadable, line_where
from qcycle.intake.normalise import fields_of_headers

__all__ = ["PlainRows", "csv_batches", "in_batches"]  # the rest: reading.py opens files through them


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
    source: Iterable[str], delimiter: str, first: int = 1
) -> Iterator[tuple[int, str, list[str] | None, str]]:
    """(first line number, raw text, cells or None, csv error) per CSV record; ``first``: the
    number of the source's first line."""
    buffer: list[str] = []

    def lines() -> Iterator[str]:
        for line in source:
            buffer.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    start = first
    while True:
        try:
            cells: list[str] | None = next(reader)
            problem = ""
        except StopIteration:
            return
        except csv.Error as exc:
            cells, problem = None, _csv_problem(exc)
        raw = "".join(buffer).rstrip("\r\n")
        buffer.clear()
        yield start, raw, cells, problem
        start = first + reader.line_num


def _csv_rows(path: Path, encoding: str, result: RecordFile, *, lines: Iterable[str] | None = None,
              first: int = 1, delimiter: str | None = None) -> Iterator[FileRow]:
    """Rows of a CSV file, one at a time; sets ``result.headers`` when it meets the header.
    ``lines``/``first``/``delimiter``: go on from line ``first`` of a file whose header was read
    already, with its delimiter."""
    delimiter = delimiter or _delimiter(_text_lines(path, encoding))
    headers: list[str] | None = result.headers if lines is not None else None
    source = _text_lines(path, encoding) if lines is None else lines
    for line, raw, cells, problem in _csv_records(source, delimiter, first):
        where = line_where(line)
        if cells is None and headers is not None and "\n" in raw:
            yield from _lines_apart(raw, line, delimiter, headers)  # a run-on quote grew past the cell limit
            continue
        if cells is None:
            yield FileRow(where, raw, None, problem)
            continue
        if not "".join(cells).strip():  # _blank(cells) for text cells, in one call per row
            continue
        if headers is None:
            headers = result.headers = _unique(cells)
            continue
        cells = _trimmed(cells, headers)
        if "\n" in raw and (len(cells) != len(headers) or _rows_inside(raw, delimiter, headers)):
            # A quote left open swallows the lines after it into one cell (the last column's keeps
            # the count right): each line is read again on its own, so one typo does not take the
            # next rows with it.
            yield from _lines_apart(raw, line, delimiter, headers)
            continue
        if len(cells) != len(headers):
            problem = _width_problem(len(cells), len(headers))
            yield FileRow(where, raw, None, problem)
            continue
        yield FileRow(where, raw, dict(zip(headers, cells, strict=True)))
    if headers is None:
        raise _unreadable(path, "文件是空的（没有表头行）")


def _width_problem(cells: int, headers: int) -> str:
    return f"有 {cells} 列，表头有 {headers} 列"


def _trimmed(cells: list[str], headers: Sequence[str]) -> list[str]:
    if len(cells) > len(headers) and _blank(cells[len(headers) :]):
        return cells[: len(headers)]  # trailing separators of empty cells
    return cells


@dataclass
class PlainRows:
    """A batch of a CSV's rows that are each one line (the bulk lane's): each row's line number,
    the line as read and its cells (None for a row of the wrong width, with its ``problems``
    entry)."""

    headers: list[str]
    numbers: Sequence[int] = field(default_factory=list)
    lines: Sequence[str] = field(default_factory=list)
    cells: Sequence[list[str] | None] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)  # row's place -> why it cannot be read

    def __len__(self) -> int:
        return len(self.numbers)

    def after(self, n: int) -> PlainRows:
        """The batch without its first ``n`` rows."""
        return PlainRows(self.headers, self.numbers[n:], self.lines[n:], self.cells[n:],
                         {i - n: why for i, why in self.problems.items() if i >= n})

    def file_rows(self, places: Iterable[int] | None = None) -> list[FileRow]:
        """The rows (those at ``places``, in file order) as :func:`_csv_rows` gives them."""
        return [FileRow(line_where(self.numbers[i]), self.lines[i].rstrip("\r\n"),
                        None if (cells := self.cells[i]) is None else dict(zip(self.headers, cells, strict=True)),
                        self.problems.get(i, "")) for i in (range(len(self)) if places is None else places)]


def csv_batches(path: Path, encoding: str, result: RecordFile, size: int,
                skip: int = 0) -> Iterator[PlainRows | list[FileRow]]:
    """A CSV's rows in batches of ``size``, as :class:`PlainRows` while each record is one line
    (nearly every office file), else from there on as :func:`_csv_rows` gives them (a cell with
    a line break, a quote left open, a NUL): the same rows either way, after the first ``skip``
    (a resumed import's). Sets ``result.headers``."""
    for batch in _csv_batches(path, encoding, result, size):
        if skip >= len(batch):
            skip -= len(batch)
            continue
        yield batch[skip:] if isinstance(batch, list) else batch.after(skip)
        skip = 0


def _csv_batches(path: Path, encoding: str, result: RecordFile, size: int) -> Iterator[PlainRows | list[FileRow]]:
    delimiter = _delimiter(_text_lines(path, encoding))
    lines = _text_lines(path, encoding)
    number = 0
    for line in lines:  # the header: the first line that is not blank
        number += 1
        if '"' in line:  # a quoted header (it may run across lines): read as it always was
            result.headers = None
            yield from in_batches(_csv_rows(path, encoding, result), size)
            return
        cells = next(csv.reader([line], delimiter=delimiter), [])
        if "".join(cells).strip():
            result.headers = headers = _unique(cells)
            break
    else:
        raise _unreadable(path, "文件是空的（没有表头行）")
    width = len(headers)
    while chunk := list(itertools.islice(lines, size)):
        try:
            # strict: a quoted cell the chunk's last line leaves open raises instead of ending
            # there (read on, it takes the next lines, as the row reader reads it).
            records = list(csv.reader(chunk, delimiter=delimiter, strict=True))
        except csv.Error:
            records = []
        if len(records) != len(chunk):
            yield from in_batches(_csv_rows(path, encoding, result, lines=itertools.chain(chunk, lines),
                                            first=number + 1, delimiter=delimiter), size)
            return
        if all(len(cells) == width and cells[0].strip() for cells in records):  # nearly every batch
            yield PlainRows(headers, range(number + 1, number + 1 + len(chunk)), chunk, records)
            number += len(chunk)
            continue
        numbers: list[int] = []
        kept: list[str] = []
        rows: list[list[str] | None] = []
        batch = PlainRows(headers, numbers, kept, rows)
        for line, cells in zip(chunk, records, strict=True):
            number += 1
            if len(cells) == width and cells[0].strip():  # nearly every row: not blank, as wide as the header
                numbers.append(number)
                kept.append(line)
                rows.append(cells)
                continue
            if not "".join(cells).strip():
                continue
            cells = _trimmed(cells, headers)
            if len(cells) != width:
                batch.problems[len(rows)] = _width_problem(len(cells), width)
            numbers.append(number)
            kept.append(line)
            rows.append(cells if len(cells) == width else None)
        if rows:
            yield batch


def in_batches(rows: Iterator[FileRow], size: int) -> Iterator[list[FileRow]]:
    """Rows in lists of ``size``, read as they are taken."""
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _csv_problem(exc: csv.Error) -> str:
    """The csv module's error in the office's words."""
    text = str(exc)
    if "field larger than field limit" in text:
        return "单元格超过 128 KB（多为引号未闭合，后面的行被并入了这一格）"
    if "NUL" in text:
        return "含有空字符（NUL），文件可能已损坏，或不是文本格式"
    return "CSV 格式错误，这一行无法按列拆分（检查引号和分隔符）"


def _rows_inside(raw: str, delimiter: str, headers: list[str]) -> bool:
    """Whether a record across lines holds lines that are whole rows themselves: a quote left
    open, not a cell with a line break in it."""
    for text in raw.splitlines()[1:]:
        if text.count('"') % 2 == 0 and len(next(csv.reader([text], delimiter=delimiter), [])) == len(headers):
            return True
    return False


def _lines_apart(raw: str, first: int, delimiter: str, headers: list[str]) -> Iterator[FileRow]:
    """The rows of a record whose open quote ran across lines, one per line: a line that now
    reads as a row under the headers is that row; any other is set aside, saying why."""
    for number, text in enumerate(raw.splitlines(), start=first):
        if not text.strip():
            continue
        cells = next(csv.reader([text], delimiter=delimiter), [])
        open_quote = text.count('"') % 2 == 1
        if len(cells) == len(headers) and not open_quote:
            yield FileRow(line_where(number), text, dict(zip(headers, cells, strict=True)))
        else:
            problem = "引号未闭合（单元格内的引号须成对）" if open_quote else _width_problem(len(cells), len(headers))
            yield FileRow(line_where(number), text, None, problem)


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
            where = line_where(number) if sheet is None else f"工作表 {title} {line_where(number)}"
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
