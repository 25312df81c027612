"""Deployments from configuration: each programme file becomes a ``reconcile`` deployment.

Schedules come from the programme's timetable, in Asia/Shanghai, and only while the round has
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
Each deploy *replaces* the deployment's schedules (:func:`apply_replacing_schedules` deletes
every schedule this deploy did not send, all of them when it sends none), so dates removed
from a programme file, or a finished round's safety net, do not linger.

An intake deployment is added for a programme that has an entry in ``deploy/intake.yaml``
(URL and the *name* of the environment variable holding the token; never the token).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from qcycle import clock
from qcycle.errors import QcycleError
from qcycle.loader import load_programme
from qcycle.settings import REPO_ROOT
from qcycle.timetable import expand
from qcycle.workcal import default_calendar

__all__ = [
    "SAFETY_NET_TIMES",
    "TIMEZONE",
    "action_times",
    "apply",
    "apply_replacing_schedules",
    "build_deployments",
    "deployment_name",
    "intake_sources",
    "programme_files",
    "schedules_for",
    "serve",
    "wait_for_server",
    "working_day_rule",
]

TIMEZONE = "Asia/Shanghai"
# Official working-day mornings and late afternoons (local time), slug → time of day.
SAFETY_NET_TIMES = {"daily-0905": dt.time(9, 5), "daily-1735": dt.time(17, 35)}
# prefect.client.schemas.schedules.MAX_RRULE_LENGTH (the server refuses longer rules); kept
# here so that importing this module does not import Prefect.
MAX_RRULE_LENGTH = 6500
INTAKE_CRON = "*/30 8-18 * * 1-5"
INTAKE_FILE = REPO_ROOT / "deploy" / "intake.yaml"
# Optional keys of an intake source passed to the flow as they are (see HttpSource).
INTAKE_BOUNDS = ("timeout", "retries", "page_size", "deadline", "max_page_bytes", "allow_redirects_to")


def programme_files(files: Sequence[str | Path] = ()) -> list[Path]:
    """The given files, or every programme in ``config/programmes/``."""
    if files:
        return [Path(f).resolve() for f in files]
    from qcycle.settings import get_settings

    return sorted(p.resolve() for p in get_settings().programmes_dir.glob("*.yaml"))


def deployment_name(round_code: str) -> str:
    return round_code


def action_times(programme_file: str | Path, now: dt.datetime | None = None) -> list[dt.datetime]:
    """Distinct times of the round's actions strictly after ``now`` (default: the clock)."""
    now = clock.to_local(now) if now else clock.now()
    loaded = load_programme(programme_file)
    timetable = expand(loaded.programme, default_calendar())
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

    lines = [f"DTSTART:{stamps([first])}",
             f"RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL={stamps([last])}"]
    if off := [d for d in days if d.weekday() < 5 and not calendar.is_workday(d)]:
        lines.append(f"EXDATE:{stamps(off)}")
    if worked := [d for d in days if d.weekday() >= 5 and calendar.is_workday(d)]:
        lines.append(f"RDATE:{stamps(worked)}")
    return "\n".join(lines)


def _safety_net(path: str, first: dt.date, last: dt.date) -> list:
    from prefect.schedules import RRule

    from flows.lifecycle import SAFETY_NET_ACTOR  # the flow names these runs by it

    out = []
    for slug, at in SAFETY_NET_TIMES.items():
        parts = [(slug, working_day_rule(first, last, at))]
        if parts[0][1] and len(parts[0][1]) > MAX_RRULE_LENGTH:
            # ~60 dates a year fit many times over: only a round of many years gets here.
            parts = [(f"{slug}-{year}", working_day_rule(max(first, dt.date(year, 1, 1)),
                                                         min(last, dt.date(year, 12, 31)), at))
                     for year in range(first.year, last.year + 1)]
        out += [RRule(rule, timezone=TIMEZONE, slug=s,
                      parameters={"programme_file": path, "actor": SAFETY_NET_ACTOR})
                for s, rule in parts if rule]
    return out


def _one_shot(when: dt.datetime, parameters: dict[str, Any], slug: str):
    from prefect.schedules import RRule

    local = clock.to_local(when).replace(microsecond=0)
    rule = f"DTSTART:{local:%Y%m%dT%H%M%S}\nRRULE:FREQ=DAILY;COUNT=1"
    return RRule(rule, timezone=TIMEZONE, parameters=parameters, slug=slug)


def schedules_for(programme_file: str | Path, now: dt.datetime | None = None,
                  extra_slots: Iterable[tuple[dt.datetime | dt.timedelta, dt.datetime]] = ()) -> list:
    """The schedules of one programme's reconcile deployment (see the module docstring).

    ``extra_slots`` are (fire at, logical as_of) pairs added as one-shot schedules (fire at: a
    datetime, or a timedelta from now); tests use them to fire a run seconds from now for a
    moment of a past round.
    """
    now = clock.to_local(now) if now else clock.now()
    path = str(Path(programme_file).resolve())
    times = action_times(path, now)
    # The safety net only while actions are left, and not past the last action's day.
    out = _safety_net(path, now.date(), times[-1].date()) if times else []
    for when in times:
        out.append(_one_shot(when, {"programme_file": path, "as_of": when.isoformat()},
                             f"at-{when:%Y%m%d-%H%M}"))
    for fire, as_of in extra_slots:
        if isinstance(fire, dt.timedelta):  # relative to now: to the moment schedules are built
            fire = clock.now() + fire
        as_of = clock.to_local(as_of)
        out.append(_one_shot(fire, {"programme_file": path, "as_of": as_of.isoformat()},
                             f"extra-{clock.to_local(fire):%Y%m%d-%H%M%S}-{as_of:%Y%m%d-%H%M}"))
    return out


def intake_sources(path: Path = INTAKE_FILE) -> dict[str, dict[str, Any]]:
    """Round code → intake source (``url``, ``token_env``, optional ``cron``), if configured."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): dict(v) for k, v in (data.get("sources") or {}).items()}


def build_deployments(files: Sequence[str | Path] = (), now: dt.datetime | None = None,
                      extra_slots: Iterable[tuple[dt.datetime | dt.timedelta, dt.datetime]] = ()) -> list:
    """Runner deployments (``flow.to_deployment``) for every programme file given (or all)."""
    from prefect.schedules import Cron

    from flows.intake import intake
    from flows.lifecycle import reconcile

    sources = intake_sources()
    extra = list(extra_slots)
    deployments = []
    for path in programme_files(files):
        p = load_programme(path).programme
        code = p.round.code
        deployments.append(reconcile.to_deployment(
            name=deployment_name(code),
            description=f"{p.round.name}：按日程对账（每个动作时间一次，另有法定工作日 09:05、17:35 兜底，至最后一个动作日止）",
            parameters={"programme_file": str(path)},
            schedules=schedules_for(path, now, extra),
            tags=["qcycle", code],
        ))
        source = sources.get(code)
        if source:
            params = {"programme_file": str(path), "url": source["url"],
                      "token_env": source.get("token_env"),
                      **{k: source[k] for k in INTAKE_BOUNDS if k in source}}
            deployments.append(intake.to_deployment(
                name=f"{code}-intake", description=f"{p.round.name}：从 HTTP 接口收取材料",
                parameters=params, tags=["qcycle", code],
                schedules=[Cron(source.get("cron", INTAKE_CRON), timezone=TIMEZONE, parameters=params,
                                slug="intake")],
            ))
    return deployments


def wait_for_server(timeout: float = 90.0, poll: float = 1.0) -> None:
    """Wait until the Prefect API named by ``PREFECT_API_URL`` answers.

    The runbook starts ``prefect server start &`` and then ``qcycle serve`` at once; the server
    takes ~20 s to come up. Raises :class:`QcycleError` saying what to check if it never does,
    or if it refuses our credentials. Without ``PREFECT_API_URL`` there is nothing to wait for.
    """
    import sys
    import time

    import httpx
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return
    secret = PREFECT_API_AUTH_STRING.value()
    if secret is not None and hasattr(secret, "get_secret_value"):
        secret = secret.get_secret_value()
    auth = tuple(secret.split(":", 1)) if secret else None
    deadline = time.monotonic() + timeout
    said = False
    while True:
        try:
            reply = httpx.get(f"{url}/health", auth=auth, timeout=5)
            if reply.status_code == 200:
                return
            if reply.status_code == 401:
                raise QcycleError(f"Prefect 服务器 {url} 拒绝了认证：请检查 PREFECT_API_AUTH_STRING"
                                  "（应与服务器的 PREFECT_SERVER_API_AUTH_STRING 相同）")
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise QcycleError(f"Prefect 服务器 {url} 在 {timeout:.0f} 秒内没有响应：请先运行 "
                              "prefect server start，并确认 PREFECT_API_URL 指向它")
        if not said:
            print(f"等待 Prefect 服务器 {url} 就绪……", file=sys.stderr, flush=True)
            said = True
        time.sleep(poll)


def apply(files: Sequence[str | Path] = (), work_pool: str = "qcycle",
          now: dt.datetime | None = None) -> list[tuple[str, int]]:
    """Create or update the deployments on a work pool of type process (run by its workers).

    The workers run the flows from this checkout (``working_dir``), as ``prefect.yaml`` does.
    """
    from qcycle import db

    wait_for_server()
    db.upgrade()
    done = []
    for d in build_deployments(files, now=now):
        d.work_pool_name = work_pool
        d.job_variables = {"working_dir": str(REPO_ROOT)}
        apply_replacing_schedules(d)
        done.append((f"{d.flow_name}/{d.name}", len(d.schedules or [])))
    return done


def apply_replacing_schedules(deployment) -> None:
    """Create or update one deployment, then delete its schedules that this deploy did not send.

    When every schedule has a slug, Prefect 3.8's server *upserts* schedules by slug and keeps
    the others: without this, a date removed from a programme file would still fire.
    """
    from prefect.client.orchestration import get_client

    deployment_id = deployment.apply()
    keep = {s.slug for s in deployment.schedules or []}
    with get_client(sync_client=True) as client:
        for schedule in client.read_deployment_schedules(deployment_id):
            if schedule.slug not in keep:
                client.delete_deployment_schedule(deployment_id, schedule.id)


def serve(files: Sequence[str | Path] = (), extra_slots: Iterable[tuple[dt.datetime | dt.timedelta, dt.datetime]] = (),
          limit: int | None = None) -> None:
    """Migrate the app database, then run every deployment in this process until stopped.

    Schedules stay active when the process stops (``pause_on_shutdown=False``): a restart
    picks up where it left off, and the safety-net reconcile catches up what was missed.
    """
    from prefect import serve as prefect_serve

    from qcycle import db

    wait_for_server()
    db.upgrade()
    deployments = build_deployments(files, extra_slots=extra_slots)
    for d in deployments:  # serve() applies them again: same slugs, nothing stale left
        apply_replacing_schedules(d)
    prefect_serve(*deployments, pause_on_shutdown=False, limit=limit, print_starting_message=True)


if __name__ == "__main__":  # python -m deploy.deployments [FILES...]
    import sys

    serve(sys.argv[1:])
