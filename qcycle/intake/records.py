"""Validate and store one submission record (or quarantine it with the reason)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
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


def _stages_for(p: Programme, kind: str) -> list[Stage]:
    return [s for s in p.stages if s.submission is not None and s.submission == kind]


def _stage_for(p: Programme, kind: str) -> Stage | None:
    stages = _stages_for(p, kind)
    return stages[0] if stages else None


def stage_of(p: Programme, timetable: Timetable, record: Mapping[str, Any], submitted_at: dt.datetime,
             windows: dict) -> Stage:
    """The stage a record was handed in at: the one it names (``stage``), the only stage that
    takes its kind, or, when several do (two self-evaluations in one round), the first whose
    deadline it is not after, else the last one. ``windows`` caches each stage's last deadline."""
    stages = _stages_for(p, record["kind"])
    named = record.get("stage")
    if named:
        return next(s for s in stages if s.code == named)
    if len(stages) == 1:
        return stages[0]
    for stage in stages:
        if stage.code not in windows:
            windows[stage.code] = max((a.at for a in timetable.actions
                                       if a.stage == stage.code and a.action == "deadline"), default=None)
        if windows[stage.code] is not None and submitted_at <= windows[stage.code]:
            return stage
    return stages[-1]


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
    known = [k.value for k in SubmissionKind] + list(p.submission_kinds)
    if kind not in known:
        return f"未知的材料种类 {kind!r}（应为 {'/'.join(known)}）"
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
    named = record.get("stage")
    if named and named not in {st.code for st in _stages_for(p, kind)}:
        return f"阶段 {named!r} 不收 {kind} 类材料（可选：{'、'.join(st.code for st in _stages_for(p, kind))}）"
    try:
        _parse_time(record.get("submitted_at"))
    except (TypeError, ValueError):
        return f"提交时间 {record.get('submitted_at')!r} 无法识别（应为 ISO 8601，如 2023-04-18T10:00:00+08:00）"
    return None


def _late(timetable: Timetable, stage: Stage, record: Mapping[str, Any], category: str | None,
          submitted_at: dt.datetime, cutoffs: dict) -> tuple[bool, str, dt.datetime | None]:
    """(late, status, cutoff) of a submission under the stage's lateness rule; ``cutoffs``
    keeps the deadlines found so far (a batch asks about the same few thousands of times)."""
    key = (stage.code, record.get("period"), category)
    if key not in cutoffs:
        cutoffs[key] = cutoff_for(timetable, *key)
    cutoff = cutoffs[key]
    late = cutoff is not None and submitted_at > cutoff
    return late, "rejected_late" if late and stage.lateness == "reject" else "accepted", cutoff


def _result(status: str, late: bool, cutoff: dt.datetime | None, record_id: uuid.UUID | None) -> IngestResult:
    if status == "rejected_late":
        return IngestResult("rejected_late", f"逾期提交（截止 {cutoff:%Y-%m-%d %H:%M}），按规定不予受理", record_id)
    return IngestResult("late_accepted" if late else "accepted", "逾期，已受理并标记" if late else "", record_id)


def _quarantine(session: Session, programme: Programme, round_id: uuid.UUID, record: Any, source: str,
                raw: str | None, fp: str) -> IngestResult | None:
    """Quarantine ``record`` if it cannot be stored (with the reason); None if it can."""
    if not isinstance(record, Mapping):
        reason, text = "记录不是键值结构", repr(record)
    else:
        reason, text = _problem(programme, record), json.dumps(record, ensure_ascii=False, default=str)
        if reason is None:
            return None
    q, _ = crud.quarantine(session=session, source=source, raw=raw or text, reason=reason,
                           round_id=round_id, fingerprint=fp)
    return IngestResult("quarantined", reason, q.id)


@dataclass(frozen=True)
class _Plan:
    """What storing one valid record means: a reviewer's value, or a submission row."""

    review: dict[str, Any] | None = None
    row: dict[str, Any] | None = None
    late: bool = False
    cutoff: dt.datetime | None = None


def _plan(programme: Programme, timetable: Timetable, round_id: uuid.UUID, record: Mapping[str, Any],
          source: str, fp: str, cutoffs: dict) -> _Plan:
    if record["kind"] == "score":
        return _Plan(review={"unit_code": record["unit"], "reviewer": str(record["reviewer"]),
                             "component_code": record["component"], "value": float(record["value"])})
    category = record.get("category") or programme.item_category.get(record.get("item") or "")
    submitted_at = _parse_time(record["submitted_at"])
    stage = stage_of(programme, timetable, record, submitted_at, cutoffs.setdefault("windows", {}))
    late, status, cutoff = _late(timetable, stage, record, category, submitted_at, cutoffs)
    row = {"round_id": round_id, "kind": record["kind"], "stage": stage.code, "unit_code": record["unit"],
           "fingerprint": fp,
           "submitted_at": submitted_at, "source": source, "payload": dict(record.get("payload") or {}),
           "category_code": category, "item_code": record.get("item"), "period": record.get("period"),
           "external_id": record.get("id"), "late": late, "status": status}
    return _Plan(row=row, late=late, cutoff=cutoff)


def ingest(*, session: Session, programme: Programme, timetable: Timetable, round_id: uuid.UUID,
           record: Mapping[str, Any], source: str, raw: str | None = None) -> IngestResult:
    """Store one record once, applying the lateness rule; quarantine it if it is malformed."""
    fp = fingerprint(record)
    quarantined = _quarantine(session, programme, round_id, record, source, raw, fp)
    if quarantined is not None:
        return quarantined
    plan = _plan(programme, timetable, round_id, record, source, fp, {})
    if plan.review is not None:
        r = crud.put_review(session=session, round_id=round_id, **plan.review)
        return IngestResult("accepted", record_id=r.id)
    row, created = crud.add_submission(session=session, **plan.row)
    if not created:
        return IngestResult("duplicate", "同一记录已收到过", row.id)
    return _result(plan.row["status"], plan.late, plan.cutoff, row.id)


def ingest_many(*, session: Session, programme: Programme, timetable: Timetable, round_id: uuid.UUID,
                records: Iterable[Mapping[str, Any]], source: str,
                raws: Sequence[str | None] | None = None) -> list[IngestResult]:
    """:func:`ingest` for a batch, with the same outcome per record, in a few statements:
    submissions and reviewers' values are written many rows per statement (a batch of
    national size is tens of thousands of records). Malformed records are quarantined
    one by one, as :func:`ingest` does; ``raws[i]`` is the text kept for record i."""
    results: list[IngestResult | None] = []
    planned: list[tuple[int, _Plan]] = []
    reviews: list[dict[str, Any]] = []
    cutoffs: dict = {}
    for i, record in enumerate(records):
        fp = fingerprint(record)
        raw = raws[i] if raws is not None else None
        quarantined = _quarantine(session, programme, round_id, record, source, raw, fp)
        if quarantined is not None:
            results.append(quarantined)
            continue
        plan = _plan(programme, timetable, round_id, record, source, fp, cutoffs)
        if plan.review is not None:
            reviews.append(plan.review)
            results.append(IngestResult("accepted"))
        else:
            planned.append((len(results), plan))
            results.append(None)
    crud.put_reviews(session=session, round_id=round_id, rows=reviews)
    stored = crud.add_submissions(session=session, rows=[plan.row for _, plan in planned])
    for index, plan in planned:
        record_id = stored.pop(plan.row["fingerprint"], None)  # a repeat within the batch is a duplicate too
        results[index] = (_result(plan.row["status"], plan.late, plan.cutoff, record_id) if record_id is not None
                          else IngestResult("duplicate", "同一记录已收到过"))
    return results  # type: ignore[return-value]
