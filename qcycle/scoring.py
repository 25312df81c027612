"""Assessment (考核): reviewers' scores, indicators and quotas → totals, grades and ranks.

Rules, in the order they apply:

1. Each reviewer scores each ``reviews`` component from 0 to 100 (percent of that part).
   Several reviewers are combined by the scheme's method: ``mean``, ``median`` or
   ``trimmed_mean`` (drop one highest and one lowest, average the rest).
2. An ``indicators`` component scores the share of indicator targets met; a ``quotas``
   component scores the mean fulfilment of each quota action, each capped at 100 %.
3. A component's points are its percent × its weight × scale, or × its ``max_points``,
   published to two decimals, rounded half up (四舍五入).
4. Bonus and deduction items: points × occurrences, capped per item, then in total.
   total = Σ published component points + bonus − deduction, never below 0, to two decimals:
   the parts a result letter lists add up to the total it gives, and ranks and grades go by
   that total (an unrounded 89.996 had read "B级（得分90.00）" against an A line of 90).
5. Rank: total descending (ascending under ``better: lower``: a risk score). Ties (``ties``): broken by the components in scheme order, then
   by unit code; or by unit code; or by who handed in first (``submitted_first``); or ``shared``: equal totals share a
   rank (1, 2, 2, 4).
   Vetoed subjects rank after all others.
6. Grades, best first: a subject takes the first grade whose ``min_score`` it reaches (whose
   ``max_score`` it does not exceed, under ``better: lower``) and
   whose cap is not full (``max_count``, or ``share`` of the subjects graded, rounded down);
   the last grade takes the rest. A cap is a ceiling, so a grade may stay vacant. Under ``shared`` ties, subjects of one total move together: a tie that
   would overflow a cap goes to the next grade whole; under ``shared_in``, one that reaches the
   cap's last place is taken in whole, over the cap (并列的一并评入). A veto forces its grade (ranked
   last), or bars the grades above its ``at_most`` (graded and ranked by its score below that).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from qcycle.errors import AssessmentError
from qcycle.schema import Assessment, BonusItem, Indicator, QuotaPlan, RankPick

__all__ = [
    "MEASUREMENT_PREFIXES",
    "YEARLY_PREFIXES",
    "UnitInput",
    "UnitResult",
    "aggregate",
    "assess",
    "cumulated",
    "indicator_met",
    "item_points",
    "pace",
    "picked_by_rank",
    "published",
    "quota_due",
    "target_by",
    "times",
    "unit_input",
]

# Besides reviewers' scores (component code), the score intake carries other measurements,
# named by a prefix: occurrences of a bonus/deduction item, a veto that applies, an indicator's
# actual value for a year, a quota action's count achieved in a year.
MEASUREMENT_PREFIXES = ("bonus", "deduction", "veto", "indicator", "quota")
# Measurements given per year (the reviewer field holds the year): a year's figure is a fact,
# the same whichever assessment of a round reads it.
YEARLY_PREFIXES = ("indicator", "quota")


@dataclass
class UnitInput:
    """What is known about one assessed unit."""

    unit: str
    reviews: dict[str, list[float]] = field(default_factory=dict)  # component → reviewers' scores
    indicators: dict[str, float | Sequence[float]] = field(default_factory=dict)  # actual values
    quota_achieved: dict[str, int] = field(default_factory=dict)  # quota action → count so far
    bonuses: dict[str, float] = field(default_factory=dict)  # bonus item → occurrences, or points given (up_to)
    deductions: dict[str, float] = field(default_factory=dict)
    vetoes: list[str] = field(default_factory=list)
    # When it first handed anything in (``ties: submitted_first``): an equal total ranks the earlier first.
    handed_in_at: dt.datetime | None = None
    # Parts scored 0: the window each scores (``missing_at``) was owed and never handed in.
    unsubmitted: set[str] = field(default_factory=set)
    # The year the assessment is of: figures of later years are left out (``later``), and a
    # cumulative target not yet at its last year is held to its pace (时序进度).
    until_year: int | None = None
    later: list[str] = field(default_factory=list)  # "indicator:energy@2025" figures left out


@dataclass(frozen=True)
class UnitResult:
    unit: str
    components: dict[str, float]  # points per component
    bonus: float
    deduction: float
    total: float
    grade: str
    rank: int
    veto: str | None = None

    def as_row(self) -> dict:
        return {"unit": self.unit, "rank": self.rank, "grade": self.grade, "total": self.total,
                "bonus": self.bonus, "deduction": self.deduction, "veto": self.veto,
                **{f"c_{k}": v for k, v in self.components.items()}}


def unit_input(subject: str, measurements: Iterable[tuple[str, str, float]], scheme: Assessment,
               until_year: int | None = None) -> UnitInput:
    """Build one subject's input from (component_code, reviewer_or_year, value) measurements.

    Indicator and quota measurements use the reviewer field for the year: cumulative
    indicators and quotas sum their years; other indicators take their target year (or the
    latest year reported). An assessment of ``until_year`` reads no figure of a later year
    (榆阳's 2024 assessment was scored on figures labelled 2025).
    """
    u = UnitInput(subject, until_year=until_year)
    per_year: dict[str, dict[str, float]] = {}
    given = {f"{k}:{b.code}" for k, items in (("bonus", scheme.bonuses), ("deduction", scheme.deductions))
             for b in items if b.up_to is not None}  # its value is points given, not a count
    for code, who, value in measurements:
        prefix, _, name = code.partition(":")
        if not name:
            u.reviews.setdefault(code, []).append(value)
        elif prefix == "bonus":
            u.bonuses[name] = u.bonuses.get(name, 0) + (value if code in given else int(value))
        elif prefix == "deduction":
            u.deductions[name] = u.deductions.get(name, 0) + (value if code in given else int(value))
        elif prefix == "veto" and value:
            u.vetoes.append(name)
        elif prefix in YEARLY_PREFIXES:
            if until_year is not None and who.isdigit() and int(who) > until_year:
                u.later.append(f"{code}@{who}")
                continue
            per_year.setdefault(code, {})[who] = value
    for ind in scheme.indicators:
        years = per_year.get(f"indicator:{ind.code}", {})
        if not years:
            continue
        if ind.cumulative_years:
            u.indicators[ind.code] = [years[str(y)] for y in ind.cumulative_years if str(y) in years]
        else:
            u.indicators[ind.code] = years.get(str(ind.year), years[max(years)])
    for code, years in per_year.items():
        if code.startswith("quota:"):
            u.quota_achieved[code.partition(":")[2]] = int(sum(years.values()))
    return u


def aggregate(values: Sequence[float], method: str) -> float:
    """Combine several reviewers' scores for one component."""
    if not values:
        raise AssessmentError("没有评分，无法汇总")
    if method == "mean":
        return statistics.fmean(values)
    if method == "median":
        return float(statistics.median(values))
    if method == "trimmed_mean":
        if len(values) < 3:
            raise AssessmentError(f"去掉最高分和最低分需要至少3个评分，实际 {len(values)} 个")
        ordered = sorted(values)
        return statistics.fmean(ordered[1:-1])
    raise AssessmentError(f"未知的汇总方法 {method!r}")


def cumulated(ind: Indicator, yearly: Sequence[float]) -> float:
    """A cumulative target's figure from its yearly ones: their sum, or, for rates that compound
    (``compound``: 能耗降低), 1 − ∏(1 − r) in percent."""
    if not ind.compound:
        return float(sum(yearly))
    return 100.0 * (1.0 - math.prod(1.0 - r / 100.0 for r in yearly))


def pace(years: Sequence[int], until_year: int | None) -> float:
    """The share of a target over ``years`` due by the end of ``until_year`` (时序进度): the years
    passed over all of them before the last, 1 from the last on (or with no year said)."""
    if years and until_year is not None and until_year < max(years):
        return sum(1 for y in years if y <= until_year) / len(years)
    return 1.0


def target_by(ind: Indicator, until_year: int | None = None) -> float:
    """An indicator's target as an assessment of ``until_year`` holds it: a cumulative target
    before its last year at its pace (时序进度: ﹝15﹞ over 2021–2025 is 12 by the end of 2024)."""
    return ind.target * pace(ind.cumulative_years, until_year) if ind.cumulative_years else ind.target


def quota_due(quotas: QuotaPlan, task: int, until_year: int | None = None) -> float:
    """A unit's task as an assessment of ``until_year`` holds it: before the plan's last year at
    its pace, as a cumulative indicator (时序进度: 10 over 2025–2026 is 5 by the end of 2025; a
    county's 2025 assessment had scored its units against the whole two-year task, 9 of 12 failing).
    Not rounded: rounded up, a task of one was due whole in the first of two years."""
    return task * pace(quotas.years, until_year)


def indicator_met(ind: Indicator, actual: float | Sequence[float], until_year: int | None = None) -> bool:
    """Whether an actual value (or the yearly values of a cumulative target) meets the target.
    A cumulative target assessed before its last year is held to its pace (时序进度): ﹝15﹞ over
    2021–2025 is 12 by the end of 2024."""
    value = cumulated(ind, actual) if isinstance(actual, Sequence) else float(actual)
    t = target_by(ind, until_year)
    return {
        ">=": value >= t,
        "<=": value <= t,
        ">": value > t,
        "<": value < t,
        "=": math.isclose(value, t, rel_tol=1e-9, abs_tol=1e-9),
    }[ind.comparator]


_CENT = Decimal("0.01")


def times(item: BonusItem, n: float) -> float:
    """How many times an item counts: a yes-or-no one (``once``) once at most, however many records say it."""
    return min(n, 1) if item.once else n


def item_points(item: BonusItem, n: float) -> float:
    """The points ``n`` occurrences of a bonus or deduction item give, within the item's own cap; of an item the
    assessors give points to (``up_to``), the points given (``n``), at most its ``up_to``."""
    if item.up_to is not None:
        return min(n, item.up_to)
    points = (item.points or 0.0) * times(item, n)
    return min(points, item.cap) if item.cap is not None else points


def published(points: float) -> float:
    """Points as a result is published: two decimals, rounded half up (四舍五入) from the
    number as worked out by hand (84.125 is 84.13, where ``round`` gives 84.12). Binary
    arithmetic's last-digit noise is taken off first: 81.65 × 0.4 is 32.645 on paper and
    32.644999999999996 in a float."""
    return float(Decimal(repr(round(points, 9))).quantize(_CENT, rounding=ROUND_HALF_UP))


def _items_points(items: Iterable[BonusItem], counts: Mapping[str, float], cap: float | None) -> float:
    total = 0.0
    for item in items:
        total += item_points(item, counts.get(item.code, 0))
    return min(total, cap) if cap is not None else total


def _component_percent(scheme: Assessment, comp, u: UnitInput, quotas: QuotaPlan | None) -> float:
    if comp.code in u.unsubmitted:
        return 0.0
    if comp.source == "reviews":
        scores = u.reviews.get(comp.code, [])
        if len(scores) < scheme.min_reviewers:
            if any(map(scheme.forces, u.vetoes)):  # its grade is forced: a site never put up for 验收 is not scored
                return statistics.fmean(scores) if scores else 0.0
            raise AssessmentError(
                f"单位 {u.unit} 的“{comp.name}”只有 {len(scores)} 个评分，方案要求至少 {scheme.min_reviewers} 个"
            )
        return aggregate(scores, scheme.aggregation)
    if comp.source == "indicators":
        if not scheme.indicators:
            return 0.0
        met = sum(
            1 for ind in scheme.indicators
            if ind.code in u.indicators and indicator_met(ind, u.indicators[ind.code], u.until_year)
        )
        return 100.0 * met / len(scheme.indicators)
    # quotas: mean fulfilment over the actions (those the part names, else all) that give this unit a quota
    if quotas is None:
        return 0.0
    shares = [
        min(1.0, u.quota_achieved.get(a.code, 0) / due) if (due := quota_due(quotas, a.per_unit[u.unit], u.until_year))
        else 1.0  # nothing due yet
        for a in quotas.actions
        if a.per_unit.get(u.unit) and (not comp.actions or a.code in comp.actions)
    ]
    return 100.0 * statistics.fmean(shares) if shares else 0.0


def assess(
    scheme: Assessment, inputs: Iterable[UnitInput], quotas: QuotaPlan | None = None
) -> list[UnitResult]:
    """Score, grade and rank every unit; results are in rank order."""
    inputs = list(inputs)
    problems: list[str] = []
    # (input, parts, bonus, deduction, total, the veto forcing its grade, the veto capping it)
    rows: list[tuple[UnitInput, dict[str, float], float, float, float, str | None, str | None]] = []
    veto_grade = {v.code: v.grade or v.at_most or "" for v in scheme.vetoes}  # the schema gives one of them
    forcing = {v.code for v in scheme.vetoes if v.grade}
    worst = scheme.grade_names
    for u in inputs:
        try:
            components = {}
            for comp in scheme.components:
                if comp.max_points is not None:
                    span = comp.max_points
                else:
                    assert comp.weight is not None  # the schema requires a weight or max_points
                    span = comp.weight * scheme.scale
                if comp.source == "deductions" and comp.code not in u.unsubmitted:  # full, less what its items take
                    taken = _items_points([d for d in scheme.deductions if d.part == comp.code], u.deductions, None)
                    components[comp.code] = published(max(0.0, span - taken))
                    continue
                percent = _component_percent(scheme, comp, u, quotas)
                components[comp.code] = published(percent / 100.0 * span)
        except AssessmentError as exc:
            problems.append(str(exc))
            continue
        unknown = [v for v in u.vetoes if v not in veto_grade]
        if unknown:
            problems.append(f"单位 {u.unit} 的否决项 {unknown} 不在方案中")
            continue
        bonus = published(_items_points(scheme.bonuses, u.bonuses, scheme.bonus_cap))
        deduction = published(_items_points([d for d in scheme.deductions if d.part is None], u.deductions,
                                            scheme.deduction_cap))
        total = published(max(0.0, (scheme.base or 0.0) + sum(components.values()) + bonus - deduction))
        # The worst forced grade wins when several vetoes apply, and a forced grade over any cap.
        forced = [v for v in u.vetoes if v in forcing]
        capped = [v for v in u.vetoes if v not in forcing]
        lowest = max(forced, key=lambda v: worst.index(veto_grade[v])) if forced else None
        cap = max(capped, key=lambda v: worst.index(veto_grade[v])) if capped and not forced else None
        rows.append((u, components, bonus, deduction, total, lowest, cap))
    if problems:
        raise AssessmentError("；".join(problems))

    order = [c.code for c in scheme.tie_components]
    sign = 1 if scheme.better == "lower" else -1  # a risk score ranks its lowest first, parts as the total

    def sort_key(row) -> tuple:
        u, components, _, _, total, veto, _ = row
        tie = [sign * components[c] for c in order] if scheme.ties == "components_in_order" else []
        if scheme.ties == "submitted_first":  # never handed in: after those that did
            tie = [u.handed_in_at is None, u.handed_in_at.timestamp() if u.handed_in_at else 0.0]
        return (veto is not None, sign * total, *tie, u.unit)

    rows.sort(key=sort_key)
    ranks = _ranks(rows, shared=scheme.ties in SHARED_TIES)
    grades = _grades(scheme, rows, ranks)
    return [
        UnitResult(u.unit, comps, bonus, ded, total, grades[u.unit], rank, veto or cap)
        for rank, (u, comps, bonus, ded, total, veto, cap) in zip(ranks, rows, strict=True)
    ]


def picked_by_rank(rows: Sequence, pick: RankPick, group: Callable[[str], Hashable],
                   forces: Callable[[str | None], bool] = bool) -> set[str]:
    """The subjects at the top or bottom N places of each ranking group (``group`` of a subject;
    ``rows`` in rank order, each with ``unit_code`` and ``veto``): 排名后两位 among the 县区 and
    among the 部门 where they are ranked apart. Vetoed ones (whose veto ``forces`` a grade) stand last, or
    are left out; one whose veto only caps its grade keeps its place."""
    groups: dict[Hashable, list] = defaultdict(list)
    for r in rows:
        groups[group(r.unit_code)].append(r)
    chosen: set[str] = set()
    for members in groups.values():
        vetoed = [r for r in members if forces(r.veto)]
        order = [r for r in members if not forces(r.veto)] + (vetoed if pick.vetoed == "last" else [])
        chosen |= {r.unit_code for r in (order[:pick.top] if pick.top is not None else order[-(pick.bottom or 0):])}
    return chosen


def _ranks(ranked: list, *, shared: bool) -> list[int]:
    """1, 2, 3 … or, with shared ties, competition ranking (1, 2, 2, 4)."""
    out: list[int] = []
    for i, row in enumerate(ranked):
        if shared and i and _tied(row, ranked[i - 1]):
            out.append(out[-1])
        else:
            out.append(i + 1)
    return out


def _tied(a, b) -> bool:
    return a[5] is None and b[5] is None and math.isclose(a[4], b[4], abs_tol=1e-9)


SHARED_TIES = ("shared", "shared_in")  # equal totals share a rank and a grade


def caps(scheme: Assessment, n: int) -> dict[str, int | None]:
    """Most subjects each grade may take when ``n`` are graded (None: no cap).

    A share is a ceiling ("优秀比例不超过30%"), so its count is rounded down: 30 % of 12 is 3, not
    the 4 a largest-remainder count gave (33 %, over the cap the letter then quoted). What no grade
    takes goes down the list, to the last grade at worst; a ``max_count`` also caps. Under
    ``share_rounding: cumulative`` the shares are bands from the top, rounded where each ends: 10 %
    and 20 % of 17 are the first 1 and the first 5 (4 places for the second band, not 3)."""
    out: dict[str, int | None] = {}
    reached, before = 0.0, 0
    for g in scheme.grades:
        by_share = None
        if g.share is not None:
            # 1e-9: 0.29 × 100 is 28.999999999999996 in floating point, and 29 places are meant.
            if scheme.share_rounding == "cumulative":
                reached += g.share
                upto = math.floor(reached * n + 1e-9)
                by_share, before = upto - before, upto
            else:
                by_share = math.floor(g.share * n + 1e-9)
        limits = [x for x in (by_share, g.max_count) if x is not None]
        out[g.name] = min(limits) if limits else None
    return out


def _grades(scheme: Assessment, ranked: list, ranks: list[int]) -> dict[str, str]:
    cap_grade = {v.code: v.at_most for v in scheme.vetoes if v.at_most}
    forced = {v.code: v.grade for v in scheme.vetoes if v.grade}
    out = {row[0].unit: forced[row[5]] for row in ranked if row[5] is not None}
    free = [row for row in ranked if row[5] is None]
    limit = caps(scheme, scheme.share_base([row[4] for row in free], vetoed=len(ranked) - len(free)))
    used = dict.fromkeys(limit, 0)
    # Groups that move together: one subject each, or equal totals under shared ties.
    groups: list[list] = []
    for row in free:
        # One capped by a veto goes alone: a tie it shares may take a grade it may not.
        if groups and scheme.ties in SHARED_TIES and _tied(row, groups[-1][-1]) and row[6] is None is groups[-1][-1][6]:
            groups[-1].append(row)
        else:
            groups.append([row])
    # A grade a tied group did not fit into is closed to everyone below it: the places left
    # stay empty rather than go to a lower score (two tied at 800 above one at 700).
    closed: set[str] = set()
    names = scheme.grade_names
    for group in groups:
        total = group[0][4]
        best = names.index(cap_grade[group[0][6]]) if group[0][6] is not None else 0
        for g in scheme.grades[best:]:  # a capping veto bars the grades above its cap; their places stay open
            cap = limit[g.name]
            if not scheme.reaches_grade(total, g):
                continue
            # shared_in: a tie is taken in whole where the cap has a place left for its first.
            over = len(group) if scheme.ties != "shared_in" else 1
            if g.name in closed or (cap is not None and used[g.name] + over > cap):
                closed.add(g.name)
                continue
            for row in group:
                out[row[0].unit] = g.name
            used[g.name] += len(group)
            break
    return out
