"""Rows of JSON files: one document (a list of records, ``{"records": [...]}`` or one record)
or JSON Lines, also when JSON Lines were saved as ``.json``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from qcycle.errors import json_problem
from qcycle.intake.files.detect import FileRow, RecordFile, _unreadable, line_where
from qcycle.intake.normalise import FIELD_ALIASES
from qcycle.intake.report import raw_json

__all__: list[str] = []  # nothing public: reading.py opens files through these


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
        where = line_where(number)
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield FileRow(where, line, None, f"不是有效的 JSON（{json_problem(exc)}）")
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
            path, f"不是有效的 JSON（{json_problem(exc)}）"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if isinstance(data, dict) and any(k in FIELD_ALIASES for k in data):
        data = [data]  # one record on its own
    if not isinstance(data, list):
        raise _unreadable(path, 'JSON 顶层应为记录列表，或 {"records": [...]}')
    return RecordFile(path, "json", rows=_json_rows(data))
