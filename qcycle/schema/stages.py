"""Stages: their kinds, what is handed in at them (submission kinds, periods, identity,
eligibility), per-category overrides, and the reminder policies a window follows."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from qcycle.schema.base import Code, Contact, SubmitVia, _Model
from qcycle.schema.dates import ClockTime, Deadline, RelativeDate, Roll
from qcycle.schema.who import Who

if TYPE_CHECKING:  # the calendar counts a 公示's working days; the schema does not build one
    from qcycle.workcal import WorkCalendar

__all__ = [
    "EVENT_NOTICE_WORKDAYS",
    "IDENTITY_FIELDS",
    "SUBMISSION_TITLES",
    "Eligibility",
    "Identity",
    "NotAwarded",
    "Period",
    "ReminderPolicy",
    "Stage",
    "StageKind",
    "StageOverride",
    "SubmissionKind",
    "SubmissionKindSpec",
    "Verdicts",
    "period_label",
]

class ReminderPolicy(_Model):
    before_workdays: list[int] = Field(default_factory=lambda: [5, 3, 1])
    on_deadline_day: bool = True
    time: ClockTime = dt.time(9, 0)
    overdue_after_workdays: int = Field(1, ge=1, description="first overdue notice")
    escalate_after_workdays: int | None = Field(3, ge=1)
    escalate_to: str = Field("parent", description=("'parent' (the overdue unit's superior is urged to see to it), 'self' "
                                                    "(the office urges the overdue unit itself), or a unit code"))
    escalate_cc: str | None = Field(
        None, description=("with escalate_to: self, who is copied (抄送): 'parent' (each overdue unit's superior, told "
                           "which of its units were urged) or a unit code"))

    @model_validator(mode="after")
    def _cc_of_self(self) -> ReminderPolicy:
        if self.escalate_cc is not None and self.escalate_to != "self":
            raise ValueError("escalate_cc（抄送）只与 escalate_to: self（督办函直接发给逾期单位）一起使用")
        return self

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
    name: str | None = Field(None, min_length=1, description=(
        "how letters name this occurrence (default from the code: 2023-07 → 2023年7月, 2024 → 2024年度)"))
    opens: dt.date | None = None
    deadline: Deadline
    categories: list[Code] = Field(default_factory=list, description="empty: all categories")

    @property
    def label(self) -> str:
        """The occurrence as a letter names it: its ``name``, else its code read as a month or a
        year ("中期检查（2023年7月）", not "（2023-07）"), else the code itself."""
        return self.name or period_label(self.code)


def period_label(code: str) -> str:
    """A period code as Chinese text: 2023-07 → 2023年7月, 2024 → 2024年度, 2024-Q3 → 2024年第三季度,
    2024-H1 → 2024年上半年; any other code as it is."""
    if m := re.fullmatch(r"(\d{4})", code):
        return f"{m[1]}年度"
    if (m := re.fullmatch(r"(\d{4})-(\d{1,2})", code)) and 1 <= int(m[2]) <= 12:
        return f"{m[1]}年{int(m[2])}月"
    if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", code):
        return f"{m[1]}年第{'一二三四'[int(m[2]) - 1]}季度"
    if m := re.fullmatch(r"(\d{4})-[Hh]([12])", code):
        return f"{m[1]}年{'上下'[int(m[2]) - 1]}半年"
    return code


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

# An event's notice (现场评审, 汇报会) goes a week ahead unless the file says otherwise: a unit
# told on the day cannot prepare for it.
EVENT_NOTICE_WORKDAYS = 5
# Stages whose ``notify`` are invited to them: events, and decisions taken at a meeting (陈述答辩).
_MEETINGS = (StageKind.event, StageKind.decision)

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


class Verdicts(_Model):
    """The words of a decision's two outcomes where they are not 通过/未通过: 合格/不合格 of a 检查结果判定, 通过/限期整改 of a
    中期检查. Letters say "“检查结果判定”为不合格", "“中期检查”结论为限期整改"."""

    approved: str = Field(min_length=1, max_length=16, description="what a 同意 is called (合格)")
    rejected: str = Field(min_length=1, max_length=16, description="what a 不同意 is called (不合格, 限期整改)")


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
    tell_reason: bool = Field(
        False, description="decision stages: a 不同意's note (qcycle decide --note) is told to the unit in its letters")
    on_rejection: str | None = Field(
        None, min_length=1, max_length=100,
        description=("decision stages: what a 不同意 here brings, told with it in the unit's letters "
                     "(撤销试点立项, 取消获奖资格)"))
    on_missing: str | None = Field(
        None, min_length=1, max_length=100,
        description=("decision stages with rejects_missing: what a miss the rule decides brings, where it differs from an "
                     "officer's 不同意 (逾期未提交的视为自动放弃、撤销称号; a 复查申请 refused on its merits is not 放弃); "
                     "default on_rejection"))
    on_approval: str | None = Field(
        None, min_length=1, max_length=100,
        description=("decision stages: what a 同意 here brings, told with it in the unit's letters "
                     "(给予帮扶资金2万元: an enterprise passing 验收 had not been told of its grant)"))
    verdicts: Verdicts | None = Field(
        None, description=("decision stages: the words of its outcomes where they are not 通过/未通过 "
                           "({approved: 合格, rejected: 不合格}); letters say \"“检查结果判定”为不合格\""))
    eliminates: bool = Field(
        True, description=("decision stages: false: a 不同意 here does not take the subject out of later steps, "
                           "lists and letters (中期评估 进展滞后: the unit goes on to 验收, owing a 整改说明)"))
    rejects_missing: bool = Field(
        False, description=("decision stages on a window: those owing it who never handed it in are decided 不同意 by "
                            "the rule on the decision's day (逾期未报送的视为不合格), told so with on_rejection (a county "
                            "that never sent its 年度报告 had read only \"未提交\", and no 不合格)"))
    approves_handed_in: bool = Field(
        False, description=("decision stages with rejects_missing: those who handed the window in are decided 同意 by "
                            "the rule on the same day, and nobody is asked to decide (未按期报送的，取消培优资格: the office "
                            "had to approve every report, and two handed in on time were refused)"))
    reviewed_by: str | None = Field(
        None, min_length=1, max_length=32,
        description=("decision stages on a submission or follow-up window, or on a decision that is (a 市级推荐 after "
                     "the 县级初审; a 区县局's 复查 of its enterprises' 整改报告): "
                     "`parent`, each subject's parent unit (the county bureau of a 县级初审), or a unit level, its "
                     "ancestor at that level (`city`), is asked, the working day after the window closes (or the "
                     "step before is decided), to review its own subjects and report before the decision's day"))
    per_reviewer: Annotated[int, Field(ge=1, le=1000)] | dict[str, Annotated[int, Field(ge=1, le=1000)]] | None = Field(
        None, description=("decision stages with `reviewed_by`: each reviewer approves at most this many subjects "
                           "(推荐名额: 每个设区市推荐不超过5家); or by the reviewer's level, where reviewers differ "
                           "(`{city: 6, department: 4}`: 设区市 6, 行业协会 4)"))
    max_approved: int | None = Field(
        None, ge=1, le=10000, description=("decision stages: at most this many subjects approved in all (优秀组织单位"
                                           "不超过5个, chosen without scores); `qcycle decide` holds ops to it"))
    sender: Code | None = Field(None, description="the unit that signs this stage's letters (default round.issuer)")
    report_to: Code | None = Field(
        None, description=("submission and followup stages: the unit the hand-in goes to (default the stage's sender); "
                           "`parent`: each unit's own superior (an enterprise's 区县局, which receives and reviews it)"))
    template: str | None = Field(None, description="message template for notifications")
    notify: Who | None = Field(None, description="who is told when this stage happens")
    lists: Who | None = Field(
        None, description=("notification stages with `template: report`: the subjects the report lists to `notify` "
                           "(报送推荐名单: those the final decision approved), a letter to a superior; `template: circular`: "
                           "the subjects the 通报 lists (获奖名单: the grades awarded), not every one graded or refused; "
                           "publication stages: the units on the list it publishes (参评企业名单), each told it is on it"))
    notify_ahead: int | None = Field(
        None, ge=1, le=30, description=(
            "event (or decision) stages with notify: the notice (定于某日组织…) goes this many working days "
            f"before the event (default {EVENT_NOTICE_WORKDAYS})"))
    days: int | None = Field(None, gt=0, le=366, description=(
        "notice stages: length of the 公示 period in calendar days; event stages: how many calendar days the "
        "event runs from its day (a 现场评审 visiting units over weeks)"))
    workdays: int | None = Field(None, gt=0, le=60, description=(
        "notice stages, instead of days: length of the 公示 period in working days (公示5个工作日), its first "
        "day counted when it is one"))
    time_of_day: str | None = Field(None, min_length=1, max_length=16, description=(
        "event stages: when in the day, as the notice says it after the date (上午, 下午2:30)"))
    place: str | None = Field(None, min_length=1, max_length=64, description="event stages: where (市政府第一会议室)")
    summoned: str | None = Field(None, min_length=1, max_length=30, description=(
        "notification stages with template summons: whom the summons calls (default 主要负责同志; 设区市考核: "
        "市政府分管负责同志)"))
    requirements: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=10, description=(
            "followup stages: what the 整改通知 asks, listed as 整改要求 (期满复验，复验不通过的撤销试点)"))
    submit_via: SubmitVia | None = Field(None, description=(
        "submission/followup stages: how and where it is handed in, printed in the letters that ask for it "
        "(报送方式：…): 通过“某某系统”在线填报，纸质材料一式两份报送市市场监管局质量发展科; decision stages with "
        "reviewed_by: how the reviewers send their opinions"))
    contact: Contact | None = Field(None, description=(
        "who units ask about this stage, in its letters instead of round.contact (联系人：…)"))
    per_category: dict[Code, StageOverride] = Field(default_factory=dict)
    assumption: str | None = None

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, items: list[str]) -> list[str]:
        said = [x.strip().rstrip("。；;.，, ") for x in items]  # the letter punctuates its list itself
        if not all(said):
            raise ValueError("requirements 的每一项都不能为空白")
        return said

    def places_for(self, level: str) -> int | None:
        """A reviewer's places (``per_reviewer``), by its level where they are set by level; None: no cap."""
        return self.per_reviewer.get(level) if isinstance(self.per_reviewer, dict) else self.per_reviewer

    def period_label(self, code: str) -> str:
        """A period of this stage as letters name it (``Period.label``; an unknown code as it is)."""
        return next((x.label for x in self.periods if x.code == code), code)

    @property
    def handed_in(self) -> str:
        """What a unit hands in at this stage, as letters name it: 提交揭榜书 is handed in as 揭榜书,
        申请评价确认 as 评价确认申请 (not "提交申请评价确认"), 提出验收申请 as 验收申请."""
        item = re.sub(r"^(提交|报送|上报|提出)", "", self.name) or self.name
        # What it is is read before a closing note: "申请材料（申请书、自我声明、计量器具台账）" had read "材料（…）申请".
        closing = re.search(r"(?:（[^（）]*）|\([^()]*\))$", item)
        head, note = (item[:closing.start()], closing.group()) if closing else (item, "")
        # The verb after the thing (能力验证结果上报): "提交能力验证结果上报" had been asked for in 31 letters.
        head = re.sub(r"(?<=..)(上报|报送|提交)$", "", head)
        # 申请材料, 申请书 are already things handed in (江西's read "材料申请").
        verb = head.startswith("申请") and len(head) > 2 and not head.endswith(("材料", "书", "表", "报告", "资料", "文件"))
        return f"{head[2:]}申请{note}" if verb else head + note

    def brings(self, by: str = "") -> str | None:
        """What a 不同意 here brings: a miss the rule decided (``by`` "rule:missing") its ``on_missing``, else
        ``on_rejection``."""
        return self.on_missing or self.on_rejection if by == "rule:missing" else self.on_rejection

    def consequences(self) -> list[str]:
        """Every consequence a 不同意 here may bring, as letters strip them from a verdict to say them apart."""
        return [x for x in dict.fromkeys((self.on_missing, self.on_rejection)) if x]

    @model_validator(mode="after")
    def _shape(self) -> Stage:
        k = self.kind
        if k.value in _WINDOW_KINDS:
            self._window_shape()
        else:
            self._point_shape()
        if k is StageKind.decision and self.decides is None:
            raise ValueError("decision 阶段须给出 decides（对哪个阶段的对象作决定：申报、上一步决定或考核）")
        if k is not StageKind.decision and (self.decides is not None or self.among is not None or self.tell_reason
                                            or self.reviewed_by is not None or self.on_rejection is not None
                                            or self.on_approval is not None or not self.eliminates or self.rejects_missing):
            raise ValueError("decides、among、tell_reason、reviewed_by、on_rejection、on_approval、eliminates、rejects_missing "
                             "只用于 decision 阶段")
        if k is not StageKind.decision and self.verdicts is not None:
            raise ValueError("verdicts（两种结论的名称）只用于 decision 阶段")
        if self.on_missing is not None and not self.rejects_missing:
            raise ValueError("on_missing（按规定未提交视为不通过时带来的后果）只与 rejects_missing: true 一起使用")
        if self.approves_handed_in and not (self.rejects_missing and self.reviewed_by is None and self.max_approved is None):
            raise ValueError("approves_handed_in（按期提交的按规定通过）只与 rejects_missing: true 一起使用，"
                             "且不与 reviewed_by、max_approved 同用（没有要审核、要选的）")
        if k is StageKind.notice and (self.days is None) == (self.workdays is None):
            raise ValueError("公示阶段须给出 days（公示天数）或 workdays（公示的工作日数）之一")
        if self.workdays is not None and k is not StageKind.notice:
            raise ValueError("workdays 只用于公示（notice）阶段：公示的工作日数")
        if self.days is not None and k not in (StageKind.notice, StageKind.event):
            raise ValueError("days 只用于公示（notice）阶段的公示天数，或活动（event）阶段的持续天数")
        self._fields_of_one_kind()
        if (self.lists is None and self.template == "report") or (
                self.lists is not None and self.template not in ("report", "circular") and k is not StageKind.publication):
            raise ValueError("template: report（向上级报送名单）须给出 lists（报送哪些对象）；lists 只用于 template: report，"
                             "template: circular（通报只列这些对象，如获奖名单），或 publication（所发布名单上的对象）")
        if self.per_reviewer is not None and self.reviewed_by is None:
            raise ValueError("per_reviewer（每个审核单位的推荐名额）只用于有 reviewed_by 的 decision 阶段")
        if self.notify_ahead is not None and (k not in _MEETINGS or self.notify is None):
            raise ValueError("notify_ahead 只用于有 notify 的 event 或 decision 阶段（提前几个工作日通知参加单位）")
        return self

    def _fields_of_one_kind(self) -> None:
        """Fields that mean something for some kinds of stage only."""
        k = self.kind
        for given, kinds, message in (
                (self.voluntary, ("submission",), "voluntary 只用于 submission 阶段"),
                (self.report_to is not None, _WINDOW_KINDS, "report_to（材料报送的单位）只用于 submission/followup 阶段"),
                (self.requirements, ("followup",), "requirements（整改要求）只用于 followup（整改）阶段"),
                (self.summoned is not None and self.template != "summons", (),
                 "summoned（约谈对象）只用于 template: summons 的 notification 阶段"),
                (self.time_of_day is not None or self.place is not None, ("event",),
                 "time_of_day、place 只用于 event 阶段（活动在当天的时间与地点）"),
                (self.submit_via is not None and not self.reviewed_by, _WINDOW_KINDS,
                 "submit_via（报送方式）只用于 submission/followup 阶段，或有 reviewed_by 的 decision 阶段（上级报送意见的方式）"),
                (self.max_approved is not None, ("decision",), "max_approved（最多同意几个）只用于 decision 阶段")):
            if given and k.value not in kinds:
                raise ValueError(message)

    @property
    def notice_workdays(self) -> int | None:
        """Working days ahead of an event (or a decision taken at a meeting the units attend: a
        陈述答辩) its notice goes; ``None``: nobody is told of it."""
        if self.kind not in _MEETINGS or self.notify is None:
            return None
        return EVENT_NOTICE_WORKDAYS if self.notify_ahead is None else self.notify_ahead

    def last_day(self, day: dt.date, calendar: WorkCalendar) -> dt.date | None:
        """The last day of an event or a 公示 of several days (``days``, or ``workdays`` counted on the
        calendar from ``day``, itself counted when it is a working day); None for one day."""
        if self.kind is StageKind.notice and self.workdays is not None:
            last = calendar.add_workdays(day - dt.timedelta(days=1), self.workdays)
            return last if last != day else None
        if self.kind not in (StageKind.event, StageKind.notice) or not self.days or self.days == 1:
            return None
        return day + dt.timedelta(days=self.days - 1)

    @property
    def span(self) -> str | None:
        """How long a 公示 or an event runs, as a letter says it: "7天", "5个工作日"."""
        return f"{self.workdays}个工作日" if self.workdays is not None else (f"{self.days}天" if self.days else None)

    def _window_shape(self) -> None:
        """A submission or follow-up stage: a window, what is owed in it and by whom."""
        k = self.kind
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

    def _point_shape(self) -> None:
        """Any other stage: one dated point, and none of a window's fields."""
        k = self.kind
        anchors = [x for x in (self.on, self.by, self.after) if x is not None]
        if len(anchors) != 1:
            raise ValueError(f"{k.value} 阶段须且只能给出 on（日期）、by（不晚于某日）或 after（相对日期）之一")
        for name in ("submission", "owed_by", "deadline", "opens", "opens_after", "eligibility", "identity",
                     "reminders"):  # reminders chase what is owed in a window: a point has none to chase
            # ... but the opinions a decision asks its reviewers for (区局推荐意见) are owed by a day.
            if name == "reminders" and k is StageKind.decision and self.reviewed_by is not None:
                continue
            if getattr(self, name) is not None:
                raise ValueError(f"{name} 只用于 submission/followup 阶段"
                                 + ("（以及有 reviewed_by 的 decision 阶段：提醒上级单位报送意见）" if name == "reminders" else "")
                                 + f"，{k.value} 阶段不能使用")
        if self.voluntary:
            raise ValueError("voluntary 只用于 submission 阶段")

    @property
    def record_identity(self) -> Identity:
        """The stage's record key, the default when the file gives none."""
        return self.identity or Identity()
