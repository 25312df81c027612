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
    "IDENTITY_FIELDS",
    "LEVEL_NAMES",
    "SUBMISSION_TITLES",
    "Assessment",
    "BonusItem",
    "Cadence",
    "Category",
    "Channel",
    "Component",
    "Deadline",
    "Eligibility",
    "Grade",
    "Identity",
    "Indicator",
    "ListItem",
    "NotAwarded",
    "OwedBy",
    "Period",
    "Programme",
    "QuotaAction",
    "QuotaPlan",
    "RankPick",
    "RelativeDate",
    "ReminderPolicy",
    "RoundInfo",
    "RoundPeriod",
    "Stage",
    "StageKind",
    "StageOverride",
    "SubmissionKind",
    "SubmissionKindSpec",
    "Unit",
    "Veto",
    "Who",
    "grade_label",
    "programme_json_schema",
]

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
    years: list[int] = Field(min_length=1, description="calendar years in which the round's actions fall")
    period: RoundPeriod | None = Field(None, description="the period assessed (考核期), if not the years")
    cadence: Cadence | None = Field(None, description="how often the programme runs (每N年一届)")
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

Roll = Literal["next_workday", "previous_workday", "none"]
# The events of a stage a date can be counted from: the day a point stage happens (on), the day
# a window opens or is due, the day a 公示 ends.
Event = Literal["on", "opens", "deadline", "closes"]


class RelativeDate(_Model):
    """A date counted from an event of another stage, e.g. 1 month after results are published.

    ``event`` is explicit: "20 working days after the results" (``on``) and "after the
    rectification window" (``deadline``) are different dates, and the file must say which.
    """

    stage: Code
    event: Event = Field(description="on｜opens｜deadline｜closes：从该阶段的哪个时点起算")
    workdays: int | None = Field(None, ge=0)
    days: int | None = Field(None, ge=0)
    months: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_offset(self) -> RelativeDate:
        given = [x for x in (self.workdays, self.days, self.months) if x is not None]
        if len(given) != 1:
            raise ValueError("需要且只能给出 workdays（工作日）、days（自然日）或 months（月）之一")
        return self


class Deadline(_Model):
    """When something is due, with explicit semantics.

    ``inclusive``: the deadline day itself still counts (submissions until ``time`` that day);
    when false, the cut-off is the start of that day ("X月X日前" read strictly).
    ``roll``: what happens when the day is not a working day (顺延 to the next, 提前 to the
    previous working day, or none).
    """

    date: dt.date | None = None
    after: RelativeDate | None = None
    time: dt.time = dt.time(17, 30)
    inclusive: bool = True
    roll: Roll = "next_workday"
    assumption: str | None = Field(None, description="why this value, where the source is silent")

    @model_validator(mode="after")
    def _one_anchor(self) -> Deadline:
        if (self.date is None) == (self.after is None):
            raise ValueError("截止时间需要且只能给出 date（具体日期）或 after（相对某阶段）之一")
        return self


class RoundPeriod(_Model):
    """The period a round is about (考核期), separate from when its actions happen."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> RoundPeriod:
        if self.end < self.start:
            raise ValueError(f"考核期结束日 {self.end} 早于开始日 {self.start}")
        return self


class Cadence(_Model):
    """How often the programme runs (iCalendar FREQ=YEARLY;INTERVAL=n)."""

    every_years: int = Field(ge=1, le=10)


# -- who (one selection language for owed_by, notify, subjects) -----------------------------


class RankPick(_Model):
    """The first or last N places of an assessment's ranking."""

    top: int | None = Field(None, ge=1)
    bottom: int | None = Field(None, ge=1)
    vetoed: Literal["last", "excluded"] = Field(
        "last", description="where vetoed subjects stand: last places, or left out of the ranking")

    @model_validator(mode="after")
    def _one(self) -> RankPick:
        if (self.top is None) == (self.bottom is None):
            raise ValueError("rank 需要且只能给出 top（前N名）或 bottom（后N名）之一")
        return self

    def describe(self) -> str:
        where = f"前{self.top}名" if self.top is not None else f"后{self.bottom}名"
        return f"排名{where}" + ("（被否决者不计排名）" if self.vetoed == "excluded" else "")


class Who(_Model):
    """Who a stage is for: every criterion given must hold (like a Kubernetes label selector);
    ``any_of`` joins alternatives.

    ``units``/``levels`` pick from the unit hierarchy; the others pick from what happened in
    the round: handed in at a submission stage, approved or rejected at a decision stage,
    given a grade or ranked at an assessment. A subject rejected at any decision stage leaves
    every later selection except ``rejected_at``.
    """

    units: list[Code] = Field(default_factory=list, description="listed units")
    levels: list[str] = Field(default_factory=list, description="levels of the unit hierarchy")
    submitted_at: Code | None = Field(None, description="handed in (accepted) at this submission stage")
    missing_at: Code | None = Field(None, description="owed at this submission stage and never handed in")
    approved_at: Code | None = Field(None, description="approved at this decision stage")
    rejected_at: Code | None = Field(None, description="rejected at this decision stage")
    grades: list[str] = Field(default_factory=list, description="given one of these grades (等次)")
    rank: RankPick | None = Field(None, description="top/bottom N places of the ranking")
    assessed_at: Code | None = Field(None, description="whose results grades/rank read; default the latest")
    any_of: list[Who] = Field(default_factory=list, description="any one of these selections")
    with_rejected: bool = Field(
        False, description="keep subjects rejected at a decision stage (a letter that tells each its outcome)")

    @model_validator(mode="after")
    def _something(self) -> Who:
        if not (self.units or self.levels or self.submitted_at or self.missing_at or self.approved_at
                or self.rejected_at or self.grades or self.rank or self.any_of):
            raise ValueError("须至少给出 units、levels、submitted_at、missing_at、approved_at、rejected_at、"
                             "grades、rank 或 any_of 之一")
        if self.with_rejected and not self.dynamic:
            raise ValueError("with_rejected 只与 submitted_at、approved_at、grades、rank 等一起使用")
        if self.assessed_at and not (self.grades or self.rank):
            raise ValueError("assessed_at 只与 grades 或 rank 一起使用")
        return self

    @property
    def dynamic(self) -> bool:
        """Whether it depends on what happened in the round (not only on the hierarchy)."""
        return bool(self.submitted_at or self.missing_at or self.approved_at or self.rejected_at or self.grades
                    or self.rank or any(w.dynamic for w in self.any_of))

    def stages(self) -> set[str]:
        """Stages this selection reads (decisions, submissions, assessments)."""
        out = {s for s in (self.submitted_at, self.missing_at, self.approved_at, self.rejected_at, self.assessed_at)
               if s}
        for w in self.any_of:
            out |= w.stages()
        return out

    def describe(self, stage_names: dict[str, str] | None = None) -> str:
        names = stage_names or {}

        def name(code: str) -> str:
            return f"“{names.get(code, code)}”"

        parts = []
        if self.levels:
            parts.append("、".join(LEVEL_NAMES.get(x, x) for x in self.levels))
        if self.units:
            parts.append("单位 " + "、".join(self.units))
        if self.submitted_at:
            parts.append(f"在{name(self.submitted_at)}中已提交的单位")
        if self.missing_at:
            parts.append(f"未按期提交{name(self.missing_at)}的单位")
        if self.approved_at:
            parts.append(f"{name(self.approved_at)}通过的对象")
        if self.rejected_at:
            parts.append(f"{name(self.rejected_at)}未通过的对象")
        if self.grades:
            parts.append("考核等次为" + "、".join(grade_label(g) for g in self.grades))
        if self.rank:
            parts.append(self.rank.describe())
        if self.any_of:
            parts.append("或".join(f"（{w.describe(names)}）" for w in self.any_of))
        return "，且".join(parts)


OwedBy = Who  # the name the first version of the schema used


def grade_label(name: str) -> str:
    """How a grade reads in a sentence: 'A' → 'A级', '优秀' stays '优秀'."""
    return f"{name}级" if len(name) == 1 and name.isascii() and name.isalpha() else name


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
    decision = "decision"  # ops decide on each subject (审核、评审、评价确认、审议、批准)
    event = "event"  # a dated step with no decision of its own (会议、现场评审)
    assessment = "assessment"  # 考核: aggregate scores into grades
    notification = "notification"  # results, praise, summons (约谈)
    notice = "notice"  # 公示 with an objection window
    followup = "followup"  # e.g. 整改 after a poor grade


# Built-in submission kinds; a file declares more under ``submission_kinds``.
class SubmissionKind(StrEnum):
    application = "application"  # 揭榜书 / 申报
    progress_report = "progress_report"  # 中期检查 / 年度进展
    evaluation_request = "evaluation_request"  # 申请评价确认
    self_evaluation = "self_evaluation"  # 自评报告
    rectification_report = "rectification_report"  # 整改报告
    objection = "objection"  # 公示异议
    score = "score"  # 评审打分


SUBMISSION_TITLES = {
    "application": "申报材料",
    "progress_report": "进展报告",
    "evaluation_request": "评价确认申请",
    "self_evaluation": "自评报告",
    "rectification_report": "整改报告",
    "objection": "异议",
    "score": "评审打分",
}


class SubmissionKindSpec(_Model):
    """A submission kind of the file's own (目标备案, 推荐意见 …)."""

    title: str = Field(min_length=1, description="how letters name it")


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


class NotAwarded(_Model):
    """A unit given one of ``grades`` in a round of the programme may apply again only
    ``years`` years after that round (an award valid 5 years; 获奖满5年后方可再次申报)."""

    programme: str | None = Field(None, description="programme family; default this round's round.programme")
    grades: list[str] = Field(min_length=1, description="the grades that count as winning")
    years: int = Field(ge=1, le=50)


class Eligibility(_Model):
    """Who may hand in at a window, beyond the selection ``owed_by``: read from earlier rounds."""

    not_awarded: NotAwarded | None = None

    @model_validator(mode="after")
    def _something(self) -> Eligibility:
        if self.not_awarded is None:
            raise ValueError("eligibility 须给出 not_awarded（获奖后若干年内不得再次申报）")
        return self


_WINDOW_KINDS = ("submission", "followup")

# What a record's identity may be made of: the fields every record has, and its own fields.
IDENTITY_FIELDS = ("id", "unit", "item", "period", "category")


class Identity(_Model):
    """What makes two records handed in at a stage the same record: the same key means a new
    version (修改后重报) of that record, never a second submission."""

    key: list[str] = Field(default_factory=lambda: ["unit", "item", "period"], min_length=1,
                           description="id (编号), unit, item, period, category or payload.<字段>")
    on_change: Literal["revise", "conflict"] = Field(
        "revise", description="the same key with new content: a revision kept with its history, "
                              "or a conflict sent to quarantine")

    @field_validator("key")
    @classmethod
    def _fields(cls, key: list[str]) -> list[str]:
        for name in key:
            if name not in IDENTITY_FIELDS and not re.fullmatch(r"payload\.\S+", name):
                raise ValueError(f"记录标识字段 {name!r} 无效（应为 {'、'.join(IDENTITY_FIELDS)} 或 payload.<字段名>）")
        if len(set(key)) != len(key):
            raise ValueError("记录标识字段重复")
        return key


class Stage(_Model):
    code: Code
    name: str = Field(min_length=1)
    kind: StageKind
    on: dt.date | None = Field(None, description="the day a point event happens")
    by: dt.date | None = Field(None, description="a point event held by this day (moved earlier to a working day)")
    after: RelativeDate | None = Field(None, description="the day, counted from another stage's event")
    roll: Roll | None = Field(None, description="a point day that is not a working day: 顺延/提前/none")
    opens: dt.date | None = None
    opens_after: RelativeDate | None = Field(None, description="a window opening counted from another stage")
    deadline: Deadline | None = None
    periods: list[Period] = Field(default_factory=list)
    submission: Code | None = Field(None, description="what is handed in (built-in or submission_kinds)")
    owed_by: Who | None = None
    voluntary: bool = Field(False, description="applying is a choice: no overdue notice or escalation")
    eligibility: Eligibility | None = Field(None, description="conditions read from earlier rounds")
    lateness: Literal["reject", "accept_flag"] = "accept_flag"
    identity: Identity | None = Field(
        None, description="submission/followup stages: the key that makes two records one (default unit+item+period)")
    reminders: str | None = Field(None, description="name of a reminder policy")
    decides: Code | None = Field(
        None, description="decision stages: the stage whose subjects are decided (submission, decision or assessment)")
    among: Who | None = Field(None, description="decision stages: decide only on these subjects of `decides`")
    sender: Code | None = Field(None, description="the unit that signs this stage's letters (default round.issuer)")
    template: str | None = Field(None, description="message template for notifications")
    notify: Who | None = Field(None, description="who is told when this stage happens")
    days: int | None = Field(None, gt=0, description="length of a 公示 period in calendar days")
    per_category: dict[Code, StageOverride] = Field(default_factory=dict)
    assumption: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Stage:
        k = self.kind
        if k.value in _WINDOW_KINDS:
            if self.submission is None:
                raise ValueError(f"{k.value} 阶段须给出 submission（应交材料种类）")
            if self.owed_by is None:
                raise ValueError(f"{k.value} 阶段须给出 owed_by（谁应提交）")
            if self.deadline is None and not self.periods:
                raise ValueError(f"{k.value} 阶段须给出 deadline 或 periods")
            if self.by is not None or self.on is not None:
                raise ValueError(f"{k.value} 阶段用 opens/deadline 表示受理期，不用 on/by")
            if self.after is not None:
                raise ValueError(f"{k.value} 阶段的受理开始日用 opens_after 相对计算（after 只用于时点阶段）")
            if self.opens is not None and self.opens_after is not None:
                raise ValueError("opens 与 opens_after 只能给出其一")
        else:
            anchors = [x for x in (self.on, self.by, self.after) if x is not None]
            if len(anchors) != 1:
                raise ValueError(f"{k.value} 阶段须且只能给出 on（日期）、by（不晚于某日）或 after（相对日期）之一")
            for name in ("submission", "owed_by", "deadline", "opens", "opens_after", "eligibility", "identity"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} 只用于 submission/followup 阶段，{k.value} 阶段不能使用")
            if self.voluntary:
                raise ValueError("voluntary 只用于 submission 阶段")
        if k is StageKind.decision and self.decides is None:
            raise ValueError("decision 阶段须给出 decides（对哪个阶段的对象作决定：申报、上一步决定或考核）")
        if k is not StageKind.decision and (self.decides is not None or self.among is not None):
            raise ValueError("decides、among 只用于 decision 阶段")
        if k is StageKind.notice and self.days is None:
            raise ValueError("公示阶段须给出 days（公示天数）")
        if self.voluntary and k is not StageKind.submission:
            raise ValueError("voluntary 只用于 submission 阶段")
        return self

    @property
    def record_identity(self) -> Identity:
        """The stage's record key, the default when the file gives none."""
        return self.identity or Identity()


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
    source_grades: list[str] = Field(default_factory=list, description="grades earned there")


class Veto(_Model):
    code: Code
    name: str
    grade: str = Field(min_length=1, description="the grade a veto forces (a name from grades)")


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


class Grade(_Model):
    """One named grade (等次 or award tier), best first.

    A ranked subject takes the first grade whose ``min_score`` it reaches and whose cap
    (``max_count``, or ``share`` of the ranked subjects) is not yet full; the last grade takes
    everyone else. A cap is a ceiling: a grade may stay vacant (空缺) when nobody qualifies.
    """

    name: str = Field(min_length=1, max_length=32)
    min_score: float | None = Field(None, ge=0, description="lowest total for this grade")
    max_count: int | None = Field(None, ge=0, description="at most this many (空缺 allowed)")
    share: float | None = Field(None, gt=0, le=1, description="at most this share of the ranked subjects")
    description: str | None = None

    @property
    def catch_all(self) -> bool:
        return self.min_score is None and self.max_count is None and self.share is None


class Assessment(_Model):
    subjects: Who = Field(description="who is assessed")
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
    grades: list[Grade] = Field(min_length=2, description="named grades, best first; the last takes the rest")
    result_label: str | None = Field(
        None, description="what letters call the result: 考核结果, 评审结果, 评价确认结果 …")
    ties: Literal["components_in_order", "unit_code", "shared"] = Field(
        "components_in_order",
        description="equal totals: broken by the components in order (then unit code), by unit code, "
                    "or shared (same rank; a tie that would overflow a cap moves down together)")

    @field_validator("grades")
    @classmethod
    def _grade_list(cls, grades: list[Grade]) -> list[Grade]:
        names = [g.name for g in grades]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"等次名称重复：{'、'.join(dup)}")
        if not grades[-1].catch_all:
            raise ValueError(
                f"最后一个等次（{grades[-1].name}）应接收其余对象：不设 min_score、max_count、share")
        for g in grades[:-1]:
            if g.catch_all:
                raise ValueError(f"等次“{g.name}”不是最后一个，须给出 min_score、max_count 或 share")
        lines = [g.min_score for g in grades if g.min_score is not None]
        if lines != sorted(lines, reverse=True) or len(set(lines)) != len(lines):
            raise ValueError(f"各等次的 min_score 应从高到低严格递减，实际 {'、'.join(f'{x:g}' for x in lines)}")
        shares = sum(g.share or 0 for g in grades)
        if shares > 1 + 1e-9:
            raise ValueError(f"各等次 share 之和应不超过 1，实际为 {shares:g}")
        return grades

    @model_validator(mode="after")
    def _checks(self) -> Assessment:
        if self.aggregation == "trimmed_mean" and self.min_reviewers < 3:
            raise ValueError("trimmed_mean（去掉最高分和最低分）需要 min_reviewers ≥ 3")
        if any(g.min_score is not None and g.min_score > self.scale for g in self.grades):
            raise ValueError(f"等次分数线高于满分 {self.scale:g}")
        names = self.grade_names
        for v in self.vetoes:
            if v.grade not in names:
                raise ValueError(f"否决项 {v.code} 的等次 {v.grade!r} 不在 grades 中（可选：{'、'.join(names)}）")
        return self

    @property
    def grade_names(self) -> list[str]:
        return [g.name for g in self.grades]


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
    version: Literal[2] = Field(description="programme language version (2)")
    round: RoundInfo
    channels: list[Channel] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)
    categories: list[Category] = Field(default_factory=list)
    submission_kinds: dict[Code, SubmissionKindSpec] = Field(
        default_factory=dict, description="submission kinds of this file's own, beyond the built-in ones")
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

    @cached_property
    def submission_stages(self) -> dict[str, list[Stage]]:
        """Submission kind → the stages that take it, in file order."""
        out: dict[str, list[Stage]] = {}
        for s in self.stages:
            if s.submission is not None:
                out.setdefault(s.submission, []).append(s)
        return out

    _DERIVED = ("_units_by_code", "_stages_by_code", "_categories_by_code", "items", "item_category", "stage_names",
                "submission_stages")

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

    def has_stage(self, code: str) -> bool:
        return code in self._stages_by_code

    def category(self, code: str) -> Category:
        return self._categories_by_code[code]

    @cached_property
    def items(self) -> list[tuple[Category, ListItem]]:
        return [(c, i) for c in self.categories for i in c.items]

    @cached_property
    def item_category(self) -> dict[str, str]:
        """List item code → its category code."""
        return {i.code: c.code for c, i in self.items}

    def units_matching(self, who: Who) -> list[Unit]:
        """Units the hierarchy part of a selector allows (``units`` and ``levels``; every unit
        when it names neither). What happened in the round narrows this further."""
        if who.any_of:
            keep = {u.code for w in who.any_of for u in self.units_matching(w)}
        else:
            keep = None
        codes, levels = set(who.units), set(who.levels)
        return [u for u in self.units
                if (not codes or u.code in codes) and (not levels or u.level in levels)
                and (keep is None or u.code in keep)]

    def submission_title(self, kind: str) -> str:
        """How letters name a submission kind (申报材料, 目标备案 …)."""
        spec = self.submission_kinds.get(kind)
        return spec.title if spec is not None else SUBMISSION_TITLES.get(kind, kind)

    @cached_property
    def stage_names(self) -> dict[str, str]:
        return {s.code: s.name for s in self.stages}


Who.model_rebuild()


def programme_json_schema() -> dict:
    """The programme file as JSON Schema, for editors (completion, red underlines)."""
    schema = Programme.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "qcycle programme file (version 2)"
    return schema
