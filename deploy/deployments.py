"""Deployments from configuration: each programme file becomes a ``reconcile`` deployment.

Its schedules are planned in :mod:`deploy.schedules` from the round's timetable as it stands
(the file and the units' own deadlines): one one-shot schedule per future action time and a
working-day safety net. Each deploy makes the deployment's schedules exactly those
(:func:`apply_replacing_schedules`), so dates removed from a programme file, or a finished
round's safety net, do not linger; a run of the deployment re-plans them after an amendment.

An intake deployment is added for a programme that has an entry in ``deploy/intake.yaml``
(URL and the *name* of the environment variable holding the token; never the token).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from qcycle.deploy.schedules import TIMEZONE, schedules_for, sync_schedules

from qcycle import db
from qcycle.errors import QcycleError
from qcycle.lifecycle import recorded_extensions
from qcycle.loader import load_programme
from qcycle.settings import REPO_ROOT

__all__ = [
    "apply",
    "apply_replacing_schedules",
    "build_deployments",
    "deployment_name",
    "intake_sources",
    "programme_files",
    "serve",
    "wait_for_server",
]

INTAKE_CRON = "*/30 8-18 * * 1-5"
INTAKE_FILE = Path(__file__).resolve().parent / "intake.yaml"
# Optional keys of an intake source passed to the flow as they are (see HttpSource).
INTAKE_BOUNDS = (
    "timeout",
    "retries",
    "page_size",
    "deadline",
    "max_page_bytes",
    "allow_redirects_to",
)


def programme_files(files: Sequence[str | Path] = ()) -> list[Path]:
    """The given files, or every programme in ``config/programmes/``."""
    if files:
        return [Path(f).resolve() for f in files]
    from qcycle.settings import get_settings

    return sorted(p.resolve() for p in get_settings().programmes_dir.glob("*.yaml"))


def deployment_name(round_code: str) -> str:
    return round_code


def intake_sources(path: Path = INTAKE_FILE) -> dict[str, dict[str, Any]]:
    """Round code → intake source (``url``, ``token_env``, optional ``cron``), if configured."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): dict(v) for k, v in (data.get("sources") or {}).items()}


def build_deployments(
    files: Sequence[str | Path] = (),
    now: dt.datetime | None = None,
    extra_slots: Iterable[tuple[dt.datetime | dt.timedelta, dt.datetime]] = (),
) -> list:
    """Runner deployments (``flow.to_deployment``) for every programme file given (or all),
    each round's schedules planned with the unit extensions recorded for it (the app database
    must be migrated)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron
    from qcycle.flows.intake import intake
    from qcycle.flows.lifecycle import reconcile

    sources = intake_sources()
    extra = list(extra_slots)
    deployments = []
    for path in programme_files(files):
        p = load_programme(path).programme
        code = p.round.code
        with db.session_scope(read_only=True) as session:
            extensions = recorded_extensions(session, code)
        deployments.append(
            reconcile.to_deployment(
                name=deployment_name(code),
                description=f"{p.round.name}：按日程对账（每个动作时间一次，另有法定工作日 09:05、17:35 兜底，至最后一个动作日止）",
                parameters={"programme_file": str(path)},
                schedules=schedules_for(path, now, extra, extensions),
                tags=["qcycle", code],
                entrypoint_type=EntrypointType.MODULE_PATH,  # qcycle.flows...: checkout or wheel
            )
        )
        source = sources.get(code)
        if source:
            params = {
                "programme_file": str(path),
                "url": source["url"],
                "token_env": source.get("token_env"),
                **{k: source[k] for k in INTAKE_BOUNDS if k in source},
            }
            deployments.append(
                intake.to_deployment(
                    name=f"{code}-intake",
                    description=f"{p.round.name}：从 HTTP 接口收取材料",
                    parameters=params,
                    tags=["qcycle", code],
                    entrypoint_type=EntrypointType.MODULE_PATH,
                    schedules=[
                        Cron(
                            source.get("cron", INTAKE_CRON),
                            timezone=TIMEZONE,
                            parameters=params,
                            slug="intake",
                        )
                    ],
                )
            )
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
                raise QcycleError(
                    f"Prefect 服务器 {url} 拒绝了认证：请检查 PREFECT_API_AUTH_STRING"
                    "（应与服务器的 PREFECT_SERVER_API_AUTH_STRING 相同）"
                )
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise QcycleError(
                f"Prefect 服务器 {url} 在 {timeout:.0f} 秒内没有响应：请先运行 "
                "prefect server start，并确认 PREFECT_API_URL 指向它"
            )
        if not said:
            print(f"等待 Prefect 服务器 {url} 就绪……", file=sys.stderr, flush=True)
            said = True
        time.sleep(poll)


def apply(
    files: Sequence[str | Path] = (), work_pool: str = "qcycle", now: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """Create or update the deployments on a work pool of type process (run by its workers).

    The workers run the flows from this checkout (``working_dir``), as ``prefect.yaml`` does.
    """
    wait_for_server()
    db.upgrade()
    done = []
    for d in build_deployments(files, now=now):
        d.work_pool_name = work_pool
        if (REPO_ROOT / "pyproject.toml").is_file():  # a checkout: workers run from it
            d.job_variables = {"working_dir": str(REPO_ROOT)}
        apply_replacing_schedules(d)
        done.append((f"{d.flow_name}/{d.name}", len(d.schedules or [])))
    return done


def apply_replacing_schedules(deployment) -> None:
    """Create or update one deployment, then make its schedules exactly the ones sent.

    When every schedule has a slug, Prefect 3.8's server *upserts* schedules by slug and keeps
    the others: without this, a date removed from a programme file would still fire.
    """
    from prefect.client.orchestration import get_client

    deployment_id = deployment.apply()
    with get_client(sync_client=True) as client:
        sync_schedules(client, deployment_id, deployment.schedules or [])


def serve(
    files: Sequence[str | Path] = (),
    extra_slots: Iterable[tuple[dt.datetime | dt.timedelta, dt.datetime]] = (),
    limit: int | None = None,
) -> None:
    """Migrate the app database, then run every deployment in this process until stopped.

    Schedules stay active when the process stops (``pause_on_shutdown=False``): a restart
    picks up where it left off, and the safety-net reconcile catches up what was missed.
    """
    from prefect import serve as prefect_serve

    wait_for_server()
    db.upgrade()
    deployments = build_deployments(files, extra_slots=extra_slots)
    for d in deployments:  # serve() applies them again: same slugs, nothing stale left
        apply_replacing_schedules(d)
    prefect_serve(*deployments, pause_on_shutdown=False, limit=limit, print_starting_message=True)


if __name__ == "__main__":  # python -m deploy.deployments [FILES...]
    import sys

    serve(sys.argv[1:])
