"""The letters of a notification stage: results, praise and awards, each unit's own.

:func:`notify_action` is the ``notify`` handler of :mod:`qcycle.lifecycle.handlers`. A unit's letter
names its subjects with their grades and scores, those that left the round at a decision with the
step that rejected them, what it never handed in, and its quota tasks where the programme sets them."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from qcycle import crud
from qcycle.clock import to_local
from qcycle.lifecycle.assessing import quota_achieved, veto_facts, what_counted
from qcycle.lifecycle.drafting import draft_letters, owed_later, written_on
from qcycle.lifecycle.headings import (
    circular_heading,
    name_beside,
    name_overlap,
    occasion_of,
    step_heading,
)
from qcycle.lifecycle.missed import awaiting_decisions, never_handed_in_lines, said_by_item
from qcycle.lifecycle.outcome import Outcome
from qcycle.lifecycle.quota_wording import quota_area, quota_goals, quota_tasks
from qcycle.lifecycle.remarks import (
    graded_together,
    places_rule,
    result_remarks,
    where_rechecked,
)
from qcycle.lifecycle.reporting import report_list
from qcycle.lifecycle.standing import (
    TOLD_ALONE,
    chosen_as,
    latest_standing,
    missing_in,
    rejections,
    steps_told_alone,
)
from qcycle.lifecycle.summaries import (
    gone_after_scoring,
    owed_below,
    standing_lines,
    summary_lines,
    with_missing,
)
from qcycle.lifecycle.who import (
    in_category,
    p_item_name,
    resolve,
    results_of,
    select_subjects,
)
from qcycle.lifecycle.wording import (
    achievement_of,
    component_scores,
    conferring,
    grade_consequence,
    grade_terms,
    place_achieved,
    place_among,
    result_label,
    score_text,
    scored_line,
    summons_grounds,
    unscored,
    without_consequence,
)
from qcycle.models import ResultRow
from qcycle.render import quoted
from qcycle.schema import Programme, Stage, Who, grade_label

__all__ = ["HONOURS", "notify_action"]

HONOURS = ("praise", "award")  # the templates of honour letters (通报表扬, 授奖)


def notify_action(session, p, round_id, action) -> Outcome:
    """Results (or praise, or any notification) to the units the stage selects; each letter
    names the unit's own subjects with their grades, and those that left the round at a
    decision with the step that rejected them."""
    stage = p.stage(action.stage)
    template = stage.template + ".j2" if stage.template else "result.j2"
    if template == "report.j2":
        return report_list(session, p, round_id, action)
    if template in TOLD_ALONE:  # to each unit one thing: its objections decided, or a step's result
        told = TOLD_ALONE[template](session, p, round_id, stage.notify, action.category)
        drafts = [d for u in resolve(session, p, round_id, stage.notify, action.category) if u in told
                  for d in draft_letters([u], template, p, action, **told[u])]
        return Outcome(action, drafts, note=f"{action.title}：通知 {len(drafts)} 条")
    # The assessment the selection names (a praise of those ≥90 at the first review), else the latest: a 表扬
    # had cited the 再审's score and name for a project the 再审 never scored.
    selected_at = next((w.assessed_at for w in ([stage.notify, *stage.notify.any_of] if stage.notify else [])
                        if w.assessed_at), None)
    assessed = selected_at or crud.latest_results_stage(session=session, round_id=round_id)
    rows = results_of(session, round_id, assessed)
    # A round assessed more than once (each year of a plan) says which assessment a letter is of.
    occasion = occasion_of(p, assessed)
    by_unit: dict[str, list[ResultRow]] = defaultdict(list)
    gone = gone_after_scoring(session, p, round_id)  # rejected after scoring: the letter says so, not the grade
    scored: set[str] = set()  # the units graded, those rejected after scoring too: how many took part (参评)
    for r in rows:
        if in_category(p, r.unit_code, action.category):
            scored.add(r.unit_code.partition(":")[0])
            if r.unit_code not in gone:
                by_unit[r.unit_code.partition(":")[0]].append(r)
    sizes = graded_together(p, rows)  # a cap's count is said where it gave no place at all
    # Grades a candidate left after scoring: their places stay vacant (空缺), and a capped letter says so.
    vacated = {(r.grade, p.item_category.get(r.unit_code.partition(":")[2])) for r in rows if r.unit_code in gone}
    # A selection of list items (温州: the items graded 未获奖) is what the letter is about: a unit's
    # other items were told elsewhere (its award by the government's 授奖通知).
    chosen = set(select_subjects(session, p, round_id, stage.notify, action.category)) if stage.notify else set()
    units = sorted({x.partition(":")[0] for x in chosen}) if stage.notify else sorted(by_unit)  # as resolve() gives
    if any(":" in x for x in chosen):
        for u, results in by_unit.items():
            by_unit[u] = [r for r in results if r.unit_code in chosen or ":" not in r.unit_code]
    praise = stage.template in HONOURS  # honours: every selected unit, no result lines
    honoured = any(st.template in HONOURS for st in p.stages)
    # A summons' grounds are every step it is for, those told by a letter of their own too (淮安's
    # 约谈 of a rejected report read "贵单位在…中—。" once the rejection had its own 结果告知).
    rejected, grounds_of, itemised, told_apart = (_rejected(session, p, round_id, action.category) if not praise
                                                  else ({}, {}, set(), {}))
    missing = missing_in(session, p, round_id, stage.notify, action.category)
    # The selections by place or grade each unit met: a summons says those, not every alternative
    # ("被评为不合格，排名后1名（第4名）" had been told to the fourth of five).
    met = [(w, {x.partition(":")[0] for x in select_subjects(session, p, round_id, w, action.category)})
           for w in ([stage.notify, *stage.notify.any_of] if stage.notify else []) if w.grades or w.rank is not None]
    # Praise for being chosen at a step that chooses (确定市级部门优秀组织单位): the letter names what it was
    # chosen as, not "表现突出" (临江's 质量月 praise never said 优秀组织单位).
    picked_as = [(said, {x.partition(":")[0] for x in select_subjects(session, p, round_id, w, action.category)})
              for w in ([stage.notify, *stage.notify.any_of] if praise and stage.notify else [])
              if w.approved_at and (said := chosen_as(p.stage(w.approved_at).name))]
    passers = _passers(session, p, round_id, action) if praise else _Passers([], [])
    label = result_label(p)
    heading = label  # the subject's 【考核结果】, whole: 【结果】 alone said nothing
    if occasion:
        label = heading = f"{occasion}结果"
    elif template == "circular.j2" and (own := circular_heading(p, stage)):  # a 情况通报's 情况, a later 通报's own
        label = heading = own
    else:  # 焦作市…质量工作考核 + 考核结果 → …考核结果; …任务落实与年度评估 + 年度评估结果 → …年度评估结果
        label = label[name_overlap(p.round.name, label):] or label
    order = p.assessment.grade_names if p.assessment else []
    # Every unit with tasks, not only those told here: the city-wide goals are all of theirs together.
    tasked = sorted({u for a in p.quotas.actions for u in a.per_unit} | set(units)) if p.quotas else units
    reached = quota_achieved(session, p, round_id, assessed, tasked) if template == "result.j2" else {}
    year = rows[0].computed_at.year if rows else None  # the year assessed: a plan's pace is counted to it
    goals = quota_goals(p, reached, year) if reached else []
    graded = [r.unit_code for rs in by_unit.values() for r in rs] if template in ("result.j2", "circular.j2") else []
    adjusted, unmet, unmet_from = what_counted(session, p, round_id, assessed, graded, action.category)
    facts = veto_facts(session, p, round_id, assessed)  # what a veto recorded stands for (which accident)
    drafts = []
    # What an award brings to hand in later (a named unit's yearly 自查报告), as a publication tells it.
    later = owed_later(session, p, round_id, action, set(units)) if action.detail.get("later") else {}
    # A unit told the results with none of its own (a city bureau, the 市政府) is told those of its
    # subordinates, or all of them where it has none: "通报各区局本辖区企业获奖情况" sent 0 letters.
    # Only where a unit with no result and no rejection of its own may be told others' (a superior, or one
    # outside the round): the decisions are read again.
    # A 通报 (``template: circular``) tells every unit it reaches the results of all, its peers' too.
    circular = template == "circular.j2"
    summarising = circular or template == "result.j2" and any(u not in by_unit and u not in grounds_of and (
        p.has_subordinates(u) or u not in p.participants) for u in units)
    # What the units never handed in: said in summaries, and beside a unit's own grade (not its items').
    never = (never_handed_in_lines(session, p, round_id, action, assessed, rows) if template in ("result.j2", "circular.j2") and (
        summarising or not p.assessment_stages or any(":" not in r.unit_code for rs in by_unit.values() for r in rs))
        else {})
    # What a veto says (因未报送…，实行一票否决) is not said again after it, in any letter; where no veto said it (a
    # unit never graded), it is: 七星所's line in the 通报 had read "七星市场监管所：。".
    missed_at = {v.code: v.missing_at for v in p.assessment.vetoes if v.missing_at} if p.assessment else {}
    vetoed_for = {u: {missed_at[r.veto] for r in rs if r.veto in missed_at} for u, rs in by_unit.items()} if missed_at else {}
    never = {u: kept for u, lines in never.items() if (kept := [x for x in lines if x[0] not in vetoed_for.get(u, ())])}
    # Where each decided subject stands (its last decision), read once for what follows.
    # Results told before any assessment (a 中期评估's, 验收 to come) are the decisions': titled by the last step
    # decided (【验收结果】 had headed them), each subject's passing said as in a round without assessment.
    early = assessed is None and template == "result.j2"
    # Units the assessment never grades (the counties in their 中期, beside those up for 验收) are told their
    # decisions' results as before any assessment: three passed their 中期评估 and heard nothing.
    ungraded = template == "result.j2" and not early and p.assessment is not None and any(u not in by_unit for u in units)
    decided = latest_standing(session, p, round_id, reasons=not circular) if template in ("result.j2", "circular.j2") and (
        summarising or p.rechecks or early or ungraded) else {}
    outside = _outside(p, decided, [u for u in units if u not in by_unit]) if ungraded else set()
    steps = early and bool(p.assessment_stages)  # titled by the step decided: the round's, or each unit's own
    label, heading = (step_heading(p, decided, category=action.category) if steps else None) or (label, heading)
    # A graded subject's decision on the follow-up its grade owed (限期整改, then 复验): where it stands now.
    rechecked = where_rechecked(p, decided, by_unit) if p.rechecks else {}
    # What a deduction counts (未报送…1次，扣5分) is not said again beside the grade.
    counted = {d.late_at for d in p.assessment.deductions if d.late_at and d.counts != "late"} if p.assessment else set()
    summary_never = with_missing(p, {u: [x for x in lines if x[0] not in counted or u not in by_unit]
                                     for u, lines in never.items()}, missing)
    shown, shown_decided, shown_never = _circulated(session, p, round_id, stage, action.category, by_unit, decided,
                                                    summary_never)
    summaries = (summary_lines(p, units, shown, standing_lines(p, shown_decided, action.category, shown, never, assessed,
                                                           public=circular),
                               shown_never, {u for _, late in missing for u in late}, everyone=circular,
                               adjusted=adjusted, rechecked=rechecked,
                               within=p.assessed_units if assessed and p.assessment else None)
                 if summarising else {})
    # A round decided without an assessment: what each unit's subjects passed, read once (a rejection has its own line).
    passed = _passes(p, decided, rejected, action.category, None if early else outside)
    owing_below = owed_below(session, p, round_id, action, assessed) if summaries and not circular else {}
    below = p.under_each(by_unit) if summaries and not circular else {}  # once: asked for each summary
    for u in units:
        if u in summaries:
            drafts += draft_letters([u], template, p, action, result_label=label, heading=heading, occasion=occasion,
                                    subject_name=name_beside(p.round.name, heading), result="—",
                                    lines=summaries[u][1], scope=summaries[u][0], summary=True, took_part=summaries[u][2] and shown is by_unit,
                                    # A 通报 of those its `lists` selects says how many took part (no 一等 of 5 read as none).
                                    # 湖州's 通报 counted 6 of the 7 scored: the one an upheld objection took off the list was not.
                                    graded_count=None if shown is by_unit else len(scored),
                                    # To the office's own superior (the 县政府 it reports to) a summary is a report.
                                    to_superior=u in (up := p.ancestors(p.sender(stage.code)))
                                    or p.unit(u).level == "government" and not up,
                                    places_rule=places_rule(p, [  # of the results the summary lists
                                        r for x in (by_unit if circular else below.get(u) or by_unit)
                                        for r in by_unit[x]]), owed_below=[] if circular else owing_below.get(u, []))
            continue
        if circular:  # nothing graded or decided yet: nothing to 通报; graded and none on its list (no project passed): said
            drafts += draft_letters([u], template, p, action, result_label=label, heading=heading, occasion=occasion, lines=[],
                                    subject_name=name_beside(p.round.name, heading), graded_count=len(scored)
                                    ) if stage.lists is not None and by_unit else []
            continue
        mine = sorted(by_unit.get(u, []), key=lambda r: r.unit_code)
        passes = passed.get(u, [])  # an enterprise that passed 验收 had had no result letter at all
        lines = [f"{item + '：' if (item := p_item_name(p, r.unit_code)) else ''}{grade_label(r.grade)}"
                 for r in mine] + passes + rejected.get(u, [])
        # What it never handed in is not graded: said beside what was (an item's line once).
        # Not where a rejection says it already (逾期未报送的视为不合格: "未提交年度创建工作报告，…不合格").
        owed = [(n, f"未提交{quoted(n) if n else ''}{p.material(p.stage(code))}")
                for code, late in missing if u in late for n in (late[u] or [""])] if template == "result.j2" else []
        missed = [said for n, said in owed if not (n and any(line.startswith(f"{n}：") for line in lines))
                  and not any(line.startswith(said) for line in lines)]
        # Beside its grade, what the assessment read and it never handed in (its superior's summary says
        # it), where no selection named it already (missing_at) and no deduction counts it.
        # A letter of its items' results keeps to them (四川's 评价确认 had listed a missed 中期检查 as an item).
        itemised_letter = any(p_item_name(p, r.unit_code) for r in mine) or u in itemised
        # One never graded, for it never handed in what the assessment read, is told that (浙江制造's enterprise whose
        # 送审稿 never came heard nothing after its 督办), where nothing else is said of it.
        # Chosen for missing one window, it is told the others it missed too (江西's 修水县 read only 未提交验收申请, its
        # city 未提交中期报告 as well).
        # Not a miss a step's own letter told as its rejection (长丰's 初验 "未提交…，视为放弃": its 验收结果 had come again
        # with the miss alone).
        unheard = [(item, text) for code, item, text in never.get(u, []) if (mine or passes or not rejected.get(u))
                   and not itemised_letter and code not in counted and code not in told_apart.get(u, ())
                   and not any(code == at and u in late for at, late in missing)]
        missed += said_by_item(unheard)
        # Where its 复验 (a decision on the follow-up its grade owed) left it, unless a rejection line says so.
        after = {r.unit_code: said for r in mine if (said := rechecked.get(r.unit_code)) and not any(  # its verdict, kept
            line.endswith(said.rpartition("；")[2]) for line in rejected.get(u, []))}  # consequence aside (列为重点监管对象；…)
        lines += [after[r.unit_code] for r in mine if r.unit_code in after and not p_item_name(p, r.unit_code)]
        lines += missed
        grounds = summons_grounds(p, stage.notify, [w for w, chose in met if u in chose], template == "summons.j2",
                                  mine[0] if mine else None, (grounds_of if template == "summons.j2" else rejected).get(u, []),
                                  [f"未按期报送{quoted(p.material(p.stage(code)))}" for code, late in missing if u in late])
        if not (lines or grounds or praise):
            continue
        score = "；".join(score_text(r) for r in mine if not unscored(p, r)) + place_among(p, mine, rows) or None
        # A unit with list items (or several results) gets one line per subject, its score
        # beside its grade: "某项目：良好（得分81.27）".
        named = (any(p_item_name(p, r.unit_code) for r in mine) or u in itemised or len(mine) > 1
                 or (len(lines) > 1 and not mine) or any(item for item, _ in unheard))  # "结果为：某项目：…" reads as a form
        result = "；".join(lines) or "—"
        # Scored, then taken off at a later step (湖州's upheld objection): its score and parts said before why.
        off = ([r for r in rows if r.unit_code == u] if u in gone and not mine and lines and template == "result.j2"
               else [])
        result = f"得分{score_text(off[0])}，{result}" if off else result
        if not named and len(lines) > 1 and score:
            # Its grade with its score, then what else it is told ("不合格（得分32.10）；未通过整改报告审核"):
            # a list had numbered the unit's own name as its first item.
            result, score = f"{lines[0]}（得分{score}）；" + "；".join(lines[1:]), None
        item_lines = ([scored_line(p, r, p_item_name(p, r.unit_code) or p.unit(u).name, after.get(r.unit_code))
                       for r in mine]
                      + passes + rejected.get(u, []) + missed) if named else []
        best = min((r.grade for r in mine), key=lambda g: order.index(g) if g in order else len(order), default=None)
        items = "、".join(n for n in (p_item_name(p, r.unit_code) for r in mine if r.grade == best) if n)
        # One assessment of several (each year of a plan) is named by itself: the subject line names
        # the round ("在2025年度质量工作督查评估中被评为A级", not the round's name and the year's run on).
        contest = occasion or p.round.name
        achievement = _achievement(p, stage.notify, praise, contest, items, best, mine,
                                   next((said for said, chose in picked_as if u in chose), None))
        # Valid from the year it was graded (its assessment's moment), as a later round's bar counts it.
        won_in = max((to_local(r.computed_at).year for r in mine if r.grade == best), default=None)
        best, achievement = passers.titled(p, u, best, contest) or (best, achievement)
        # The title the grade confers names the award in the subject (the achievement says it: :func:`_honoured_as`).
        conferred = p.assessment.title_of(best) if praise and best and p.assessment else None
        # A grade's benefits are told by its honour's letter, or by the result where none is sent (四川's 优秀).
        benefits, validity = (grade_terms(p, best, won_in, praised=template == "praise.j2", on=written_on(action))
                              if praise or not honoured
                              else ([], None))
        # A unit rejected at the first step is told that step's results, not the round's latest step's.
        mine_label, mine_heading = (step_heading(p, decided, u, action.category) if steps or u in outside else None
                                    ) or (label, heading)
        drafts += draft_letters([u], template, p, action, result_label=mine_label, heading=mine_heading, occasion=occasion,
                                later=later.get(u),
                                subject_name=name_beside(p.round.name, mine_heading),
                                result=result,
                                score=score, lines=item_lines, achievement=achievement, grounds="；".join(grounds) or "—",
                                remarks=result_remarks(p, mine, vacated, adjusted, sizes, facts), benefits=benefits,
                                validity=validity,
                                award=(items or conferred or best) if template == "award.j2" else None,
                                naming=conferring(stage.name) if template == "award.j2" else "",
                                best=grade_label(best) if best else None, best_items=bool(items),
                                quotas=quota_tasks(p, u, reached[u], year)
                                if u in reached else [], goals=goals, goals_area=quota_area(p) if goals else None,
                                parts=component_scores(p, (mine or off)[0], full_marks=True)
                                if len(mine or off) == 1 and template == "result.j2" else "",
                                unmet=unmet.get(mine[0].unit_code, []) if len(mine) == 1 else [],
                                unmet_from=unmet_from.get(mine[0].unit_code) if len(mine) == 1 else None,
                                grade_consequence=grade_consequence(p, mine[0].grade)
                                if len(mine) == 1 and mine[0].unit_code not in after else None,
                                consequence=p.assessment.consequence if p.assessment else None)
    return Outcome(action, drafts, note=f"{action.title}：通知 {len(drafts)} 条")


def _circulated(session, p: Programme, round_id, stage: Stage, category: str | None,
                by_unit: dict[str, list[ResultRow]], decided: dict[str, tuple[str, str, bool]],
                never: dict[str, list[tuple[str, str | None, str]]]) -> tuple[dict, dict, dict]:
    """(results, decisions, misses) a letter lists: all, or for a 通报 with ``lists`` (获奖名单) the results of those it
    selects alone (江西's 通报 had named to every city the firms their cities did not recommend)."""
    if stage.template != "circular" or stage.lists is None:
        return by_unit, decided, never
    keep = set(select_subjects(session, p, round_id, stage.lists, category))
    # A miss of the unit's own, or of an item on the list (not "“另一项目”：未提交整改报告" of an item left off).
    named = {(x.partition(":")[0], p_item_name(p, x) or None) for x in keep}
    units = {u for u, _ in named}
    # Decided, not scored (质量月's 优秀组织单位, chosen by the office), or a miss the list names (通报批评 of a 总结 never
    # sent): their lines too; a round without scores had sent its 通报 to nobody.
    return ({u: kept for u, rs in by_unit.items() if (kept := [r for r in rs if r.unit_code in keep])},
            {x: v for x, v in decided.items() if x in keep},
            {u: said for u, lines in never.items()
             if (said := [x for x in lines if (u, x[1]) in named or x[1] is None and u in units])})


def _passes(p: Programme, decided: Mapping[str, tuple[str, str, bool]], rejected: Mapping[str, list[str]],
            category: str | None, of: set[str] | None) -> dict[str, list[str]]:
    """Unit → what its subjects passed, said where no assessment grades them (``of``: those units; None: all, in a
    round decided before any assessment); a rejection has its own line."""
    passed: dict[str, list[str]] = defaultdict(list)
    for x, (said, _, yes) in decided.items() if of is None or of else ():
        unit = x.partition(":")[0]
        # One back after a rejection (复核 passed) has its line among the rejections already, written so.
        if yes and (of is None or unit in of) and in_category(p, x, category) and (
                f"{n}：{said}" if (n := p_item_name(p, x)) else said) not in rejected.get(unit, []):
            passed[unit].append(f"{quoted(n) + '：' if n else ''}{said}")
    return passed


def _outside(p: Programme, decided: Mapping[str, tuple[str, str, bool]], ungraded: list[str]) -> set[str]:
    """Of units with no result, those the assessment never grades: whose decisions are all off the way to it (a 中期评估
    beside the 验收 whose 初验 chooses who is scored), or outside those it grades by level or name."""
    toward: set[str] = set()
    # Back from the assessment's selection through the decisions and the windows they decide, and through whom each
    # window is owed by (四川's 评价确认申请, owed by the projects passing 揭榜书审核).
    if p.assessment is None:
        return set()
    ahead = [w.approved_at for w in (p.assessment.subjects, *p.assessment.subjects.any_of)]
    while ahead:
        code = ahead.pop()
        if code is None or code in toward or not p.has_stage(code):
            continue
        toward.add(code)
        stage = p.stage(code)
        ahead.append(stage.decides)
        ahead += [w.approved_at for w in ((stage.owed_by, *stage.owed_by.any_of) if stage.owed_by else ())]
    steps: dict[str, set[str]] = defaultdict(set)
    for x, (_, code, _) in decided.items():
        steps[x.partition(":")[0]].add(code)
    if toward:
        # Decided on after its results (审定, a 复验): graded, then refused; not one the assessment never graded.
        toward |= set(p.decisions_on_results) | p.rechecks
        return {u for u in ungraded if steps.get(u) and not steps[u] & toward}
    if p.assessment.subjects.dynamic:  # chosen by what they hand in: a unit that did not may be
        return set()                                          # one that never asked to be evaluated
    graded = {u.code for u in p.units_matching(p.assessment.subjects)}
    return {u for u in ungraded if steps.get(u) and u not in graded}


@dataclass
class _Passers:
    """An honour's selections by passing a step (``approved_at``), each with the units it chose, beside the grades its
    other selections name (``titles``)."""

    chose: list[tuple[Who, set[str]]]
    titles: list[str]

    def titled(self, p: Programme, unit: str, best: str | None, contest: str) -> tuple[str, str] | None:
        """(title, achievement) of a unit chosen for passing the follow-up its grade owed (整改后复查 after 限期整改): the
        best title the honour's grades name, not the grade that owed the follow-up ("被命名为限期整改" had been sent)."""
        if best is None or best in self.titles:
            return None
        via = next((w for w, chose in self.chose if unit in chose and _passed_after(p, w, best)), None)
        if via is None or via.approved_at is None:
            return None
        order = p.assessment.grade_names if p.assessment else []
        title = max(self.titles, key=lambda g: order.index(g) if g in order else -1)  # of several: the lowest, not 优秀
        return title, (f"在{contest}中通过{p.stage(via.approved_at).name}，"
                       + achievement_of(contest, "", _honoured_as(p, title)).removeprefix(f"在{contest}中"))


def _passers(session, p: Programme, round_id, action) -> _Passers:
    stage = p.stage(action.stage)
    alternatives = [stage.notify, *stage.notify.any_of] if stage.notify else []
    # Chosen by a step alone (those passing the 复验), the grades that confer a title name what it is named.
    titles = [g for w in alternatives for g in w.grades] or (
        [g.name for g in p.assessment.grades if g.title] if p.assessment else [])
    return _Passers([(w, {x.partition(":")[0] for x in select_subjects(session, p, round_id, w, action.category)})
                     for w in alternatives if titles and w.approved_at and not w.grades], titles)


# Steps a unit passes (通过验收), as an assessment stage names them before how it is scored.
_PASSED_STEPS = ("验收", "复验", "考核", "评估", "评价", "检查", "复核", "审核")


def _step_of(assessment: str) -> str:
    """The step an assessment stage is, without how it is scored (验收评分 → 验收, 考核打分 → 考核); ""
    where what is left is no step one passes (专家评审 is not "通过专家")."""
    step = re.sub(r"(评分|打分|评审|评定)$", "", assessment)
    return step if step.endswith(_PASSED_STEPS) else ""


def _passed_after(p: Programme, who: Who | None, grade: str) -> str | None:
    """The step a praise's selection chose by passing (``approved_at``, no grades), when that step
    decides a follow-up ``grade`` owed (复验 of an 整改报告 owed by 限期整改): what the unit achieved."""
    if who is None or who.grades or not who.approved_at:
        return None
    decides = p.stage(who.approved_at).decides
    owed = p.stage(decides).owed_by if decides else None
    return p.stage(who.approved_at).name if owed is not None and grade in owed.grades else None


def _achievement(p: Programme, notify: Who | None, praise: bool, contest: str, items: str, best: str | None,
                 mine: list[ResultRow], chosen: str | None) -> str:
    """What a unit is praised (or told) for, after "贵单位": its grade, its place, the step it passed, or
    what it was chosen as."""
    if praise and mine and notify and notify.rank and notify.rank.top and not notify.grades:
        # Praised for its place, not its grade: the first of 市辖区 at 76.34 had read "被评为C级，成绩突出".
        return place_achieved(p, contest, min(mine, key=lambda r: r.rank))
    if praise and best and (passed := _passed_after(p, notify, best)):
        # Praised for passing the step its grade sent it to: a 复验 passed after 限期整改 had read
        # "被评为限期整改，成绩突出".
        return f"在{contest}中通过{passed}"
    if praise and not best and chosen:
        return f"在{contest}中{chosen}"
    if best == "通过" and not items and mine:
        # A grade that says it passed passes the assessment's step: "被评为通过" had been written.
        step = _step_of(p.stage(mine[0].stage).name)
        return f"在{contest}中通过{step}" if step and not contest.endswith(step) else f"通过{contest}"
    return achievement_of(contest, items, _honoured_as(p, best) if praise else best) if best else f"在{contest}中表现突出"


def _honoured_as(p: Programme, grade: str) -> str:
    """What an honour's letter names a grade: the title it confers, where it is not the grade's name (长丰 had been
    "被命名为验收通过"), else the grade."""
    return (p.assessment.title_of(grade) if p.assessment else None) or grade


def _rejected(session, p: Programme, round_id, category: str | None
              ) -> tuple[dict[str, list[str]], dict[str, list[str]], set[str], dict[str, set[str]]]:
    """unit → the lines of its subjects a decision rejected, less the steps told by a letter of their
    own; unit → the grounds a summons names (every rejection); the units with a rejected list item; unit → the
    windows whose decision a step's own letter told it of (its miss is not said again).
    Where a later decision overtook a rejection (验收 failed, 复验 passed; 进展滞后, then 验收 passed),
    the line says where the subject stands now."""
    rejected: dict[str, list[str]] = defaultdict(list)
    grounds_of: dict[str, list[str]] = defaultdict(list)
    itemised: set[str] = set()
    told_apart: dict[str, set[str]] = defaultdict(set)
    apart = steps_told_alone(p)  # a step whose rejections have their own letter: not said again here
    later = latest_standing(session, p, round_id) if p.decisions_for_rejected or p.keeping_decisions else {}
    # A decision still to come on the rejected (the 整改复查 of a 现场检查's 不合格): said, not left to read as final.
    told = rejections(session, p, round_id)
    awaiting = awaiting_decisions(session, p, round_id, category) if told and p.decisions_for_rejected else {}
    for subject, (verdict, code) in told.items():
        if not in_category(p, subject, category):
            continue
        unit, name = subject.partition(":")[0], p_item_name(p, subject)
        now, at, yes = later.get(subject, (verdict, code, False))
        if p.stage_place.get(at, -1) > p.stage_place.get(code, -1):
            verdict, code = now, at
        # A request the unit chose to make, refused with no effect (a 复核申请, eliminates: false), is no ground for a
        # summons: 宜昌's D级 firms were summoned "被评为D级；未通过复核", as if for asking.
        window = p.reviewed_window(code)
        if not yes and (window is None or window.code not in p.requests):  # a summons is for what failed; the 约谈 its step brings is the summons itself
            ground = without_consequence(p, verdict, code) if any("约谈" in x for x in p.stage(code).consequences()) else verdict
            grounds_of[unit].append(f"{name + '：' if name else ''}{ground}")
        if code not in apart:
            rejected[unit].append(f"{name + '：' if name else ''}{verdict}"
                                  + (f"，{awaiting[subject]}结论另行告知" if subject in awaiting else ""))
            itemised.update([unit] if name else [])
        elif window is not None:
            told_apart[unit].add(window.code)
    return rejected, grounds_of, itemised, told_apart
