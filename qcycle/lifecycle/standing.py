"""Where units stand, as letters tell them: the step that rejected a subject (with the reason the
unit may know), objections decided, windows a unit never handed in at, when hand-ins arrived, and
the list a 公示 publishes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlmodel import Session

from qcycle import crud
from qcycle.clock import to_local
from qcycle.lifecycle.drafting import reviewed_by_whom, reviewer_step
from qcycle.lifecycle.eligibility import INELIGIBLE
from qcycle.lifecycle.who import (
    NEGATIVE,
    ended_by,
    in_category,
    p_item_name,
    results_of,
    select_subjects,
    stage_outcomes,
)
from qcycle.lifecycle.wording import belonging, verdict_said
from qcycle.render import cn_date, quoted
from qcycle.schema import Programme, Stage, StageKind, Who

__all__ = [
    "TOLD_ALONE",
    "final_step",
    "handed_in_at",
    "items_by_unit",
    "latest_standing",
    "list_standing",
    "missed_subjects",
    "missing_in",
    "not_passed",
    "objection_replies",
    "objections_upheld",
    "passed",
    "refused_as",
    "rejections",
    "scored_for",
    "steps_told",
    "steps_told_alone",
    "took_part",
    "verdict",
]


def handed_in_at(session: Session, round_id: uuid.UUID, window: Stage, subjects: list[str]) -> dict[str, crud.HandIn]:
    """When each subject's hand-in at a window arrived (the first accepted one) and whether it was
    late (taken with a flag): ``{subject: HandIn}``; empty for a decision on an earlier
    decision or an assessment, where nothing was handed in."""
    if window.submission is None or not subjects:
        return {}
    return crud.first_hand_ins(session=session, round_id=round_id, stage=window.code, subjects=subjects)


def rejections(session: Session, p: Programme, round_id: uuid.UUID, *, at: frozenset[str] | None = None
               ) -> dict[str, tuple[str, str]]:
    """Subject → (how a letter says the decision stage rejected it, with the reason the unit may
    know: "未通过资格审查（理由）", "未获乡镇（街道）或有关部门推荐"; that stage's code): the first,
    in stage order; of the stages ``at`` only, where given (a 复验 rejects one rejected at 验收 before)."""
    rows = crud.decisions_with_outcome(session=session, round_id=round_id, outcomes=NEGATIVE)
    out: dict[str, tuple[str, str]] = {}
    for subject, stage, by, note in sorted(rows, key=lambda r: p.stage_place.get(r[1], 99)):
        # An objection rejected is not the objector.
        if p.has_stage(stage) and stage not in p.objection_decisions and (at is None or stage in at):
            out.setdefault(subject, (verdict(p, stage, subject, False, by, note), stage))
    return out


def verdict(p: Programme, stage: str, subject: str, yes: bool, by: str = "", note: str = "") -> str:
    """How a letter says a decision on a subject: passed ("通过验收", "获某镇推荐"), with what that brings
    ("通过验收，给予帮扶资金2万元"), or not, with the reason the unit may know and what it brings ("未通过复验（理由），
    撤销试点")."""
    step = p.stage(stage)
    if yes:
        return (verdict_said(step, True) or passed(step.name)) + (f"，{step.on_approval}" if step.on_approval else "")
    # A rule's reason is the applicant's to know (获奖满5年后方可再次申报); an officer's if tell_reason.
    if by.startswith("rule:") and note:  # the programme's rule refused it, not a reviewer: say the rule
        # A miss decided 不同意 brings what a 不同意 here brings ("未提交年度创建工作报告，年度创建工作评定为不合格"), or
        # is the step's own 不同意 ("未提交检定证书复印件，“现场核查结论”为不合格": the 整改通知 had not said the 不合格).
        said = (step.brings(by) or verdict_said(step, False)) if by == "rule:missing" else None
        return note + (f"，{said}" if said else "")
    why = f"（{note}）" if note and step.tell_reason else ""
    brings = f"，{step.on_rejection}" if step.on_rejection else ""  # 撤销试点立项
    # Named by who did not give it (余姚: 未获泗门镇人民政府推荐; 福州: 未通过鼓楼区市场监督管理局初审).
    return refused_as(p, step, subject.partition(":")[0]) + why + brings


def refused_as(p: Programme, step: Stage, unit: str) -> str:
    """A step's 不同意 as a letter names it: in its own words (“检查结果判定”为不合格), else by who did not give it (余姚: 未获泗门镇
    人民政府推荐; 福州: 未通过鼓楼区市场监督管理局初审), else the step (未通过资格审查)."""
    # A reviewer's verdict that names the step (不推荐 of a 审核推荐) is the reviewer's: "未获某区局推荐", as without verdicts
    # (湖州's shops read "“县区局审核推荐”结论为不推荐", the 区县局 unnamed).
    by = reviewed_by_whom(p, step, unit)
    if by and step.verdicts and reviewer_step(step.name)[-2:] in step.verdicts.rejected:
        return not_passed(by)
    return verdict_said(step, False) or not_passed(by or step.name)


def latest_standing(session: Session, p: Programme, round_id: uuid.UUID, *, reasons: bool = True
                    ) -> dict[str, tuple[str, str, bool]]:
    """Subject → (how a letter says its last decision in stage order, that stage's code, whether it
    passed): where a decided subject stands now (验收 failed, then 复验 passed: "通过复验"). ``reasons``: a reviewer's
    reasons where the stage tells them; not in a 通报 all read (湖州's told every team why one was not recommended)."""
    out: dict[str, tuple[str, str, bool]] = {}
    # A 复查 of what a rejection owed follows that rejection: "未通过现场检查，通过整改复查" (a 通报 of "通过整改复查" alone
    # had hidden that the laboratory failed its inspection).
    owing = {code: fu.owed_by.rejected_at for code in p.rechecks
             if (fu := p.stage(p.stage(code).decides or "")).owed_by is not None and fu.owed_by.rejected_at}
    failed: dict[tuple[str, str], str] = {}  # (rejecting stage, subject) → how its rejection reads
    # A rejection that leaves the subject to a later decision on the same window (``eliminates: false``) stands beside it:
    # 鄞州's 年终通报 had read "“自查报告审查”结论为符合" alone of a plant the rule had found 未按要求开展自查.
    beside: dict[tuple[str | None, str], tuple[str, str]] = {}  # (window, subject) → (the stage, what it said)
    rows = crud.decision_list(session=session, round_id=round_id)
    since = _handed_in_since(session, p, round_id, rows)
    approved: dict[str, str] = {}  # a stage's approval reads alike for every subject (a national round: ~10,000)
    for stage, subject, outcome, note, by, at in sorted(rows, key=lambda r: p.stage_place.get(r[0], -1)):
        if p.has_stage(stage) and stage not in p.objection_decisions:
            yes = outcome not in NEGATIVE
            told = note if reasons or by.startswith("rule:") else ""
            if by == "rule:missing" and subject in since.get(stage, ()) and told.startswith("未提交"):
                # Handed in after the rule decided: the miss was as of that day (鄞州's 通报 read "未提交…" beside "…逾期报送").
                told = f"截至{cn_date(to_local(at))}{told}"
            said = (approved.get(stage) or approved.setdefault(stage, verdict(p, stage, subject, True))) if yes else \
                verdict(p, stage, subject, yes, by, told)
            if not yes:
                failed[(stage, subject)] = refused_as(p, p.stage(stage), subject.partition(":")[0])
            if (before := failed.get((owing.get(stage, ""), subject))) is not None:
                said = f"{before}，{said}"
            window = p.stage(stage).decides
            if (earlier := beside.get((window, subject))) is not None and earlier[0] != stage:
                said, yes = f"{earlier[1]}；{said}", False
            elif not yes and not p.stage(stage).eliminates and window:
                beside[(window, subject)] = (stage, said)
            out[subject] = (said, stage, yes)
    return out


def _handed_in_since(session: Session, p: Programme, round_id: uuid.UUID, rows: list) -> dict[str, set[str]]:
    """Rule stage → the subjects it decided 不同意 for a miss that have handed the window in since (taken late)."""
    out: dict[str, set[str]] = {}
    for stage in {r[0] for r in rows if r[4] == "rule:missing" and p.has_stage(r[0])}:
        window = p.stage(stage).decides
        if window and p.has_stage(window):
            out[stage] = set(crud.handed_in_subjects(session=session, round_id=round_id, stage=window, period=None,
                                                     category=None, item_category=p.item_category))
    return out


def final_step(p: Programme, code: str) -> bool:
    """Whether no decision or assessment follows the decision ``code`` (a 市政府审定 before the award):
    a unit it rejects has no later steps to leave ("不再参加后续环节" would promise some). A review of a
    整改报告 decides the report and leaves the unit in the round: it has none to leave either; nor one
    whose rejected are called to a later window (验收 failed, then a 复验申请 opens for them)."""
    return code in p.keeping_decisions or code in p.second_chances or not any(
        s.kind in (StageKind.decision, StageKind.assessment) and s.code not in p.objection_decisions
        for s in p.stages[p.stage_place[code] + 1:])


# What a rejection may bring that ends the unit's part in the round (予以摘牌, 取消申报资格, 撤销试点): its letter
# says that, not "不再参加后续环节" too; a 予以通报批评 leaves the unit out of later steps all the same, and says so.
_ENDINGS = ("摘牌", "取消", "撤销", "终止", "退出", "不再")


def _ends_it(brings: str | None) -> bool:
    return bool(brings) and any(word in str(brings) for word in _ENDINGS)


def steps_told_alone(p: Programme) -> set[str]:
    """Decision stages whose rejections a step's result letter (``step_result``, ``notify:
    {rejected_at: …}``) or a published list sent to the rejected (四川's 揭榜名单: "申报的“…”未列入")
    tells as soon as they are decided: a later result letter does not tell them again (温州's 未获奖
    letter repeated the 资格审查 refusal of five months before; 四川's 创先引领 results, 凉山's item
    left off the list 21 months before), and a 公示's letter says they are told apart."""
    return _telling(p, {s.code for s in p.stages})


def _telling(p: Programme, stages: set[str]) -> set[str]:
    """The decision stages whose rejections the letters of ``stages`` tell (step results, lists)."""
    return {w.rejected_at for s in p.stages
            if s.code in stages and (s.template == "step_result" or s.kind is StageKind.publication)
            and s.notify is not None for w in (s.notify, *s.notify.any_of) if w.rejected_at}


def refusals_told(session: Session, p: Programme, round_id: uuid.UUID) -> set[tuple[str, str]]:
    """``(decision stage, unit)`` of the refusals a letter of their own has been written to tell the
    unit (:func:`steps_told_alone`): a 公示 after 温州's 结果告知 said its refusal was 另行告知 where it
    had been told two weeks before."""
    tellers = {s.code: told for s in p.stages if (told := _telling(p, {s.code}))}
    written = crud.units_written_by(session=session, round_id=round_id, stages=list(tellers))
    return {(step, unit) for stage, unit in written for step in tellers[stage]}


# A step named as a verb and its object ("审定获奖名单") is passed as its object's review (获奖名单审定).
_VERBS_FIRST = ("审定", "审核", "审查", "审议")  # not 评审: 评审委员会审议 is a noun first


def _as_noun(step: str) -> str:
    verb = next((v for v in _VERBS_FIRST if step.startswith(v) and len(step) > len(v)), None)
    return step[len(verb):] + verb if verb else step


# A step that chooses ("确定优秀组织单位") is not passed but chosen by: 被确定为优秀组织单位 (某市's 市政府
# had read "通过确定优秀组织单位", and those not chosen "未通过…", as if they had failed); a list is entered.
_CHOOSING = {"确定": "确定为", "评选": "评为", "选定": "选定为", "遴选": "选为", "认定": "认定为"}


# What follows a choosing verb where the step is still a process (评选委员会审议, 认定审核, 遴选推荐).
_PROCESSES = ("审议", "审核", "审查", "审定", "评审", "复核", "推荐", "提名", "表彰", "委员会", "会议")


def _chosen(step: str, yes: bool) -> str | None:
    verb = next((v for v in _CHOOSING if step.startswith(v) and len(step) > len(v)), None)
    if verb is None or step.endswith(_PROCESSES) or "委员会" in step:
        return None
    what = step[len(verb):]
    if what.endswith("名单"):
        return f"{'' if yes else '未'}列入{what}"
    return f"{'被' if yes else '未被'}{_CHOOSING[verb]}{what}"


def chosen_as(step: str) -> str | None:
    """What a step that chooses made of those it chose (被确定为优秀组织单位, 列入…名单); None for a
    step that does not choose (a review)."""
    return _chosen(step, True)


def not_passed(step: str) -> str:
    """A step not passed, as Chinese says it: one passes a review (未通过资格审查; 未通过获奖名单审定,
    not 未通过审定获奖名单) but is given a recommendation or a nomination (未获乡镇（街道）或有关部门
    推荐, not 未通过…推荐), and is chosen or not by a step that chooses (未被确定为优秀组织单位)."""
    if (chosen := _chosen(step, False)) is not None:
        return chosen
    return f"未获{step}" if step.endswith(("推荐", "提名")) else f"未通过{_as_noun(step)}"


def passed(step: str) -> str:
    """A step passed: 通过整改报告审核, 获乡镇（街道）推荐, 被确定为优秀组织单位."""
    if (chosen := _chosen(step, True)) is not None:
        return chosen
    return f"获{step}" if step.endswith(("推荐", "提名")) else f"通过{_as_noun(step)}"


def steps_told(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
               category: str | None) -> dict[str, dict[str, Any]]:
    """Unit → what a step's result letter (``step_result``) tells it, as soon as the step is decided:
    its subjects the steps a selection names rejected (``rejected_at``: "rejections") or passed
    (``approved_at``: "passes", 淮安's rectification reports accepted), each with its item. Told to
    the superiors of those subjects (``superiors_of``: the 区县局 of a shop 摘牌 at the 复核), each line
    names its unit and the letter says whose they are (``below``: 辖区内 or 所属)."""
    if who is not None and who.superiors_of is not None:
        return _told_above(p, steps_told(session, p, round_id, who.superiors_of, category))
    alternatives = [who, *who.any_of] if who else []
    told: dict[str, dict[str, Any]] = defaultdict(lambda: {"rejections": [], "passes": []})
    last = {w.rejected_at: final_step(p, w.rejected_at) or _ends_it(p.stage(w.rejected_at).on_rejection)
            for w in alternatives if w.rejected_at}
    scored = {code: _scored(session, p, round_id, code) for code in last}
    # Each step's own rejection, not the subject's first (a 复验 rejects one 验收 rejected before).
    for subject, (said, code) in rejections(session, p, round_id, at=frozenset(last)).items():
        if in_category(p, subject, category):
            # What the rejection brings follows "不再参加后续环节" (江西: "…初审（…），可于2027年再次申请验收，不再参加后续环节").
            brings = next((x for x in p.stage(code).consequences() if said.endswith(f"，{x}")), "")
            said = said.removesuffix(f"，{brings}") if brings else said
            # What it brings may end it (撤销…确认 by on_missing): "不再参加后续环节，撤销…" had been said of a revocation.
            told[subject.partition(":")[0]]["rejections"].append({"item": p_item_name(p, subject), "verdict": said, "brings": brings,
                                                                  "last": last[code] or _ends_it(brings),
                                                                  "scored": scored[code].get(subject)})
    for code in dict.fromkeys(w.approved_at for w in alternatives if w.approved_at):
        for subject in select_subjects(session, p, round_id, Who(approved_at=code), category):
            told[subject.partition(":")[0]]["passes"].append({"item": p_item_name(p, subject),
                                                               "verdict": verdict(p, code, subject, True)})
    # Superiors among the alternatives (the 复验's passed and rejected, and their cities): told theirs as above; one
    # told of its own subjects here keeps that letter.
    for inner in (w.superiors_of for w in alternatives if w is not who and w.superiors_of is not None):
        for unit, letter in _told_above(p, steps_told(session, p, round_id, inner, category)).items():
            told.setdefault(unit, letter)
    for letter in told.values():
        # Refused by the programme's rule alone (获奖满5年后方可再次申报), not by the step the letter is
        # named after: 某省's 3-year rule went out headed "县级初审推荐结果", as if the county had refused.
        if letter["rejections"] and not letter["passes"] and all(
                r["verdict"].startswith(INELIGIBLE) for r in letter["rejections"]):
            letter["heading"] = "申报资格"
    return dict(told)


def items_by_unit(session: Session, p: Programme, round_id: uuid.UUID, who: Who, category: str | None) -> dict[str, list[str]]:
    """Unit → the names (quoted) of its list items ``who`` selects, where it selects items: how a letter to a superior
    names each unit's (安徽's 设区市局 had read of their labs, not which 项目)."""
    items: dict[str, list[str]] = defaultdict(list)
    for subject in select_subjects(session, p, round_id, who, category):
        if name := p_item_name(p, subject):
            items[subject.partition(":")[0]].append(quoted(name))
    return items


def _told_above(p: Programme, told: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What units were told of a step, gathered for their superiors: each line with its unit's name
    (a 区县局 heard nothing on the day two shops of its district lost their titles)."""
    above: dict[str, dict[str, Any]] = {}
    for unit, letter in told.items():
        if (parent := p.unit(unit).parent) is None:
            continue
        mine = above.setdefault(parent, {"rejections": [], "passes": [], "below": []})
        mine["below"].append(unit)
        for kind in ("rejections", "passes"):
            mine[kind] += [{**line, "unit": p.unit(unit).name} for line in letter[kind]]
    for letter in above.values():
        letter["units_count"] = len(letter["below"])  # units, not lines: one unit's two items are two lines
        letter["below"] = belonging(p, letter["below"])
    return above


def _scored(session: Session, p: Programme, round_id: uuid.UUID, code: str) -> dict[str, str]:
    """Subject → "得分868.59、排名第2" where the decision ``code`` is on an assessment's results
    (directly or through the decisions it decides on): 天水's second-placed, refused by the
    committee, heard less of its standing than those below it, who were told score and rank."""
    assessed = p.decisions_on_results.get(code)
    if assessed is None:
        return {}
    ranked = p.places_decide
    return {r.unit_code: f"得分{r.total:.2f}" + (f"、排名第{r.rank}" if ranked else "")
            for r in results_of(session, round_id, assessed)}


def objections_upheld(session: Session, p: Programme, round_id: uuid.UUID, before: str) -> list[dict[str, str]]:
    """The objections a decision before the stage ``before`` upheld (异议成立), each as {unit: who
    raised it, note: what ops found}: 宝山's 审定获奖名单 is asked with them in view. An
    objection names no candidate itself; the decision's note is where ops say whom it concerns."""
    upheld: dict[str, list[str]] = {}
    if before in p.keeping_decisions:  # a 整改报告's review was shown the 立项公示's objections of two years before
        return []
    # Not a review of hand-ins made after them (标准化's yearly reports were shown the 公示's objections of 2025).
    window = p.stage(p.stage(before).decides or before)
    later = window.kind in (StageKind.submission, StageKind.followup)
    for code in p.objection_decisions:
        if p.stage_place[code] < p.stage_place[before] and not (later and p.stage_place[window.code] > p.stage_place[code]):
            for subject, outcome, note in crud.decisions_at(session=session, round_id=round_id, stage=code):
                if outcome not in NEGATIVE:
                    upheld.setdefault(subject.partition(":")[0], []).extend([note] if note else [])
    return [{"unit": p.unit(u).name, "note": "；".join(upheld[u])} for u in sorted(upheld) if p.has_unit(u)]


def objections_told(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
                    category: str | None) -> dict[str, dict[str, Any]]:
    """Unit → what an objection reply (``objection_reply``) tells it: its objections decided."""
    return {u: {"replies": replies} for u, replies in objection_replies(session, p, round_id, who).items()}


def objection_replies(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None
                      ) -> dict[str, list[dict[str, Any]]]:
    """Unit → its objections decided at the objection decisions a selection names: when it was
    handed in, the step, upheld or not, and the decision's note where the stage tells it."""
    steps = [x for w in ([who, *who.any_of] if who else []) for x in (w.approved_at, w.rejected_at)
             if x in p.objection_decisions]
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for code in dict.fromkeys(steps):
        stage = p.stage(code)
        rows = crud.decisions_at(session=session, round_id=round_id, stage=code)
        received = handed_in_at(session, round_id, p.stage(stage.decides or ""), [r[0] for r in rows])
        for subject, outcome, note in rows:
            out[subject.partition(":")[0]].append({
                # 经调查核实，异议成立 (not 经异议调查核实，异议成立: the letter is about the objection)
                "step": stage.name.removeprefix("异议") or stage.name, "upheld": outcome not in NEGATIVE,
                "received_at": received.get(subject, crud.NO_HAND_IN).at,
                "note": note if note and stage.tell_reason else None})
    return dict(out)


def missing_in(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None,
               category: str | None) -> list[tuple[str, dict[str, list[str]]]]:
    """(stage, unit → the list items it owed there and never handed in, none for a unit's own
    hand-in) at every ``missing_at`` a selection names: the units that handed in nothing, and
    those that handed in for some of their items (四川's 泸州 was told the result of one item and
    nothing of the other it never applied to have evaluated)."""
    if who is None:
        return []
    out = []
    if who.missing_at:
        units, missed = _missed(session, p, round_id, p.stage(who.missing_at), category)
        items: dict[str, list[str]] = {u: [] for u in units}
        for subject in missed:
            unit, _, item = subject.partition(":")
            if item:
                items.setdefault(unit, []).append(p_item_name(p, subject) or item)
        out.append((who.missing_at, items))
    for alt in who.any_of:
        out += missing_in(session, p, round_id, alt, category)
    return out


def missed_subjects(session: Session, p: Programme, round_id: uuid.UUID, window: Stage, category: str | None
                    ) -> list[str]:
    """What was owed at ``window`` and never handed in: each list item (``unit:item``) where it is owed item by item
    (a lab that re-tested one of its two items and not the other), else the unit."""
    units, missed = _missed(session, p, round_id, window, category)
    by_item = {s.partition(":")[0] for s in missed}
    return missed + [u for u in units if u not in by_item]


def _missed(session: Session, p: Programme, round_id: uuid.UUID, window: Stage, category: str | None
            ) -> tuple[set[str], list[str]]:
    """(units that handed nothing in at ``window``, the list items owed there never handed in, in the owed order): of
    those, and of those that handed some of their items in; not a unit never called to it (joined after its deadline)
    or whose part had ended."""
    units = set(select_subjects(session, p, round_id, Who(missing_at=window.code), category))
    handed = set(crud.handed_in_subjects(session=session, round_id=round_id, stage=window.code, period=None,
                                         category=category, item_category=p.item_category))
    some = {s.partition(":")[0] for s in handed}
    gone = ended_by(session, p, round_id, window)  # an item whose part ended was not asked for it, its unit's others were
    owed = [s for s in (select_subjects(session, p, round_id, window.owed_by, category) if window.owed_by else [])
            if s not in gone]
    return units, [s for s in owed if ":" in s and ((unit := s.partition(":")[0]) in units
                                                    or (unit in some and s not in handed))]


# Letters that tell each unit one thing only, read by these (template → unit → its context).
TOLD_ALONE = {"step_result.j2": steps_told, "objection_reply.j2": objections_told}


def list_standing(session: Session, p: Programme, round_id: uuid.UUID, step: str, category: str | None
                  ) -> dict[str, dict[str, Any]]:
    """Unit → where its items stand on a list the decision ``step`` made: ``listed_items`` (on it),
    ``unlisted`` (refused: 眉山, which applied for two, could not tell which was listed) and, where
    the step tells its reasons, ``unlisted_reasons`` (item → why; 绵阳 read "贵单位未列入" and not
    what, or why), and ``unlisted_reason`` for a unit refused as a whole."""
    own: dict[str, dict[str, Any]] = defaultdict(dict)
    # Refused at the list's step or at any step before it that it decides on (某市's 立项评审 before the
    # 审定: a unit refused there read "贵单位未列入。", not which project, nor why).
    steps = [step]
    while (before := p.stage(steps[-1]).decides) and p.stage(before).kind is StageKind.decision:
        steps.append(before)
    wheres = [("listed_items", Who(approved_at=step))] + [("unlisted", Who(rejected_at=code)) for code in steps]
    for key, where in wheres:
        for subject in select_subjects(session, p, round_id, where, category):
            unit, _, item = subject.partition(":")
            if item and (name := p_item_name(p, subject)) and name not in own[unit].get(key, ()):
                own[unit].setdefault(key, []).append(name)
    for code in steps:
        if not p.stage(code).tell_reason:
            continue
        for subject, outcome, note in crud.decisions_at(session=session, round_id=round_id, stage=code):
            unit = subject.partition(":")[0]
            if outcome not in NEGATIVE or not note.strip():
                continue
            if ":" not in subject:  # a unit refused as a whole (江西's county "未列入" without the reason)
                own[unit].setdefault("unlisted_reason", note.strip())
            elif (name := p_item_name(p, subject)) and name in own.get(unit, {}).get("unlisted", ()):
                own[unit].setdefault("unlisted_reasons", {}).setdefault(name, note.strip())
    return {unit: standing for unit, standing in own.items() if standing}


def took_part(session: Session, p: Programme, round_id: uuid.UUID, step: str, category: str | None = None
              ) -> set[str]:
    """Units with a subject decided or graded anywhere along the chain a list's decision ``step``
    ends (its decisions, the assessments they decide on, the decisions those assessments take
    their subjects from), in ``category`` where given: the candidates. A city bureau, or an enterprise that never applied, was
    told "贵单位未列入" of a list it was never a candidate for."""
    seen: set[str] = set()
    out: set[str] = set()
    todo = [step]
    while todo:
        code = todo.pop()
        if code in seen or not p.has_stage(code):
            continue
        seen.add(code)
        stage = p.stage(code)
        if stage.kind is StageKind.decision:
            out |= {x.partition(":")[0] for x in stage_outcomes(session, round_id, code) if in_category(p, x, category)}
            todo += [stage.decides] if stage.decides else []
        elif stage.kind is StageKind.assessment:
            out |= {x.partition(":")[0] for x in crud.result_subjects(session=session, round_id=round_id, stage=code)
                    if in_category(p, x, category)}
            todo += sorted(p.assessment.subjects.stages()) if p.assessment else []
    return out


def scored_for(session: Session, p: Programme, round_id: uuid.UUID, who: Who | None, units: list[str]) -> dict[str, str]:
    """unit → its score where grades chose it (``who.grades``): "在“材料评审”中得分94.80", as an event's letter says
    why it takes part (省质量奖's 现场评审 notice gave its candidates no ground at all)."""
    who = next((w for w in ((who, *who.any_of) if who else ()) if w.grades), None)
    if who is None or p.chooses_low(who):
        # Chosen by a low grade (the 复验现场核查 of those 限期整改): a second chance, not a score that earned it a place;
        # "贵单位在“验收评分”中得分78.58" had opened a notice a year after that scoring.
        return {}
    if (assessed := who.assessed_at or crud.latest_results_stage(session=session, round_id=round_id)) is None:
        return {}
    chosen = set(units)
    return {r.unit_code: f"在{quoted(p.stage(assessed).name)}中得分{r.total:.2f}" for r in results_of(session, round_id, assessed)
            if r.unit_code in chosen and r.grade in who.grades}
