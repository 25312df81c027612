"""Checks of whom a programme's letters reach and what they would say: the notices ``validate`` prints
(a unit told its own standing in a group its peers read, an office assessing itself, an award's two periods)
and one error (a list reported downward). :mod:`qcycle.checks` holds the relations between fields."""

from __future__ import annotations

from qcycle.schema import Programme, StageKind, Who

__all__ = ["private_in_groups", "rejections_untold", "report_downward", "self_assessed", "steps_unnamed", "title_untold",
           "to_itself", "validity_apart"]


def private_in_groups(p: Programme) -> list[tuple[str, str]]:
    """Notices, not errors: units whose every channel is one their peers share, so that what is
    told to them alone (results, 督办, 整改) is read by the whole group (榆阳's departments each read
    every other's grade in their DingTalk group)."""
    by_channel: dict[str, list[int]] = {}
    for i, u in enumerate(p.units):
        if u.channels and all(c in p.group_channels for c in u.channels):
            by_channel.setdefault(u.channels[0], []).append(i)
    return [(f"units[{at[0]}].channels",
             (f"{len(at)} 个单位只有共用渠道 {channel}（{'、'.join(p.units[i].name for i in at[:3])}"
             f"{'等' if len(at) > 3 else ''}）：考核结果、督办、整改通知等只告知本单位的函件也将发到该渠道，"
             "同一渠道的其他单位都能看到；如需单独告知，请为这些单位加上 email 等各自的渠道"))
            for channel, at in by_channel.items()]


def self_assessed(p: Programme) -> list[tuple[str, str]]:
    """Notices: the unit that signs an assessment's result letters is itself among the units it
    assesses, so it is graded and never told (an office writes no letter to itself): 榆阳's 市场监管局
    organised the 督查评估 and was graded B by it. Only a selection by ``units``/``levels`` is read:
    one by what happens in the round cannot be judged from the file."""
    who = p.assessment.subjects if p.assessment is not None else None
    if who is None or not (who.units or who.levels):
        return []
    assessed = {u.code for u in p.units_matching(who)}
    return [(f"stages[{i}].sender" if s.sender else "round.issuer",
             (f"{p.unit(p.sender(s.code)).name}签发“{s.name}”，又在考核对象（assessment.subjects）之列："
             "本单位的考核结果不会告知本单位（不给自己发函）；组织考核的单位如不应被考核，请把它移出考核对象"))
            for i, s in enumerate(p.stages)
            if s.kind is StageKind.notification and s.template == "result" and p.sender(s.code) in assessed]


def validity_apart(p: Programme) -> list[tuple[str, str]]:
    """Notices: an award valid N years whose winners may apply again after another number of
    years (某省's 命名 valid 5 years, its winners barred 3): one of the two letters is wrong."""
    valid = {g.name: g.valid_years for g in (p.assessment.grades if p.assessment else []) if g.valid_years}
    out = []
    for i, s in enumerate(p.stages):
        rule = s.eligibility.not_awarded if s.eligibility is not None else None
        if rule is None or rule.programme not in (None, p.round.programme):
            continue
        for grade in rule.grades:
            if grade in valid and valid[grade] != rule.years:
                out.append((f"stages[{i}].eligibility.not_awarded.years",
                            (f"“{grade}”有效期 {valid[grade]} 年（valid_years），再次申报的限制却是获奖满 {rule.years} 年"
                             "（not_awarded.years）：授奖通知与申报通知的说法不一致，请核对")))
    return out


def title_untold(p: Programme) -> list[tuple[str, str]]:
    """Notices: a naming stage (``template: award``, named 命名…) whose graded units would be named by their grade, which
    its name does not hold (安徽's "命名质量强县示范县" of the grade 验收通过 sent "被命名为验收通过"): a ``title`` is wanted."""
    if p.assessment is None:
        return []
    out = []
    for i, s in enumerate(p.stages):
        if s.template != "award" or not s.name.startswith("命名") or s.notify is None:
            continue
        for name in dict.fromkeys(g for w in (s.notify, *s.notify.any_of) for g in w.grades):
            if p.assessment.title_of(name) is None and name not in s.name:
                out.append((f"stages[{i}].name",
                            (f"“{s.name}”将写“被命名为{name}”（等次名称）：如该等次授予的称号另有名称，请在等次“{name}”上写 "
                             f"title（如 title: {s.name.removeprefix('命名')}）")))
    return out


def report_downward(p: Programme) -> list[tuple[str, str]]:
    """A ``report`` (报送名单，特此报告) addressed to units under its sender: 服务站's officer had tried it for a 通报 to
    the 区县局 and each read "现将…报送如下…特此报告" from its own superior."""
    out = []
    for i, s in enumerate(p.stages):
        if s.kind is not StageKind.notification or s.template != "report" or s.notify is None or s.notify.dynamic:
            continue
        sender = p.sender(s.code)
        below = [u.name for u in p.units_matching(s.notify) if sender in p.ancestors(u.code)]
        if below:
            out.append((f"stages[{i}].notify", (
                f"“{s.name}”（template: report）是向上级报送名单（“特此报告”），而收件单位{'、'.join(below[:3])}"
                f"{'等' if len(below) > 3 else ''}是发文单位的下级；向下级通报结果请用 template: circular")))
    return out


def to_itself(p: Programme) -> list[tuple[str, str]]:
    """A stage whose letters could reach only their own sender (an office writes no letter to itself): 湖州's
    报送 of its 推荐名单 to the province, signed by the province, sent nothing and validate had said 通过."""
    out = []
    for i, s in enumerate(p.stages):
        if s.notify is None or s.notify.dynamic or s.kind not in (StageKind.notification, StageKind.publication):
            continue
        sender = p.sender(s.code)
        if (reached := {u.code for u in p.units_matching(s.notify)}) and reached <= {sender}:
            out.append((f"stages[{i}].notify", (
                f"“{s.name}”只发给{p.unit(sender).name}，而它就是发文单位（{'sender' if s.sender else 'round.issuer'}），"
                "不会发出任何函件：请改正收件单位或发文单位")))
    return out


def rejections_untold(p: Programme) -> list[tuple[str, str]]:
    """Notices: a decision whose 不同意 no letter can reach (QC小组's 审定获奖名单 dropped a winner its 公示 had named,
    and the winner heard nothing). A rejection is told by a letter to those it rejected (``rejected_at``, or a
    follow-up they then owe), by a 公示 of those it approved (those left off are told so), or by a result or 通报 after
    it (in the file's order) to a selection that keeps the rejected (``with_rejected``, or units and levels that hand
    something in)."""
    applicants = {u.code for s in p.stages if s.owed_by is not None and not s.owed_by.dynamic
                  for u in p.units_matching(s.owed_by)}
    told: set[str] = set()
    told_after: list[int] = []  # places of the results and 通报 that reach the rejected
    for s in p.stages:
        owed = [s.owed_by, *s.owed_by.any_of] if s.owed_by is not None else []
        told |= {w.rejected_at for w in owed if w.rejected_at}  # a follow-up owed by the rejected tells them
        for w in [s.notify, *s.notify.any_of] if s.notify is not None else []:
            told |= {w.rejected_at} if w.rejected_at else set()
            told |= {w.approved_at} if w.approved_at and s.kind is StageKind.notice else set()
            if s.kind is StageKind.notification and (s.template or "result") in ("result", "circular") and (
                    w.with_rejected or not w.dynamic and applicants & {u.code for u in p.units_matching(w)}):
                told_after.append(p.stage_place[s.code])
    return [(f"stages[{i}]", (f"决定阶段“{s.name}”不同意的对象不会收到任何函件：请加一个告知其结果的阶段（template: step_result，"
                              f"notify: {{rejected_at: {s.code}}}），或在其后的结果通知的选择中写 with_rejected: true"))
            for i, s in enumerate(p.stages) if s.kind is StageKind.decision and s.code not in p.objection_decisions
            and s.code not in told and not any(at > i for at in told_after)]


def steps_unnamed(p: Programme) -> list[tuple[str, str]]:
    """Errors: a ``step_result`` whose selection names no step (``approved_at``/``rejected_at``, or the superiors of
    those): it tells each unit what a step decided of it, and with none named it sent nothing while the plan listed it
    (a 移出名单告知 to those ``missing_at`` a 年度报告)."""
    def names_a_step(who: Who | None) -> bool:
        return who is not None and who.any_part(lambda w: bool(w.approved_at or w.rejected_at))
    return [(f"stages[{i}].notify", (
        f"“{s.name}”（template: step_result）告知某一决定环节的结果，notify 须用 rejected_at 或 approved_at 指明环节；"
        "告知未按期提交的单位用 overdue 提醒或由决定阶段的 rejects_missing 作出决定后再告知"))
        for i, s in enumerate(p.stages)
        if s.kind is StageKind.notification and s.template == "step_result" and not names_a_step(s.notify)]
