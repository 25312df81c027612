"""Cross-field checks of a programme: relations the schema of one field cannot see (codes that
must exist, references between stages, windows in order, who will be written to and how).

:func:`check_programme` returns (field path, message) pairs; :mod:`qcycle.loader` turns them
into problems with the file and line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from qcycle.assessment_checks import check_assessment
from qcycle.letter_checks import report_downward, steps_unnamed, to_itself
from qcycle.schema import Programme, Stage, StageKind, SubmissionKind, Who

__all__ = ["check_programme"]



def _duplicates(codes: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for code in codes:
        (dup if code in seen else seen).add(code)
    return dup


def check_programme(p: Programme) -> list[tuple[str, str]]:
    """Relations between parts of a programme; returns (field path, message) pairs."""
    return _Relations(p).check() + report_downward(p) + to_itself(p) + steps_unnamed(p)


class _Relations:
    """The cross-field checks of :func:`check_programme`, one method per part of the file, in
    the order the problems are reported."""

    def __init__(self, p: Programme) -> None:
        self.p = p
        self.out: list[tuple[str, str]] = []
        self.unit_codes = {u.code for u in p.units}
        self.category_codes = {c.code for c in p.categories}
        self.stage_codes = {s.code for s in p.stages}
        self.stage_kinds = {s.code: s.kind for s in p.stages}
        self.levels = {u.level for u in p.units}
        self.grade_names = p.assessment.grade_names if p.assessment is not None else []

    def check(self) -> list[tuple[str, str]]:
        self.duplicates()
        self.units()
        self.out.extend(_cycles(self.p))
        self.submission_kinds()
        self.policies()
        for si, s in enumerate(self.p.stages):
            self.stage(si, s)
        self.assessment_and_quotas()
        self.receivers()
        return self.out

    def dup(self, kind: str, path: str, codes: list[str], field: str = "code", noun: str = "代码", hint: str = "") -> None:
        for code in _duplicates(codes):
            index = codes.index(code, codes.index(code) + 1)
            self.out.append((f"{path}[{index}].{field}", f"{kind}{noun} {code!r} 重复（应唯一{hint}）"))

    def duplicates(self) -> None:
        p = self.p
        self.dup("单位", "units", [u.code for u in p.units])
        self.dup("类别", "categories", [c.code for c in p.categories])
        self.dup("阶段", "stages", [s.code for s in p.stages])
        self.dup("阶段", "stages", [s.name for s in p.stages], "name", "名称",  # letters and the plan call stages by name
                 "；函件和日程以名称称呼阶段，如活动“现场核查”与决定“现场检查”")
        self.dup("渠道", "channels", [c.name for c in p.channels], "name")
        item_codes: set[str] = set()
        for ci, c in enumerate(p.categories):
            for ii, item in enumerate(c.items):
                if item.code in item_codes:
                    self.out.append((f"categories[{ci}].items[{ii}].code", f"项目代码 {item.code!r} 重复（应唯一）"))
                item_codes.add(item.code)

    def units(self) -> None:
        p, out = self.p, self.out
        if p.round.issuer not in self.unit_codes:
            out.append(("round.issuer", f"发布单位 {p.round.issuer!r} 不在 units 中（应为已定义的单位代码）"))
        channel_names = {c.name for c in p.channels}
        for ui, u in enumerate(p.units):
            if u.parent is not None and u.parent not in self.unit_codes:
                out.append((f"units[{ui}].parent", f"上级单位 {u.parent!r} 未定义（应为 units 中的代码）"))
            for k, name in enumerate(u.channels):
                if name not in channel_names:
                    out.append((f"units[{ui}].channels[{k}]", f"渠道 {name!r} 未定义（应为 channels 中的 name）"))
            if any(_channel(p, n) == "email" for n in u.channels) and not u.email:
                out.append((f"units[{ui}].email", f"单位 {u.code} 使用邮件渠道但未填写 email 地址"))

    def stage_ref(self, path: str, code: str | None, kinds: tuple[StageKind, ...], what: str) -> None:
        if code is None:
            return
        if code not in self.stage_kinds:
            self.out.append((path, f"阶段 {code!r} 未定义（应为 stages 中的代码）"))
        elif self.stage_kinds[code] not in kinds:
            allowed = "、".join(s.code for s in self.p.stages if s.kind in kinds) or "无"
            self.out.append((path, f"阶段 {code!r} 不是{what}（可选：{allowed}）"))

    def who(self, path: str, who: Who | None) -> None:
        if who is None:
            return
        out = self.out
        for k, code in enumerate(who.units):
            if code not in self.unit_codes:
                out.append((f"{path}.units[{k}]", f"单位 {code!r} 未定义（应为 units 中的代码）"))
        for k, level in enumerate(who.levels):
            if level not in self.levels:
                out.append((f"{path}.levels[{k}]", f"没有级别为 {level!r} 的单位（现有：{'、'.join(sorted(self.levels))}）"))
        windows = (StageKind.submission, StageKind.followup)
        self.stage_ref(f"{path}.submitted_at", who.submitted_at, windows, "受理阶段")
        self.stage_ref(f"{path}.missing_at", who.missing_at, windows, "受理阶段")
        self.stage_ref(f"{path}.approved_at", who.approved_at, (StageKind.decision,), "决定阶段（decision）")
        self.stage_ref(f"{path}.rejected_at", who.rejected_at, (StageKind.decision,), "决定阶段（decision）")
        self.stage_ref(f"{path}.assessed_at", who.assessed_at, (StageKind.assessment,), "考核阶段（assessment）")
        if (who.grades or who.rank) and self.p.assessment is None:
            out.append((path, "按等次或排名选择需要 assessment（考核方案）"))
        for k, grade in enumerate(who.grades):
            if self.grade_names and grade not in self.grade_names:
                out.append((f"{path}.grades[{k}]",
                            f"等次 {grade!r} 不在 assessment.grades 中（可选：{'、'.join(self.grade_names)}）"))
        for k, alt in enumerate(who.any_of):
            self.who(f"{path}.any_of[{k}]", alt)
        if who.superiors_of is not None:
            self.who(f"{path}.superiors_of", who.superiors_of)

    def submission_kinds(self) -> None:
        p, out = self.p, self.out
        builtins = {k.value for k in SubmissionKind}
        known_kinds = builtins | set(p.submission_kinds)
        for si, s in enumerate(p.stages):
            if s.submission == SubmissionKind.score:
                # Scores are kept under the subject scored, never its reviewer: a window of them owed by the
                # 县局 that score was never handed in, and they were chased (督办) for scores already in.
                out.append((f"stages[{si}].submission",
                            ("评审打分（score）不是应交材料，不设受理阶段：评分记录随考核阶段导入"
                             "（qcycle import，种类 score），考核时读取；如需提前通知评分单位按时评分，"
                             "可设一个 kind: event 的阶段（notify 评分单位，notify_ahead 提前天数）")))
            elif s.submission is not None and s.submission not in known_kinds:
                builtin = "、".join(k.value for k in SubmissionKind if k.value != "score")
                out.append((f"stages[{si}].submission",
                            (f"材料种类 {s.submission!r} 未定义（内置：{builtin}；"
                             f"其他种类请在 submission_kinds 中声明，如 target_filing: {{title: 目标备案}}）")))
            if s.kind is StageKind.decision:
                self.stage_ref(f"stages[{si}].decides", s.decides,
                               (StageKind.submission, StageKind.followup, StageKind.decision, StageKind.assessment,
                                StageKind.event), "可决定的阶段（受理、活动、决定或考核）")
                if s.decides == s.code:
                    out.append((f"stages[{si}].decides", "不能对本阶段自身作决定"))
                window = p.stage(s.decides) if s.decides and p.has_stage(s.decides) else None
                if window is not None and window.kind is StageKind.event and window.notify is None:
                    out.append((f"stages[{si}].decides", (f"活动 {window.code!r} 没有 notify（参加单位）：对活动作决定"
                                                          "（现场检查的结论）须先写明哪些单位参加")))
                if s.rejects_missing and (window is None or window.kind not in (StageKind.submission, StageKind.followup)
                                          or window.voluntary or window.owed_by is None):
                    out.append((f"stages[{si}].rejects_missing",
                                "rejects_missing（未报送的视为不通过）只用于对应交材料阶段（非自愿申报、有 owed_by）的决定"))
                self.reviewed_by(si, s)
        for code in p.submission_kinds:
            if code in builtins:
                out.append((f"submission_kinds.{code}", f"{code!r} 是内置材料种类，无需声明"))

    def reviewed_by(self, si: int, s: Stage) -> None:
        """Who reviews: each applicant's parent, or its ancestor at a level; the applicants of a
        window, directly (县级初审) or after the decisions before (市级推荐 after the 县级初审)."""
        p, by = self.p, s.reviewed_by
        if by is None:
            return
        if by != "parent" and by not in self.levels:
            levels = "、".join(sorted(self.levels))
            self.out.append((f"stages[{si}].reviewed_by", f"应为 parent（各申报单位的上级单位）或单位级别（现有：{levels}），不是 {by!r}"))
        window = p.reviewed_window(s.code) if s.decides and p.has_stage(s.decides) else None
        if window is not None and window.owed_by is not None and by in window.owed_by.levels:
            self.out.append((f"stages[{si}].reviewed_by", f"{by!r} 是申报单位自己的级别：应为其上级单位的级别或 parent"))
        target = p.stage(s.decides) if s.decides and p.has_stage(s.decides) else None
        if target is not None and (target.kind not in (StageKind.submission, StageKind.followup, StageKind.decision)
                                   or p.reviewed_window(s.code) is None or target.submission == "objection"):
            self.out.append((f"stages[{si}].reviewed_by", (
                "reviewed_by 只用于对申报或整改报告作决定的 decision 阶段（decides 为受理、整改阶段，或为对其作决定的 "
                "decision 阶段）：由各单位的上级单位初审、推荐、复查")))

    def policies(self) -> None:
        for name, policy in self.p.reminder_policies.items():
            if policy.escalate_to not in ("parent", "self") and policy.escalate_to not in self.unit_codes:
                self.out.append((f"reminder_policies.{name}.escalate_to",
                                 f"督办对象 {policy.escalate_to!r} 未定义（应为 parent、self 或单位代码）"))
            if policy.escalate_cc not in (None, "parent") and policy.escalate_cc not in self.unit_codes:
                self.out.append((f"reminder_policies.{name}.escalate_cc",
                                 f"抄送对象 {policy.escalate_cc!r} 未定义（应为 parent 或单位代码）"))

    def report_to(self, base: str, s: Stage) -> None:
        owing = self.p.reachable(s.owed_by) if s.report_to == "parent" and s.owed_by else set()
        orphans = [u.code for u in self.p.units if u.code in owing and not u.parent]
        if orphans:
            self.out.append((f"{base}.report_to", f"{s.handed_in}报送各单位的上级（parent），而 {'、'.join(orphans[:5])} 没有上级"))
        elif s.report_to not in (None, "parent", *self.unit_codes):
            self.out.append((f"{base}.report_to", f"{s.handed_in}报送单位 {s.report_to!r} 未定义（应为单位代码或 parent）"))

    def places_by_level(self, base: str, s: Stage) -> None:
        """Places set by the reviewer's level (设区市 6, 行业协会 4) name every level that reviews, and no other: a
        reviewer of a level left out would have no cap at all."""
        if not isinstance(s.per_reviewer, dict) or s.code not in self.stage_codes:
            return
        window = self.p.reviewed_window(s.code) if s.decides in self.stage_codes else None
        owing = self.p.reachable(window.owed_by) if window is not None and window.owed_by is not None else set()
        levels: set[str] = {self.p.unit(r).level for u in owing if (r := self.p.reviewer(s.code, u))}
        names: dict[str, str] = dict(self.p.level_names)
        for level in sorted(levels - s.per_reviewer.keys()):
            self.out.append((f"{base}.per_reviewer", (f"未给出{names.get(level, level)}（{level}）审核单位的推荐名额"
                                                     f"（按级别写名额时，每个审核单位的级别都须写出：{'、'.join(sorted(levels))}）")))
        for extra in sorted(s.per_reviewer.keys() - levels):
            self.out.append((f"{base}.per_reviewer.{extra}", (f"没有{names.get(extra, extra)}（{extra}）级别的审核单位"
                                                            f"（审核单位的级别：{'、'.join(sorted(levels)) or '无'}）")))

    def stage(self, si: int, s: Stage) -> None:
        out, base = self.out, f"stages[{si}]"
        self.who(f"{base}.owed_by", s.owed_by)
        self.who(f"{base}.notify", s.notify)
        self.who(f"{base}.lists", s.lists)
        self.who(f"{base}.among", s.among)
        if s.sender is not None and s.sender not in self.unit_codes:
            out.append((f"{base}.sender", f"署名单位 {s.sender!r} 未定义（应为 units 中的代码）"))
        self.report_to(base, s)
        if s.reminders is not None and s.reminders not in self.p.reminder_policies:
            out.append((f"{base}.reminders", f"提醒策略 {s.reminders!r} 未定义（应为 reminder_policies 中的名称）"))
        for code in s.per_category:
            if code not in self.category_codes:
                out.append((f"{base}.per_category.{code}", f"类别 {code!r} 未定义（应为 categories 中的代码）"))
        # A period written twice (for the same categories): the second was silently lost, no call,
        # reminder or 督办 for a whole quarter.
        for pi, period in enumerate(s.periods):
            if any(o.code == period.code and (not o.categories or not period.categories
                                              or set(o.categories) & set(period.categories)) for o in s.periods[:pi]):
                out.append((f"{base}.periods[{pi}].code", (f"期次代码 {period.code!r} 重复（应唯一；"
                                                          "按类别分设的同一期次须列出互不重叠的 categories）")))
        for pi, period in enumerate(s.periods):
            for k, code in enumerate(period.categories):
                if code not in self.category_codes:
                    out.append((f"{base}.periods[{pi}].categories[{k}]", f"类别 {code!r} 未定义"))
        self.eligibility(base, s)
        self.places_by_level(base, s)
        for where, rel in _relative_refs(s, base):
            ref = rel.stage
            if ref not in self.stage_codes:
                out.append((where, f"阶段 {ref!r} 未定义（应为 stages 中的代码）"))
            elif ref == s.code:
                out.append((where, "不能相对于本阶段自身计算日期"))
            elif (said := _event_missing(self.p.stage(ref), rel.event)) is not None:
                out.append((where.removesuffix(".stage") + ".event", said))
        out.extend(_window_order(s, base))

    def eligibility(self, base: str, s: Stage) -> None:
        """The grades that bar a winner are this programme's own (another family's are not known
        here): a misspelt one bars nobody, and a winner was named again the next year."""
        rule = s.eligibility.not_awarded if s.eligibility is not None else None
        if rule is None or rule.programme not in (None, self.p.round.programme):
            return
        for k, grade in enumerate(rule.grades):
            if grade not in self.grade_names:
                choices = "、".join(self.grade_names) or "无（本方案没有 assessment）"
                self.out.append((f"{base}.eligibility.not_awarded.grades[{k}]",
                                 f"等次 {grade!r} 不在 assessment.grades 中（可选：{choices}）"))

    def assessment_and_quotas(self) -> None:
        p, out = self.p, self.out
        if p.assessment is not None:
            out.extend(check_assessment(p, self.unit_codes, self.levels))
            self.who("assessment.subjects", p.assessment.subjects)
            windows = (StageKind.submission, StageKind.followup)
            for key, items in (("bonuses", p.assessment.bonuses), ("deductions", p.assessment.deductions)):
                for k, item in enumerate(items):
                    if item.late_at is not None and key == "bonuses":
                        out.append((f"assessment.bonuses[{k}].late_at", "late_at 按逾期计次，只用于扣分项（deductions）"))
                    elif item.late_at is not None:
                        self.stage_ref(f"assessment.deductions[{k}].late_at", item.late_at, windows, "应交材料的阶段")
            # A veto or a part judged from whether a window was handed in names a window owed.
            bound: list[tuple[str, int, str | None]] = [
                *(("vetoes", k, v.missing_at) for k, v in enumerate(p.assessment.vetoes)),
                *(("components", k, c.missing_at) for k, c in enumerate(p.assessment.components))]
            every = p.handed_in_by_all(p.assessment.subjects)
            for key, k, window in bound:
                if window is not None:
                    self.stage_ref(f"assessment.{key}[{k}].missing_at", window, windows, "应交材料的阶段")
                if window in every:  # 星级评定's 未报送自评报告→不评星 never reached the 所 that sent none
                    out.append((f"assessment.{key}[{k}].missing_at", (
                        f"考核对象（assessment.subjects）都已提交“{p.stage(window).name}”，未提交的不在考核对象之中，此项不会对"
                        f"任何对象生效；未提交的也要评定时，请在 subjects 中加入 {{missing_at: {window}}}"
                        f"（如 any_of: [..., {{missing_at: {window}}}]）")))
        if p.quotas is None:
            return
        for ai, action in enumerate(p.quotas.actions):
            for code in action.per_unit:
                if code not in self.unit_codes:
                    out.append((f"quotas.actions[{ai}].per_unit.{code}", f"单位 {code!r} 未定义"))
            total = sum(action.per_unit.values())
            if total < action.goal:
                out.append((f"quotas.actions[{ai}].per_unit",
                            f"各单位任务数之和 {total} 小于目标 {action.goal}（应不小于目标）"))
        if p.quotas.progress_stage not in self.stage_codes:
            out.append(("quotas.progress_stage", f"阶段 {p.quotas.progress_stage!r} 未定义"))

    def receivers(self) -> None:
        """Everyone who will be written to must be reachable."""
        p = self.p
        for code in sorted(_receivers(p)):
            if code in self.unit_codes and not p.unit(code).channels:
                ui = next(i for i, u in enumerate(p.units) if u.code == code)
                self.out.append((f"units[{ui}].channels",
                                 f"单位 {code}（{p.unit(code).name}）将收到通知，但没有配置任何渠道（应至少一个）"))


def _channel(p: Programme, name: str) -> str | None:
    return next((c.kind for c in p.channels if c.name == name), None)


def _cycles(p: Programme) -> list[tuple[str, str]]:
    parent = {u.code: u.parent for u in p.units}
    out = []
    for ui, u in enumerate(p.units):
        seen, code = {u.code}, u.parent
        while code is not None and code in parent:
            if code in seen:
                out.append((f"units[{ui}].parent", f"单位 {u.code} 的上级关系成环（应为树形）"))
                break
            seen.add(code)
            code = parent[code]
    return out


def _relative_refs(s, base: str) -> list[tuple[str, Any]]:
    """Each date of the stage counted from another's event: (where its stage is named, the date)."""
    refs = []
    if s.after is not None:
        refs.append((f"{base}.after.stage", s.after))
    if s.opens_after is not None:
        refs.append((f"{base}.opens_after.stage", s.opens_after))
    if s.deadline is not None and s.deadline.after is not None:
        refs.append((f"{base}.deadline.after.stage", s.deadline.after))
    for pi, period in enumerate(s.periods):
        if period.deadline.after is not None:
            refs.append((f"{base}.periods[{pi}].deadline.after.stage", period.deadline.after))
    for code, o in s.per_category.items():
        if o.deadline is not None and o.deadline.after is not None:
            refs.append((f"{base}.per_category.{code}.deadline.after.stage", o.deadline.after))
    return refs


def _event_missing(stage: Stage, event: str) -> str | None:
    """Why a stage has no such event to count from (a notification's "deadline" quietly meant its
    day), or None. Windows have opens, deadline (on, closes: the same day); other stages their day
    (on), and a 公示 or an event of several days its last day (closes)."""
    if stage.kind in (StageKind.submission, StageKind.followup) or event == "on":
        return None
    if event == "closes" and (stage.kind is StageKind.notice or stage.days):
        return None
    has = "on" + ("、closes" if stage.kind is StageKind.notice or stage.days else "")
    return f"阶段 {stage.code}（{stage.kind.value}）没有 {event} 时点（可用：{has}）"


def _window_order(s, base: str) -> list[tuple[str, str]]:
    out = []

    def check(path: str, opens: dt.date | None, deadline) -> None:
        if opens is not None and deadline is not None and deadline.date is not None and not deadline.workdays \
                and deadline.date < opens:
                out.append((f"{path}.deadline.date",
                            f"截止日期 {deadline.date} 早于开始日期 {opens}（截止应不早于开始）"))

    check(base, s.opens, s.deadline)
    for pi, period in enumerate(s.periods):
        check(f"{base}.periods[{pi}]", period.opens or s.opens, period.deadline)
    for code, o in s.per_category.items():
        check(f"{base}.per_category.{code}", o.opens or s.opens, o.deadline or s.deadline)
    return out



def _receivers(p: Programme) -> set[str]:
    """Units that the timetable will write to: owers, the notified, the assessed and ops."""
    codes = {p.round.issuer}
    selectors = [s.owed_by for s in p.stages] + [s.notify for s in p.stages]
    if p.assessment is not None:
        selectors.append(p.assessment.subjects)
    for who in selectors:
        if who is not None:
            codes |= p.reachable(who)
    for s in p.stages:
        if s.kind is StageKind.decision:
            codes.add(p.round.issuer)
        # Escalations write to the overdue unit's parent, or to a named unit.
        policy = p.reminder_policies.get(s.reminders) if s.reminders else None
        if policy is None or policy.escalate_after_workdays is None or s.owed_by is None or s.voluntary:
            continue
        parents = {p.unit(c).parent or p.round.issuer for c in p.reachable(s.owed_by)}
        for to in (policy.escalate_to, policy.escalate_cc):
            if to == "parent":
                codes |= parents
            elif to not in (None, "self"):
                codes.add(to)
    return codes
