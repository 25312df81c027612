"""Others' results as one unit reads them: a summary of its subordinates' to a superior, every graded unit's in a
通报 or a 公示 of results, each subject by its grade, its 复验 and what it never handed in."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping

from sqlmodel import Session

from qcycle import crud
from qcycle.lifecycle.assessing import Counted
from qcycle.lifecycle.drafting import items_named
from qcycle.lifecycle.missed import by_item, owed_for_results
from qcycle.lifecycle.plan import kept_timetable
from qcycle.lifecycle.remarks import adjustment_remarks
from qcycle.lifecycle.standing import chosen_as, items_by_unit, not_passed, rejections, verdict
from qcycle.lifecycle.who import (
    NEGATIVE,
    eliminated,
    in_category,
    outstanding,
    owed_items,
    owers,
    p_item_name,
    results_of,
)
from qcycle.lifecycle.wording import (
    REFUSED_LATE,
    after_grade,
    belonging,
    rank_in_group,
    score_text,
    unscored,
    veto_reason,
)
from qcycle.models import ResultRow
from qcycle.render import quoted
from qcycle.schema import Programme, grade_label
from qcycle.timetable import Action

__all__ = ["gone_after_scoring", "missed_said", "owed_below", "placed_order", "published_results", "standing_lines",
           "summary_lines", "with_missing"]


def gone_after_scoring(session: Session, p: Programme, round_id: uuid.UUID) -> frozenset[str]:
    """Subjects rejected after scoring, told by their rejection instead of their grade; not one refused at a 复验
    its grade owed: the grade stands and the 复验 is said after it (绍兴's summary had dropped 不通过（得分30.83）)."""
    gone = eliminated(session, p, round_id)
    if gone and p.rechecks:
        gone -= {s for s, (_, code) in rejections(session, p, round_id).items() if code in p.rechecks}
    return gone


def standing_lines(p: Programme, decided: Mapping[str, tuple[str, str, bool]], category: str | None,
                   by_unit: dict[str, list[ResultRow]], never: Mapping[str, list[tuple[str, str | None, str]]],
                   assessed: str | None, public: bool = False) -> dict[str, list[tuple[str | None, str]]]:
    """unit → (item, how it stands) for a summary to a superior: each subject decided and not graded by
    its last decision (验收 failed, then 复验 passed: "通过复验"), unless it passed before the assessment
    and the unit never handed in what the assessment read (a project that never filed its 验收申请 had
    read "通过中期评估"). A graded one's decision on the follow-up its grade owed (限期整改, then "通过复验") is
    said beside its grade by the caller."""
    graded = {r.unit_code: r for rs in by_unit.values() for r in rs}
    out: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    place = p.stage_place
    for subject, (said, code, yes) in decided.items():
        if not in_category(p, subject, category):
            continue
        if subject in graded:  # its 复验's outcome goes beside its grade (summary_lines)
            continue
        # Not chosen at a step that chooses a few (确定报送及时、活动扎实的区（县）) is no standing to publish (``public``: a
        # 通报 to all had named five counties "未被确定为…"); a superior's own report still says it of its units, and what a
        # rule decided there (未提交活动总结，通报批评) is said.
        step = p.stage(code).name
        if public and not yes and chosen_as(step) is not None and said.startswith(not_passed(step)):
            continue
        # A rejection before it is where it stands still (绍兴's project 撤销试点 at its 复评 had read only 未提交…).
        if yes and subject.partition(":")[0] in never and place.get(code, -1) < place.get(assessed or "", -1):
            continue
        out[subject.partition(":")[0]].append((p_item_name(p, subject), said))
    return out


def placed_order(p: Programme, scored: Mapping[str, ResultRow]) -> Callable[[str], tuple]:
    """A sort key for subjects listed to a superior: by ranking group (a class, a category; in the
    file's order), then place, as ranks restart in each; the unscored last, in the file's order. A
    市政府 had read counties and departments interleaved, "良好" numbered above "优秀"."""
    place = p.unit_place
    groups: dict[str, int] = {}
    for u in p.units:
        groups.setdefault(p.rank_group(u.code), len(groups))
    categories = {c.code: i for i, c in enumerate(p.categories)}

    def order(s: str) -> tuple:
        r = scored.get(s)
        if r is None:
            return (1, 0, 0, 0, place.get(s.partition(":")[0], 0))
        group, category = p.rank_key(s, r.stage)
        return (0, groups.get(group, 0), categories.get(category or "", -1), r.rank or 10**6,
                place.get(s.partition(":")[0], 0))

    return order


def published_results(session: Session, p: Programme, round_id: uuid.UUID, category: str | None
                      ) -> tuple[list[str], bool]:
    """(lines, whether all were graded) of every graded unit's result, in rank order, as a 通报 lists them
    (``circular.j2``'s lines): what a 公示 of results publishes. 长兴's 结果公示 invited objections to results it never
    showed."""
    assessed = crud.latest_results_stage(session=session, round_id=round_id)
    gone = gone_after_scoring(session, p, round_id)
    by_unit: dict[str, list[ResultRow]] = defaultdict(list)
    for r in results_of(session, round_id, assessed) if assessed else []:
        if in_category(p, r.unit_code, category) and r.unit_code not in gone:
            by_unit[r.unit_code.partition(":")[0]].append(r)
    # Those the rule decided out for never handing in (视为自动放弃，撤销称号) are results of the round too: 示范县复核's 公示
    # listed 11 of 16, and the five that lost their title first read it in the 通报, with no 公示 to object in.
    graded = {r.unit_code for rs in by_unit.values() for r in rs}
    standing: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    for subject, stage, by, note in crud.decisions_with_outcome(session=session, round_id=round_id, outcomes=NEGATIVE):
        if by == "rule:missing" and p.has_stage(stage) and in_category(p, subject, category) and subject not in graded:
            standing[subject.partition(":")[0]].append((p_item_name(p, subject), verdict(p, stage, subject, False, by, note)))
    _, lines, graded_all = summary_lines(p, [""], by_unit, standing, {}, everyone=True).get("", ("", [], True))
    return lines, graded_all


def summary_lines(p: Programme, units: list[str], by_unit: dict[str, list[ResultRow]],
                  standing: dict[str, list[tuple[str | None, str]]], never: Mapping[str, list[tuple[str, str | None, str]]],
                  own: Collection[str] = (), everyone: bool = False,
                  adjusted: Mapping[str, Counted] | None = None, rechecked: Mapping[str, str] | None = None,
                  within: Collection[str] | None = None) -> dict[str, tuple[str, list[str], bool]]:
    """unit → (whose results, the lines, whether all of them were graded: 参评单位, or only 单位 where some
    were refused or never applied) for each unit told the results that has none of its own:
    its subordinates' at any depth ("辖区内"), those graded first in rank order, then the others
    decided, by their last decision ("通过复验" after a failed 验收), in the file's order; all of them
    for a unit with no subordinates at all (the 市政府 the office reports to). A unit whose
    subordinates took no part is left out, and so is one with news of its ``own`` (chosen for a hand-in
    it never made: 临江's 市场监管局 had been told its districts' results, not that it was criticised).
    ``everyone``: a 通报, all of them to every unit, its own among them. ``adjusted``: the bonus and
    deduction items each total holds, said after its grade as its own letter says them (安庆's 通报 read
    "已扣6分" and named one report of the three it was for). ``rechecked``: where a graded subject's 复验 left it,
    said beside its grade. ``within``: the units an assessment may grade, where these are its results: no other is
    listed among them (a 通报 of 区县局's 考核结果 had numbered 8 firms' rectifications after the 5 bureaus, "共13个单位")."""
    rechecked = rechecked or {}
    order = placed_order(p, {r.unit_code: r for rs in by_unit.values() for r in rs})
    told = sorted({u for u in (*standing, *never) if within is None or u in within} | set(by_unit),
                  key=lambda u: min((order(r.unit_code) for r in by_unit.get(u, [])), default=order(u)))

    def line(u: str) -> str:  # "甲公司：合格（得分81.00）", "乙公司“项目一”：优秀（得分92.00）；“项目二”：未通过…"
        # A veto said beside the grade: the 市政府 read "不合格（得分91.92，含加分5分）" of the second-best
        # score, the reason only in the department's own letter.
        # Where the items a total holds follow, the total alone ("含加分2分；创新工作2项，加2分" said it twice).
        # Ranked by level or group (分类考核), a line says where in its own (镇 and 街道 had read as one list of 12).
        said = [(p_item_name(p, r.unit_code), f"{grade_label(r.grade)}（"
                 + "；".join(x for x in ("" if unscored(p, r) else f"得分{f'{r.total:.2f}' if items else score_text(r)}"
                                         + rank_in_group(p, r),
                                         veto_reason(p, r.veto) if r.veto else "") if x) + "）"
                 + after_grade(p, r, rechecked.get(r.unit_code))
                 + "".join(f"；{x}" for x in items))
                for r in sorted(by_unit.get(u, []), key=lambda r: r.unit_code)
                for items in [adjustment_remarks(p, r, adjusted)]] + standing.get(u, [])
        # A miss not said again where its decision says it (视为不合格), after a failure it follows, or beside the grade
        # whose recheck it failed ("限期整改（得分80.95）；未提交整改报告，不予命名；未提交整改报告" had been sent).
        for _, item, text in never.get(u, []):
            if any(i == item and text in t for i, t in said):
                continue
            # Refused as late after the rule had decided its miss: one line ("未提交复查申请，视为自动放弃…；复查申请逾期提交，
            # 不予受理" had said both of one unit).
            missed = f"未提交{text.removesuffix(REFUSED_LATE)}" if text.endswith(REFUSED_LATE) else None
            at = next((n for n, (i, t) in enumerate(said) if missed and i == item
                       and (t.startswith(missed) or f"；{missed}" in t)), None)
            if at is None:
                said.append((item, text))
            else:
                said[at] = (item, said[at][1].replace(missed or "", text, 1))
        if not any(item for item, _ in said):
            return f"{p.unit(u).name}：" + "；".join(text for _, text in said)
        # What the unit itself never handed in goes before its items': after them it read as the last item's
        # (a 通报 told all that a project whose report was on file had never sent it). An item is named once, what it
        # missed after its grade ("“食品中铅的测定”：不满意（…）；未提交整改报告").
        said = [(None, text) for item, text in said if not item] + [(item, "；".join(texts))
                                                                    for item, texts in by_item(said).items() if item]
        # A line of the unit's own goes first (its name and "："), then its items' ("“项目”：…").
        return (p.unit(u).name + ("" if said[0][0] else "：")
                + "；".join(f"{quoted(item)}：{text}" if item else text for item, text in said))

    lines = {x: line(x) for x in told}
    # A stage telling some of the subjects copies their superiors on what it is about: the subjects graded, those it
    # tells, those it chose for a miss; not others decided at earlier steps (the cities' copy of the 验收结果 had listed
    # again the first-year counties told their 书面审查 in January). One telling none of them copies all.
    addressed = set(units)
    here = [x for x in told if x in addressed or x in by_unit or x in own] if not addressed.isdisjoint(told) else []
    below = p.under_each(here or told)
    out: dict[str, tuple[str, list[str], bool]] = {}
    if everyone:
        return {u: ("全部", list(lines.values()), all(x in by_unit for x in lines)) for u in units} if lines else {}
    for u in units:
        if u in by_unit or u in standing or u in own:
            continue
        if p.has_subordinates(u):
            # It recommended or reviewed them itself: "未获推荐", not its own name, nor its own decision told back to it
            # as a result ("未获贵单位推荐").
            name = p.unit(u).name
            mine = [lines[x].replace(f"未获{name}", "未获").replace(f"未通过{name}", "未通过")
                    for x in below.get(u, [])]
            if mine:
                out[u] = (belonging(p, below.get(u, [])), mine, all(x in by_unit for x in below.get(u, [])))
        elif told and u not in p.participants:  # a county that did not hand in is not told its peers' results
            out[u] = ("全部", list(lines.values()), all(x in by_unit for x in lines))
    return out


def with_missing(p: Programme, never: dict[str, list[tuple[str, str | None, str]]],
                 missing: list[tuple[str, dict[str, list[str]]]]) -> dict[str, list[tuple[str, str | None, str]]]:
    """``never`` (unit → (window, item, "未提交…")) with what the units a stage chose for a hand-in they never made
    (``missing_at``: :func:`qcycle.lifecycle.standing.missing_in`) never handed in: each is told so, and so is its
    superior (青山市, asked to urge its two counties, heard nothing of them when the others' results came)."""
    out = {u: list(lines) for u, lines in never.items()}
    for u, lines in missed_said(p, missing).items():
        out.setdefault(u, []).extend(x for x in lines if x not in out[u])
    return out


def missed_said(p: Programme, missing: list[tuple[str, dict[str, list[str]]]]
                ) -> dict[str, list[tuple[str, str | None, str]]]:
    """unit → (window, item or None, "未提交…") for what :func:`qcycle.lifecycle.standing.missing_in` found missed: each
    item it owed there, or the unit's own hand-in."""
    out: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
    for code, late in missing:
        for u, owed in late.items():
            items: list[str | None] = list(owed) or [None]
            out[u] += [(code, n, f"未提交{p.material(p.stage(code))}") for n in items]
    return dict(out)


def owed_below(session: Session, p: Programme, round_id: uuid.UUID, notice: Action, assessed: str | None
               ) -> dict[str, list[dict]]:
    """Superior → what its units owe next by the results a summary lists (each: ``item``, ``deadline``, ``rolled``,
    ``units`` by name, ``told``: whether its order goes out by the summary's day): a follow-up owed by grade or place,
    due after the ``notice``; not where a grade's own ``consequence`` names it beside each line. A 街道所 had read its
    enterprises' C级 and D级 and not that they owed an 整改方案 by 7月8日, sent to them the same day."""
    if assessed is None or p.assessment is None:
        return {}
    # A follow-up, or a window (补测 of the 不满意 projects) owed by the results: 能力验证's counties were told of the
    # 整改报告 and not of the 补测结果 the same laboratories owed.
    followups = owed_for_results(p, assessed)
    if not followups:
        return {}
    # Said already beside a unit's line where its grade's consequence names it (须…报送整改报告); one about something
    # else (每年检查3至4次) does not say it.
    said = {g.name: g.consequence for g in p.assessment.grades if g.consequence}
    grade_of = {r.unit_code: r.grade for r in results_of(session, round_id, assessed)} if said else {}
    out: dict[str, list[dict]] = defaultdict(list)
    actions = kept_timetable(session, p, round_id).actions
    for stage in followups:
        opens = next((a for a in actions if a.stage == stage.code and a.action in ("followup_open", "window_open")
                      and a.category in (None, notice.category) and a.deadline is not None and a.deadline > notice.at), None)
        if opens is None:
            continue
        # Said where the consequence asks for it ("须于1个月内报送整改方案"), not where it only names the word (a stage named
        # 限期整改 under "限期整改6个月，期满复验" had left the cities' summaries silent about it).
        owing = [u for u in owers(session, p, round_id, stage, notice.category)
                 if not any(f"{verb}{p.material(stage)}" in said.get(grade_of.get(u, ""), "") for verb in ("报送", "提交", "上报"))]
        # Owed item by item (a lab's 不满意 项目), each unit with its items: a lab owing for one item and another report
        # for the other had been named twice, which for which untold.
        items = items_by_unit(session, p, round_id, stage.owed_by, notice.category) if stage.owed_by else {}
        if opens.at <= notice.at:
            # Open by the summary's day: what a unit has handed in since is not urged again (a county that sent its
            # 整改方案 before the results went out was still listed as owing it).
            left = set(outstanding(session, p, round_id, opens))
            owing = [u for u in owing if u in left]
            if items:
                still = owed_items(session, p, round_id, opens)
                items = {u: [items_named(p, u, still[u])] if u in still else items[u] for u in owing if u in items}
        for superior, units in p.under_each(owing).items():
            entry = {"item": p.material(stage), "deadline": opens.deadline, "rolled": opens.detail.get("rolled"),
                     "units": [p.unit(u).name + (f"（{'、'.join(items[u])}）" if items.get(u) else "") for u in units],
                     "told": opens.at <= notice.at, "more": []}
            # The same units owing two (整改报告 and 补测结果): named once, each with its day ("须于7月5日前报送整改报告、
            # 于7月31日前报送补测结果"), not the list twice.
            same = next((e for e in out[superior] if e["units"] == entry["units"] and e["told"] == entry["told"]), None)
            if same is not None:
                same["more"].append(entry)
            else:
                out[superior].append(entry)
    return dict(out)
