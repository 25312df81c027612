"""Reading one record as intake receives it: its kind in the programme's words, its fingerprint,
and why it cannot be stored (a missing unit, an unknown kind, a time that cannot be read), in
the ops team's words. Where it goes and how it is stored is :mod:`qcycle.intake.records`'s."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from qcycle.clock import to_local
from qcycle.intake.placing import in_own_words, stages_for
from qcycle.jsontext import canonical
from qcycle.schema import Programme, SubmissionKind

__all__ = ["CLOCK_SKEW", "fingerprint", "parse_time", "parse_time_text", "read_record", "subject_of", "unreadable"]


def fingerprint(record: Mapping[str, Any]) -> str:
    """Same record, same fingerprint: key order and whitespace do not matter."""
    return hashlib.sha256(canonical(record).encode()).hexdigest()


# How far a source's clock may run ahead of ours before its times are not believed.
CLOCK_SKEW = dt.timedelta(minutes=15)


def parse_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return to_local(value)
    return parse_time_text(str(value))


# A file holds many rows per minute of its window, and each record's time is read twice
# (checked, then placed): each spelling is parsed once.
@functools.lru_cache(maxsize=65536)
def parse_time_text(text: str) -> dt.datetime:
    return to_local(dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1)))


_BUILTIN_KINDS = [k.value for k in SubmissionKind]  # once, not once per record


def _score_problem(p: Programme, record: Mapping[str, Any]) -> str | None:
    """Why a reviewer's value cannot be stored; None when it can."""
    scheme = p.assessment
    comps = {c.code for c in scheme.components} if scheme else set()
    if scheme:
        comps |= {f"bonus:{b.code}" for b in scheme.bonuses} | {f"deduction:{d.code}" for d in scheme.deductions}
        comps |= {f"veto:{v.code}" for v in scheme.vetoes} | {f"indicator:{i.code}" for i in scheme.indicators}
    if p.quotas:
        comps |= {f"quota:{a.code}" for a in p.quotas.actions}
    if record.get("component") not in comps:
        return f"评分部分 {record.get('component')!r} 不在考核方案中（应为 {'/'.join(sorted(comps))}）"
    scored = {c.code: c for c in scheme.components if c.source == "deductions"} if scheme else {}
    if (part := scored.get(str(record.get("component")))) is not None:
        return f"评分部分“{part.name}”按计入它的扣分项计分，不收评分记录"
    counted = {f"deduction:{d.code}": d for d in scheme.deductions if d.late_at} if scheme else {}
    if (item := counted.get(str(record.get("component")))) is not None:
        return f"扣分项“{item.name}”按“{p.stage(str(item.late_at)).name}”的逾期情况自动计次，不收评分记录"
    judged = {f"veto:{v.code}": v for v in scheme.vetoes if v.missing_at} if scheme else {}
    if (veto := judged.get(str(record.get("component")))) is not None:
        return f"否决项“{veto.name}”按“{p.stage(str(veto.missing_at)).name}”是否报送自动判定，不收评分记录"
    if not record.get("reviewer"):
        return "缺少评审人（reviewer）"
    named = record.get("stage")
    if named and named not in p.assessment_stages:
        return f"阶段 {named!r} 不是考核阶段（可选：{'、'.join(p.assessment_stages) or '无'}）"
    if record.get("value") in (None, ""):
        return "缺少评分（value）"
    try:
        raw: Any = record.get("value")  # text is reported below, not raised
        value = float(raw)
    except (TypeError, ValueError):
        return f"评分 {record.get('value')!r} 不是数字"
    if ":" not in str(record.get("component")) and not 0 <= value <= 100:
        return f"评分 {value:g} 超出 0–100"
    adjusting = {f"{k}:{b.code}": b for k, items in (("bonus", scheme.bonuses), ("deduction", scheme.deductions))
                 for b in items} if scheme else {}
    item = adjusting.get(str(record.get("component")))
    if item is not None and item.once and value not in (0, 1):
        return f"“{item.name}”只计有无（0 或 1），不计次数：{value:g}"
    if item is not None and item.up_to is not None and not 0 <= value <= item.up_to:
        return f"“{item.name}”由评审酌情给分，应在 0–{item.up_to:g} 分之间：{value:g}"
    if record.get("submitted_at") not in (None, ""):  # optional on a score; when given, it must read
        return _time_problem(record)
    return None


def _time_problem(record: Mapping[str, Any]) -> str | None:
    try:
        parse_time(record.get("submitted_at"))
    except (TypeError, ValueError, OverflowError):  # OverflowError: 0001-01-01 00:00 has no UTC time
        return f"提交时间 {record.get('submitted_at')!r} 无法识别（应为 ISO 8601，如 2023-04-18T10:00:00+08:00）"
    return None


def subject_of(record: Mapping[str, Any]) -> str:
    """What a reviewer's value scores: its unit, or the unit's list item (``unit:item``) when the
    sheet has an item column (四川's 评分表 gives 单位代码 and 项目代码 apart); stored under the unit
    alone, the item's assessment found no scores."""
    unit, item = str(record["unit"]), record.get("item")
    return f"{unit}:{item}" if item and ":" not in unit else unit


def _problem(p: Programme, record: Mapping[str, Any]) -> str | None:
    """Why a record cannot be stored, in the ops team's words; None when it can."""
    kind = record.get("kind")
    known = _BUILTIN_KINDS + list(p.submission_kinds)
    if kind in (None, ""):
        return "缺少材料种类（kind）"
    if kind not in known:
        taken = [f"{stages[0].handed_in}（{k}）" for k, stages in p.submission_stages.items()]
        taken += [f"{p.submission_title('score')}（score）"] if p.assessment is not None else []
        return f"未知的材料种类 {kind!r}（本周期收：{'、'.join(taken)}）"
    unit = record.get("unit")
    if not unit:
        return "缺少提交单位代码（unit）"
    if not p.has_unit(str(unit).partition(":")[0] if kind == "score" else unit):  # a score's subject: unit[:item]
        return f"提交单位 {unit!r} 不在本周期的单位名单中"
    item = record.get("item") or (str(unit).partition(":")[2] if kind == "score" else None)
    if item and item not in p.item_category:
        return f"榜单项目 {item!r} 不存在"
    if kind == "score":
        return _score_problem(p, record)
    if not stages_for(p, kind):
        return f"本周期不收{p.submission_title(kind)}（{kind}）"
    named = record.get("stage")
    if named and named not in {st.code for st in stages_for(p, kind)}:
        return f"阶段 {named!r} 不收 {kind} 类材料（可选：{'、'.join(st.code for st in stages_for(p, kind))}）"
    if record.get("submitted_at") in (None, ""):
        return "缺少提交时间（submitted_at）"
    return _time_problem(record)


def unreadable(programme: Programme, record: Any) -> tuple[str, str] | None:
    """(reason, text to keep) when ``record`` cannot be stored; None when it can."""
    if not isinstance(record, Mapping):
        return "记录不是键值结构", repr(record)
    reason = _problem(programme, record)
    if reason is None:
        return None
    return reason, json.dumps(record, ensure_ascii=False, default=str)  # only for the rows set aside


def read_record(programme: Programme, record: Any) -> tuple[Any, str, tuple[str, str] | None]:
    """A record as intake reads it: the programme's own word for its kind ("申报材料" in the
    office's file means its application) put as its kind, its fingerprint, and why it cannot be
    stored (:func:`unreadable`; None when it can)."""
    record = in_own_words(programme, record) if isinstance(record, Mapping) else record
    return record, fingerprint(record), unreadable(programme, record)
