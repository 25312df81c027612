"""Who may not apply this round, by the programme's ``eligibility`` rule read from earlier rounds
(an award won less than N years ago: 获奖满5年后方可再次申报)."""

from __future__ import annotations

from sqlmodel import Session

from qcycle import crud
from qcycle.schema import Programme, Stage

__all__ = ["INELIGIBLE", "ineligible"]

# How a refusal by the rule begins (the rule's reason follows): letters tell it apart from a step's.
INELIGIBLE = "不符合申报条件"


def ineligible(session: Session, p: Programme, window: Stage, subjects: list[str]) -> dict[str, str]:
    """Subjects a window's ``eligibility`` refuses, with the reason, read from earlier rounds."""
    rule = window.eligibility.not_awarded if window.eligibility else None
    if rule is None or not subjects:
        return {}
    family = rule.programme or p.round.programme
    year = p.round.years[0]
    won: dict[str, tuple[int, str]] = {}
    for unit, won_in, grade in crud.earlier_awards(session=session, programme=family, grades=rule.grades,
                                                   before_round=p.round.code):
        if year - won_in < rule.years and won_in > won.get(unit, (0, ""))[0]:
            won[unit] = (won_in, grade)
    # Said to the applicant: the award and its year, not the round's code.
    return {subject: f"{INELIGIBLE}：{won[unit][0]}年{_won(family, won[unit][1])}，{_since(family, won[unit][1])}满"
                     f"{rule.years}年后（{won[unit][0] + rule.years}年起）方可再次申报"
            for subject in subjects if (unit := subject.partition(":")[0]) in won}


def _since(family: str, grade: str) -> str:
    """"获奖" before the years where what was given is an award: an entry in a 目录 is not won ("已入选
    …目录，满4年后", not "获奖满4年后")."""
    return "获奖" if family.endswith("奖") or grade.endswith("奖") or grade.startswith("获奖") else ""


def _won(family: str, grade: str) -> str:
    """What an earlier round gave, as the refusal says it: the award a family is named after
    ("已获福州市政府质量奖"; a lower tier of it: "已获广州市市长质量奖提名奖"), else the grade in it ("已在东湖区质量标杆企业评选中获评质量标杆企业", not
    "已获东湖区质量标杆企业评选"; a grade that only says won: "…中获奖"; a programme named after its grade:
    "已获评湖南省省级质量标杆", not "已在湖南省省级质量标杆中获评省级质量标杆")."""
    if family.endswith("奖"):  # a tier of it named after it: 已获广州市市长质量奖提名奖
        if grade.startswith(family):  # the tier's name says the award already: 中国质量奖提名奖, said once
            return f"已获{grade}"
        return f"已获{family}{grade}" if grade.endswith("奖") and grade not in family else f"已获{family}"
    if family.endswith(grade):  # the programme is named after its title: "已获评湖南省省级质量标杆", said once
        return f"已获评{family}"
    for verb in ("入选", "列入", "纳入"):  # a grade that enters the family's list: "已入选江州市…指导目录", said once
        if grade.startswith(verb) and len(grade) > len(verb) and family.endswith(grade[len(verb):]):
            return f"已{verb}{family}"
    return f"已在{family}中{'获奖' if grade.startswith('获奖') else '获评' + grade}"
