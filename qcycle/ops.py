"""What the ops team does by hand: decide on applications and evaluations, export results.

Decisions made here, from a file, or in the Prefect UI all end in :func:`decide`, which
checks the stage, the subject and the outcome before anything is written, and audits who
decided.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.errors import DecisionError, UsageError, why_unreadable
from qcycle.lifecycle import (
    DECIDING_STAGE_KINDS,
    decision_subjects,
    p_item_name,
    p_unit_name,
    pending_decisions,
    result_kind,
    select_subjects,
)
from qcycle.lifecycle.assessing import veto_facts, what_counted
from qcycle.lifecycle.requests import approved_by_reviewer
from qcycle.lifecycle.wording import places_counted_as, ranked_among, verdict_said
from qcycle.models import NEGATIVE_OUTCOMES, POSITIVE_OUTCOMES, YES_NO_OUTCOMES
from qcycle.schema import Programme, Stage, StageKind

__all__ = [
    "OUTCOMES",
    "OUTCOME_WORDS",
    "DecisionError",
    "DecisionRow",
    "decide",
    "deciding_stages",
    "decision_rows",
    "export_results",
    "outcome_word",
    "read_decisions",
    "result_rows",
    "submission_rows",
]

# Outcomes a decision stage records: (yes, no); the evaluation words of v1 rounds mean the same.
OUTCOMES = YES_NO_OUTCOMES
_CN_OUTCOMES = {"同意": "yes", "通过": "yes", "确认": "yes", "approve": "yes", "yes": "yes",
                "不同意": "no", "不通过": "no", "驳回": "no", "退回": "no", "reject": "no", "no": "no",
                **dict.fromkeys(POSITIVE_OUTCOMES, "yes"), **dict.fromkeys(NEGATIVE_OUTCOMES, "no")}


@dataclass(frozen=True)
class DecisionRow:
    stage: str
    subject: str
    outcome: str  # approved | rejected, or yes/no, 同意/不同意 (normalised)
    note: str = ""
    where: str = ""  # the row's place in a decisions file ("decisions.csv:3"), for its problems


def deciding_stages(p: Programme) -> list[Stage]:
    return [s for s in p.stages if s.kind in DECIDING_STAGE_KINDS]


def _outcome(stage: Stage, outcome: str) -> str:
    yes, no = OUTCOMES
    # The stage's own words for its outcomes (合格/不合格, 抽中/未抽中) as its letters and exports say them.
    own = {stage.verdicts.approved: "yes", stage.verdicts.rejected: "no"} if stage.verdicts else {}
    word = own.get(outcome.strip()) or _CN_OUTCOMES.get(outcome.strip().lower(), outcome.strip().lower())
    if word in ("yes", yes):
        return yes
    if word in ("no", no):
        return no
    said = f"{stage.verdicts.approved}/{stage.verdicts.rejected}、" if stage.verdicts else ""
    raise DecisionError(f"阶段 {stage.code} 的决定应为 {said}{yes}/{no}（或 同意/不同意），收到 {outcome!r}")


def decide(*, session: Session, programme: Programme, round_id: uuid.UUID, rows: Iterable[DecisionRow],
           decided_by: str, change: bool = False) -> list[tuple[str, str, str]]:
    """Record decisions; all rows are checked first, so a bad row writes nothing. A subject decided
    already keeps its decision unless ``change`` (and a note saying why) is given: 太仓's committee
    approval of its first-ranked winner, its award letter sent, was overturned by one command with no
    word of warning and no trace of what it had been. The earlier outcome goes to the audit log."""
    stages = {s.code: s for s in deciding_stages(programme)}
    by_name = {s.name: s for s in stages.values()}  # an officer types the stage as the file names it
    file = getattr(crud.get_round(session=session, code=programme.round.code), "config_path", None) or "方案文件"
    checked = []
    problems = []
    made: dict[str, dict[str, tuple[str, str]]] = {}  # stage → subject → (outcome, note) as recorded so far
    for row in rows:
        at = f"{row.where}: " if row.where else ""
        stage = stages.get(row.stage) or by_name.get(row.stage)
        if stage is None:
            choices = "、".join(f"{code}（{s.name}）" for code, s in stages.items()) or "无"
            problems.append(f"{at}阶段 {row.stage!r} 不需要决定（可选：{choices}）")
            continue
        known = set(decision_subjects(session, programme, round_id, stage, None))
        if row.subject not in known:
            problems.append(f"{at}{stage.name}：没有待决定的对象 {row.subject!r}（待决定的对象及其代码见 qcycle decide {file} --list）")
            continue
        try:
            outcome = _outcome(stage, row.outcome)
        except DecisionError as exc:
            problems.append(f"{at}{exc}")
            continue
        if stage.tell_reason and outcome in NEGATIVE_OUTCOMES and not (row.note or "").strip():
            # The unit's letter gives the reason (异议不成立的理由写进函复): none would leave it out.
            problems.append(f"{at}{stage.name}：不同意 {row.subject} 须写明理由（该阶段的函件告知理由；用 --note 或决定清单的说明列）")
            continue
        if stage.code not in made:
            made[stage.code] = {s: (o, n) for s, o, n in crud.decisions_at(session=session, round_id=round_id,
                                                                             stage=stage.code)}
        earlier, earlier_note = made[stage.code].get(row.subject, (None, ""))
        note = (row.note or "").strip()
        if earlier == outcome and note in ("", earlier_note):
            continue  # made already, as it is: nothing to record again
        if earlier is not None and not (change and note):  # another outcome, or another reason told
            said = outcome_word(stage, earlier)
            problems.append(f"{at}{stage.name}：{row.subject} 已决定为“{said}”；要改变已作出的决定，请加 --change 并写明原因"
                            "（--note 或决定清单的说明列；此前据此发出的函件不会撤回，已执行的后续环节不会重算）")
            continue
        made[stage.code][row.subject] = (outcome, note)  # a later row of the same call changes it, not adds
        checked.append((stage, row.subject, outcome, row.note, earlier))
    problems += _over_places(programme, stages, made, {(stage.code, subject) for stage, subject, *_ in checked})
    if problems:
        raise DecisionError("；".join(problems))
    done = []
    for stage, subject, outcome, note, earlier in checked:
        crud.put_decision(session=session, round_id=round_id, stage=stage.code, decides=stage.decides or "",
                          subject=subject, outcome=outcome, decided_by=decided_by, note=note)
        detail = {"subject": subject, "outcome": outcome, "note": note} | ({"before": earlier} if earlier else {})
        crud.audit(session=session, actor=decided_by, action=f"decide:{stage.code}",
                   round_code=programme.round.code, detail=detail)
        done.append((stage.code, subject, outcome))
    return done


OUTCOME_WORDS = {"approved": "同意", "rejected": "不同意"}  # a decision as an officer says it


def outcome_word(stage: Stage, outcome: str, words: Mapping[str, str] = OUTCOME_WORDS) -> str:
    """A decision as an officer says it: in the stage's own words where it has them (合格, 抽中), else ``words``
    (同意/不同意; the results sheet's 通过/未通过)."""
    if stage.verdicts is not None and outcome in OUTCOMES:
        return stage.verdicts.approved if outcome == OUTCOMES[0] else stage.verdicts.rejected
    return words.get(outcome, outcome)


def decided_counts(session: Session, programme: Programme, round_id: uuid.UUID, code: str) -> dict[str, int]:
    """How many decisions a stage has made, by outcome as an officer says it (同意 3，不同意 1)."""
    counts: dict[str, int] = {}
    for _, outcome, _ in crud.decisions_at(session=session, round_id=round_id, stage=code):
        word = outcome_word(programme.stage(code), outcome)
        counts[word] = counts.get(word, 0) + 1
    return counts


def by_reviewer(programme: Programme, code: str, subjects: list[str]) -> list[str]:
    """Subjects in the order ``decide --list`` shows them: by reviewer where the stage has one."""
    if programme.stage(code).reviewed_by is None:
        return subjects
    return sorted(subjects, key=lambda x: programme.reviewer(code, x.partition(":")[0], asked=False) or "")


def places_lines(session: Session, programme: Programme, round_id: uuid.UUID, code: str,
                 pending: list[str]) -> list[str]:
    """Each reviewer's places at a stage with ``per_reviewer``, as ``decide --list`` shows them:
    "名额：东川市市场监督管理局 已同意 3 个（不超过 5 个），待决定 2 个"."""
    stage = programme.stage(code)
    if stage.per_reviewer is None and stage.max_approved is None:
        return []
    made = [(subject, outcome) for subject, outcome, _ in crud.decisions_at(session=session, round_id=round_id,
                                                                          stage=code)]
    word = places_counted_as(programme, pending or [x for x, _ in made])
    lines = []
    if stage.max_approved is not None:
        approved_in_all = sum(1 for _, outcome in made if outcome not in NEGATIVE_OUTCOMES)
        lines.append(f"名额：已同意 {approved_in_all} {word}（不超过 {stage.max_approved} {word}），待决定 {len(pending)} {word}")
    if stage.per_reviewer is None:
        return lines
    approved = approved_by_reviewer(programme, code, made)
    waiting = approved_by_reviewer(programme, code, ((subject, "approved") for subject in pending))
    return lines + [f"名额：{_places_of(programme, key)} 已同意 {len(approved.get(key, []))} {word}（不超过 {most} {word}），"
                    f"待决定 {len(waiting.get(key, []))} {word}"
                    for key in sorted(approved.keys() | waiting.keys(), key=lambda k: (k[0], k[1] or ""))
                    if (most := stage.places_for(programme.unit(key[0]).level)) is not None]


def _places_of(programme: Programme, key: tuple[str, str | None]) -> str:
    """A reviewer's places, of a category where they are counted per category: "柯桥区市场监督管理局（第二批）"."""
    reviewer, category = key
    return programme.unit(reviewer).name + (f"（{programme.category(category).name}）" if category else "")


def _over_places(programme: Programme, stages: dict[str, Stage], made: dict[str, dict[str, tuple[str, str]]],
                 changed: set[tuple[str, str]]) -> list[str]:
    """A reviewer's places (``per_reviewer``, 每个设区市推荐不超过5家) that the decisions as they would
    stand exceed, where this call approves one of them: 某省's cities recommended 7 each, unflagged."""
    out = []
    for code, outcomes in made.items():
        most = stages[code].max_approved
        yes = sorted(x for x, (outcome, _) in outcomes.items() if outcome not in NEGATIVE_OUTCOMES)
        if most is not None and len(yes) > most and any((code, x) in changed for x in yes):
            out.append(f"{stages[code].name}：最多同意 {most} 个，将有 {len(yes)} 个"
                       f"（{'、'.join(programme.unit(x.partition(':')[0]).name for x in yes)}）；请只同意其中 {most} 个")
        if stages[code].per_reviewer is None:
            continue
        approved = approved_by_reviewer(programme, code, ((x, outcome) for x, (outcome, _) in outcomes.items()))
        for key, subjects in sorted(approved.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            limit = stages[code].places_for(programme.unit(key[0]).level)
            if limit is not None and len(subjects) > limit and any((code, x) in changed for x in subjects):
                names = "、".join(programme.unit(x.partition(":")[0]).name for x in sorted(subjects))
                out.append(f"{stages[code].name}：每个审核单位最多同意 {limit} 个，{_places_of(programme, key)}"
                           f"将有 {len(subjects)} 个（{names}）；请只同意其推荐的 {limit} 个")
    return out


def pending(session: Session, programme: Programme, round_id: uuid.UUID) -> dict[str, list[str]]:
    return {s.code: pending_decisions(session, programme, round_id, s, None) for s in deciding_stages(programme)}


def read_decisions(path: Path) -> list[DecisionRow]:
    """Bulk decisions from CSV (stage,subject,outcome[,note]; Chinese headers too) or JSON."""
    try:
        return _read_decisions(path)
    except OSError as exc:
        raise UsageError(f"无法读取决定文件 {path}：{why_unreadable(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"无法读取决定文件 {path}：不是 UTF-8 编码（请另存为 UTF-8）") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: 不是合法的 JSON（第 {exc.colno} 列）") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise DecisionError(f"{path}：应为对象的列表，每个对象有 stage、subject、outcome（及 note）") from exc


def _read_decisions(path: Path) -> list[DecisionRow]:
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return [DecisionRow(d["stage"], d["subject"], d["outcome"], d.get("note", ""), f"{path} 第 {n} 条")
                for n, d in enumerate(data, start=1)]
    headers = {"阶段": "stage", "对象": "subject", "决定": "outcome", "说明": "note"}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = []
        for i, raw in enumerate(csv.DictReader(fh), start=2):
            row = {headers.get(k.strip(), k.strip()): (v or "").strip() for k, v in raw.items() if k}
            if not all(row.get(k) for k in ("stage", "subject", "outcome")):
                raise DecisionError(f"{path}:{i}: 每行须有 stage、subject、outcome（阶段、对象、决定）")
            rows.append(DecisionRow(row["stage"], row["subject"], row["outcome"], row.get("note", ""), f"{path}:{i}"))
        return rows


def result_rows(session: Session, programme: Programme, round_id: uuid.UUID) -> dict[str, list[dict]]:
    """Assessment results by assessment stage (its name → rows in rank order), each row with
    the group its rank is counted in (a category when the stage ranks per category)."""
    p = programme
    rows = crud.list_results(session=session, round_id=round_id)  # by stage, then rank
    comps = p.assessment.components if p.assessment else []
    vetoes = {v.code: v.name for v in p.assessment.vetoes} if p.assessment else {}
    facts = {stage: veto_facts(session, p, round_id, stage) for stage in dict.fromkeys(r.stage for r in rows)}
    # A decision on an assessment's result (a committee's), and one on that decision (the
    # government's), stand beside the grade: a graded candidate either refused holds no award,
    # and the sheet must not read as if it did.
    on_results = [(p.stage(code), root, crud.outcomes_at(session=session, round_id=round_id, stage=code))
                  for code, root in p.decisions_on_results.items()]
    # Whom each decision takes (a 现场评审 of the top 20): one it never took is not waiting on it.
    taken = {code: frozenset(select_subjects(session, p, round_id, p.stage(code).among))
             for code in p.decisions_on_results if p.stage(code).among}
    # What a grade or place owed afterwards, decided (整改报告审核 of the 限期整改, 领跑者资格确认 of a 领跑者's yearly report):
    # the sheet had kept 黄山's 限期整改 and 湖南's revoked 领跑者 as if nothing followed.
    later = _decided_after_grades(p)
    made = {(stage, subject): (outcome, by) for stage, subject, outcome, _, by, _ in
            crud.decision_list(session=session, round_id=round_id)} if later else {}
    # How many times each deduction item counted, per subject (常德's sheet read 扣分 0.00 of a county that lost 6 of its
    # 台账报送 part, the misses and late ones untraceable): by assessment stage, as the letters count them.
    counted = {stage: what_counted(session, p, round_id, stage, [r.unit_code for r in rows if r.stage == stage])[0]
               for stage in dict.fromkeys(r.stage for r in rows)} if p.assessment and p.assessment.deductions else {}
    sheets: dict[str, list[dict]] = {}
    for r in rows:
        unit, _, item = r.unit_code.partition(":")
        stage = p.stage(r.stage) if r.stage and p.has_stage(r.stage) else None
        category = p.item_category.get(item) if item and stage is not None and stage.per_category else None
        group = p.category(category).name if category else ranked_among(p, r.unit_code) or "全部"  # 县区, 部门
        row = {"排名组": group, "名次": r.rank, "单位代码": unit,
               "单位": p_unit_name(p, unit) or unit, "项目": p_item_name(p, r.unit_code) or "",
               "总分": round(float(r.total), 2)}
        row |= {c.name: None if r.components.get(c.code) is None else round(float(r.components[c.code]), 2) for c in comps}
        row |= {"加分": round(float(r.bonus), 2), "扣分": round(float(r.deduction), 2),
                "否决": (vetoes.get(r.veto, r.veto) + (f"（{fact}）" if (fact := facts[r.stage].get((r.unit_code, r.veto))) else ""))
                if r.veto else "", "等次": r.grade}
        times = counted.get(r.stage, {}).get(r.unit_code, ({}, {}, {}))[1]
        row |= {f"{d.name}（{'分' if d.up_to is not None else '次'}）": _figure(times.get(d.code, 0))
                for d in (p.assessment.deductions if p.assessment and counted else [])}  # up_to: the points given
        deciders = [(decider, said.get(r.unit_code), decider.code not in taken or r.unit_code in taken[decider.code])
                    for decider, assessed, said in on_results if assessed == r.stage]
        for decider, outcome, _ in deciders:
            row[decider.name] = "" if outcome is None else outcome_word(
                decider, OUTCOMES[0] if outcome in POSITIVE_OUTCOMES else OUTCOMES[1], _PASSED_WORDS)
        if deciders:  # what the candidate holds: 等次 is the grade its score reached, before the decisions
            row["最终结果"] = _final(r.grade, deciders)
        for d in later:
            outcome, by = made.get((d.code, r.unit_code)) or made.get((d.code, unit)) or (None, "")
            row[d.name] = "" if outcome is None else outcome_word(
                d, OUTCOMES[0] if outcome in POSITIVE_OUTCOMES else OUTCOMES[1], _PASSED_WORDS)
            if outcome is not None and outcome not in POSITIVE_OUTCOMES:
                row["最终结果"] = d.brings(by) or f"{r.grade}，{d.name}未通过"
            elif outcome is not None and d.on_approval:
                row["最终结果"] = d.on_approval
        if later:
            row.setdefault("最终结果", row["等次"])
        sheets.setdefault(stage.name if stage else result_kind(p), []).append(row)
    groups = {"全部": -1} | {c.name: i for i, c in enumerate(p.categories)}
    for i, u in enumerate(p.units):  # levels, or groups, ranked apart: in the order the file first lists them
        groups.setdefault(u.group if u.group and p.assessment and p.assessment.rank_within == "group"
                          else p.level_names.get(u.level, u.level), 100 + i)
    for rows_of_stage in sheets.values():  # each ranking group together, in the programme's order
        rows_of_stage.sort(key=lambda row: (groups.get(row["排名组"], 99), row["名次"], row["单位代码"]))
    return sheets


_PASSED_WORDS = {"approved": "通过", "rejected": "未通过"}  # a decision on a result, in the results sheet


def _figure(value: float) -> float | int:
    """A count as a count (2, not 2.0); points as given."""
    return int(value) if float(value).is_integer() else value


def _decided_after_grades(p: Programme) -> list[Stage]:
    """Decision stages on a window a grade or place owes (a 整改报告 of the 限期整改, a 领跑者's yearly report)."""
    def by_grade(stage: Stage) -> bool:
        who = stage.owed_by
        return who is not None and any(w.grades or w.rank is not None for w in (who, *who.any_of))

    return [s for s in p.stages if s.kind is StageKind.decision and s.decides and p.has_stage(s.decides)
            and by_grade(p.stage(s.decides))]


def _final(grade: str, deciders: list[tuple[Stage, str | None, bool]]) -> str:
    """A graded candidate's standing after the decisions on its result (each with whether it took
    the candidate): refused at one (天水's second-placed, refused by the government, holds no award),
    never taken by one (a 现场评审 of the top 20: "未获奖（未进入现场评审）", not "待现场评审" after
    the round), waiting on one, or its grade."""
    for decider, outcome, _ in deciders:
        if outcome is not None and outcome not in POSITIVE_OUTCOMES:
            # In its own words as the letters say them ("中期检查结论为限期整改"), else "…未通过".
            said = verdict_said(decider, False)
            return said.replace("“", "").replace("”", "") if said else f"{decider.name}未通过"
    # A stage deciding among some grades only (the award's candidates) does not wait on the rest,
    # nor does any stage after it in the chain (温州's 未获奖 never reaches the government's 审定).
    for decider, outcome, took in deciders:
        if decider.among and decider.among.grades and grade not in decider.among.grades:
            return grade
        if not took and outcome is None:  # one it decided took it, whatever left it later (a 撤销 by a yearly review)
            return f"{grade}（未进入{decider.name}）"
        if outcome is None:
            return f"{grade}（待{decider.name}）"
    return grade


_HEADERS = ["排名组", "名次", "单位代码", "单位", "项目", "总分", "等次"]
SUBMISSION_HEADERS = ["期次", "单位代码", "单位", "项目", "提交时间", "受理结果"]
DECISION_HEADERS = ["单位代码", "单位", "项目", "决定", "说明", "决定人", "决定时间"]
# Who decided, as an officer reads it: a rule, the simulation, or a person named at the command line.
_DECIDERS = {"rule:eligibility": "系统（按申报资格规定）", "rule:missing": "系统（逾期未交，按规定判定）",
             "rule:handed_in": "系统（已提交，按规定判定）"}


def decider_label(by: str) -> str:
    """"rule:missing" → "系统（逾期未交，按规定判定）", "cli:张三" → "张三", "simulate:ops" → "模拟运行"."""
    source, _, who = by.partition(":")
    if by in _DECIDERS:
        return _DECIDERS[by]
    if who == "ops" and source in ("simulate", "bench", "test"):
        return "模拟运行"
    return who if source == "cli" and who else by
# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): =, +, -, @, tab, CR.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: Any) -> Any:
    """A cell as CSV writes it: text that would start a formula made plain text (a leading
    apostrophe); points to the cent as the letters give them ("97.00", not "97.0")."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # CJK characters are two columns wide


def submission_rows(session: Session, programme: Programme, round_id: uuid.UUID) -> dict[str, list[dict]]:
    """The round's hand-ins by stage (its name → rows by period and time): who handed in what,
    when, and whether it was taken on time, taken late (accept_flag) or refused as late: what the
    office checks beside the results (a late hand-in was marked, and shown nowhere)."""
    p = programme
    sheets: dict[str, list[dict]] = {}
    rows = [r for r in crud.handed_in_list(session=session, round_id=round_id) if r[0] and p.has_stage(r[0])]
    rows.sort(key=lambda r: (p.stage_place[r[0]], r[1] or "", r[4]))  # the file's order of stages
    for stage, period, unit, item, at, late, status in rows:
        s = p.stage(stage)
        sheets.setdefault(s.name, []).append({
            "期次": s.period_label(period) if period else "", "单位代码": unit, "单位": p_unit_name(p, unit) or "",
            "项目": p_item_name(p, f"{unit}:{item}") if item else "", "提交时间": f"{at:%Y-%m-%d %H:%M}",
            "受理结果": "逾期不予受理" if status == "rejected_late" else ("逾期已受理" if late else "按时受理")})
    return sheets


def decision_rows(session: Session, programme: Programme, round_id: uuid.UUID) -> dict[str, list[dict]]:
    """The round's decisions by decision stage (its name → rows in the file's order of units): what
    each stage decided for each subject, with the note, who and when. A round decided without an
    assessment (中期评估, 验收, 复验) had nothing to export."""
    p = programme
    order = p.unit_place
    rows = [r for r in crud.decision_list(session=session, round_id=round_id) if p.has_stage(r[0])]
    rows.sort(key=lambda r: (p.stage_place[r[0]], order.get(r[1].partition(":")[0], len(order)), r[1]))
    sheets: dict[str, list[dict]] = {}
    for stage, subject, outcome, note, by, at in rows:
        unit = subject.partition(":")[0]
        sheets.setdefault(p.stage(stage).name, []).append({  # stage names are unique (validate)
            "单位代码": unit, "单位": p_unit_name(p, unit) or unit, "项目": p_item_name(p, subject) or "",
            "决定": outcome_word(p.stage(stage), outcome), "说明": note, "决定人": decider_label(by),
            "决定时间": f"{clock.to_local(at):%Y-%m-%d %H:%M}"})
    return sheets


def export_results(sheets: dict[str, list[dict]], path: Path, headers: list[str] | None = None) -> Path:
    """Write results to .xlsx (one sheet per assessment stage: frozen header, widths, two-decimal
    scores) or .csv (UTF-8 with BOM so Excel/WPS read the Chinese; a 阶段 column names the stage).
    Text that a spreadsheet would run as a formula is written as plain text in both."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.utils import get_column_letter

        wb = Workbook()
        wb.remove(wb.active)
        for name, rows in (sheets or {"结果" if headers is None else "记录": []}).items():
            ws = wb.create_sheet(_sheet_title(name, wb.sheetnames))
            columns = list(rows[0]) if rows else headers or _HEADERS
            ws.append(columns)
            for row in rows:
                ws.append([row.get(h) for h in columns])
            for cells in ws.iter_rows(min_row=2):
                for cell in cells:
                    if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_START):
                        cell.data_type = "s"  # shown as typed, never evaluated
                    elif isinstance(cell.value, float):
                        cell.number_format = "0.00"
            for i, header in enumerate(columns, start=1):
                widest = max([_width(header), *(_width(r.get(header)) for r in rows)])
                ws.column_dimensions[get_column_letter(i)].width = min(60, widest + 2)
            ws.freeze_panes = "A2"
        wb.save(path)
    elif path.suffix.lower() == ".csv":
        all_rows = [{"阶段": name, **row} for name, rows in sheets.items() for row in rows]
        fields = list(all_rows[0]) if all_rows else ["阶段", *(headers or _HEADERS)]
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows({k: _inert(v) for k, v in row.items()} for row in all_rows)
    else:
        raise UsageError(f"不支持的导出格式 {path.suffix!r}（应为 .xlsx 或 .csv）")
    return path


def _sheet_title(name: str, taken: list[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    title = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "结果"
    base, n = title, 2
    while title in taken:
        title = f"{base[:28]}({n})"
        n += 1
    return title
