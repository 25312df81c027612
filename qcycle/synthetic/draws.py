"""The seeded draws of a simulated year: counties, submission times (some late, some never, a few
malformed), ops decisions, reviewers' scores, indicator figures and quota counts.

Everything is drawn from ``random.Random(f"{seed}:{what}")`` so a given seed always gives
the same year, whatever order the simulator asks in."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from qcycle.schema import Programme, Unit
from qcycle.timetable import Action, Timetable

__all__ = ["COUNTED", "OBJECTED_REASON", "REFUSAL_REASON", "SIMULATED_REASON", "UPHOLD_RATE", "decide", "first_open",
           "malformed", "measurements", "plan_submissions", "reported_figures", "rng", "scores", "with_counties"]


def rng(seed: int, *what: Any) -> random.Random:
    return random.Random(":".join(map(str, (seed, *what))))


def with_counties(p: Programme, seed: int, per_city: tuple[int, int] = (5, 12)) -> Programme:
    """Add county-level bureaus (县市区局) under every city that has none, reached like their city
    except by the cities' group chats (a county is not in the group of the cities)."""
    cities = [u for u in p.units if u.level == "city"]
    has_children = {u.parent for u in p.units}
    extra = []
    for city in cities:
        if city.code in has_children:
            continue
        n = rng(seed, "counties", city.code).randint(*per_city)
        base = city.name.replace("市场监督管理局", "")
        for i in range(1, n + 1):
            code = f"{city.code[:4]}{i:02d}" if city.code.isdigit() and len(city.code) == 6 else f"{city.code}-{i:02d}"
            extra.append(Unit(code=code, name=f"{base}第{i}县（市、区）市场监督管理局（模拟）", level="county",
                              parent=city.code,
                              channels=[c for c in city.channels if c not in p.group_channels] or list(city.channels),
                              email=f"zlk@{code}.amr.example.cn" if city.email else None))
    return p.model_copy(update={"units": [*p.units, *extra]}) if extra else p


def plan_submissions(seed: int, deadline: Action, opens: dt.datetime | None, subjects: list[tuple[str, str | None, str | None]]) -> list[tuple[dt.datetime, dict[str, Any]]]:
    """Submission times for (unit, item, category) subjects owing at a deadline action.

    78 % on time (spread over the window), 10 % late (1–6 days after), 12 % never.
    """
    start = opens or (deadline.at - dt.timedelta(days=20))
    span = max(1.0, (deadline.at - start).total_seconds())
    out = []
    for unit, item, category in subjects:
        r = rng(seed, deadline.key, unit, item)
        draw = r.random()
        if draw < 0.78:
            when = start + dt.timedelta(seconds=r.uniform(0.05, 0.99) * span)
        elif draw < 0.88:
            when = deadline.at + dt.timedelta(days=r.uniform(1, 6))
        else:
            continue
        record = {"kind": deadline.submission, "unit": unit, "submitted_at": when.isoformat(),
                  "id": f"sim-{deadline.key}-{unit}-{item or ''}",
                  "payload": {"title": "模拟材料", "pages": r.randint(3, 40)}}
        if item:
            record["item"] = item
        if category and not item:
            record["category"] = category
        if deadline.period:
            record["period"] = deadline.period
        out.append((when, record))
    return out


def malformed(seed: int, deadline: Action, n: int) -> list[tuple[dt.datetime, dict[str, Any]]]:
    """Records the intake must quarantine: an unknown unit, a missing unit, a bad date."""
    r = rng(seed, "malformed", deadline.key)
    out = []
    for i in range(n):
        when = deadline.at - dt.timedelta(hours=r.randint(2, 72))
        kind = r.choice(["unknown_unit", "no_unit", "bad_time"])
        rec: dict[str, Any] = {"kind": deadline.submission, "submitted_at": when.isoformat(), "id": f"bad-{deadline.key}-{i}"}
        if kind == "unknown_unit":
            rec["unit"] = f"999{r.randint(100, 999)}"
        elif kind == "bad_time":
            rec["unit"] = "?"
            rec["submitted_at"] = "2023年13月40日"
        if deadline.period:
            rec["period"] = deadline.period
        out.append((when, rec))
    return out


def decide(seed: int, stage: str, subject: str, approve_rate: float = 0.85) -> bool:
    return rng(seed, "decide", stage, subject).random() < approve_rate


def scores(seed: int, subject: str, components: list[str], reviewers: int = 3,
           occasion: str = "", handed_in: bool = True) -> list[dict[str, Any]]:
    """Reviewers' scores around a subject's hidden quality, clipped to 0–100. A later assessment
    of the same round (``occasion``: its stage) is scored afresh, the quality having moved a
    little: a unit is not given last year's marks to the decimal. A subject whose unit never
    handed in what the assessment reads (``handed_in`` False) is marked on the little reviewers
    have: 40 % of its quality (焦作's county that missed its 自我评价报告 was graded A and praised)."""
    quality = rng(seed, "quality", subject).gauss(80, 10)
    if occasion:
        quality += rng(seed, "progress", subject, occasion).gauss(0, 5)
    if not handed_in:
        quality *= 0.4
    out = []
    for k in range(1, reviewers + 1):
        r = rng(seed, "score", subject, k, *([occasion] if occasion else []))
        for comp in components:
            value = max(0.0, min(100.0, round(r.gauss(quality, 6), 1)))
            out.append({"kind": "score", "unit": subject, "reviewer": f"评审{k}", "component": comp, "value": value})
    return out


def first_open(timetable: Timetable, deadline: Action) -> dt.datetime | None:
    for a in timetable.actions:
        if a.action in ("window_open", "followup_open") and a.stage == deadline.stage \
                and a.period == deadline.period and a.category == deadline.category:
            return a.at
    return None


# Indicator units that count whole things (新增名牌产品3个, 制修订标准2项), not rates or amounts.
COUNTED = frozenset({"个", "件", "项", "家", "次", "人", "户", "座"})
# The reasons a simulated officer gives where the letter tells them ("经调查核实，异议不成立。核实情况：…":
# the letter says it was checked already).
SIMULATED_REASON = "所反映的情况与事实不符"  # an objection not upheld
REFUSAL_REASON = "经核查，申报材料所述情况与实际不符"  # a refusal at a step that tells its reason
OBJECTED_REASON = "公示期间收到的异议经核实成立：申报材料与事实不符"
# Objections to a 公示 are seldom upheld; one that is names the candidate it concerns (an objection
# names none itself: ops say whom in the decision's note), and that candidate is refused after.
UPHOLD_RATE = 0.15


def _indicator_values(r: random.Random, ind: Any, last_year: int) -> list[tuple[int, float]]:
    """(year, value) of one indicator: three subjects in four meet their target (the draws in
    the order :func:`measurements` has always made them, so seeded rounds stay the same)."""
    years = ind.cumulative_years or [ind.year or last_year]
    meets = r.random() < 0.75
    share = ind.target / len(years) if ind.cumulative_years else ind.target
    if ind.compound:  # the yearly rate that compounds to the target over the years
        share = 100.0 * (1.0 - (1.0 - ind.target / 100.0) ** (1.0 / len(years)))
    out = []
    for y in years:
        factor = r.uniform(1.0, 1.08) if meets else r.uniform(0.85, 0.99)
        if ind.comparator in ("<=", "<"):
            factor = 2 - factor
        value = share if ind.comparator == "=" and meets else share * factor
        if ind.unit in COUNTED and ind.comparator != "=":  # whole things, on the same side of the target
            value = math.ceil(value) if (ind.comparator in (">=", ">")) == meets else math.floor(value)
        elif ind.unit == "%":  # a rate of 102 % does not exist
            value = min(value, 100.0)
        out.append((y, round(value, 2)))
    return out


def _known_figures(r: random.Random, ind: Any, last_year: int, until: int) -> list[tuple[int, float]]:
    """(year, value) of one indicator as an assessment of the year ``until`` knows it: no figure of
    a later year of a cumulative target; a target year still ahead reads the assessment's own."""
    return [(min(y, until), value) for y, value in _indicator_values(r, ind, last_year)
            if not (ind.cumulative_years and y > until)]


def _quota_counts(r: random.Random, p: Programme, unit: str, until: int) -> list[tuple[str, int, int]]:
    """(quota action, year, count) a unit achieved, each year until ``until``, at a pace of its own."""
    plan = p.quotas
    if plan is None:
        return []
    out = []
    for action in plan.actions:
        quota = action.per_unit.get(unit)
        if quota:
            # Its own pace over the plan: a whole-plan total spread over the years (each year's
            # share rounded on its own made every unit reach one a year, five in all).
            total, n = round(quota * r.uniform(0.6, 1.3)), len(plan.years)
            out += [(action.code, y, round(total * (i + 1) / n) - round(total * i / n))
                    for i, y in enumerate(plan.years) if y <= until]
    return out


def measurements(seed: int, subject: str, p: Programme, until: int) -> list[dict[str, Any]]:
    """Indicator values, quota counts, bonus/deduction occurrences and rare vetoes for a subject,
    as known to an assessment of the year ``until``."""
    scheme = p.assessment
    out: list[dict[str, Any]] = []
    if scheme is None:
        return out
    r = rng(seed, "measure", subject)

    def rec(component: str, who: str, value: float) -> None:
        out.append({"kind": "score", "unit": subject, "reviewer": who, "component": component, "value": value})

    for ind in scheme.indicators:
        figures = _known_figures(r, ind, p.round.years[-1], until)  # drawn all the same: seeded rounds keep theirs
        for y, value in figures if ind.reported_by is None else ():  # else the reporter's (:func:`reported_figures`)
            rec(f"indicator:{ind.code}", str(y), value)
    for code, year, count in _quota_counts(r, p, subject.partition(":")[0], until):
        rec(f"quota:{code}", str(year), count)
    for item in scheme.bonuses:
        if item.source_round is None and r.random() < 0.3:
            rec(f"bonus:{item.code}", "考核组", 1 if item.once else min(r.randint(1, 3), item.up_to or 3))
    for item in scheme.deductions:
        if item.late_at is None and r.random() < 0.2:  # one counted from the hand-ins is not scored
            rec(f"deduction:{item.code}", "考核组", 1 if item.once else min(r.randint(1, 2), item.up_to or 2))
    for veto in scheme.vetoes:
        if veto.missing_at is None and r.random() < 0.04:  # one judged from the hand-ins is not scored
            rec(f"veto:{veto.code}", "考核组", 1)
    return out


def reported_figures(seed: int, unit: str, p: Programme, until: int) -> list[dict[str, Any]]:
    """The figures of the indicators ``unit`` reports for every subject (a district-wide
    statistic), as known to an assessment of the year ``until``."""
    if p.assessment is None:
        return []
    r = rng(seed, "reported", unit)  # a series of its own: the unit may be assessed too, on its own figures
    return [{"kind": "score", "unit": unit, "reviewer": str(y), "component": f"indicator:{ind.code}", "value": value}
            for ind in p.assessment.indicators if ind.reported_by == unit
            for y, value in _known_figures(r, ind, p.round.years[-1], until)]
