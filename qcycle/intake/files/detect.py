"""What a file is before its rows are read: its format (from the suffix, else the first
bytes), its text encoding (UTF-8, UTF-16 or GB18030, detected), and one pass over its bytes
for the digest, size and line count (:func:`scan_file`)."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcycle.errors import IntakeError, why_unreadable
from qcycle.intake.report import IncomingRow

__all__ = ["FileRow", "FileScan", "RecordFile", "decode_text", "line_where", "scan_file"]

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_JSON_SUFFIXES = {".json"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}


FileRow = IncomingRow  # a file's rows are what every source hands in


def line_where(number: int) -> str:
    """Where a row of a file is, in the office's words (kept with a reason to set it aside)."""
    return f"第 {number} 行"


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
        raise _unreadable(path, why_unreadable(exc)) from exc
    # None: an empty file (text in any encoding); {}: no encoding read every chunk.
    for encoding, decoder in ({"utf-8": None} if decoders is None else decoders).items():
        try:
            if decoder is not None:
                decoder.decode(b"", final=True)
            return FileScan(digest.hexdigest(), size, lines + 1, head, encoding)
        except UnicodeDecodeError:
            continue
    return FileScan(digest.hexdigest(), size, lines + 1, head, None)


def _candidates(data: bytes) -> list[str]:
    if data.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ["utf-16"]
    # UTF-16 without its BOM (some exports): ASCII text has a zero byte beside every character.
    # GB18030 reads those bytes without an error, as a header of mojibake.
    head = data[:4096]
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 16:
        return ["utf-16-le"]
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 16:
        return ["utf-16-be"]
    # GB18030 decodes GBK and GB2312 too; UTF-8 first, since GB18030 would also accept
    # many UTF-8 byte sequences and turn them into the wrong characters.
    return ["utf-8", "gb18030"]


def _text_lines(path: Path, encoding: str) -> Iterator[str]:
    # newline="": line ends are kept as they are (CSV cells may hold line breaks).
    with path.open(encoding=encoding, newline="") as f:
        yield from f
