"""What the ops team does by hand: decide on applications and evaluations, export results.

Decisions made here, from a file, or in the Prefect UI all end in :func:`decide`, which
checks the stage, the subject and the outcome before anything is written, and audits who
decided.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from qcycle import crud
from qcycle.errors import QcycleError
from qcycle.lifecycle import DECIDING_STAGE_KINDS, decision_subjects, p_item_name, pending_decisions
from qcycle.models import AssessmentResult
from qcycle.schema import Programme, Stage

__all__ = [
    "OUTCOMES",
    "DecisionError",
    "DecisionRow",
    "decide",
    "deciding_stages",
    "export_results",
    "read_decisions",
    "result_rows",
]

# Outcomes of a decision stage: (yes, no); the evaluation words of v1 rounds mean the same.
OUTCOMES = ("approved", "rejected")
_CN_OUTCOMES = {"同意": "yes", "通过": "yes", "确认": "yes", "approve": "yes", "yes": "yes", "confirmed": "yes",
                "不同意": "no", "不通过": "no", "驳回": "no", "退回": "no", "reject": "no", "no": "no",
                "returned": "no"}


class DecisionError(QcycleError):
    """A decision that cannot be recorded as asked (unknown stage, subject or outcome)."""


@dataclass(frozen=True)
class DecisionRow:
    stage: str
    subject: str
    outcome: str  # approved | rejected, or yes/no, 同意/不同意 (normalised)
    note: str = ""


def deciding_stages(p: Programme) -> list[Stage]:
    return [s for s in p.stages if s.kind in DECIDING_STAGE_KINDS]


def _outcome(stage: Stage, outcome: str) -> str:
    yes, no = OUTCOMES
    word = _CN_OUTCOMES.get(outcome.strip().lower(), outcome.strip().lower())
    if word in ("yes", yes):
        return yes
    if word in ("no", no):
        return no
    raise DecisionError(f"阶段 {stage.code} 的决定应为 {yes}/{no}（或 同意/不同意），收到 {outcome!r}")


def decide(*, session: Session, programme: Programme, round_id: uuid.UUID, rows: Iterable[DecisionRow],
           decided_by: str) -> list[tuple[str, str, str]]:
    """Record decisions; all rows are checked first, so a bad row writes nothing."""
    stages = {s.code: s for s in deciding_stages(programme)}
    checked = []
    problems = []
    for row in rows:
        stage = stages.get(row.stage)
        if stage is None:
            problems.append(f"阶段 {row.stage!r} 不需要决定（可选：{'、'.join(stages) or '无'}）")
            continue
        known = set(decision_subjects(session, programme, round_id, stage, None))
        if row.subject not in known:
            problems.append(f"{stage.name}：没有待决定的对象 {row.subject!r}（应为 单位代码:项目代码，见 qcycle decide --list）")
            continue
        try:
            checked.append((stage, row.subject, _outcome(stage, row.outcome), row.note))
        except DecisionError as exc:
            problems.append(str(exc))
    if problems:
        raise DecisionError("；".join(problems))
    done = []
    for stage, subject, outcome, note in checked:
        crud.put_decision(session=session, round_id=round_id, stage=stage.code, subject=subject,
                          outcome=outcome, decided_by=decided_by, note=note)
        crud.audit(session=session, actor=decided_by, action=f"decide:{stage.code}",
                   round_code=programme.round.code, detail={"subject": subject, "outcome": outcome})
        done.append((stage.code, subject, outcome))
    return done


def pending(session: Session, programme: Programme, round_id: uuid.UUID) -> dict[str, list[str]]:
    return {s.code: pending_decisions(session, programme, round_id, s, None) for s in deciding_stages(programme)}


def read_decisions(path: Path) -> list[DecisionRow]:
    """Bulk decisions from CSV (stage,subject,outcome[,note]; Chinese headers too) or JSON."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return [DecisionRow(d["stage"], d["subject"], d["outcome"], d.get("note", "")) for d in data]
    headers = {"阶段": "stage", "对象": "subject", "决定": "outcome", "说明": "note"}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = []
        for i, raw in enumerate(csv.DictReader(fh), start=2):
            row = {headers.get(k.strip(), k.strip()): (v or "").strip() for k, v in raw.items() if k}
            if not all(row.get(k) for k in ("stage", "subject", "outcome")):
                raise DecisionError(f"{path}:{i}: 每行须有 stage、subject、outcome（阶段、对象、决定）")
            rows.append(DecisionRow(row["stage"], row["subject"], row["outcome"], row.get("note", "")))
        return rows


def result_rows(session: Session, programme: Programme, round_id: uuid.UUID) -> list[dict]:
    rows = session.exec(select(AssessmentResult).where(AssessmentResult.round_id == round_id)
                        .order_by(AssessmentResult.computed_at, AssessmentResult.stage, AssessmentResult.rank,
                                  AssessmentResult.unit_code)).all()
    comps = programme.assessment.components if programme.assessment else []
    out = []
    for r in rows:
        unit = r.unit_code.partition(":")[0]
        row = {"考核": programme.stage(r.stage).name if r.stage else "", "名次": r.rank, "单位代码": unit, "单位": programme.unit(unit).name,
               "项目": p_item_name(programme, r.unit_code) or "", "总分": r.total}
        row |= {c.name: r.components.get(c.code) for c in comps}
        row |= {"加分": r.bonus, "扣分": r.deduction, "否决": r.veto or "", "等次": r.grade}
        out.append(row)
    return out


def export_results(rows: list[dict], path: Path) -> Path:
    """Write result rows to .xlsx or .csv (UTF-8 with BOM so Excel/WPS read the Chinese)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    headers = list(rows[0]) if rows else ["考核", "名次", "单位代码", "单位", "项目", "总分", "等次"]
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "考核结果"
        ws.append(headers)
        for row in rows:
            ws.append([row.get(h) for h in headers])
        wb.save(path)
    elif path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=headers)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise QcycleError(f"不支持的导出格式 {path.suffix!r}（应为 .xlsx 或 .csv）")
    return path
