"""Reminders merged: all of a unit's reminders of one day share one outbox row per channel
(keyed with the action ``reminders``). The row keeps what each item was rendered from
(``merge_items``, JSON with dates tagged); a reminder queued later that day while the row is
still queued is merged in and the message re-rendered (``merged_reminder.j2`` for two or more
items). Once the row is claimed for sending, a later reminder starts a continuation row (key
suffix ``#2``, ``#3``): nothing already sent is changed and no item is lost.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle import clock, crud
from qcycle.render import Letters, render_message

__all__ = [
    "MERGEABLE_TEMPLATES",
    "MERGED_TEMPLATE",
    "REMINDERS_ACTION",
    "deadline_today",
    "from_item_json",
    "merge_reminders",
    "render_items",
    "to_item_json",
]

MERGEABLE_TEMPLATES = ("reminder.j2", "overdue.j2", "deadline_moved.j2")
MERGED_TEMPLATE = "merged_reminder.j2"
REMINDERS_ACTION = "reminders"


_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_item_json(value: Any) -> Any:
    # Most of a reminder's ~30 values are plain: answered before the isinstance checks (~800,000
    # calls a national year, cProfile 2026-12-07).
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): to_item_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_item_json(v) for v in value]
    return value


def from_item_json(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$datetime" in value:
            return clock.to_local(dt.datetime.fromisoformat(value["$datetime"]))
        if len(value) == 1 and "$date" in value:
            return dt.date.fromisoformat(value["$date"])
        return {k: from_item_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_item_json(v) for v in value]
    return value



def _distinct(items: Sequence[dict]) -> list[dict]:
    """The items a letter lists: one per thing owed (programme, item, deadline). A moved
    deadline's notice and that day's reminder of the new deadline are one thing to do; the
    notice, which says what changed, stands for both."""
    kept: dict[tuple, dict] = {}
    for item in items:
        c = item["context"]
        key = (c.get("programme_name"), c.get("item"), str(c.get("deadline")))
        if key not in kept or (c.get("moved_from") and not kept[key]["context"].get("moved_from")):
            kept[key] = item
    return list(kept.values())


def _alike(contexts: Sequence[dict], key: str) -> Any:
    """The one value ``key`` has in all of ``contexts``, else None."""
    said = {c.get(key) for c in contexts}
    return next(iter(said)) if len(said) == 1 else None


def render_items(items: Sequence[dict], override: str | Path | None) -> tuple[str, str]:
    items = _distinct(items)
    if len(items) == 1:
        return render_message(items[0]["template"], from_item_json(items[0]["context"]), override)
    contexts = sorted((from_item_json(i["context"]) for i in items), key=lambda c: (clock.to_local(
        c["deadline"]) if isinstance(c.get("deadline"), dt.datetime) else dt.datetime.max.replace(tzinfo=clock.TZ)))
    # One person to ask and one way to hand in for all of them are said once, at the foot; else each item
    # says its own ("报送方式：…" had followed each of two items alike).
    # An item past a deadline that refuses late hand-ins asks for nothing: no 报送方式 of its own to share.
    asking = [c for c in contexts if not (c.get("days_overdue") and c.get("refused_late"))]
    # What the assessment deducts is said once where it is the same for every item, else with each item
    # that has it (a merged letter had dropped it: 某市's counties read it only when one reminder came alone).
    shared = {"contact": _alike(contexts, "contact"), "submit_via": _alike(asking, "submit_via"),
              "lateness_costs": _alike(contexts, "lateness_costs")}
    entries = []
    for c in contexts:
        entry = {"programme_name": c["programme_name"], "item": c["item"], "deadline": c["deadline"],
                 "working_days_left": c.get("working_days_left", 0), "refused_late": bool(c.get("refused_late")),
                 "rolled": c.get("rolled"), **{key: None if shared[key] else c.get(key) for key in shared}}
        if c.get("days_overdue"):
            entry["days_overdue"] = c["days_overdue"]
        if c.get("moved_from"):  # a notice of a moved deadline, merged with the day's reminders
            entry["moved_from"] = c["moved_from"]
        if c.get("escalate_on"):  # an overdue item's warning of the 督办 to come (报送 where it goes elsewhere)
            entry |= {"escalate_on": c["escalate_on"], "escalate_to": c.get("escalate_to"),
                      "report_to": c.get("report_to")}
        entries.append(entry)
    first = contexts[0]
    context = {"unit_name": first["unit_name"], "unit_code": first.get("unit_code"),
               "sender_name": first["sender_name"], "items": entries, **shared}
    if "today" in first:  # the logical date of the reminders merged (one day's)
        context["today"] = first["today"]
    return render_message(MERGED_TEMPLATE, context, override)



def merge_reminders(session: Session, round_id: uuid.UUID, groups: Mapping[tuple[str, str, dt.date], list],
                    bases: Mapping[tuple[str, str, dt.date], str], letters: Letters,
                    tags: Mapping[str, str | None]) -> int:
    """Merge each (unit, channel, day)'s reminder drafts into that day's open message, or
    queue a new one (``key#2``…) when the earlier one is already on its way; ``bases``: each
    group's idempotency key (``REMINDERS_ACTION`` as its action). Returns how many reminders
    were added."""
    if not groups:
        return 0
    session.flush()
    existing = crud.reminder_rows(session=session, bases=bases.values())
    added = 0
    new_rows: list[dict] = []
    fresh_of: dict[str, int] = {}
    for (unit, channel, day), drafts in groups.items():
        base = bases[(unit, channel, day)]
        rows = existing[base]
        known = {item["action_key"] for r in rows for item in (r.merge_items or [])}
        fresh: list[dict] = []
        for d in drafts:
            if d.action_key in known:
                continue
            known.add(d.action_key)
            fresh.append({"template": d.template, "action_key": d.action_key, "context": to_item_json(d.context)})
        if not fresh:
            continue
        # Not a row some posts of which arrived (a long message requeued by ops): what arrived is not rewritten.
        open_row = next((r for r in rows if r.status == "queued" and r.attempts == 0 and not r.parts_sent), None)
        if open_row is not None:
            items = list(open_row.merge_items or []) + fresh
            open_row.subject, open_row.body = render_items(items, letters.override_dir)
            open_row.merge_items = items  # a new list, so the JSON column is seen as changed
            open_row.action = "+".join(i["action_key"] for i in items)
            session.add(open_row)
            added += len(fresh)
            continue
        key = base if not rows else f"{base}#{len(rows) + 1}"
        # One reminder alone is rendered from its draft, not from the JSON kept to merge it later: the round trip
        # read back the same (a national year's messages digest unchanged) and cost ~1 % of the year.
        subject, body = (letters.render(first.template, first.context, first.alike)
                         if len(fresh) == 1 and (first := next(d for d in drafts if d.action_key == fresh[0]["action_key"]))
                         else render_items(fresh, letters.override_dir))
        new_rows.append({"idempotency_key": key, "action": "+".join(i["action_key"] for i in fresh),
                         "unit_code": unit, "channel": channel, "logical_date": day, "subject": subject,
                         "body": body, "round_id": round_id, "tag": tags.get(channel), "merge_items": fresh})
        fresh_of[key] = len(fresh)
    session.flush()
    return added + sum(fresh_of[k] for k in crud.enqueue_messages(session=session, rows=new_rows))



def deadline_today(items: Sequence[dict], day: dt.date) -> dt.datetime | None:
    """The latest of the items' deadlines falling on ``day`` (it bounds the exception)."""
    found = []
    for item in items:
        deadline = from_item_json(item.get("context", {}).get("deadline"))
        if isinstance(deadline, dt.datetime) and clock.to_local(deadline).date() == day:
            found.append(clock.to_local(deadline))
    return max(found) if found else None
