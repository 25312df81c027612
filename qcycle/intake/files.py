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
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle.errors import IntakeError
from qcycle.intake.normalise import FIELD_ALIASES, fields_of_headers
from qcycle.intake.report import ImportReport, open_round, raw_json
from qcycle.loader import LoadedProgramme

__all__ = ["FileRow", "RecordFile", "decode_text", "import_file", "read_file"]

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_JSON_SUFFIXES = {".json"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass(frozen=True)
class FileRow:
    """One row of a file: its fields, or (``fields is None``) why it could not be read."""

    where: str  # "第 5 行" / "第 3 条"
    raw: str
    fields: dict[str, Any] | None
    problem: str = ""


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
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        # GB18030 decodes GBK and GB2312 too; UTF-8 first, since GB18030 would also accept
        # many UTF-8 byte sequences and turn them into the wrong characters.
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
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


def read_file(path: str | Path, *, sheet: str | None = None) -> RecordFile:
    """Every row of a CSV, XLSX or JSON file; raises IntakeError if the file cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from exc
    fmt = _format_of(path, data[:64])
    if fmt == "xlsx":
        return _read_xlsx(path, sheet)
    if sheet:
        raise _unreadable(path, f"--sheet 只适用于 XLSX 文件（这是 {fmt.upper()}）")
    text, encoding = decode_text(data, path=path)
    if fmt == "csv":
        result = _read_csv(path, text)
    else:
        result = _read_json(path, text, lines=fmt == "jsonl")
    result.encoding = encoding
    return result


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


def _delimiter(text: str) -> str:
    first = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_records(text: str) -> Iterator[tuple[int, str, list[str] | None, str]]:
    """(first line number, raw text, cells or None, csv error) per CSV record."""
    buffer: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            buffer.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=_delimiter(text))
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


def _read_csv(path: Path, text: str) -> RecordFile:
    result = RecordFile(path, "csv")
    headers: list[str] | None = None
    for line, raw, cells, problem in _csv_records(text):
        where = f"第 {line} 行"
        if cells is None:
            result.rows.append(FileRow(where, raw, None, problem))
            continue
        if _blank(cells):
            continue
        if headers is None:
            headers = result.headers = _unique(cells)
            continue
        if len(cells) > len(headers) and _blank(cells[len(headers) :]):
            cells = cells[: len(headers)]  # trailing separators of empty cells
        if len(cells) != len(headers):
            problem = f"有 {len(cells)} 列，表头有 {len(headers)} 列"
            result.rows.append(FileRow(where, raw, None, problem))
            continue
        result.rows.append(FileRow(where, raw, dict(zip(headers, cells, strict=True))))
    if headers is None:
        raise _unreadable(path, "文件是空的（没有表头行）")
    return result


def _read_xlsx(path: Path, sheet: str | None) -> RecordFile:
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
        result = RecordFile(path, "xlsx")
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
                result.rows.append(FileRow(where, raw, None, problem))
                continue
            cells += [None] * (len(headers) - len(cells))
            for i in time_columns:
                if isinstance(cells[i], (int, float)) and not isinstance(cells[i], bool):
                    cells[i] = from_excel(cells[i])  # a serial day number without a date format
            result.rows.append(
                FileRow(where, raw, dict(zip(headers, cells[: len(headers)], strict=True)))
            )
    finally:
        workbook.close()
    if headers is None:
        raise _unreadable(path, f"工作表 {title} 是空的（没有表头行）")
    return result


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


def _jsonl_rows(text: str) -> list[FileRow]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"第 {number} 行"
        try:
            item = json.loads(line)
        except ValueError as exc:
            rows.append(FileRow(where, line, None, f"不是有效的 JSON（{exc}）"))
            continue
        if isinstance(item, dict):
            rows.append(FileRow(where, line, item))
        else:
            rows.append(FileRow(where, line, None, '不是对象（应为 {"kind": ...}）'))
    return rows


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
        return RecordFile(path, "jsonl", rows=_jsonl_rows(text))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if _looks_like_jsonl(text):  # JSON Lines saved as .json
            return RecordFile(path, "jsonl", rows=_jsonl_rows(text))
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
    when the file cannot be read at all. The caller commits (``db.session_scope``).
    """
    result = read_file(path, sheet=sheet)
    if result.headers is not None:
        _check_headers(result, default_kind)
    ctx = open_round(session, programme)
    report = ImportReport(source=f"import:{Path(path).resolve()}",
                          round_code=ctx.loaded.programme.round.code)  # fmt: skip
    for row in result.rows:
        if row.fields is None:
            report.set_aside(session=session, ctx=ctx, raw=row.raw, where=row.where,
                             reason=row.problem)  # fmt: skip
        else:
            report.take(session=session, ctx=ctx, row=row.fields, raw=row.raw, where=row.where,
                        default_kind=default_kind)  # fmt: skip
    return report
