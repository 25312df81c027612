"""A round's schedules: when its ``reconcile`` deployment fires, and keeping them in step.

Schedules come from the round's timetable as it stands (the programme file and the units' own
deadlines granted with ``qcycle extend``), in Asia/Shanghai, and only while the round has
actions left (a round with nothing after now gets no schedule at all):

* one schedule per distinct *future* action time (publications, window openings, each
  reminder, deadlines, overdue notices, escalations, decisions, assessment, notifications),
  each a one-shot RRule carrying its own parameters ``programme_file`` and ``as_of`` (the
  action time), so the run's name and logical time say which moment it is for;
* the safety net: a reconcile "as of now" (``actor`` ``schedule:safety-net``) at 09:05 and
  17:35 on every official working day (the Chinese calendar of :mod:`qcycle.workcal`: holiday
  weekdays left out, 调休 weekend workdays put in) from today up to the day of the round's last
  action. Prefect never backfills slots missed while nothing was running; this run catches
  them up (closings, overdue notices, escalations; stale reminders skipped with the reason).
  Each is one RRule set: Monday–Friday, minus the holiday weekdays (EXDATE), plus the 调休
  days (RDATE), written in local time without ``Z`` (Prefect's ``RRuleSchedule.to_rrule``
  labels DTSTART, UNTIL, RDATE and EXDATE with the schedule's time zone as they are).

Past action times get no schedule: the scheduler only plans from now on, up to 100 days
ahead, and a one-shot schedule further away is planned once it comes within that horizon.

:func:`sync_schedules` makes a deployment's schedules exactly these, compared by content
(parameters, time zone and the times still to fire), so the deploy commands and every run of a
deployed ``reconcile`` (which re-plans its own deployment after an amendment or an extension)
change only what changed, and dates removed from a programme do not linger.

This module imports neither Prefect's server nor :mod:`flows`: the flows use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from qcycle import clock
from qcycle.loader import load_programme
from qcycle.timetable import SAFETY_NET, UnitDeadline, expand
from qcycle.workcal import default_calendar

__all__ = [
    "PLANNED_SLUGS",
    "SAFETY_NET_ACTOR",
    "SAFETY_NET_TIMES",
    "TIMEZONE",
    "action_times",
    "schedules_for",
    "sync_schedules",
    "working_day_rule",
]

TIMEZONE = "Asia/Shanghai"
SAFETY_NET_ACTOR = "schedule:safety-net"  # the actor of the working-day safety-net runs
# Official working-day mornings and late afternoons (local time; the core's, which the simulated
# year plays too), slug → time of day.
SAFETY_NET_TIMES = {f"daily-{t:%H%M}": t for t in SAFETY_NET}
# prefect.client.schemas.schedules.MAX_RRULE_LENGTH (the server refuses longer rules); kept
# here so that importing this module does not import Prefect.
MAX_RRULE_LENGTH = 6500
# The slugs of the schedules planned from the timetable (action times, safety net).
PLANNED_SLUGS = ("at-", "daily-")


def action_times(
    programme_file: str | Path,
    now: dt.datetime | None = None,
    extensions: Sequence[UnitDeadline] = (),
) -> list[dt.datetime]:
    """Distinct times of the round's actions strictly after ``now`` (default: the clock),
    the units' own deadlines (``extensions``) included."""
    now = clock.to_local(now) if now else clock.now()
    loaded = load_programme(programme_file)
    timetable = expand(loaded.programme, default_calendar(), tuple(extensions))
    return sorted({clock.to_local(a.at) for a in timetable.actions if a.at > now})


def working_day_rule(first: dt.date, last: dt.date, at: dt.time) -> str | None:
    """An RRule set firing at ``at`` (Asia/Shanghai) on each official working day from ``first``
    to ``last`` inclusive, or None if there is none.

    Monday–Friday, minus the weekdays off (EXDATE), plus the weekend days worked (RDATE).
    Naive local stamps: Prefect labels every stamp with the schedule's time zone, keeping its
    digits (``replace(tzinfo=...)``), so a ``Z`` UTC stamp would fire 8 hours off.
    """
    calendar = default_calendar()
    first = calendar.next_workday(first)
    if first > last:
        return None
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    def stamps(ds: Iterable[dt.date]) -> str:
        return ",".join(f"{dt.datetime.combine(d, at):%Y%m%dT%H%M%S}" for d in ds)

    lines = [
        f"DTSTART:{stamps([first])}",
        f"RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL={stamps([last])}",
    ]
    if off := [d for d in days if d.weekday() < 5 and not calendar.is_workday(d)]:
        lines.append(f"EXDATE:{stamps(off)}")
    if worked := [d for d in days if d.weekday() >= 5 and calendar.is_workday(d)]:
        lines.append(f"RDATE:{stamps(worked)}")
    return "\n".join(lines)


def _safety_net(path: str, first: dt.date, last: dt.date) -> list:
    from prefect.schedules import RRule

    out = []
    for slug, at in SAFETY_NET_TIMES.items():
        parts = [(slug, working_day_rule(first, last, at))]
        if parts[0][1] and len(parts[0][1]) > MAX_RRULE_LENGTH:
            # ~60 dates a year fit many times over: only a round of many years gets here.
            parts = [
                (
                    f"{slug}-{year}",
                    working_day_rule(
                        max(first, dt.date(year, 1, 1)), min(last, dt.date(year, 12, 31)), at
                    ),
                )
                for year in range(first.year, last.year + 1)
            ]
        out += [
            RRule(
                rule,
                timezone=TIMEZONE,
                slug=s,
                parameters={"programme_file": path, "actor": SAFETY_NET_ACTOR},
            )
            for s, rule in parts
            if rule
        ]
    return out


def _one_shot(when: dt.datetime, parameters: dict[str, Any], slug: str):
    from prefect.schedules import RRule

    local = clock.to_local(when).replace(microsecond=0)
    rule = f"DTSTART:{local:%Y%m%dT%H%M%S}\nRRULE:FREQ=DAILY;COUNT=1"
    return RRule(rule, timezone=TIMEZONE, parameters=parameters, slug=slug)


def schedules_for(
    programme_file: str | Path,
    now: dt.datetime | None = None,
    extra_slots: Iterable[tuple[dt.datetime | dt.timedelta, dt.datetime]] = (),
    extensions: Sequence[UnitDeadline] = (),
) -> list:
    """The schedules of one programme's reconcile deployment (see the module docstring).

    ``extra_slots`` are (fire at, logical as_of) pairs added as one-shot schedules (fire at: a
    datetime, or a timedelta from now); tests use them to fire a run seconds from now for a
    moment of a past round.
    """
    now = clock.to_local(now) if now else clock.now()
    path = str(Path(programme_file).resolve())
    times = action_times(path, now, extensions)
    # The safety net only while actions are left, and not past the last action's day.
    out = _safety_net(path, now.date(), times[-1].date()) if times else []
    for when in times:
        out.append(
            _one_shot(
                when, {"programme_file": path, "as_of": when.isoformat()}, f"at-{when:%Y%m%d-%H%M}"
            )
        )
    for fire, as_of in extra_slots:
        if isinstance(fire, dt.timedelta):  # relative to now: to the moment schedules are built
            fire = clock.now() + fire
        as_of = clock.to_local(as_of)
        out.append(
            _one_shot(
                fire,
                {"programme_file": path, "as_of": as_of.isoformat()},
                f"extra-{clock.to_local(fire):%Y%m%d-%H%M%S}-{as_of:%Y%m%d-%H%M}",
            )
        )
    return out


def _content(schedule: Any, after: dt.datetime) -> tuple:
    """What a schedule does from ``after`` on: its parameters, time zone and the local times it
    has still to fire. Takes a :class:`prefect.schedules.Schedule`, a ``DeploymentScheduleCreate``
    or a ``DeploymentSchedule`` read back from the server."""
    from dateutil.rrule import rrulestr

    rule = getattr(schedule, "schedule", schedule)  # the create/read models wrap the rule
    rrule = getattr(rule, "rrule", None)
    if rrule is None:  # not ours (a cron or interval someone added): compare it as it is
        return (schedule.parameters, repr(rule))
    naive = clock.to_local(after).replace(tzinfo=None)
    # Prefect reads the stamps as local to the schedule's time zone (see working_day_rule).
    left = tuple(d for d in rrulestr(rrule, forceset=True) if d > naive)
    return (dict(schedule.parameters or {}), rule.timezone, left)


def sync_schedules(client: Any, deployment_id: UUID, schedules: Sequence[Any], now: dt.datetime | None = None,
                   managed: tuple[str, ...] | None = None) -> tuple[list[str], list[str]]:
    """Make the deployment's schedules exactly ``schedules`` (by slug), replacing only those
    whose content differs from now on (a safety net whose first day has passed is the same
    schedule). Returns (slugs added or replaced, slugs removed). Removing a schedule removes the
    runs it had planned. ``managed``: slug prefixes this call owns (others are left as they
    are, e.g. ``--extra-slot`` ones); None: every schedule, those without a slug included (the
    deploy commands own the reconcile deployment's schedules)."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.deployments.schedules import create_deployment_schedule_create
    from prefect.exceptions import ObjectNotFound

    now = clock.to_local(now) if now else clock.now()
    wanted = {s.slug: s for s in schedules}
    existing = client.read_deployment_schedules(deployment_id)
    kept: set[str] = set()
    removed: list[str] = []
    for current in existing:
        if managed is not None and not (current.slug or "").startswith(managed):
            continue
        target = wanted.get(current.slug)
        if (
            target is not None
            and current.slug not in kept
            and _content(current, now) == _content(target, now)
        ):
            kept.add(current.slug)
            continue
        try:
            client.delete_deployment_schedule(deployment_id, current.id)
        except ObjectNotFound:
            pass  # another run of the deployment re-planned it first (runs on two workers)
        if target is None:
            removed.append(current.slug or str(current.id))
    added = [slug for slug in wanted if slug not in kept]
    if added:
        _create(client, deployment_id, {
            slug: wanted[slug] if isinstance(wanted[slug], DeploymentScheduleCreate)
            else create_deployment_schedule_create(wanted[slug])
            for slug in added
        })
    return added, removed


def _create(client: Any, deployment_id: UUID, creates: dict[str, Any]) -> None:
    """Add schedules; those another run of the deployment added meanwhile (slugs are unique
    per deployment: 409 on PostgreSQL, 500 on SQLite) are left as that run made them, from
    the same file."""
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        client.create_deployment_schedules(deployment_id, list(creates.values()))
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code not in (409, 500):
            raise
        have = {s.slug for s in client.read_deployment_schedules(deployment_id)}
        missing = [create for slug, create in creates.items() if slug not in have]
        if missing:
            client.create_deployment_schedules(deployment_id, missing)
