"""How letters say a plan's tasks (任务分解, ``quotas``): each unit's own, and the goals of all of them
together, held to the plan's pace where an assessment comes before its last year."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from qcycle.schema import Programme
from qcycle.scoring import pace, quota_due

__all__ = ["quota_area", "quota_goals", "quota_tasks"]


def quota_tasks(p: Programme, unit: str, achieved: dict[str, int] | None = None, until_year: int | None = None
                ) -> list[str]:
    """A unit's tasks under the programme's quota plan, as its letters list them (舟山's departments
    were never told theirs): "质量管理创优行动（质量管理标杆企业）：培育10家以上"; with ``achieved``
    (counts reported so far), what it reached: "…：任务10家以上，完成12家"; assessed before the plan's
    last year (``until_year``), the pace it was held to: "任务10家以上（按时序进度，至2025年应完成50%），完成3家"."""
    if p.quotas is None:
        return []
    pace = _pace(p, until_year) if achieved is not None else ""
    return [f"{a.name}：" + (f"任务{a.per_unit[unit]}{a.counter}以上{pace}，完成{achieved.get(a.code, 0)}{a.counter}"
                            if achieved is not None else f"{a.verb}{a.per_unit[unit]}{a.counter}以上")
            for a in p.quotas.actions if unit in a.per_unit]


def _pace(p: Programme, until_year: int | None) -> str:
    """"（按时序进度，至2025年应完成50%）" where an assessment before the plan's last year holds the
    tasks to their pace (:func:`qcycle.scoring.quota_due`), else ""."""
    assert p.quotas is not None
    share = pace(p.quotas.years, until_year)
    return f"（按时序进度，至{until_year}年应完成{share:.0%}）" if 0 < share < 1 else ""


# What the goals are for, by the issuer's level, where neither the plan (quotas.area) nor its name says.
_AREAS = {"province": "全省", "city": "全市", "county": "全县"}


def quota_area(p: Programme) -> str:
    """What the plan's goals are for, as letters say it (全县目标): ``quotas.area``, else by the first
    of 省/州/盟/市/县/区/旗 in the issuer's name (某县质量强县工作领导小组办公室: 全县; 宝山区…: 全区, not
    its level's 全县), else by its level."""
    issuer = p.unit(p.round.issuer)
    if p.quotas is not None and p.quotas.area:
        return p.quotas.area
    found = re.search(r"[省州盟市县区旗]", issuer.name)
    return f"全{found.group()}" if found else _AREAS.get(issuer.level, "全市")


def quota_goals(p: Programme, achieved: Mapping[str, Mapping[str, int]], until_year: int | None = None) -> list[str]:
    """The plan's city-wide goals against what its units reached together, as a result letter
    reports them beside each unit's own tasks (舟山's 20/20/30/30 标杆企业, the 百强, were never
    reported against): "质量管理创优行动（质量管理标杆企业）：全市目标20家以上，各单位合计完成23家，
    已完成目标"; "…，尚差3家"; before the plan's last year held to its pace, as the tasks are.
    ``achieved``: every unit's counts (:func:`quota_tasks`'s). An action one unit holds alone is
    that unit's own task, told to it as such: "全市目标3项以上，各单位合计完成2项，尚差1项" had told every
    unit of the city that 住建局 was short."""
    if p.quotas is None:
        return []
    lines = []
    area, pace = quota_area(p), _pace(p, until_year)
    for a in p.quotas.actions:
        if len(a.per_unit) < 2:
            continue
        total = sum(achieved.get(u, {}).get(a.code, 0) for u in a.per_unit)
        due = quota_due(p.quotas, a.goal, until_year)
        state = ("尚无进度要求" if not due else ("已达到进度" if pace else "已完成目标") if total >= due - 1e-9
                 else f"尚差{math.ceil(due - total - 1e-9)}{a.counter}")  # before the plan's first year, none is due
        lines.append(f"{a.name}：{area}目标{a.goal}{a.counter}以上{pace}，各单位合计完成{total}{a.counter}，{state}")
    return lines
