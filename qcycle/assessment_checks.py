"""Cross-field checks of a programme's assessment: its groups, grades, vetoes, quota parts, and whether those it
grades are told and decided on in an order that can hold (part of :func:`qcycle.checks.check_programme`)."""

from __future__ import annotations

from typing import Any

from qcycle.schema import Assessment, Programme, Stage, StageKind, Who

__all__ = ["check_assessment"]


def _groups(p: Programme, a: Assessment) -> list[tuple[str, str]]:
    """``units[].group`` is how ``rank_within: group`` ranks: every unit of a level some unit is
    grouped at needs one (else it would be ranked in a class of its own), and none is ignored."""
    grouped = {u.level for u in p.units if u.group}
    if a.rank_within != "group":
        return [(f"units[{i}].group", "group 只在 assessment.rank_within: group 时使用（按 group 分类排名）")
                for i, u in enumerate(p.units) if u.group][:1]
    if not grouped:
        return [("assessment.rank_within", "rank_within: group 按单位的 group 分类排名，但没有单位写 group（如 group: 市辖区）")]
    return [(f"units[{i}].group", f"单位 {u.code}（{u.name}）没有 group：同级别的单位按 group 分类排名，应写明其类别")
            for i, u in enumerate(p.units) if u.level in grouped and not u.group]


def _owed_by_grade(who: Who, grade: str) -> bool:
    """Whether a selection, or any part of it (an alternative, the units whose superiors it takes), picks by ``grade``."""
    return who.any_part(lambda part: grade in part.grades)


def check_assessment(p: Programme, unit_codes: set, levels: set) -> list[tuple[str, str]]:
    a = p.assessment
    assert a is not None
    out = _groups(p, a)
    # A grade that ends a subject's part owes it nothing after: a window owed by that grade would reach nobody.
    for i, s in enumerate(p.stages):
        if s.owed_by is not None and (ending := [g for g in sorted(a.ending_grades) if _owed_by_grade(s.owed_by, g)]):
            out.append((f"stages[{i}].owed_by.grades", (
                f"等次“{'、'.join(ending)}”写了 ends（结束其在本轮的参与），不再报送任何材料；"
                f"须由该等次报送的（如整改报告）应去掉该等次的 ends，或不由该等次报送")))
    weights = [c.weight for c in a.components if c.weight is not None]
    caps = [c.max_points for c in a.components if c.max_points is not None]
    if weights and caps:
        out.append(("assessment.components", "同一考核方案不能混用 weight 和 max_points"))
    elif weights and abs(sum(weights) - 1) > 1e-6:
        out.append(("assessment.components",
                    f"各部分权重之和应为 1，实际为 {sum(weights):g}"))
    elif caps and abs(sum(caps) - a.scale) > 1e-6:
        out.append(("assessment.components",
                    f"各部分分值上限之和应为满分 {a.scale:g}，实际为 {sum(caps):g}"))
    if any(c.source == "indicators" for c in a.components) and not a.indicators:
        out.append(("assessment.indicators", "有按指标计分的部分，但未定义 indicators"))
    for i, ind in enumerate(a.indicators):
        if ind.reported_by is not None and not p.has_unit(ind.reported_by):
            out.append((f"assessment.indicators[{i}].reported_by",
                        f"报送单位 {ind.reported_by!r} 不在 units 中（应为报送该指标数据的单位代码）"))
    # Those a selection by unit or level grades (none known from the file where it is by what happens).
    assessed = [] if a.subjects.dynamic else p.units_matching(a.subjects)
    if any(c.source == "quotas" for c in a.components) and p.quotas is None:
        out.append(("quotas", "有按任务数计分的部分，但未定义 quotas"))
    elif (quota_parts := [(i, c) for i, c in enumerate(a.components) if c.source == "quotas"]) and p.quotas is not None:
        out += _quota_parts(p, quota_parts)
        # 某市's 统计局 and 财政局, with no task, scored 0 of the 60 task points and were graded 差 (39.17 of
        # the 40 they could earn): an assessed unit without a task is refused, not scored as having failed it;
        # part by part, where parts name their tasks (one met in full had scored 40 of 70).
        for i, c in quota_parts:
            tasked = {u for action in p.quotas.actions if not c.actions or action.code in c.actions
                      for u, task in action.per_unit.items() if task}
            if untasked := [u for u in assessed if u.code not in tasked]:
                names = "、".join(u.name for u in untasked[:5]) + (f"等{len(untasked)}个单位" if len(untasked) > 5 else "")
                out.append((f"assessment.components[{i}]", (
                    f"“{c.name}”按任务完成计分，{names}没有分解任务（quotas.actions 的 per_unit 未列出），将得0分："
                    "请为其分解任务，或把它排除在 assessment.subjects 之外（不适用部分按其余部分折算尚不支持）")))
    parts = [c.code for c in a.components]
    dup = sorted({c for c in parts if parts.count(c) > 1})
    for code in dup:
        out.append(("assessment.components", f"考核部分代码 {code!r} 重复"))
    codes = {u.code for u in assessed}
    # An honour's check reads those the assessment may grade, by what happens too.
    out += _decided_before_graded(p, codes) + _honours_to_none_assessed(p, codes or p.reachable(a.subjects))
    return out


def _quota_parts(p: Programme, parts: list[tuple[int, Any]]) -> list[tuple[str, str]]:
    """Parts scored on the quotas name tasks that exist, and no task twice: 江西's 帮扶企业数 (40) and 解决难题数 (30),
    written as two parts, each scored the mean of both (吉州区 28.33 of 40 for firms where its rate gave 24.67)."""
    assert p.quotas is not None
    known = [x.code for x in p.quotas.actions]
    out: list[tuple[str, str]] = []
    seen: dict[str, tuple[str, bool]] = {}  # task → the part counting it, whether that counts all
    for i, c in parts:
        for j, code in enumerate(c.actions):
            if code not in known:
                out.append((f"assessment.components[{i}].actions[{j}]", f"任务 {code!r} 不在 quotas.actions 中（可选：{'、'.join(known)}）"))
        for code in c.actions or known:
            if code in seen:
                both = not c.actions and seen[code][1]
                out.append((f"assessment.components[{i}]", (
                    f"“{c.name}”与“{seen[code][0]}”都计{'全部任务' if both else f'任务 {code!r}'}：每项任务只能计入一个部分"
                    + ("" if c.actions else "（按任务分别计分时，用 actions 写明各部分计哪些任务）"))))
                break
            seen[code] = (c.name, not c.actions)
    return out


def _honours_to_none_assessed(p: Programme, assessed: set[str]) -> list[tuple[str, str]]:
    """An honour (通报表扬, 授奖) to units none of which is assessed or owes anything: each was told it
    was itself commended ("江城市人民政府：贵单位在…考核中表现突出"). A result letter to such units is a
    summary of their subordinates' results, or of all of them."""
    if not assessed:
        return []
    owing = {u for s in p.stages if s.owed_by is not None for u in p.reachable(s.owed_by)}
    out = []
    for i, s in enumerate(p.stages):
        if s.kind is not StageKind.notification or s.template not in ("praise", "award") or s.notify is None \
                or s.notify.dynamic:
            continue
        told = {u.code for u in p.units_matching(s.notify)}
        if told and not told & (assessed | owing):
            out.append((f"stages[{i}].notify", (
                f"“{s.name}”的{'通报表扬' if s.template == 'praise' else '授奖'}函写给所选单位本身，而它们都不是考核对象；"
                "要把结果告知上级单位，请用 template: result（收件单位不是考核对象时，函件列出其所辖单位或全部单位的结果）")))
    return out


def _decided_before_graded(p: Programme, assessed: set[str]) -> list[tuple[str, str]]:
    """A decision before the assessment whose refused units the assessment grades all the same: 某省's
    市级推荐 (for 优秀) refused 65 counties, who were graded (14 of them A, taking the places) and told only
    "未获推荐". Subjects chosen by level are graded whatever a decision said; the letters do not say it."""
    if not assessed or not p.assessment_stages:
        return []
    first = min(p.stage_place[code] for code in p.assessment_stages)

    def decides_on_assessed(s: Stage) -> bool:  # the window its chain of decisions starts from is theirs
        window = p.reviewed_window(s.code)
        return window is not None and window.owed_by is not None and bool(p.reachable(window.owed_by) & assessed)

    before = [s for s in p.stages if s.kind is StageKind.decision and p.stage_place[s.code] < first
              and s.code not in p.objection_decisions and s.code not in p.keeping_decisions
              and decides_on_assessed(s)]
    return [(f"stages[{p.stage_place[s.code]}]", (
        f"决定阶段“{s.name}”在考核之前，而考核对象按单位或级别选择（assessment.subjects）：未通过的对象照样评分、"
        f"占用等次名额，函件却只说未通过。请只考核通过的（assessment.subjects: {{approved_at: {s.code}}}），"
        "或把该决定放在考核之后（如审定拟评优秀的单位：among: {grades: [...]}）；推荐参评某一等次尚不支持"))
        for s in before]
