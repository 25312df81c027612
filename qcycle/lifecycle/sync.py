"""A round as the database knows it: the round, its units and list items kept in step with
its programme file (a changed file recorded as an amendment, with letters for list items taken
out), and its timetable as it stands (the programme's dates and the units' own deadlines)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qcycle import amendments, clock, crud
from qcycle.errors import QcycleError, StateError
from qcycle.lifecycle.changes import amendment_drafts
from qcycle.lifecycle.newcomers import newcomer_drafts
from qcycle.lifecycle.outcome import Draft
from qcycle.lifecycle.plan import recorded_extensions, round_timetable, unit_deadlines
from qcycle.loader import LoadedProgramme, load_programme
from qcycle.models import ProgrammeRound
from qcycle.schema import Programme
from qcycle.timetable import expand
from qcycle.workcal import default_calendar

__all__ = [
    "plan_changes",
    "ran_on",
    "recorded_extensions",
    "round_timetable",
    "sync_round",
    "unit_deadlines",
]


def sync_round(session: Session, loaded: LoadedProgramme, *, actor: str = "qcycle", reason: str = "",
               at: dt.datetime | None = None, allow_passed_deadline: bool = False) -> ProgrammeRound:
    """Make the database know the round, its units and list items (idempotent).

    A programme file that changed since the round last ran is an amendment: recorded with
    ``actor`` and ``reason`` (``qcycle amend`` gives both; a command that merely finds the file
    changed records itself, without a reason), the plan diff and ``at`` (a run's logical
    moment; default now), the date of the notices it causes. One that moves a deadline behind
    the round is refused (:class:`StateError`) unless ``allow_passed_deadline``."""
    p = loaded.programme
    text = loaded.text or None
    drafts: list[Draft] = []
    row, created = crud.get_or_create_round(
        session=session, code=p.round.code, name=p.round.name, issuer_code=p.round.issuer,
        config_path=str(loaded.path), config_sha256=loaded.sha256,
        first_year=p.round.years[0], last_year=p.round.years[-1], programme=p.round.programme,
        config_text=text,
    )
    if row.config_sha256 != loaded.sha256:
        before = ran_on(row, loaded.path)
        members, changes = plan_changes(session, row, loaded, before)
        if not allow_passed_deadline:
            _refuse_passed_deadlines(session, row.id, changes, at)
        on = clock.to_local(at).date() if at else clock.today()
        if before is not None:
            drafts = amendment_drafts(session, before, p, row.id, changes, on) + newcomer_drafts(
                session, before, p, row.id, on)
        crud.add_amendment(session=session, round_id=row.id, actor=actor, reason=reason,
                           sha_before=row.config_sha256, sha_after=loaded.sha256, config_before=row.config_text,
                           config_after=loaded.text, changes=members + [amendments.describe(c) for c in changes],
                           **({"recorded_at": at} if at else {}))
        crud.audit(session=session, actor=actor, action="amend", round_code=p.round.code,
                   detail={"reason": reason, "changes": len(members) + len(changes), "sha256": loaded.sha256})
    if row.config_sha256 != loaded.sha256 or row.programme != p.round.programme or (text and not row.config_text):
        row = crud.update_round(session=session, round_id=row.id, config_sha256=loaded.sha256,
                                config_path=str(loaded.path), name=p.round.name, programme=p.round.programme,
                                config_text=text)
    # Only what changed: a national round has thousands of units, and every import, pull and
    # reconcile syncs the round first.
    stored = crud.unit_fields(session=session, round_id=row.id)
    units: list[dict[str, Any]] = [{"code": u.code, "name": u.name, "level": str(u.level), "parent_code": u.parent}
                                   for u in p.units]
    changed = [u for u in units if stored.get(u["code"]) != (u["name"], u["level"], u["parent_code"])]
    if not created:  # a unit new to a round that has begun joins it now: earlier deadlines are not its own
        joined = at or clock.now()
        changed = [u | {"joined_at": joined} if u["code"] not in stored else u for u in changed]
    if changed:
        crud.upsert_units(session=session, round_id=row.id, units=changed)
    crud.upsert_list_items(session=session, round_id=row.id, items=[
        {"category_code": c.code, "code": i.code, "name": i.name} for c, i in p.items
    ])
    # Submissions stored before hand-ins were counted per stage: the first stage of their kind.
    first: dict[str, str] = {}
    for s in p.stages:
        if s.submission is not None:
            first.setdefault(s.submission, s.code)
    crud.assign_submission_stages(session=session, round_id=row.id, stage_of_kind=first)
    if session.get_bind().dialect.name == "sqlite":  # only SQLite imports drop it (PostgreSQL keeps it)
        crud.restore_handed_in_index(session=session)  # a large import killed mid-way left it dropped
    if drafts:  # queued once the units they go to are the round's
        # Imported here: the outbox sits above the lifecycle rules.
        from qcycle.notify.outbox import queue_drafts

        queue_drafts(session=session, programme=p, round_id=row.id, drafts=drafts, template_dir=loaded.template_dir)
    return row


def ran_on(row: ProgrammeRound, path: str | Path | None = None) -> Programme | None:
    """The programme as the round last ran on it, read as if at ``path`` (default: where it
    was); None when that version was not kept (a round that ran before versions were) or no
    longer reads (the change is recorded, not shown)."""
    if not row.config_text:
        return None
    try:
        return load_programme(path or row.config_path, text=row.config_text).programme
    except QcycleError:
        return None


def plan_changes(session: Session, row: ProgrammeRound, loaded: LoadedProgramme, before: Programme | None = None
                 ) -> tuple[list[str], list[amendments.PlanChange]]:
    """What ``loaded`` changes in the round as it last ran (``row.config_text``, or ``before``
    when the caller has read it): units and list items added or taken out, and the plan diff
    (see :func:`ran_on` for when empty)."""
    before = before or ran_on(row, loaded.path)
    if before is None:
        return [], []
    calendar = default_calendar()
    members = amendments.diff_members(before, loaded.programme)
    return members, amendments.diff_plans(expand(before, calendar), expand(loaded.programme, calendar),
                                          crud.done_action_keys(session=session, round_id=row.id))


def _refuse_passed_deadlines(session: Session, round_id: uuid.UUID, changes: list[amendments.PlanChange],
                             at: dt.datetime | None) -> None:
    """A deadline moved from ahead of the round (how far it has run, or the run's moment) to
    behind it would make every unit that had not handed in overdue, never told of it."""
    reached = max((t for t in crud.recorded_actions(session=session, round_id=round_id).values() if t), default=None)
    for moment, said in ((reached, "本周期已执行到"), (at or clock.now(), "运行时间为" if at else "现在是")):
        if moment is None:
            continue
        moment = clock.to_local(moment)
        if passed := amendments.passed_deadlines(changes, [moment]):
            lines = "；".join(f"{c.action.title}：{c.old.at:%Y-%m-%d %H:%M} → {c.new.at:%Y-%m-%d %H:%M}"  # type: ignore[union-attr]
                             for c in passed)
            raise StateError(f"截止时间改到了已过的时间（{said} {moment:%Y-%m-%d %H:%M}）：{lines}。"
                             "尚未提交的单位会直接逾期，却从未收到新的截止时间。请改为此后的时间；"
                             "如确需如此（已另行通知各单位），用 qcycle amend --allow-passed-deadline 登记")
