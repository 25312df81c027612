"""The assessment (考核) scheme: components, bonuses and deductions, vetoes, indicators and
grades; and the quota plan (P4) scored with it."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from qcycle.schema.base import Code, _Model
from qcycle.schema.who import Who

__all__ = [
    "Assessment",
    "BonusItem",
    "Component",
    "Grade",
    "Indicator",
    "QuotaAction",
    "QuotaPlan",
    "Veto",
]

# -- assessment (考核) ----------------------------------------------------------------------


class Component(_Model):
    code: Code
    name: str
    weight: float | None = Field(None, gt=0, description="share of the total; weights sum to 1")
    max_points: float | None = Field(None, gt=0, description="points cap; caps sum to the scale")
    source: Literal["reviews", "indicators", "quotas", "deductions"] = Field(
        "reviews", description=("reviews (评审打分), indicators (指标达标比例), quotas (任务完成比例), or deductions: the part "
                                "starts full and loses what the deduction items naming it (deductions[].part) take, to 0 "
                                "at worst (进度报送 20 分：每缺报一次扣5分、逾期一次扣2分)"))
    actions: list[Code] = Field(
        default_factory=list, description=("source: quotas: the quota actions (quotas.actions codes) this part scores, "
                                           "each unit's fulfilment of them averaged (帮扶企业数 40 分、解决难题数 30 分: "
                                           "one part each); empty: all of them"))
    missing_at: Code | None = Field(
        None, description=("the window whose hand-in this part scores (年度总结报告 20 分): a subject that owed it and "
                           "never handed it in by the assessment scores 0 on this part, whatever reviews were "
                           "recorded for it (a summary never sent had been scored)"))
    counts: Literal["missing", "late_or_missing"] = Field(
        "missing", description=("with missing_at: which hand-ins score 0 on this part: missing (never handed in by the "
                                "assessment, the default) or late_or_missing (逾期报送的不予评分: one taken late scores 0 "
                                "too)"))

    def full_marks(self, scale: float) -> str:
        """Its points at most, as letters say them ("20", "33.33"): its cap, or its weight of the scale."""
        return f"{round(self.max_points or (self.weight or 0) * scale, 2):g}"

    @model_validator(mode="after")
    def _one(self) -> Component:
        if (self.weight is None) == (self.max_points is None):
            raise ValueError("须且只能给出 weight（权重）或 max_points（分值上限）之一")
        if self.actions and self.source != "quotas":
            raise ValueError("actions（计哪些任务）只用于 source: quotas 的部分")
        if self.counts != "missing" and self.missing_at is None:
            raise ValueError("counts（逾期报送的是否也不得分）只与 missing_at 一起使用")
        return self


class BonusItem(_Model):
    code: Code
    name: str
    points: float | None = Field(None, gt=0, description="points per occurrence")
    up_to: float | None = Field(
        None, gt=0, description=("points the assessors give it, from 0 to this (创新工作酌情加分，最高加5分): a record's "
                                 "value is the points given, not a count, and letters say 加2分 without one (a bureau had "
                                 "read \"创新工作2次，加2分\" where one item is counted)"))
    cap: float | None = Field(None, gt=0, description="most points from this item")
    source_round: Code | None = Field(None, description="earned in another round (e.g. 揭榜挂帅)")
    source_grades: list[str] = Field(default_factory=list, description="grades earned there")
    part: Code | None = Field(None, description=("deductions only: the part (a component with source: deductions) this "
                                                 "item deducts from, within its points, instead of from the total"))
    once: bool = Field(False, description=("a yes-or-no item (获评省级质量强镇，加3分): a record counts it 0 or 1 times, "
                                           "and letters name it without a count (a 街道 had read \"获评省级质量强镇3次\")"))
    late_at: Code | None = Field(
        None, description="a deduction counted once for each deadline of this window a unit met late or "
                          "not at all (进度报送每逾期一次扣2分), from the hand-ins, not from score records")
    counts: Literal["late_or_missing", "late", "missing"] = Field(
        "late_or_missing", description=("with late_at: which deadlines count: met late or not at all (default), "
                                         "handed in late only (逾期报送的每次扣2分), or never handed in (未报送的扣5分)"))

    @model_validator(mode="after")
    def _counts_with_late_at(self) -> BonusItem:
        if (self.points is None) == (self.up_to is None):
            raise ValueError("须且只能给出 points（每次的分值）或 up_to（评审酌情给分的上限，如最高加5分）之一")
        if self.up_to is not None and (self.once or self.late_at or self.source_round or self.cap or self.part):
            raise ValueError("up_to（酌情给分，记录的分值即所给分数）不与 once、late_at、source_round、cap、part 同用")
        if self.counts != "late_or_missing" and self.late_at is None:
            raise ValueError("counts（按逾期或未报送计次）只与 late_at 一起使用")
        if self.once and self.late_at is not None:
            raise ValueError("once（只计有无）不与 late_at（按逾期次数计）同用")
        return self


class Veto(_Model):
    code: Code
    name: str
    grade: str | None = Field(None, min_length=1, description="the grade a veto forces (a name from grades)")
    at_most: str | None = Field(
        None, min_length=1, description=("the best grade a vetoed subject may be given (不得评为优秀、良好: at_most: "
                                         "合格): graded by its score no higher than that, and ranked by its score "
                                         "(a 30-point bureau with an accident had been forced to 合格)"))
    missing_at: Code | None = Field(
        None, description=("a veto that holds by itself for a unit that owed this window and never handed it in "
                           "by the assessment (未报送年度报告的评为不合格): judged from the hand-ins only, so a veto "
                           "record for it is refused (a letter said 未报送 to a unit whose report was on file)"))

    @model_validator(mode="after")
    def _grade_or_cap(self) -> Veto:
        if (self.grade is None) == (self.at_most is None):
            raise ValueError("须且只能给出 grade（强制的等次）或 at_most（至多评为的等次：不得评为优秀、良好时写 at_most: 合格）之一")
        if self.at_most is not None and self.missing_at is not None:
            # What was never handed in cannot be scored, and a cap grades by the score: write the grade it forces.
            raise ValueError("at_most（按得分评、至多评为某等次）不与 missing_at（未报送即否决）同用：未报送的没有得分，请写 grade")
        return self


class Indicator(_Model):
    code: Code
    name: str
    unit: str = Field(description="计量单位, e.g. % or 件")
    target: float
    comparator: Literal[">=", "<=", "=", ">", "<"] = ">="
    attribute: Literal["binding", "expected"] = Field(description="约束性 / 预期性")
    cumulative_years: list[int] = Field(
        default_factory=list, description="years summed for a cumulative target, e.g. 十四五"
    )
    compound: bool = Field(
        False, description="the yearly figures are rates that compound, not add: 1 − ∏(1 − 年降低率) "
                           "(单位GDP能耗降低﹝15﹞: five falls of 3.1 % are 14.6 %, not 15.5 %)")
    target_from_superior: bool = Field(False, description="以省上下达指标为准")
    year: int | None = None
    reported_by: Code | None = Field(
        None, description="the unit whose figure counts for every subject: a district-wide statistic has one "
                          "value (榆阳's 专栏1, given by the 市场监管局), not one per department assessed")


    @model_validator(mode="after")
    def _compounding(self) -> Indicator:
        if self.compound and not (self.cumulative_years and self.unit == "%"):
            raise ValueError("compound（逐年比率复合累计）只适用于 cumulative_years 累计目标、计量单位为“%”的指标")
        return self


class Grade(_Model):
    """One named grade (等次 or award tier), best first.

    A ranked subject takes the first grade whose ``min_score`` it reaches (under ``better: lower``,
    whose ``max_score`` it does not exceed) and whose cap (``max_count``, or ``share`` of the ranked
    subjects) is not yet full; the last grade takes everyone else. A cap is a ceiling: a grade may
    stay vacant (空缺) when nobody qualifies.
    """

    name: str = Field(min_length=1, max_length=32)
    min_score: float | None = Field(None, ge=0, description="lowest total for this grade")
    max_score: float | None = Field(None, ge=0, description=(
        "highest total for this grade, where a lower total is better (assessment better: lower: 风险分值30分以下为A级)"))
    max_count: int | None = Field(None, ge=0, description="at most this many (空缺 allowed)")
    share: float | None = Field(None, gt=0, le=1, description="at most this share of the ranked subjects")
    description: str | None = None
    benefits: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=10,
        description="what the grade brings, listed in its 授奖/通报表扬 letter (奖励100万元; 在项目安排上优先考虑)")
    valid_years: int | None = Field(
        None, ge=1, le=50,
        description="the award is valid this many years from the year it is won (天水: 有效期5年), told in its letter")
    valid_from: Literal["year", "date"] = Field(
        "year", description=("how valid_years counts: from the year it is won (2025年至2027年), or date: from the day "
                             "its letter names it (命名之日起3年: 2025年9月30日至2028年9月29日)"))
    consequence: str | None = Field(
        None, min_length=1, max_length=100,
        description="what the grade brings on the unit, told with it in result letters and summaries (撤销试点资格)")
    ends: bool = Field(
        False, description=("the grade ends the subject's part in the round (不予通过，撤销建设资格): from its results on, "
                            "the subject owes no window (no 受理, reminder, 督办 for later reports); selections by the grade "
                            "still reach it"))
    title: str | None = Field(
        None, min_length=1, max_length=40,
        description=("the title or award the grade confers, where it is not the grade's own name: 验收通过 names a "
                     "质量强县示范县; its 命名通知 (and 授奖 or 表扬 letters) say the title, result letters the grade"))

    @property
    def catch_all(self) -> bool:
        return self.min_score is None and self.max_score is None and self.max_count is None and self.share is None

    @model_validator(mode="after")
    def _validity(self) -> Grade:
        if self.valid_from == "date" and self.valid_years is None:
            raise ValueError(f"等次“{self.name}”的 valid_from: date 须与 valid_years（有效期年数）同用")
        return self

    @property
    def line(self) -> float | None:
        """Its score line, whichever way the scheme counts (min_score, or max_score under better: lower)."""
        return self.min_score if self.min_score is not None else self.max_score


class Assessment(_Model):
    subjects: Who = Field(description="who is assessed")
    scale: float = Field(100, gt=0)
    better: Literal["higher", "lower"] = Field(
        "higher", description=("which totals are better: higher (default), or lower, where the score counts what is wrong "
                               "(风险分级: 风险分值越高风险越大): subjects rank from the lowest total, and grades, best first, "
                               "give max_score (30分以下为A级) instead of min_score"))
    base: float | None = Field(None, gt=0, description=(
        "扣分制: every subject starts from this many points, and its bonuses and deductions are added to it "
        "(100分起，逐项扣分); components may then be left out"))
    components: list[Component] = Field(default_factory=list)
    aggregation: Literal["mean", "median", "trimmed_mean"] = "mean"
    min_reviewers: int = Field(1, ge=1)
    bonuses: list[BonusItem] = Field(default_factory=list)
    bonus_cap: float | None = Field(None, gt=0, description="most bonus points in total")
    deductions: list[BonusItem] = Field(default_factory=list)
    deduction_cap: float | None = Field(None, gt=0)
    vetoes: list[Veto] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)
    grades: list[Grade] = Field(min_length=2, description="named grades, best first; the last takes the rest")
    result_label: str | None = Field(
        None, description="what letters call the result: 考核结果, 评审结果, 评价确认结果 …")
    consequence: str | None = Field(
        None, min_length=1, max_length=100,
        description="what the results count toward, said in every result letter (榆阳: 考核结果纳入年度目标责任考核)")
    rank_within: Literal["all", "level", "group"] = Field(
        "all", description=("level: subjects are ranked, and shares and caps counted, among the units of their own "
                            "level (县（市、区） among themselves, 部门 among themselves: 分类考核), not all together; "
                            "group: among the units of their own group (units[].group: 市辖区 and 县（市）, both counties)"))
    tells_rank: bool = Field(
        False, description=("a unit's own result letter gives its place among those ranked with it (特种设备's counties: "
                            "“良好（得分80.83，在9个参评单位中排名第3）”); by default it gives its grade and score only"))
    ties: Literal["components_in_order", "unit_code", "submitted_first", "shared", "shared_in"] = Field(
        "components_in_order",
        description="equal totals: broken by the components in order (then unit code), by unit code, "
                    "submitted_first (the one that handed in first, its earliest hand-in taken: 同分时先申报者在前), "
                    "shared (same rank; a tie that would overflow a cap moves down together), or shared_in "
                    "(same rank; a tie reaching a cap's last place is taken in whole, over the cap: 并列的一并评入)")
    share_of: Literal["ranked", "passing", "all"] = Field(
        "ranked", description=("what a grade's share is counted over: every subject ranked (vetoed ones aside), all: "
                               "every subject, the vetoed too (A级不超过设区市总数的30%: 10 cities, one vetoed, 3 places), or "
                               "passing: those whose total reaches the lowest min_score of the grades above the last "
                               "(AAAAA级不超过确认企业的10%: the enterprises confirmed, not all scored)"))
    share_rounding: Literal["each", "cumulative"] = Field(
        "each", description=("how the shares of the grades that have one become places: each rounded down on its own, "
                             "or cumulative: the grades from the top counted together and rounded once (一等奖前10%、"
                             "二等奖接下来的20%: 17 subjects give the first 1 and the first 5, so 1 and 4 places, "
                             "where each alone gives 1 and 3)"))
    tie_order: list[str] = Field(
        default_factory=list, description=("components_in_order: the component codes equal totals are compared by, "
                                           "in this order (同分时质量提升得分高者在前); default every component in the "
                                           "scheme's order"))

    @model_validator(mode="after")
    def _tie_order_known(self) -> Assessment:
        if not self.components and self.base is None:
            raise ValueError("components（评分部分）至少 1 项；只按加扣分计分的（100分起，逐项扣分）写 base: 100，不写 components")
        if self.components and self.base is not None:
            raise ValueError("base（扣分制的起算分）不与 components 同用：总分 = base + 加分 − 扣分")
        codes = [c.code for c in self.components]
        unknown = [c for c in self.tie_order if c not in codes]
        if unknown:
            raise ValueError(f"tie_order 中的 {'、'.join(unknown)} 不是考核部分代码（现有：{'、'.join(codes)}）")
        if self.tie_order and self.ties != "components_in_order":
            raise ValueError("tie_order 只与 ties: components_in_order 一起使用")
        return self

    @property
    def tie_components(self) -> list[Component]:
        """The components equal totals are compared by, in order (``tie_order``, else all)."""
        by_code = {c.code: c for c in self.components}
        return [by_code[c] for c in self.tie_order] if self.tie_order else list(self.components)

    @field_validator("grades")
    @classmethod
    def _grade_list(cls, grades: list[Grade]) -> list[Grade]:
        names = [g.name for g in grades]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"等次名称重复：{'、'.join(dup)}")
        if not grades[-1].catch_all:
            raise ValueError(
                f"最后一个等次（{grades[-1].name}）应接收其余对象：不设 min_score、max_score、max_count、share")
        for g in grades[:-1]:
            if g.catch_all:
                raise ValueError(f"等次“{g.name}”不是最后一个，须给出 min_score（或 max_score）、max_count 或 share")
        if any(g.min_score is not None for g in grades) and any(g.max_score is not None for g in grades):
            raise ValueError("各等次的分数线写 min_score（分值越高越好）或 max_score（better: lower，分值越低越好），"
                             "不能两种混用")
        key = "max_score" if any(g.max_score is not None for g in grades) else "min_score"
        floored = [g for g in grades if g.line is not None]
        lines = [g.line for g in floored if g.line is not None]
        if lines != sorted(lines, reverse=key == "min_score"):
            order = "高到低递减" if key == "min_score" else "低到高递增（等次从好到差排列：A级风险最低，分数上限最低）"
            raise ValueError(f"各等次的 {key} 应从{order}，实际 {'、'.join(f'{x:g}' for x in lines)}")
        # One line for several tiers told apart by their places (一等奖不超过15%、二等奖不超过30%，均须70分以上).
        for upper, lower in pairwise(floored):
            if upper.line == lower.line and upper.max_count is None and upper.share is None:
                raise ValueError(f"等次“{upper.name}”与“{lower.name}”的 {key} 相同（{upper.line:g}）："
                                 f"“{upper.name}”须有名额（max_count 或 share）才能与之区分，否则 {key} 应严格"
                                 f"{'递减' if key == 'min_score' else '递增'}")
        shares = sum(g.share or 0 for g in grades)
        if shares > 1 + 1e-9:
            raise ValueError(f"各等次 share 之和应不超过 1，实际为 {shares:g}")
        return grades

    @model_validator(mode="after")
    def _checks(self) -> Assessment:
        if self.aggregation == "trimmed_mean" and self.min_reviewers < 3:
            raise ValueError("trimmed_mean（去掉最高分和最低分）需要 min_reviewers ≥ 3")
        if any(g.line is not None and g.line > self.scale for g in self.grades):
            raise ValueError(f"等次分数线高于满分 {self.scale:g}")
        if self.better == "lower" and (g := next((g for g in self.grades if g.min_score is not None), None)):
            raise ValueError(f"better: lower（分值越低越好）：等次“{g.name}”的分数线写 max_score（该等次的最高分），"
                             "不写 min_score")
        if self.better == "higher" and (g := next((g for g in self.grades if g.max_score is not None), None)):
            raise ValueError(f"等次“{g.name}”的 max_score 只用于分值越低越好的考核（写 better: lower，如风险分级）；"
                             "分值越高越好的等次写 min_score（该等次的最低分）")
        names = self.grade_names
        for v in self.vetoes:
            if (v.grade or v.at_most) not in names:
                raise ValueError(f"否决项 {v.code} 的等次 {v.grade or v.at_most!r} 不在 grades 中（可选：{'、'.join(names)}）")
        if self.share_of == "passing" and self.pass_line is None:
            raise ValueError("share_of: passing 按达到分数线的对象计算比例：最后一个等次之上须有等次给出 min_score（或 max_score）")
        parts = {c.code for c in self.components if c.source == "deductions"}
        for item in self.bonuses:
            if item.part is not None:
                raise ValueError(f"加分项 {item.code} 的 part：只有扣分项（deductions）可以计入某一评分部分")
        for item in self.deductions:
            if item.part is not None and item.part not in parts:
                raise ValueError(f"扣分项 {item.code} 的 part {item.part!r} 不是 source: deductions 的评分部分"
                                 f"（可选：{'、'.join(sorted(parts)) or '无'}）")
        if empty := sorted(parts - {d.part for d in self.deductions}):
            raise ValueError(f"评分部分 {empty[0]}（source: deductions）没有扣分项计入：请在扣分项上写 part: {empty[0]}")
        banded = [i for i, g in enumerate(self.grades) if g.share is not None]
        if self.share_rounding == "cumulative" and (len(banded) < 2 or banded != list(range(banded[0], banded[-1] + 1))):
            raise ValueError("share_rounding: cumulative 把各等次的比例从上往下累计后取整：至少两个等次须有 share，"
                             "且有 share 的等次相邻（中间不夹没有 share 的等次）")
        return self

    def share_band(self, name: str) -> tuple[list[str], float]:
        """The grades a share caps together, this one last, and their share: the grade alone, or under
        ``share_rounding: cumulative`` every grade with a share from the top down to it (一等奖、二等奖
        合计不超过30%)."""
        banded = [g for g in self.grades if g.share is not None]
        upto = next(i for i, g in enumerate(banded) if g.name == name) + 1
        band = banded[:upto] if self.share_rounding == "cumulative" else banded[upto - 1:upto]
        return [g.name for g in band], sum(g.share or 0.0 for g in band)

    def title_of(self, grade: str) -> str | None:
        """The title a grade confers (its ``title``), None where it confers none of its own."""
        return next((g.title for g in self.grades if g.name == grade), None)

    @property
    def ending_grades(self) -> frozenset[str]:
        """The grades that end a subject's part in the round (``ends``)."""
        return frozenset(g.name for g in self.grades if g.ends)

    @property
    def grade_names(self) -> list[str]:
        return [g.name for g in self.grades]

    @property
    def pass_line(self) -> float | None:
        """The loosest line of the grades above the last (the lowest min_score; under ``better: lower`` the highest
        max_score): what a subject must reach not to fall to it."""
        lines = [g.line for g in self.grades[:-1] if g.line is not None]
        return (max if self.better == "lower" else min)(lines, default=None)

    def reaches(self, total: float, line: float | None) -> bool:
        """Whether a total reaches a grade's line (at or above it; under ``better: lower`` at or below it)."""
        if line is None:
            return True
        return total <= line + 1e-9 if self.better == "lower" else total >= line - 1e-9

    def reaches_grade(self, total: float, grade: Grade) -> bool:
        return self.reaches(total, grade.line)

    def forces(self, veto: str | None) -> bool:
        """Whether this veto (a result's ``veto``) forces its grade, and its subject stands last: not one that only
        bars the better grades (``at_most``), whose subject is graded and ranked by its score."""
        found = next((v for v in self.vetoes if v.code == veto), None)
        return veto is not None and (found is None or found.grade is not None)

    def barred_grades(self, veto: str | None) -> list[str]:
        """The grades a capping veto (``at_most``) bars: those above its cap; [] for any other."""
        found = next((v for v in self.vetoes if v.code == veto), None)
        if found is None or found.at_most is None:
            return []
        return self.grade_names[:self.grade_names.index(found.at_most)]

    def share_base(self, totals: list[float], vetoed: int = 0) -> int:
        """How many subjects a grade's share is counted over: of the (not vetoed) subjects with these totals, and
        ``vetoed`` more under ``share_of: all``."""
        line = self.pass_line
        if self.share_of == "passing" and line is not None:
            return sum(1 for t in totals if self.reaches(t, line))
        return len(totals) + (vetoed if self.share_of == "all" else 0)


# -- quotas (P4) ---------------------------------------------------------------------------


class QuotaAction(_Model):
    code: Code
    name: str
    goal: int = Field(gt=0, description="city-wide goal (… 家以上)")
    verb: str = Field("培育", min_length=1, max_length=8, description="what a unit does, as its task reads (培育10家以上; 开展, 新增)")
    counter: str = Field("家", min_length=1, max_length=4, description="the measure word of the counts (家, 个, 次, 项)")
    # A unit's quota divides what it did: a quota of 0 or below would score doing well as failing.
    per_unit: dict[Code, PositiveInt] = Field(min_length=1)


class QuotaPlan(_Model):
    years: list[int] = Field(min_length=1)
    area: str | None = Field(None, min_length=2, max_length=8, description=(
        "the whole the goals are for, as letters say it (全市目标); default by the issuer's level: 全省, 全市, 全县"))
    actions: list[QuotaAction] = Field(min_length=1)
    progress_stage: Code = Field(description="the submission stage where yearly progress is reported")
