"""The programme file schema: one model expressive enough for every programme round.

A programme file (``config/programmes/*.yaml``) describes one round (周期) of a programme:
who issues it, the units (责任单位) and how they are reached, the list (榜单) of categories
and items, the stages with their dates, windows and per-category overrides, reminder
policies, the assessment (考核) scheme, follow-ups and quotas.

Checks that need only one field live here as pydantic validators; checks that relate parts
of the file to each other (references, ordering, who must be reachable) live in
:mod:`qcycle.loader`, which knows file names and line numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "GRADES",
    "LEVEL_NAMES",
    "Assessment",
    "BonusItem",
    "Category",
    "Channel",
    "Component",
    "Deadline",
    "Grading",
    "Indicator",
    "ListItem",
    "OwedBy",
    "Period",
    "Programme",
    "QuotaAction",
    "QuotaPlan",
    "RelativeDate",
    "ReminderPolicy",
    "RoundInfo",
    "Stage",
    "StageKind",
    "StageOverride",
    "SubmissionKind",
    "Unit",
    "Veto",
]

GRADES = ("A", "B", "C", "D")
LEVEL_NAMES = {
    "province": "省级",
    "city": "市（州）",
    "county": "县（市、区）",
    "office": "基层所",
    "department": "部门",
    "government": "政府",
    "enterprise": "企业",
}
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Code = Annotated[str, Field(pattern=_CODE, min_length=1, max_length=64)]
# A reference to a secret: the value itself never appears in a programme file.
_SECRET_REF = re.compile(r"^(env|secret):[A-Za-z_][A-Za-z0-9_\-]*$")


class _Model(BaseModel):
    # Unknown keys are typos, and a typo in a deadline must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- round and units -----------------------------------------------------------------------


class RoundInfo(_Model):
    code: Code
    name: str = Field(min_length=1)
    programme: str = Field(min_length=1, description="programme family, e.g. 揭榜挂帅")
    issuer: Code = Field(description="unit code of the issuing office; it receives ops digests")
    years: list[int] = Field(min_length=1)
    timezone: Literal["Asia/Shanghai"] = "Asia/Shanghai"
    source: str | None = Field(None, description="the public document this round follows")
    notes: list[str] = Field(default_factory=list)

    @field_validator("years")
    @classmethod
    def _years(cls, years: list[int]) -> list[int]:
        if any(y < 2000 or y > 2100 for y in years):
            raise ValueError("年份应在2000–2100之间")
        if years != sorted(set(years)):
            raise ValueError("年份应升序且不重复，如 [2023, 2024]")
        return years


class Channel(_Model):
    """A way to reach people. ``url`` names where the URL lives, never the URL itself."""

    name: Code
    kind: Literal["email", "wecom", "dingtalk", "feishu", "webhook", "sink"]
    url: str = Field(
        "sink",
        description="env:VAR or secret:BLOCK holding the apprise URL; 'sink' for the local sink",
    )
    tags: list[str] = Field(default_factory=list)
    rate_per_minute: int | None = Field(None, gt=0)

    @field_validator("url")
    @classmethod
    def _no_literal_secret(cls, url: str) -> str:
        if url == "sink" or _SECRET_REF.match(url):
            return url
        raise ValueError(
            "渠道地址只能写成 env:环境变量名 或 secret:密钥块名（或 sink），"
            "不得在文件中直接写入含密钥的URL"
        )


class Unit(_Model):
    code: Code
    name: str = Field(min_length=1)
    level: Literal[
        "province", "city", "county", "office", "department", "government", "enterprise"
    ]
    parent: Code | None = None
    channels: list[Code] = Field(default_factory=list, description="names of channels")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")


# -- the list (榜单) -------------------------------------------------------------------------


class ListItem(_Model):
    code: Code
    name: str = Field(min_length=1)
    content: str | None = Field(None, description="项目内容")
    eligibility: str | None = Field(None, description="揭榜条件")
    criteria: str | None = Field(None, description="评价确认标准")


class Category(_Model):
    code: Code
    name: str = Field(min_length=1)
    items: list[ListItem] = Field(default_factory=list)


# -- dates ---------------------------------------------------------------------------------


class RelativeDate(_Model):
    """A date counted from another stage's date (e.g. rectification 20 working days after results)."""

    stage: Code
    workdays: int | None = Field(None, ge=0)
    days: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_offset(self) -> RelativeDate:
        if (self.workdays is None) == (self.days is None):
            raise ValueError("需要且只能给出 workdays（工作日）或 days（自然日）之一")
        return self


class Deadline(_Model):
    """When something is due, with explicit semantics.

    ``inclusive``: the deadline day itself still counts (submissions until ``time`` that day);
    when false, the cut-off is the start of that day ("X月X日前" read strictly).
    ``roll``: what happens when the day is not a working day.
    """

    date: dt.date | None = None
    after: RelativeDate | None = None
    time: dt.time = dt.time(17, 30)
    inclusive: bool = True
    roll: Literal["next_workday", "previous_workday", "none"] = "next_workday"
    assumption: str | None = Field(None, description="why this value, where the source is silent")

    @model_validator(mode="after")
    def _one_anchor(self) -> Deadline:
        if (self.date is None) == (self.after is None):
            raise ValueError("截止时间需要且只能给出 date（具体日期）或 after（相对某阶段）之一")
        return self


class OwedBy(_Model):
    """Who owes a submission, or who is assessed or notified."""

    levels: list[str] = Field(default_factory=list)
    units: list[Code] = Field(default_factory=list)
    takers: bool = Field(False, description="only units on the published takers list (揭榜名单)")
    grades: list[Literal["A", "B", "C", "D"]] = Field(
        default_factory=list, description="only units that received these grades"
    )

    @model_validator(mode="after")
    def _something(self) -> OwedBy:
        if not (self.levels or self.units or self.takers or self.grades):
            raise ValueError("须至少指明 levels、units、takers 或 grades 之一")
        return self

    def describe(self) -> str:
        parts = []
        if self.levels:
            parts.append("、".join(LEVEL_NAMES.get(x, x) for x in self.levels))
        if self.units:
            parts.append("单位 " + "、".join(self.units))
        if self.takers:
            parts.append("揭榜单位")
        if self.grades:
            parts.append("等次=" + "/".join(self.grades))
        return "，".join(parts)


class ReminderPolicy(_Model):
    before_workdays: list[int] = Field(default_factory=lambda: [5, 3, 1])
    on_deadline_day: bool = True
    time: dt.time = dt.time(9, 0)
    overdue_after_workdays: int = Field(1, ge=1, description="first overdue notice")
    escalate_after_workdays: int | None = Field(3, ge=1)
    escalate_to: str = Field("parent", description="'parent' or a unit code")

    @field_validator("before_workdays")
    @classmethod
    def _positive_desc(cls, days: list[int]) -> list[int]:
        if any(d <= 0 for d in days):
            raise ValueError("提前的工作日数应为正整数")
        return sorted(set(days), reverse=True)


# -- stages --------------------------------------------------------------------------------


class StageKind(StrEnum):
    publication = "publication"  # 发布（榜单、通知、名单、成果）
    submission = "submission"  # a window in which units owe something
    review = "review"  # ops review with a human decision (e.g. 审核揭榜书)
    evaluation = "evaluation"  # 评价确认 with a human decision
    assessment = "assessment"  # 考核: aggregate scores into grades
    notification = "notification"  # results, praise
    notice = "notice"  # 公示 with an objection window
    followup = "followup"  # e.g. 整改 after grade D


class SubmissionKind(StrEnum):
    application = "application"  # 揭榜书 / 申报
    progress_report = "progress_report"  # 中期检查 / 年度进展
    evaluation_request = "evaluation_request"  # 申请评价确认
    self_evaluation = "self_evaluation"  # 自评报告
    rectification_report = "rectification_report"  # 整改报告
    objection = "objection"  # 公示异议
    score = "score"  # 评审打分


class Period(_Model):
    """One occurrence of a repeated submission (mid-term checks, yearly quota progress)."""

    code: Code
    opens: dt.date | None = None
    deadline: Deadline
    categories: list[Code] = Field(default_factory=list, description="empty: all categories")


class StageOverride(_Model):
    """Per-category changes to a stage (P1: 创先引领 evaluation runs a year longer)."""

    on: dt.date | None = None
    opens: dt.date | None = None
    deadline: Deadline | None = None


class Stage(_Model):
    code: Code
    name: str = Field(min_length=1)
    kind: StageKind
    on: dt.date | None = Field(None, description="the day a point event happens")
    after: RelativeDate | None = Field(None, description="the day, counted from another stage")
    opens: dt.date | None = None
    deadline: Deadline | None = None
    periods: list[Period] = Field(default_factory=list)
    submission: SubmissionKind | None = None
    owed_by: OwedBy | None = None
    lateness: Literal["reject", "accept_flag"] = "accept_flag"
    reminders: str | None = Field(None, description="name of a reminder policy")
    decision: bool = Field(False, description="waits for an ops decision")
    template: str | None = Field(None, description="message template for notifications")
    notify: OwedBy | None = Field(None, description="who is told when this stage happens")
    days: int | None = Field(None, gt=0, description="length of a 公示 period in calendar days")
    per_category: dict[Code, StageOverride] = Field(default_factory=dict)
    assumption: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Stage:
        k = self.kind
        if k in (StageKind.submission, StageKind.followup):
            if self.submission is None:
                raise ValueError(f"{k.value} 阶段须给出 submission（应交材料种类）")
            if self.owed_by is None:
                raise ValueError(f"{k.value} 阶段须给出 owed_by（谁应提交）")
            if self.deadline is None and not self.periods:
                raise ValueError(f"{k.value} 阶段须给出 deadline 或 periods")
        elif self.on is None and self.after is None:
            raise ValueError(f"{k.value} 阶段须给出 on（日期）或 after（相对日期）")
        if k is StageKind.notice and self.days is None:
            raise ValueError("公示阶段须给出 days（公示天数）")
        return self


# -- assessment (考核) ----------------------------------------------------------------------


class Component(_Model):
    code: Code
    name: str
    weight: float | None = Field(None, gt=0, description="share of the total; weights sum to 1")
    max_points: float | None = Field(None, gt=0, description="points cap; caps sum to the scale")
    source: Literal["reviews", "indicators", "quotas"] = "reviews"

    @model_validator(mode="after")
    def _one(self) -> Component:
        if (self.weight is None) == (self.max_points is None):
            raise ValueError("须且只能给出 weight（权重）或 max_points（分值上限）之一")
        return self


class BonusItem(_Model):
    code: Code
    name: str
    points: float = Field(gt=0, description="points per occurrence")
    cap: float | None = Field(None, gt=0, description="most points from this item")
    source_round: Code | None = Field(None, description="earned in another round (e.g. 揭榜挂帅)")
    source_grades: list[Literal["A", "B", "C", "D"]] = Field(default_factory=list)


class Veto(_Model):
    code: Code
    name: str
    grade: Literal["A", "B", "C", "D"] = "D"


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
    target_from_superior: bool = Field(False, description="以省上下达指标为准")
    year: int | None = None


class Grading(_Model):
    method: Literal["thresholds", "shares"]
    thresholds: dict[Literal["A", "B", "C"], float] = Field(default_factory=dict)
    shares: dict[Literal["A", "B", "C", "D"], float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Grading:
        if self.method == "thresholds":
            if set(self.thresholds) != {"A", "B", "C"}:
                raise ValueError("thresholds 须给出 A、B、C 三档的最低分（D 为其余）")
            a, b, c = (self.thresholds[g] for g in ("A", "B", "C"))
            if not a > b > c:
                raise ValueError(f"等次分数线须满足 A > B > C，实际 A={a} B={b} C={c}")
        else:
            if set(self.shares) != set(GRADES):
                raise ValueError("shares 须给出 A、B、C、D 四档的比例")
            total = sum(self.shares.values())
            if abs(total - 1) > 1e-9:
                raise ValueError(f"各等次比例之和应为 1，实际为 {total:g}")
        return self


class Assessment(_Model):
    subjects: OwedBy = Field(description="who is assessed")
    scale: float = Field(100, gt=0)
    components: list[Component] = Field(min_length=1)
    aggregation: Literal["mean", "median", "trimmed_mean"] = "mean"
    min_reviewers: int = Field(1, ge=1)
    bonuses: list[BonusItem] = Field(default_factory=list)
    bonus_cap: float | None = Field(None, gt=0, description="most bonus points in total")
    deductions: list[BonusItem] = Field(default_factory=list)
    deduction_cap: float | None = Field(None, gt=0)
    vetoes: list[Veto] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)
    grading: Grading
    tie_rule: Literal["components_in_order", "unit_code"] = "components_in_order"

    @model_validator(mode="after")
    def _trimmed(self) -> Assessment:
        if self.aggregation == "trimmed_mean" and self.min_reviewers < 3:
            raise ValueError("trimmed_mean（去掉最高分和最低分）需要 min_reviewers ≥ 3")
        return self


# -- quotas (P4) ---------------------------------------------------------------------------


class QuotaAction(_Model):
    code: Code
    name: str
    goal: int = Field(gt=0, description="city-wide goal (… 家以上)")
    per_unit: dict[Code, int] = Field(min_length=1)


class QuotaPlan(_Model):
    years: list[int] = Field(min_length=1)
    actions: list[QuotaAction] = Field(min_length=1)
    progress_stage: Code = Field(description="the submission stage where yearly progress is reported")


# -- the file ------------------------------------------------------------------------------


class Programme(_Model):
    round: RoundInfo
    channels: list[Channel] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)
    categories: list[Category] = Field(default_factory=list)
    reminder_policies: dict[Code, ReminderPolicy] = Field(default_factory=dict)
    stages: list[Stage] = Field(min_length=1)
    assessment: Assessment | None = None
    quotas: QuotaPlan | None = None
    statistics: dict[str, float] = Field(
        default_factory=dict, description="programme figures the office reports (P2)"
    )

    # Lookups used everywhere (thousands of times a run at national scale); derived from the
    # frozen fields, so computed once per programme and not part of the schema.
    @cached_property
    def _units_by_code(self) -> dict[str, Unit]:
        return {u.code: u for u in self.units}

    @cached_property
    def _stages_by_code(self) -> dict[str, Stage]:
        return {s.code: s for s in self.stages}

    @cached_property
    def _categories_by_code(self) -> dict[str, Category]:
        return {c.code: c for c in self.categories}

    _DERIVED = ("_units_by_code", "_stages_by_code", "_categories_by_code", "items", "item_category")

    def model_copy(self, *, update=None, deep: bool = False) -> Programme:
        # cached_property values live in __dict__, which model_copy copies: drop them so a
        # copy with other units or stages never answers from the original's lookups.
        copy = super().model_copy(update=update, deep=deep)
        for name in self._DERIVED:
            copy.__dict__.pop(name, None)
        return copy

    def unit(self, code: str) -> Unit:
        return self._units_by_code[code]

    def has_unit(self, code: str) -> bool:
        return code in self._units_by_code

    def stage(self, code: str) -> Stage:
        return self._stages_by_code[code]

    def category(self, code: str) -> Category:
        return self._categories_by_code[code]

    @cached_property
    def items(self) -> list[tuple[Category, ListItem]]:
        return [(c, i) for c in self.categories for i in c.items]

    @cached_property
    def item_category(self) -> dict[str, str]:
        """List item code → its category code."""
        return {i.code: c.code for c, i in self.items}

    def units_matching(self, who: OwedBy) -> list[Unit]:
        """Units a selector can reach before any decision (takers/grades are known only later)."""
        codes, levels = set(who.units), set(who.levels)
        return [u for u in self.units if u.code in codes or u.level in levels]
