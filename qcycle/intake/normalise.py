"""From a row as an office wrote it to a record as :func:`qcycle.intake.ingest` reads it.

Column headers may be the English keys or the Chinese headers offices use (材料种类, 单位代码,
项目代码, 期次, 提交时间, ...); kinds may be Chinese names (揭榜书, 进展报告, 评分, ...). Columns
that are not fields go into ``payload``. Times become ISO 8601 with +08:00, so the same record
read from CSV, XLSX, JSON or HTTP gets the same fingerprint and is stored once.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from qcycle.clock import TZ

__all__ = [
    "FIELD_ALIASES",
    "KIND_ALIASES",
    "field_of_header",
    "fields_of_headers",
    "map_headers",
    "normalise_kind",
    "normalise_record",
]

# Field → accepted headers, most precise first (when two headers name one field, the more
# precise one wins and the other is kept in payload: "单位代码" beats "单位").
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "kind": ("kind", "材料种类", "种类", "材料类型", "类型"),
    "unit": ("unit", "unit_code", "单位代码", "提交单位代码", "提交单位", "单位"),
    "item": ("item", "item_code", "项目代码", "榜单项目代码", "榜单项目", "项目"),
    "category": ("category", "category_code", "类别代码", "类别"),
    "period": ("period", "期次", "检查期次", "期别"),
    "stage": ("stage", "stage_code", "阶段代码"),
    "submitted_at": ("submitted_at", "提交时间", "报送时间", "提交日期"),
    "id": ("id", "external_id", "编号", "记录编号", "材料编号"),
    "reviewer": ("reviewer", "评审人", "评审专家", "专家"),
    "component": ("component", "评分部分", "评分项", "评分项目"),
    "value": ("value", "score", "分数", "得分", "评分"),
    "payload": ("payload", "附加信息"),
}

KIND_ALIASES: dict[str, str] = {
    "揭榜书": "application",
    "申报": "application",
    "申报书": "application",
    "揭榜申报": "application",
    "进展报告": "progress_report",
    "中期检查": "progress_report",
    "中期进展报告": "progress_report",
    "年度进展": "progress_report",
    "申请评价确认": "evaluation_request",
    "评价确认申请": "evaluation_request",
    "自评报告": "self_evaluation",
    "自评": "self_evaluation",
    "整改报告": "rectification_report",
    "整改": "rectification_report",
    "异议": "objection",
    "公示异议": "objection",
    "评分": "score",
    "打分": "score",
    "评审打分": "score",
}

_ALIAS_RANK = {
    alias.lower(): (field, rank)
    for field, aliases in FIELD_ALIASES.items()
    for rank, alias in enumerate(aliases)
}
# "单位代码（unit）", "*提交时间", "提交时间(北京时间)": the annotation is not part of the name.
_ANNOTATION = re.compile(r"[（(][^）)]*[）)]")
# Field values kept as text (codes are text even when Excel stored them as numbers).
_TEXT_FIELDS = ("unit", "item", "category", "period", "stage", "id", "reviewer", "component")

_DATETIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M", "%Y年%m月%d日",
    "%Y年%m月%d日 %H时%M分", "%Y年%m月%d日%H时%M分",
)  # fmt: skip
_PERIOD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")


def _clean_header(header: Any) -> str:
    return (
        str(header or "").replace("\ufeff", "").replace("\u3000", " ").strip().lstrip("*＊").strip()
    )


def field_of_header(header: Any) -> tuple[str, int] | None:
    """The record field a column header names, with the alias rank (lower is more precise)."""
    text = _clean_header(header).lower()
    found = _ALIAS_RANK.get(text) or _ALIAS_RANK.get(_ANNOTATION.sub("", text).strip())
    return found


def fields_of_headers(headers: Sequence[Any]) -> list[str | None]:
    """Each column's field, or None for a payload column (the less precise of a pair, too)."""
    best: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
    for column, header in enumerate(headers):
        found = field_of_header(header)
        if found and (found[0] not in best or found[1] < best[found[0]][0]):
            best[found[0]] = (found[1], column)
    chosen = {column: field for field, (_, column) in best.items()}
    return [chosen.get(column) for column in range(len(headers))]


def map_headers(headers: Sequence[Any]) -> list[str]:
    """Each column's key in the record: a field name, or the cleaned header (payload)."""
    return [
        field or _clean_header(header) or f"column_{column + 1}"
        for column, (header, field) in enumerate(
            zip(headers, fields_of_headers(headers), strict=True)
        )
    ]


def normalise_kind(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    return KIND_ALIASES.get(text, text.lower() if text.isascii() else text)


def _local_iso(value: dt.datetime | dt.date) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=TZ)  # offices write local (Beijing) time
    return value.astimezone(TZ).isoformat()


# A file holds many rows per minute of its window: each spelling is worked out once.
@functools.lru_cache(maxsize=65536)
def _time_text(value: str) -> str:
    """Excel/WPS CSV times (2023/4/18 10:00) → ISO with +08:00; anything else is left as is."""
    text = value.strip()
    try:
        # One spelling per moment ("…T10:00+08:00", "…T02:00:00Z"): one fingerprint per record.
        return _local_iso(dt.datetime.fromisoformat(text))
    except ValueError:
        pass
    for fmt in _DATETIME_FORMATS:
        try:
            return _local_iso(dt.datetime.strptime(text, fmt))
        except ValueError:
            continue
    return text  # ISO already, or unreadable: ingest quarantines it with the reason


def _scalar(value: Any) -> Any:
    """JSON-friendly value: times as ISO, text stripped, empty as None."""
    if isinstance(value, (dt.datetime, dt.date)):
        return _local_iso(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip() or None
    return value


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 510100.0 from a spreadsheet is the code "510100"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _period(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return f"{value:%Y-%m}"  # Excel turns "2023-07" into 2023-07-01
    if isinstance(value, str):
        match = _PERIOD.match(value.strip())
        if match:
            return f"{match[1]}-{int(match[2]):02d}"
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value  # ingest quarantines it: "评分 ... 不是数字"


def normalise_record(
    row: Mapping[str, Any],
    *,
    default_kind: str | None = None,
    unit_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A record with field keys, canonical values and everything else in ``payload``.

    ``unit_names`` maps unit names to codes, so a column of names (成都市市场监督管理局)
    reads as codes; ``default_kind`` fills a missing kind (a sheet of 揭榜书 only).
    """
    record: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    for key, field, payload_key in _columns(tuple(row)):
        raw_value = row[key]
        if field is None:
            value = _scalar(raw_value)
            if value is not None:
                payload[payload_key] = value
            continue
        if field == "payload":
            payload.update(_payload(raw_value))
            continue
        if field == "period":
            raw_value = _period(raw_value)
        if field == "submitted_at":
            value = _time_text(raw_value) if isinstance(raw_value, str) else _scalar(raw_value)
        else:
            value = _scalar(raw_value)
        if value is None:
            continue
        if field in _TEXT_FIELDS:
            value = _text(value)
        elif field == "kind":
            value = normalise_kind(value)
        elif field == "value":
            value = _number(value)
        record[field] = value
    if "kind" not in record and default_kind:
        record["kind"] = normalise_kind(default_kind)
    if unit_names and isinstance(record.get("unit"), str):
        record["unit"] = unit_names.get(record["unit"], record["unit"])
    if payload:
        record["payload"] = payload
    return record


@functools.lru_cache(maxsize=256)
def _columns(keys: tuple[Any, ...]) -> tuple[tuple[Any, str | None, str], ...]:
    """(key, field, payload key) per key of a row. Every row of a file has the same keys:
    worked out once per file, not once per row of a file of half a million."""
    return tuple((key, field, _clean_header(key) or str(key))
                 for key, field in zip(keys, fields_of_headers(keys), strict=True))


def _payload(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"payload": value.strip()}
        return dict(parsed) if isinstance(parsed, dict) else {"payload": parsed}
    value = _scalar(value)
    return {} if value is None else {"payload": value}
