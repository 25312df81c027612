"""Place and store submission records (or quarantine them with the reason): each record's stage,
lateness and key (:func:`ingest_many`), then new records, revisions, duplicates and conflicts in a
few statements. Reading a record and why it cannot be stored is :mod:`qcycle.intake.checking`'s."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.clock import now, to_local
from qcycle.errors import IntakeError, StateError, UsageError
from qcycle.intake.checking import CLOCK_SKEW, fingerprint, parse_time, read_record, subject_of
from qcycle.intake.placing import (
    assessment_of,
    lateness_of,
    misnamed_stage,
    stage_of,
    stages_for,
    unplaced,
)
from qcycle.lifecycle.ending import ended
from qcycle.lifecycle.who import (
    p_item_name,
    pending_decisions,
    select_subjects,
    stage_outcomes,
)
from qcycle.models import NEGATIVE_OUTCOMES, QuarantinedRecord, identity_text, ordered_uuid
from qcycle.schema import Programme, Stage
from qcycle.timetable import Timetable

__all__ = ["IngestResult", "accept_conflict", "assessment_of", "identity_of", "ingest", "ingest_many",
           "set_aside_unreadable"]


@dataclass(frozen=True)
class IngestResult:
    # accepted | late_accepted | rejected_late | duplicate | revised | conflict | quarantined
    status: str
    reason: str = ""
    record_id: uuid.UUID | None = None
    in_force: bool = True  # a revision kept in the history only (handed in before the version in force) is not


def _result(status: str, late: bool, cutoff: dt.datetime | None, record_id: uuid.UUID | None) -> IngestResult:
    if status == "rejected_late":
        return IngestResult("rejected_late", f"逾期提交（截止 {cutoff:%Y-%m-%d %H:%M}），按规定不予受理", record_id)
    return IngestResult("late_accepted" if late else "accepted", "逾期，已受理并标记" if late else "", record_id)


@dataclass(frozen=True)
class _Plan:
    """What storing one valid record means: a reviewer's value, or a submission row
    (or, ``problem``, why its key cannot be read)."""

    review: dict[str, Any] | None = None
    row: dict[str, Any] | None = None
    late: bool = False
    cutoff: dt.datetime | None = None
    stage: Stage | None = None
    problem: str = ""
    # The stages it was placed among by its time (several take its kind, the record names none):
    # a deadline moved since may place the same record at another of them.
    siblings: tuple[str, ...] = ()
    # Why the stage does not ask it of this unit (see _not_owed): set aside unless it was received already.
    not_owed: str = ""


def identity_of(stage: Stage, record: Mapping[str, Any], category: str | None) -> tuple[str | None, str]:
    """(``submission.identity``, "") of a record handed in at ``stage``, or (None, why) when
    the key it names (编号, a payload field) is missing from the record."""
    values: list[Any] = []
    for name in stage.record_identity.key:
        if name.startswith("payload."):
            value = (record.get("payload") or {}).get(name.removeprefix("payload."))
        else:
            value = category if name == "category" else record.get(name)
        if (name == "id" or name.startswith("payload.")) and value in (None, ""):
            label = "编号" if name == "id" else name.removeprefix("payload.")
            return None, f"缺少{label}（阶段 {stage.code} 按 {'+'.join(stage.record_identity.key)} 识别记录）"
        values.append(value)
    return identity_text(stage.code, values), ""


def _in_the_future(submitted_at: dt.datetime) -> str:
    """Why a record dated after it was received cannot be believed ("" when it can). A source
    clock a few minutes fast is believed."""
    if submitted_at <= (received := now()) + CLOCK_SKEW:
        return ""
    return (f"提交时间 {submitted_at:%Y-%m-%d %H:%M} 晚于收到时间 {to_local(received):%Y-%m-%d %H:%M}"
            "（不能是将来的时间，请核对年份和时区）")


# Where a value's note comes from: a record's own ``note``, else a column a sheet gives it for that (说明, 事实). Not 备注:
# a reviewer's internal remark there ("待核实") would be printed in the unit's letter.
_NOTE_KEYS = ("note", "说明", "事实", "否决事实")


def _score_note(record: Mapping[str, Any]) -> str:
    """What a score record says its value stands for (a veto's facts), "" where nothing."""
    payload: Mapping[str, Any] = record["payload"] if isinstance(record.get("payload"), Mapping) else {}
    found = next((v for k in _NOTE_KEYS for v in (record.get(k), payload.get(k)) if v not in (None, "")), "")
    return " ".join(str(found).split())


def _plan(programme: Programme, timetable: Timetable, round_id: uuid.UUID, record: Mapping[str, Any],
          source: str, fp: str, cutoffs: dict) -> _Plan:
    if record["kind"] == "score":  # a reviewer's value need not be dated
        if record.get("submitted_at") not in (None, "") and (problem := _in_the_future(parse_time(record["submitted_at"]))):
            return _Plan(problem=problem)
        stage = record.get("stage") or assessment_of(programme, timetable, now(), cutoffs.setdefault("windows", {}))
        return _Plan(review={"stage": stage, "unit_code": subject_of(record), "reviewer": str(record["reviewer"]),
                             "component_code": record["component"], "value": float(record["value"]),
                             "note": _score_note(record)})
    category = record.get("category") or programme.item_category.get(record.get("item") or "")
    submitted_at = parse_time(record["submitted_at"])
    if problem := _in_the_future(submitted_at):
        # Not yet handed in by its own account (a mistyped year, a wrong clock): stored, it was a refusal no run answers.
        return _Plan(problem=problem)
    if problem := misnamed_stage(programme, timetable, record, submitted_at, cutoffs.setdefault("windows", {})):
        return _Plan(problem=problem)
    stage = stage_of(programme, timetable, record, submitted_at, cutoffs["windows"])
    identity, problem = identity_of(stage, record, category)
    if identity is None:
        return _Plan(problem=problem)
    if not record.get("item") and stage.code in programme.per_item_stages:
        return _Plan(problem=f"缺少榜单项目（item）：“{stage.name}”按项目提交（一个项目一份）")
    late, status, cutoff = lateness_of(timetable, stage, record, category, submitted_at, cutoffs)
    if cutoff is None and (problem := unplaced(programme, timetable, stage, record, category, cutoffs)):
        return _Plan(problem=problem)
    row = {"round_id": round_id, "kind": record["kind"], "stage": stage.code, "unit_code": record["unit"],
           "fingerprint": fp, "identity": identity,
           "submitted_at": submitted_at, "source": source, "payload": dict(record.get("payload") or {}),
           "category_code": category, "item_code": record.get("item"), "period": record.get("period"),
           "external_id": record.get("id"), "late": late, "status": status}
    several = stages_for(programme, record["kind"]) if not record.get("stage") else []
    return _Plan(row=row, late=late, cutoff=cutoff, stage=stage,
                 siblings=tuple(st.code for st in several) if len(several) > 1 else ())


def _not_owed(session: Session, p: Programme, round_id: uuid.UUID, plan: _Plan, record: Mapping[str, Any],
              cutoffs: dict) -> str:
    """Why a hand-in is not one its stage asks of this unit ("" when it is): 成都's progress report
    on an item it never took up was 按时受理 and exported as such. Judged by the decision the stage is
    owed by (揭榜名单) as far as it has gone: a subject it refused is set aside at once; one it has not
    approved, only once nothing is left pending there (officers decide one subject at a time). A stage
    owed by levels takes any unit of them, as before."""
    stage = plan.stage
    assert stage is not None and stage.owed_by is not None and plan.row is not None
    if (why := _ended_before(session, p, round_id, plan, record, cutoffs)):
        return why
    approving = stage.owed_by.approved_at
    if approving is None:
        return ""
    category = plan.row["category_code"]
    owed = cutoffs.setdefault("owed", {})
    if (stage.code, category) not in owed:
        made = stage_outcomes(session, round_id, approving)
        settled = bool(made) and not pending_decisions(session, p, round_id, p.stage(approving), category)
        owed[stage.code, category] = (made, any(":" in x for x in made),
                                      frozenset(select_subjects(session, p, round_id, stage.owed_by, category))
                                      if settled else None)
    made, per_item, listed = owed[stage.code, category]
    unit, item = str(record["unit"]), record.get("item")
    subject = f"{unit}:{item}" if per_item else unit
    if made.get(subject) not in NEGATIVE_OUTCOMES and (listed is None or subject in listed):
        return ""
    name = p_item_name(p, subject) if per_item else None
    what = f"（未列入“{name}”）" if name else ""
    return f"{p.unit(unit).name}（{unit}）不在“{stage.name}”的应交名单中{what}，不是本阶段要收的材料"


def _ended_before(session: Session, p: Programme, round_id: uuid.UUID, plan: _Plan, record: Mapping[str, Any],
                  cutoffs: dict) -> str:
    """Why a hand-in comes after its unit's part in the round ended (a grade that ``ends`` it, by results made before it was
    handed in), "" otherwise. Not an objection (to that very grade) or a voluntary request: the unit may still make them."""
    stage = plan.stage
    assert stage is not None and plan.row is not None
    if stage.voluntary or stage.submission == "objection":
        return ""
    if "ended" not in cutoffs:  # by any results: read once per batch; the time is looked at for those in it only
        cutoffs["ended"] = ended(session, p, round_id)
    unit, subject = str(record["unit"]), f"{record['unit']}:{record.get('item')}"
    if (unit in cutoffs["ended"] or subject in cutoffs["ended"]) and (
            {unit, subject} & ended(session, p, round_id, plan.row["submitted_at"])):
        return f"{p.unit(unit).name}（{unit}）的考核等次已结束其在本轮的参与，不是本阶段要收的材料"
    return ""


def ingest(*, session: Session, programme: Programme, timetable: Timetable, round_id: uuid.UUID,
           record: Mapping[str, Any], source: str, raw: str | None = None) -> IngestResult:
    """Store one record once, applying the lateness rule and the stage's record identity;
    quarantine it if it is malformed."""
    return ingest_many(session=session, programme=programme, timetable=timetable, round_id=round_id,
                       records=[record], source=source, raws=[raw])[0]


def ingest_many(*, session: Session, programme: Programme, timetable: Timetable, round_id: uuid.UUID,
                records: Iterable[Mapping[str, Any]], source: str,
                raws: Sequence[str | None] | None = None,
                wheres: Sequence[str] | None = None) -> list[IngestResult]:
    """Store records, each with the outcome it would have alone, in a few statements:
    submissions and reviewers' values are written many rows per statement (a batch of
    national size is tens of thousands of records). Malformed records are quarantined all
    in a few statements (one by one cost more than the rest of a batch); ``raws[i]`` is the
    text kept for record i, ``wheres[i]`` where it was ("第 5 行"), kept with its reason."""
    results: list[IngestResult | None] = []
    pending: list[_Pending] = []
    reviews: list[dict[str, Any]] = []  # reviewers' values, each with its place in the batch
    malformed: list[tuple[int, tuple[str, str, str, str]]] = []
    cutoffs: dict = {}
    for i, given in enumerate(records):
        record, fp, why = read_record(programme, given)
        raw = raws[i] if raws is not None else None
        where = wheres[i] if wheres is not None else ""
        if why is not None:
            malformed.append((len(results), (fp, why[0], raw or why[1], where)))
            results.append(None)
            continue
        plan = _plan(programme, timetable, round_id, record, source, fp, cutoffs)
        if not plan.problem and plan.stage is not None and plan.stage.owed_by is not None:
            plan = replace(plan, not_owed=_not_owed(session, programme, round_id, plan, record, cutoffs))
        if plan.problem:
            results.append(_set_aside(session, round_id, source, _Pending(i, plan, record, raw, where), plan.problem,
                                      "quarantined"))
        elif plan.review is not None:
            reviews.append({**plan.review, "index": len(results)})
            results.append(None)
        else:
            pending.append(_Pending(len(results), plan, record, raw, where))
            results.append(None)
    aside = set_aside_unreadable(session=session, round_id=round_id, source=source, rows=[r for _, r in malformed])
    for (index, _), result in zip(malformed, aside, strict=True):
        results[index] = result
    for index, result in _store_reviews(session, programme, round_id, source, reviews).items():
        results[index] = result
    for attempt in range(3):
        outcome, lost = _store(session, round_id, pending)
        for p in pending:
            if p.row["identity"] not in lost:
                results[p.index] = outcome[p.index]
        # A concurrent writer stored one of these keys first (PostgreSQL made us wait for it):
        # read it and store those records again, now as revisions or duplicates of it.
        pending = [p for p in pending if p.row["identity"] in lost]
        if not pending:
            return results  # type: ignore[return-value]
    busy = IntakeError(f"{len(pending)} 条记录在 {attempt + 1} 次尝试中均与同时进行的导入冲突，请重试")
    busy.retryable = True  # another import holds the same keys: a task tries again
    raise busy


def set_aside_unreadable(*, session: Session, round_id: uuid.UUID, source: str,
                         rows: Sequence[tuple[str, str, str, str]]) -> list[IngestResult]:
    """Quarantine records intake cannot read (:func:`unreadable`), each given as (fingerprint,
    reason, text kept, where it was; :func:`qcycle.intake.checking.unreadable`), in a few statements; their outcomes, in order."""
    kept = crud.quarantine_many(session=session, rows=[
        {"source": source, "raw": raw, "reason": _at(where, reason), "round_id": round_id, "fingerprint": fp}
        for fp, reason, raw, where in rows])
    return [IngestResult("quarantined", reason, kept[fp]) for fp, reason, _, _ in rows]


def _store_reviews(session: Session, p: Programme, round_id: uuid.UUID, source: str,
                   reviews: Sequence[Mapping[str, Any]]) -> dict[int, IngestResult]:
    """Store reviewers' values, each with its outcome as submissions have theirs: the same value
    again is a duplicate, a new value for a score already given a revision (the last one stands,
    the change in the audit log). A score sheet imported twice counted every value 按时受理 again,
    and a changed one replaced the old without a trace."""
    if not reviews:
        return {}
    stored = crud.reviews_of(session=session, round_id=round_id, subjects=sorted({r["unit_code"] for r in reviews}),
                             stages=sorted({r["stage"] or "" for r in reviews}))
    held = {(r.stage or "", r.unit_code, r.reviewer, r.component_code): r.value for r in stored}
    # A value's note (a veto's facts): a row without one keeps what is stored (a sheet imported again without its 说明
    # column had erased the facts and said 重复); a new one is a revision, in the audit log like a new value.
    noted = {k: note for k, (note, _) in crud.review_notes(session=session, round_id=round_id,
                                                           subjects=sorted({r["unit_code"] for r in reviews})).items()}
    results: dict[int, IngestResult] = {}
    changes = []
    rows = [dict(r) for r in reviews]
    for r in rows:
        k = (r["stage"] or "", r["unit_code"], str(r["reviewer"]), r["component_code"])  # as put_reviews keys it
        value, note = float(r["value"]), r.get("note") or noted.get(k, "")
        r["note"] = note
        if k not in held:
            results[r["index"]] = IngestResult("accepted")
        elif held[k] == value and note == noted.get(k, ""):
            results[r["index"]] = IngestResult("duplicate", "同一评分已收到过")
        else:
            said = [f"评分由 {held[k]:g} 改为 {value:g}"] if held[k] != value else []
            said += ["说明已更新"] if note != noted.get(k, "") else []
            results[r["index"]] = IngestResult("revised", f"{'，'.join(said)}（已记入审计日志）")
            changes.append({"stage": k[0], "subject": k[1], "reviewer": k[2], "component": k[3],
                            "old": held[k], "new": value, "source": source}
                           | ({"old_note": noted.get(k, ""), "new_note": note} if note != noted.get(k, "") else {}))
        held[k], noted[k] = value, note
    crud.put_reviews(session=session, round_id=round_id, rows=rows)
    for change in changes:
        crud.audit(session=session, actor=f"intake:{source}", action="score:revise", round_code=p.round.code,
                   detail=change)
    return results


@dataclass(frozen=True)
class _Pending:
    index: int  # the record's place in the batch
    plan: _Plan
    record: Any
    raw: str | None
    where: str = ""  # "第 5 行": kept with a reason to set it aside

    @property
    def row(self) -> dict[str, Any]:
        return self.plan.row  # type: ignore[return-value]


def _set_aside(session: Session, round_id: uuid.UUID, source: str, p: _Pending, reason: str,
               status: str) -> IngestResult:
    """Quarantine a readable record that cannot be stored as it is (its key), with the reason."""
    text = p.raw or json.dumps(p.record, ensure_ascii=False, default=str)
    q, _ = crud.quarantine(session=session, source=source, raw=text, reason=_at(p.where, reason), round_id=round_id,
                           fingerprint=p.row["fingerprint"] if p.plan.row else fingerprint(p.record),
                           record=p.record if status == "conflict" else None)
    return IngestResult(status, reason, q.id)


def _at(where: str, reason: str) -> str:
    """A reason as kept in quarantine: where the record was first, so ops can find the row."""
    return f"{where}：{reason}" if where else reason


def _version(row: Mapping[str, Any]) -> dict[str, Any]:
    return {c: row.get(c) for c in crud.VERSION_COLUMNS}


def accept_conflict(*, session: Session, programme: Programme, timetable: Timetable, round_id: uuid.UUID,
                    quarantined: QuarantinedRecord) -> IngestResult:
    """Ops settled a conflict for the new content: store it as a revision of the record in
    force (the lateness rule still applies, and the replaced version is kept)."""
    if quarantined.record is None or quarantined.round_id != round_id:
        raise UsageError("这条隔离记录不是本周期的冲突记录，不能按修改重报受理")
    plan = _plan(programme, timetable, round_id, quarantined.record, quarantined.source,
                 quarantined.fingerprint, {})
    if plan.row is None:
        raise UsageError(plan.problem or "这条记录不是材料，不能按修改重报受理")
    results, lost = _store(session, round_id, [_Pending(0, plan, quarantined.record, quarantined.raw)],
                           revise=True)
    if lost:
        raise StateError("同时进行的导入刚刚写入了这条记录，请重试")
    return results[0]


def _store(session: Session, round_id: uuid.UUID, pending: Sequence[_Pending], *,
           revise: bool = False) -> tuple[dict[int, IngestResult], set[str]]:
    """Store pending submissions in order: content already received is a duplicate; a new key
    is a new record; a known key with new content is a revision (the later version is put in
    force, the other kept in its history) or a conflict (quarantined), as its stage says
    (``revise``: a revision whatever it says). Returns the outcomes by batch index and the
    keys a concurrent writer stored first."""
    current = crud.current_submissions(session=session, round_id=round_id,
                                       identities={p.row["identity"] for p in pending})
    # Content already received: a version in force (found under its key) or an earlier one; placed
    # by its time among several stages, the same record pulled again after a deadline moved has
    # another key, so its content is looked for at all of them.
    known = crud.received_fingerprints(session=session, round_id=round_id,
                                       fingerprints={p.row["fingerprint"] for p in pending},
                                       at_stages=sorted({code for p in pending for code in p.plan.siblings}))
    known.update(held["fingerprint"] for held in current.values())
    stamp = to_local(now())
    new: dict[str, dict[str, Any]] = {}  # identity -> version in force of a record new in this batch
    versions: dict[str, dict[str, Any]] = {}  # identity -> new version in force of a stored record
    kept: list[dict[str, Any]] = []
    results: dict[int, IngestResult] = {}
    for p in pending:
        row = {**p.row, "received_at": stamp}
        key = row["identity"]
        held = current.get(key)
        if row["fingerprint"] in known:
            results[p.index] = IngestResult("duplicate", "同一记录已收到过", held["id"] if held else None)
            continue
        if p.plan.not_owed:  # after the repeat check: a file imported again before the list was made repeats
            results[p.index] = _set_aside(session, round_id, row["source"], p, p.plan.not_owed, "quarantined")
            continue
        known.add(row["fingerprint"])
        if held is None:
            row["id"] = ordered_uuid()
            new[key] = current[key] = row
            results[p.index] = _result(row["status"], p.plan.late, p.plan.cutoff, row["id"])
            continue
        stage: Stage = p.plan.stage  # type: ignore[assignment]
        if stage.record_identity.on_change == "conflict" and not revise:
            reason = f"与已受理的记录标识相同而内容不同（{_key_words(stage, key)}），按方案作为冲突隔离，待核实"
            results[p.index] = _set_aside(session, round_id, row["source"], p, reason, "conflict")
            continue
        fate, held_fate, results[p.index] = _revision(row, held, p.plan)
        if fate is not None:  # the version in force stays; this one joins its history
            kept.append({**_version(row), "submission_id": held["id"], "fate": fate})
            continue
        # A refused version told to its unit stays told when it joins the history.
        kept.append({**_version(held), "submission_id": held["id"], "fate": held_fate,
                     "answered_at": held.get("answered_at")})
        row["id"] = held["id"]
        (new if key in new else versions)[key] = current[key] = row
    stored = crud.add_submissions(session=session, rows=list(new.values()))
    lost = {key for key, row in new.items() if row["fingerprint"] not in stored}
    lost_ids = {new[key]["id"] for key in lost}
    crud.revise_submissions(session=session, round_id=round_id, versions=list(versions.values()),
                            kept=[k for k in kept if k["submission_id"] not in lost_ids])
    return results, lost


def _revision(row: Mapping[str, Any], held: Mapping[str, Any],
              plan: _Plan) -> tuple[str | None, str, IngestResult]:
    """(fate of the new version, fate of the held one, result) for a new version of a stored
    record. The new version's fate is None when it is put in force; the held one then joins
    the history with its fate. The rule: the latest version the lateness rule accepts."""
    refused = row["status"] == "rejected_late"
    held_refused = held["status"] == "rejected_late"
    if held_refused and not refused:
        # The on-time version arrived after a refused late one (a page pulled out of order).
        return None, "refused_late", IngestResult("revised", "按时提交的版本晚于逾期版本收到，按时版本有效", held["id"])
    if row["submitted_at"] < held["submitted_at"]:
        return "older", "", IngestResult("revised", "早于现行版本提交，已存入修改记录", held["id"], in_force=False)
    if refused and not held_refused:
        return "refused_late", "", IngestResult(
            "rejected_late", f"逾期修改（截止 {plan.cutoff:%Y-%m-%d %H:%M}），不予受理，原记录有效", held["id"])
    note = "（逾期修改，已受理并标记）" if plan.late else ""
    return None, "superseded", IngestResult("revised", f"已按修改后的版本受理{note}", held["id"])


def _key_words(stage: Stage, identity: str) -> str:
    values = json.loads(identity)[1:]
    return "，".join(f"{_KEY_LABELS.get(k, k.removeprefix('payload.'))} {v if v is not None else '空'}"
                    for k, v in zip(stage.record_identity.key, values, strict=True))


_KEY_LABELS = {"id": "编号", "unit": "单位", "item": "项目", "period": "期次", "category": "类别"}
