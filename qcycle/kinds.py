"""The one registry of action kinds: what the timetable can plan, how it is named, in what order
actions of one moment run, and which flow carries it out.

The timetable only plans kinds listed here, lifecycle has a handler for each (a test checks
both), and ``flows/`` groups them by ``flow``. An unknown kind is an error, never a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from qcycle.errors import TimetableError

__all__ = ["ACTION_KINDS", "STAGE_ACTIONS", "ActionKind", "action_kind"]


@dataclass(frozen=True)
class ActionKind:
    name: str
    label: str  # Chinese, for tables, timelines and reports
    flow: str  # "window": a task of the moment's reconcile run; otherwise the stage flow's name


# In the order actions of one moment run: close before you open, remind before close,
# publish before you open.
ACTION_KINDS: dict[str, ActionKind] = {k.name: k for k in (
    ActionKind("deadline", "截止", "window"),
    ActionKind("notice_close", "公示结束", "publication"),
    ActionKind("overdue", "逾期提醒", "window"),
    ActionKind("escalation", "督办", "window"),  # the units themselves, or their superior
    ActionKind("reminder", "提醒", "window"),
    # A call or a list is published before the window it opens: a unit reads "印发《榜单》"
    # before "揭榜书开始受理", not the other way round.
    ActionKind("publish", "发布", "publication"),
    # An event's notice goes days ahead of it (a unit prepares for a 现场评审); the event
    # itself is a node of the timeline that writes nothing.
    ActionKind("event_notice", "安排通知", "publication"),
    ActionKind("event", "工作节点", "publication"),
    ActionKind("window_open", "开始受理", "window"),
    ActionKind("notice_open", "公示开始", "publication"),
    # A 县级初审: each subject's parent is asked to review before the decision's day.
    ActionKind("review_request", "上级审核通知", "decision"),
    # ... and reminded, some working days before, where opinions are still missing (``reminders``).
    ActionKind("review_reminder", "上级审核提醒", "decision"),
    # The office is asked to decide once the window it decides on has closed, by the decision's day.
    ActionKind("decision_request", "待审核通知", "decision"),
    ActionKind("decision_due", "待审核决定", "decision"),
    ActionKind("assess", "评分汇总", "assessment"),  # 考核, 评审 and 评价 alike
    ActionKind("notify", "结果通知", "notification"),
    ActionKind("followup_open", "整改开始", "followup"),  # after the results it follows from
)}
ORDER = {name: i for i, name in enumerate(ACTION_KINDS)}

# The point action each stage kind plans (window kinds plan openings, reminders, deadlines …).
STAGE_ACTIONS = {
    "publication": "publish",
    "event": "event",
    "decision": "decision_due",
    "assessment": "assess",
    "notification": "notify",
    "notice": "notice_open",
}


def action_kind(name: str) -> ActionKind:
    try:
        return ACTION_KINDS[name]
    except KeyError:
        raise TimetableError(f"未知的动作种类 {name!r}（应为 {'、'.join(ACTION_KINDS)}）") from None
