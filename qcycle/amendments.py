"""Amendments (修改方案): what a change to a running round's programme file does to its plan.

An action is identified by what it is for (``application:reminder:T-3@2023-04-20``: the day of
the deadline or event it serves), so moving a deadline from 04-20 to 04-28 drops the reminders
for 04-20 and plans new ones for 04-28. Shown to people, such a pair is one action that moved:
the diff pairs a dropped action with an added one of the same name (the key without its day).
Whether the old one already happened comes from the round's record (``action_run``): it stays
done, and its successor is still to do.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from qcycle.schema import Programme, category_label
from qcycle.timetable import ACTION_LABELS, Action, Timetable

__all__ = ["CHANGE_LABELS", "PlanChange", "describe", "diff_members", "diff_plans", "passed_deadlines"]

# retargeted: same moment, but for another deadline (a window's opening when its deadline moved).
ChangeKind = Literal["added", "moved", "retargeted", "dropped"]
CHANGE_LABELS: dict[str, str] = {"added": "新增", "moved": "改期", "retargeted": "更新", "dropped": "取消"}


@dataclass(frozen=True)
class PlanChange:
    change: ChangeKind
    old: Action | None  # None for an added action
    new: Action | None  # None for a dropped one
    done: bool = False  # the old action already happened (its record stays)

    @property
    def action(self) -> Action:
        return self.new or self.old  # type: ignore[return-value]

    @property
    def label(self) -> str:
        return CHANGE_LABELS[self.change]


def diff_plans(old: Timetable, new: Timetable, done: Collection[str] = ()) -> list[PlanChange]:
    """The actions added, moved and dropped from ``old`` to ``new``, in the order of the day
    they happen (a dropped action: the day it would have). ``done``: keys already carried out."""
    old_by, new_by = old.by_key(), new.by_key()
    changes = [PlanChange("moved", old_by[k], new_by[k], k in done)
               for k in old_by.keys() & new_by.keys() if old_by[k].at != new_by[k].at]
    added: dict[str, list[Action]] = defaultdict(list)
    for a in sorted((a for k, a in new_by.items() if k not in old_by), key=lambda a: a.at):
        added[a.name].append(a)
    for a in sorted((a for k, a in old_by.items() if k not in new_by), key=lambda a: a.at):
        partner = added[a.name].pop(0) if added.get(a.name) else None
        kind: ChangeKind = "dropped" if partner is None else ("moved" if partner.at != a.at else "retargeted")
        changes.append(PlanChange(kind, a, partner, a.key in done))
    changes += [PlanChange("added", None, a) for rest in added.values() for a in rest]
    return sorted(changes, key=lambda c: (c.action.at, c.action.key))


def passed_deadlines(changes: list[PlanChange], moments: Collection[dt.datetime]) -> list[PlanChange]:
    """Deadlines a change moves from ahead of one of ``moments`` (how far the round has run; now)
    to at or before it: the units that had not handed in would be overdue at once, never told
    of the new deadline (its notice and reminders are past too)."""
    return [c for c in changes if c.change == "moved" and c.old is not None and c.new is not None
            and c.new.action == "deadline" and not c.done
            and any(c.new.at <= m < c.old.at for m in moments)]


def _when(at: dt.datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def describe(change: PlanChange) -> str:
    """One line for people: ``改期 提醒 申报材料提交截止前3个工作日：2023-04-17 09:00 → 2023-04-25 09:00（原提醒已执行）``."""
    a = change.action
    what = f"{change.label} {ACTION_LABELS.get(a.action, a.action)} {a.title}"
    if change.change == "moved":
        assert change.old is not None and change.new is not None
        line = f"{what}：{_when(change.old.at)} → {_when(change.new.at)}"
        return line + ("（原日期的已执行，新日期的另行执行）" if change.done else "")
    if change.change == "retargeted":
        assert change.old is not None and change.new is not None
        served = (f"{change.old.deadline:%Y-%m-%d} → {change.new.deadline:%Y-%m-%d}"
                  if change.old.deadline and change.new.deadline else "已变")
        return f"{what}：{_when(a.at)}，所对应的截止日 {served}" + ("（已执行）" if change.done else "")
    if change.change == "dropped":
        return f"{what}：原定 {_when(a.at)}" + ("（已执行，记录保留）" if change.done else "")
    return f"{what}：{_when(a.at)}"


def diff_members(old: Programme, new: Programme) -> list[str]:
    """Units and list items added or taken out, one line each: ``新增单位 示范区管委会（410899）``.

    A unit added mid-round owes only what is still to come: actions already carried out are
    not run again for it."""
    lines: list[str] = []
    before, after = {u.code: u for u in old.units}, {u.code: u for u in new.units}
    lines += [f"新增单位 {after[c].name}（{c}）" for c in sorted(after.keys() - before.keys())]
    lines += [f"删除单位 {before[c].name}（{c}）" for c in sorted(before.keys() - after.keys())]
    was = {(c.code, i.code): (c, i) for c, i in old.items}
    now = {(c.code, i.code): (c, i) for c, i in new.items}
    lines += [f"新增事项 {now[k][1].name}（{category_label(now[k][0].name)}，{k[1]}）" for k in sorted(now.keys() - was.keys())]
    lines += [f"撤销事项 {was[k][1].name}（{category_label(was[k][0].name)}，{k[1]}）" for k in sorted(was.keys() - now.keys())]
    return lines
