"""The letters an action drafts, from what every letter shares: the programme, the stage and
what it asks for (:func:`base_context`), the day a letter bears (:func:`written_on`), one draft
per unit (:func:`draft_letters`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from qcycle import clock
from qcycle.lifecycle.costs import lateness_costs, missing_rule
from qcycle.lifecycle.outcome import Draft
from qcycle.lifecycle.who import owers, p_item_name
from qcycle.render import SYSTEM_SENDER, quoted
from qcycle.schema import Programme, Stage, category_label
from qcycle.timetable import Action
from qcycle.workcal import default_calendar

__all__ = ["ANNOUNCED", "base_context", "costs_told", "draft_letters", "item_name", "naming_owed", "owed_later",
           "reviewed_by_whom", "reviewer_step", "reviewers_named", "workdays_left", "written_on"]


def handed_in_item(p: Programme, stage: Stage, period: str | None = None, category: str | None = None) -> str:
    """What a window asks for, with its period and category: 中期检查（进展报告，2024年6月，创先引领类）."""
    return item_name(p.material(stage), [stage.period_label(period) if period else "",
                                       category_label(p.category(category).name) if category else ""])


def base_context(p: Programme, action: Action) -> dict[str, Any]:
    stage = p.stage(action.stage)
    item = handed_in_item(p, stage, action.period, action.category)
    on = written_on(action)
    late = on > action.at.date()
    left = action.workdays_left or 0
    if late and action.deadline is not None:
        left = max(0, workdays_left(action, on))
    review = next(iter(p.reviews_of(stage.code)), None)
    return {
        "programme_name": p.round.name,
        "round_code": p.round.code,
        "sender_name": p.unit(p.sender(action.stage)).name,
        "stage_name": stage.name,
        # An action for one category (四川's results, a year apart): its letters say which.
        "category_name": p.category(action.category).name if action.category else None,
        "title": action.title,
        "item": item,
        "deadline": action.deadline,
        "working_days_left": left,
        # An announcement that waited for decisions happens when they are made; a window or a 公示
        # keeps the period the timetable enforces (submissions and objections are judged by it).
        "at": clock.at(on, action.at.time()) if late and action.needs and action.action in ANNOUNCED else action.at,
        "today": on,
        # A voluntary window (an award application) invites; it does not demand. One for those a decision
        # rejected (a 复验申请 of those who failed 验收) is a second chance, and one of anything but applications
        # (a 参与确认书) is handed in if wished: neither is an application ("如需申报" had been written).
        "voluntary": bool(stage.voluntary),
        "second_chance": bool(stage.voluntary and (stage.submission not in (None, "application") or stage.owed_by is not None
                                                   and any(w.rejected_at for w in (stage.owed_by, *stage.owed_by.any_of)))),
        # An objection window asks for objections, not for applications.
        "objection": stage.submission == "objection",
        # A window that refuses late hand-ins: past its deadline, a letter cannot ask for one.
        "refused_late": stage.lateness == "reject",
        # What an application must pass before it counts (某市's call said nothing of the 区局推荐 step).
        "review_step": review.name if review else None,
        "review_stage": review.code if review else None,  # named by each unit's reviewer (costs_told)
        "review_named": False,
        "handed_to": "",  # to whom and through which review, where either is said (costs_told)
        # A report sent to another unit than the letters' sender (焦作's 整改报告 to 市政府): a letter
        # says it is not sent, not that the sender has not received it.
        "report_to": p.unit(stage.report_to).name if stage.report_to not in (None, "parent", p.sender(action.stage))
        else None,
        # Each unit's own superior, where the hand-in goes there (``report_to: parent``): named per letter (costs_told).
        "report_parent_of": p.sender(action.stage) if stage.report_to == "parent" else None,
        # A deadline moved off a day off, said with it wherever the letter gives it (原定4月5日，遇节假日顺延).
        "rolled": action.detail.get("rolled"),
        # How and where a window's material goes (报送方式), and whom to ask (联系人), as the file says.
        "submit_via": stage.submit_via,
        "summoned": stage.summoned or "主要负责同志",  # whom a 约谈 calls
        "contact": stage.contact or p.round.contact,
        # What the assessment deducts for this window's deadlines missed (逾期报送的每次扣2分).
        # Not for a deadline no assessment counts (one after the round's last: expander._uncounted_lateness).
        "lateness_costs": lateness_costs(p, stage.code, written_on(action)) if stage.submission
        and not action.detail.get("uncounted") else None,
        # What a decision's rule makes of a miss, said to those the assessment does not grade too (costs_told).
        "missing_rule": missing_rule(p, stage.code, written_on(action)) if stage.submission else None,
    }


ANNOUNCED = frozenset({"publish", "notify"})  # point events that happen by being announced


def item_name(handed_in: str, qualifiers: list[str]) -> str:
    """What a letter asks for ("贵单位应于…前提交{item}"), its period and category in one pair of
    brackets: 中期检查（进展报告，2024年6月，创先引领类）, not 中期检查（进展报告）（2024年6月）（创先引领类）."""
    said = list(dict.fromkeys(q for q in qualifiers if q))  # a period named as its category is said once
    if not said:
        return handed_in
    if handed_in.endswith("）"):
        return f"{handed_in[:-1]}，{'，'.join(said)}）"
    return f"{handed_in}（{'，'.join(said)}）"


def written_on(action: Action) -> dt.date:
    """A letter's date: its action's day, or the later day of the run carrying it out (caught
    up, or released by decisions made later); never the wall clock. Counts run to this day."""
    run_day = clock.run_day()
    return max(action.at.date(), run_day) if run_day is not None else action.at.date()


def workdays_left(action: Action, on: dt.date) -> int:
    """Working days from ``on`` (the day a letter bears) to the action's deadline."""
    assert action.deadline is not None
    return default_calendar().workdays_between(on, action.deadline.date())


def late_note(action: Action) -> str:
    """An opening written after its day (it waited for a decision made late): the run's record tells
    ops how much of the period is left, as the timetable keeps its deadline (江州's one-month 整改期
    had gone out with 5 working days left, and nobody was told)."""
    on = written_on(action)
    if action.deadline is None or on <= action.at.date():
        return ""
    cal = default_calendar()
    planned, left = (cal.workdays_between(day, action.deadline.date()) for day in (action.at.date(), on))
    return (f"；晚于日程（{action.at:%Y-%m-%d}）发出，截止时间仍为 {action.deadline:%Y-%m-%d}（余 {left} 个工作日，"
            f"原定 {planned} 个），如需顺延请用 qcycle amend 修改周期，或用 qcycle extend 为单位延期")


def firm_workdays_left(action: Action, on: dt.date) -> int | None:
    """:func:`workdays_left` where every year it spans has its holidays known (official or the
    operator's), else None: a 整改通知 of late 2026 told "还有66个工作日" to a deadline past a 2027
    春节 whose 调休 the fallback cannot know."""
    assert action.deadline is not None
    calendar = default_calendar()
    if any(calendar.source(year) == "fallback" for year in range(on.year, action.deadline.year + 1)):
        return None
    return workdays_left(action, on)


def draft_letters(units: list[str], template: str, p: Programme, action: Action, *, internal: bool = False,
            private: bool = False, own: dict[str, dict[str, Any]] | None = None, **extra: Any) -> list[Draft]:
    """One draft per unit (``own``: what differs for some units). An office does not write letters
    to itself (it may owe its own part of an assessment); ``internal`` messages (a decision request
    to the office's own reviewers) are signed by the system instead. ``private``: each letter is
    its unit's own news, not posted to a group its peers read."""
    ctx = base_context(p, action) | extra
    sender = p.sender(action.stage)
    if internal:
        ctx["sender_name"] = SYSTEM_SENDER
    return [
        Draft(u, template, costs_told(p, u, ctx | (own or {}).get(u, {}) | {"unit_name": p.unit(u).name, "unit_code": u}),
              action.key, ctx["today"], action.at.date(), private=private, alike=ctx)
        for u in units
        if internal or u != sender
    ]


def costs_told(p: Programme, unit: str, context: dict[str, Any]) -> dict[str, Any]:
    """``context`` as ``unit`` reads it: what the assessment deducts for lateness is told to those it grades
    (a 统计局 owing the report too had read it); the review its hand-in must pass, by its own reviewer
    ("须经东城区市场监督管理局初审", not the stage's name in quotes: "须经“区县局初审”"); the superior it hands in to."""
    if review := context.get("review_stage"):
        # A unit the office reviews itself (a provincial society under the province) is told of no review: "须经某省市场
        # 监督管理局推荐" had gone to those applying directly; a step its name does not say is its reviewer's 审核.
        reviewer = p.reviewer(review, unit)
        named = reviewed_by_whom(p, p.stage(review), unit, context.get("item")) if reviewer else None
        context = {**context, "review_step": named or (p.unit(reviewer).name + "审核" if reviewer else None),
                   "review_named": bool(reviewer)}
    if sender := context.get("report_parent_of"):  # a hand-in each unit sends its own superior (江州's 区县局)
        context = {**context, "report_to": _superior_of(p, unit, sender)}
    if context.get("review_step") or context.get("report_to"):
        context = {**context, "handed_to": _handed_to(context)}
    if not context.get("lateness_costs") or unit in p.assessed_units:
        return context
    return {**context, "lateness_costs": context.get("missing_rule")}  # a decision's rule holds for every ower


def _handed_to(context: dict[str, Any]) -> str:
    """To whom a window's hand-in goes, where not the letter's sender, and the review it must pass, as an opening says
    them: "申报材料报送东城区市场监督管理局，须经其初审。", "所提交的申报材料须经东城区市场监督管理局初审。"."""
    item, named = context.get("item"), context.get("review_named")
    to, review = context.get("report_to") or "", context.get("review_step") or ""
    via = bool(to and named and review.startswith(to))
    said = f"{item}报送{to}{f'，须经其{review[len(to):]}' if via else ''}。" if to else ""
    return said + (f"所提交的{item}须经{review if named else quoted(review)}。" if review and not via else "")


def _superior_of(p: Programme, unit: str, sender: str) -> str | None:
    parent = p.unit(unit).parent
    return p.unit(parent).name if parent and parent != sender else None


def items_named(p: Programme, unit: str, items: list[str]) -> str:
    """A unit's list items (codes) as letters name them: "“现场型成果”、“攻关型成果”"."""
    return "、".join(quoted(p_item_name(p, f"{unit}:{i}") or i) for i in items)


def naming_owed(p: Programme, action: Action, owed: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """A unit that handed in for some of its list items is asked for the others by name:
    "“争创国家级质量标准实验室”中期检查（进展报告）（2023年10月）"."""
    item = base_context(p, action)["item"]
    return {u: {"item": items_named(p, u, items) + item} for u, items in owed.items()}


def owed_later(session, p: Programme, round_id, call: Action, addressed: set[str]) -> dict[str, list[dict[str, Any]]]:
    """unit → what it will owe after a publication or an award, as it owes it now (``detail["later"]``; a
    window owed by a decision not yet made is left out): each thing handed in once, with its
    deadlines in order ("进展报告：2023年7月14日、10月20日")."""
    # unit → item → deadline → (its period's name, why it is that day), and what missing it costs
    owed: dict[str, dict[str, dict[dt.datetime, tuple[str | None, str | None]]]] = defaultdict(lambda: defaultdict(dict))
    costs: dict[str, str | None] = {}
    rules: dict[str, str | None] = {}
    # Deadlines no assessment counts (a fourth quarter due after the December scoring): what lateness
    # costs is not said of them (首席质量官's launch had told the Q4 record cost 5 points).
    free: dict[str, list[str]] = defaultdict(list)
    every: Counter[str] = Counter()  # deadlines of each item
    for d in call.detail.get("later", ()):
        window = p.stage(d["stage"])
        item = handed_in_item(p, window, category=d["category"])
        costs.setdefault(item, lateness_costs(p, window.code))
        rules.setdefault(item, missing_rule(p, window.code))
        every[item] += 1
        day = dt.datetime.fromisoformat(d["deadline"])
        # A month's report due that month is told by its date alone (not "2023年7月于2023年7月14日前").
        period = window.period_label(d["period"]) if d["period"] else None
        if d.get("uncounted"):
            free[item].append(period or f"{day.month}月{day.day}日截止的")
        for u in addressed & set(owers(session, p, round_id, window, d["category"])):
            owed[u][item][day] = (None if period == f"{day.year}年{day.month}月" else period, d.get("rolled"))
    for item, uncounted in free.items():
        costs[item] = None if len(uncounted) >= every[item] or not costs[item] else (
            # Its own sentence: "…扣完为止，2025年第四季度除外" had read as if 扣完为止 did not hold for it (常德's counties).
            f"{costs[item]}{'、'.join(dict.fromkeys(uncounted))}截止时间在考核之后，不在此列。")
    # Periods named only where each deadline has one: "第一季度于…前、第二季度于…前" (安庆's launch listed bare dates).
    return {u: sorted(({"item": item, "deadlines": [{"at": day, "period": period if all(x for x, _ in days.values()) else None,
                                                     "rolled": rolled} for day, (period, rolled) in sorted(days.items())],
                        **costs_told(p, u, {"lateness_costs": costs[item], "missing_rule": rules[item]})}
                       for item, days in mine.items()),
                      key=lambda e: e["deadlines"][0]["at"]) for u, mine in owed.items()}


def reviewed_by_whom(p: Programme, stage: Stage, unit: str, named: str | None = None) -> str | None:
    """A review step as given by the unit's own reviewer ("鼓楼区市场监督管理局初审", not 县（市）区市场监管局初审), or None
    where the stage names no step its reviewers take or the unit has none (市级推荐 by the city itself). ``named``: what
    the sentence names already ("所提交的隐患整改方案须经…审核"), not said again after the reviewer."""
    parent = p.reviewer(stage.code, unit, asked=False)
    step = reviewer_step(stage.name)
    # A name that says what is reviewed, not who reviews (隐患整改方案审核): kept ("未通过某区局审核" had lost its object).
    what = stage.name[:-len(step)] if stage.name.endswith(_REVIEWED_THINGS, 0, len(stage.name) - len(step)) else ""
    what = "" if named and what.startswith(named) else what
    return p.unit(parent).name + what + step if parent and step != stage.name else None


# What a review step's name may say is reviewed, before the step: 隐患整改方案审核, 第一季度整改报告审核.
_REVIEWED_THINGS = ("方案", "报告", "材料", "申请", "申报", "说明", "自评表", "情况")


# What a parent does in a review named after the reviewers ("县（市）区市场监管局初审": 初审).
_REVIEW_STEPS = ("初审", "推荐", "审核", "审查", "复核", "核查", "评审", "提名")


def reviewer_step(name: str) -> str:
    """The step a stage's reviewers take, without the reviewers its name describes: what the
    reviewer itself is asked for (请提出初审意见) and what names it (未通过某区局初审); the whole
    name when it ends in no known step."""
    return next((step for step in _REVIEW_STEPS if name.endswith(step)), name)


# How a stage's name ends the reviewers it names ("县（市）区市场监管局", "乡镇（街道）或有关部门", "县区"): a name before
# its step that ends otherwise names no unit ("年度复核", "整改报告审核", "县区局审核推荐": 各年度的复核意见).
_REVIEWER_ENDINGS = ("局", "部门", "单位", "政府", "街道）", "委员会", "办公室", "协会", "县区", "区县", "市县", "乡镇")


def reviewers_named(name: str) -> str | None:
    """The reviewers a review stage's name describes ("县（市）区市场监管局初审": 县（市）区市场监管局); None where it
    names none ("初审", "年度复核", "县区局审核推荐")."""
    step = reviewer_step(name)
    before = name[:-len(step)] if step != name else ""
    return before if before.endswith(_REVIEWER_ENDINGS) else None
