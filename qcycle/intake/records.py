"""Validate and store one submission record (or quarantine it with the reason)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.clock import to_local
from qcycle.schema import Programme, Stage, SubmissionKind
from qcycle.timetable import Timetable

__all__ = ["IngestResult", "cutoff_for", "fingerprint", "ingest", "ingest_many"]


@dataclass(frozen=True)
class IngestResult:
    status: str  # accepted | late_accepted | rejected_late | duplicate | quarantined
    reason: str = ""
    record_id: uuid.UUID | None = None


def fingerprint(record: Mapping[str, Any]) -> str:
    """Same record, same fingerprint: key order and whitespace do not matter."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stage_for(p: Programme, kind: str) -> Stage | None:
    return next((s for s in p.stages if s.submission is not None and s.submission.value == kind), None)


def cutoff_for(timetable: Timetable, stage: str, period: str | None, category: str | None) -> dt.datetime | None:
    """The deadline that applies to a submission, from the timetable (the one place for dates)."""
    best = None
    for a in timetable.actions:
        if a.action == "deadline" and a.stage == stage and a.period == period:
            if a.category == category:
                return a.at
            if a.category is None:
                best = a.at
    return best


def _parse_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return to_local(value)
    text = str(value).strip().replace(" ", "T", 1)
    return to_local(dt.datetime.fromisoformat(text))


def _problem(p: Programme, record: Mapping[str, Any]) -> str | None:
    """Why a record cannot be stored, in the ops team's words; None when it can."""
    kind = record.get("kind")
    if kind not in {k.value for k in SubmissionKind}:
        return f"未知的材料种类 {kind!r}（应为 {'/'.join(k.value for k in SubmissionKind)}）"
    unit = record.get("unit")
    if not unit:
        return "缺少提交单位代码（unit）"
    if kind != "score" and not p.has_unit(unit):
        return f"提交单位 {unit!r} 不在本周期的单位名单中"
    item = record.get("item")
    if item and item not in p.item_category:
        return f"榜单项目 {item!r} 不存在"
    if kind == "score":
        scheme = p.assessment
        comps = {c.code for c in scheme.components} if scheme else set()
        if scheme:
            comps |= {f"bonus:{b.code}" for b in scheme.bonuses} | {f"deduction:{d.code}" for d in scheme.deductions}
            comps |= {f"veto:{v.code}" for v in scheme.vetoes} | {f"indicator:{i.code}" for i in scheme.indicators}
        if p.quotas:
            comps |= {f"quota:{a.code}" for a in p.quotas.actions}
        if record.get("component") not in comps:
            return f"评分部分 {record.get('component')!r} 不在考核方案中（应为 {'/'.join(sorted(comps))}）"
        if not record.get("reviewer"):
            return "缺少评审人（reviewer）"
        try:
            value = float(record.get("value"))
        except (TypeError, ValueError):
            return f"评分 {record.get('value')!r} 不是数字"
        if ":" not in str(record.get("component")) and not 0 <= value <= 100:
            return f"评分 {value:g} 超出 0–100"
        return None
    if _stage_for(p, kind) is None:
        return f"本周期不收 {kind} 类材料"
    try:
        _parse_time(record.get("submitted_at"))
    except (TypeError, ValueError):
        return f"提交时间 {record.get('submitted_at')!r} 无法识别（应为 ISO 8601，如 2023-04-18T10:00:00+08:00）"
    return None


def ingest(*, session: Session, programme: Programme, timetable: Timetable, round_id: uuid.UUID,
           record: Mapping[str, Any], source: str, raw: str | None = None) -> IngestResult:
    """Store one record once, applying the lateness rule; quarantine it if it is malformed."""
    fp = fingerprint(record)
    if not isinstance(record, Mapping):
        q, _ = crud.quarantine(session=session, source=source, raw=raw or repr(record),
                               reason="记录不是键值结构", round_id=round_id, fingerprint=fp)
        return IngestResult("quarantined", q.reason, q.id)
    reason = _problem(programme, record)
    if reason is not None:
        q, _ = crud.quarantine(session=session, source=source,
                               raw=raw or json.dumps(record, ensure_ascii=False, default=str),
                               reason=reason, round_id=round_id, fingerprint=fp)
        return IngestResult("quarantined", reason, q.id)
    if record["kind"] == "score":
        r = crud.put_review(session=session, round_id=round_id, unit_code=record["unit"],
                            reviewer=str(record["reviewer"]), component_code=record["component"],
                            value=float(record["value"]))
        return IngestResult("accepted", record_id=r.id)
    stage = _stage_for(programme, record["kind"])
    assert stage is not None
    item = record.get("item")
    category = record.get("category") or programme.item_category.get(item or "")
    submitted_at = _parse_time(record["submitted_at"])
    cutoff = cutoff_for(timetable, stage.code, record.get("period"), category)
    late = cutoff is not None and submitted_at > cutoff
    status = "rejected_late" if late and stage.lateness == "reject" else "accepted"
    row, created = crud.add_submission(
        session=session, round_id=round_id, kind=record["kind"], unit_code=record["unit"],
        fingerprint=fp, submitted_at=submitted_at, source=source,
        payload=dict(record.get("payload") or {}), category_code=category, item_code=item,
        period=record.get("period"), external_id=record.get("id"), late=late, status=status,
    )
    if not created:
        return IngestResult("duplicate", "同一记录已收到过", row.id)
    if status == "rejected_late":
        return IngestResult("rejected_late", f"逾期提交（截止 {cutoff:%Y-%m-%d %H:%M}），按规定不予受理", row.id)
    return IngestResult("late_accepted" if late else "accepted", "逾期，已受理并标记" if late else "", row.id)


def ingest_many(*, session: Session, programme: Programme, timetable: Timetable, round_id: uuid.UUID,
                records: Iterable[Mapping[str, Any]], source: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        result = ingest(session=session, programme=programme, timetable=timetable,
                        round_id=round_id, record=record, source=source)
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


