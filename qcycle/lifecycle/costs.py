"""What missing a window costs, as the letters asking for it say it: the assessment's deductions and vetoes for it,
and the rule a decision holds its owers to (逾期报送的，每次扣2分；截至…仍未提交的，…为不合格)."""

from __future__ import annotations

import datetime as dt

from qcycle.errors import TimetableError
from qcycle.lifecycle.wording import result_kind, verdict_said, vetoed_to
from qcycle.render import cn_date, quoted
from qcycle.schema import Programme, Stage, StageKind
from qcycle.timetable.dates import StageDates
from qcycle.workcal import default_calendar

__all__ = ["lateness_costs", "missing_rule"]


def lateness_costs(p: Programme, stage: str, as_of: dt.date | None = None) -> str | None:
    """What the assessment's rules deduct for this window's deadlines missed, as the letters that ask for
    the hand-in say it ("按考核规定，逾期报送的，每次扣2分；未报送的，每次扣5分。", one clause where they
    cost the same: "逾期报送或未报送的，每次扣2分"): 某省's cities learnt of
    the 2 points only from their results. ``as_of``: the letter's day (a rule that has decided by then is said as done)."""
    rules = _missing_rules(p, stage, as_of)
    if p.assessment is None:
        return f"按规定，{'；'.join(rules)}。" if rules else None
    refused = p.stage(stage).lateness == "reject"  # nothing is handed in late there: only the missing count
    said = {"late": "逾期报送", "missing": "未报送", "late_or_missing": "逾期报送或未报送"}
    costs: dict[str, list[str]] = {}  # what is deducted → for what: one clause for the same cost
    for d in p.assessment.deductions:
        if d.late_at == stage and not (refused and d.counts == "late"):
            cost = f"每次扣{d.points:g}分" + (f"（最多扣{d.cap:g}分）" if d.cap else "")
            costs.setdefault(cost, []).append(said["missing" if refused else d.counts])
    parts = [f"{'或'.join(dict.fromkeys(w for what in whats for w in what.split('或')))}的，{cost}"
             for cost, whats in costs.items()]
    kind = (p.assessment.result_label or result_kind(p)).removesuffix("结果") or "考核"
    if not p.assessment.result_label and kind in ("检查", "验收", "复核", "督查"):
        kind = "考核"  # a round named for its 检查 still deducts by its assessment's rules: not "按检查规定"
    # A veto that holds for a unit that never handed the window in (安徽's 逾期视为不满意), by the assessment's
    # day where the file fixes one ("截至考核时" had not said when, nor in the programme's own word).
    # One assessment on one day (rolled as the timetable rolls it); a day per category is not said. A day off kept as
    # the file gives it is said too: 质量月's letters had dropped the date of a Saturday's 评选, and read "截至评选时".
    once = [x for x in p.stages if x.kind is StageKind.assessment]
    day = _point_day(p, once[0]) if len(once) == 1 else None
    by = cn_date(day) if day else ""
    # A window that refuses late hand-ins has decided the miss at its deadline: "截至星级评定时仍未报送的" had read
    # as leave to hand in until November, under a 逾期提交的不予受理 of March.
    unmet = "未按时报送的" if refused else f"截至{by}{kind}时仍未报送的"
    parts += [f"{unmet}，实行一票否决，{vetoed_to(p, v.code)}" for v in p.assessment.vetoes if v.missing_at == stage]
    # Late and missing cost apart: when late turns into missing (某市's bureaus could not tell whether a report
    # still owed after its 逾期提醒 cost 1 point or 2).
    counted = {w for whats in costs.values() for what in whats for w in what.split("或")}
    if {"逾期报送", "未报送"} <= counted and len(costs) > 1 and not any(v.missing_at == stage for v in p.assessment.vetoes):
        parts.append(f"{unmet}，按未报送计")
    # Parts bound to the window, said once together, and not beside a veto the same miss brings.
    # A part a late hand-in scores nothing on either (逾期报送的不予评分) is said so; a veto for the miss leaves it the late.
    vetoed = any(v.missing_at == stage for v in p.assessment.vetoes)
    bound = [c for c in p.assessment.components if c.missing_at == stage]
    for late_too in (False, True):
        zeroed = [f"“{c.name}”" for c in bound if (c.counts == "late_or_missing" and not refused) == late_too]
        if zeroed and (late_too or not vetoed):
            whom = ("逾期报送的" if vetoed else f"逾期报送或{unmet}") if late_too else unmet
            parts.append(f"{whom}，{'、'.join(zeroed)}部分不得分")
    # A part the deductions take from (台账报送 20 分) is lost at worst: 包保督导's towns were never told "扣完为止".
    taken = dict.fromkeys(d.part for d in p.assessment.deductions if d.late_at == stage and d.part and not d.cap)
    parts += [f"“{c.name}”部分{c.full_marks(p.assessment.scale)}分，扣完为止"
              for c in p.assessment.components if c.code in taken and costs]
    if not parts:
        return f"按规定，{'；'.join(rules)}。" if rules else None
    return f"按{kind}规定，{'；'.join(parts + rules)}。"


def missing_rule(p: Programme, stage: str, as_of: dt.date | None = None) -> str | None:
    """What a decision that decides a miss 不同意 (``rejects_missing``) brings, as the letters asking for the window say
    it to every unit owing it ("按规定，2027年1月15日前仍未提交的，年度创建工作评定为不合格。"), assessed or not; in a letter
    of its day or later (``as_of``), as done: "按规定，截至2025年2月7日仍未提交的，已认定为未按要求开展自查。"."""
    rules = _missing_rules(p, stage, as_of)
    return f"按规定，{'；'.join(rules)}。" if rules else None


def _missing_rules(p: Programme, stage: str, as_of: dt.date | None = None) -> list[str]:
    # A county whose 年度报告 never came was decided 不合格 without a letter before saying so. By the decision's
    # day, counted where the file counts it ("截至“整改复查”时" gave an inspected laboratory no date to act by).
    # A window refusing late hand-ins has decided the miss at its deadline (as a veto's clause says).
    refused = p.stage(stage).lateness == "reject"
    # Before the decision's day, not "截至" it: the rule decides at its 09:00, and 示范县复核's letters had said "截至2027年
    # 6月1日仍未提交的" to a county that handed in that afternoon and was already ruled out.
    # On its day or after, the rule has decided: 鄞州's 督办 of 2月7日 read "2025年2月7日前仍未提交的，认定为…" of a finding
    # made that morning.
    out = []
    for d in p.misses_decided.get(stage, ()):
        day = None if refused else _point_day(p, d)
        done = day is not None and as_of is not None and day <= as_of
        said = d.brings("rule:missing")
        brings = ((f"已{said.removeprefix('已')}" if done else said) if said else verdict_said(d, False, done=done)
                  or f"{'已' if done else ''}视为未通过{quoted(d.name)}")
        if done and day is not None:
            out.append(f"截至{cn_date(day)}仍未提交的，{brings}")
        else:
            out.append(f"{'未按时' if refused else (cn_date(day) + '前' if day else '截至' + quoted(d.name) + '时') + '仍未'}"
                       f"提交的，{brings}")
    return out


def _point_day(p: Programme, stage: Stage) -> dt.date | None:
    """The day a point stage (a decision, an assessment) falls, fixed or counted from others; None per category."""
    if stage.per_category:
        return None
    try:
        return StageDates(p, default_calendar()).point_day(stage, None)[0]
    except TimetableError:
        return None
