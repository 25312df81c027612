"""Small programmes and drafts for the outbox tests (tests/data/mini.yaml with other channels)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from qcycle import db
from qcycle.clock import at
from qcycle.lifecycle import Draft, sync_round
from qcycle.loader import LoadedProgramme, load_programme

MINI = Path(__file__).resolve().parent.parent / "data" / "mini.yaml"
DAY = dt.date(2023, 4, 13)  # a Thursday, a working day
DEADLINE = at(dt.date(2023, 4, 14), dt.time(17, 30))


def write_programme(folder: Path, *, channels: list[dict], units: list[dict],
                    templates: dict[str, str] | None = None) -> LoadedProgramme:
    """mini.yaml with these channels and city units (issuer ``p`` keeps the first channel).

    ``templates``: files for the programme's own template folder (templates/<round code>/).
    """
    # Edited as text: YAML 1.1 would read the stages' ``on:`` keys as booleans.
    text = MINI.read_text(encoding="utf-8")
    head, rest = text.split("channels:", 1)
    _, tail = rest.split("categories:", 1)
    issuer = {"code": "p", "name": "省局", "level": "province", "channels": [channels[0]["name"]],
              "email": "ops@example.gov.cn"}
    swapped = yaml.safe_dump({"channels": channels,
                              "units": [issuer] + [{"level": "city", "parent": "p", **u} for u in units]},
                             allow_unicode=True, sort_keys=False)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prog.yaml"
    path.write_text(head + swapped + "categories:" + tail, encoding="utf-8")
    if templates:
        tdir = folder / "templates" / "mini-2023"
        tdir.mkdir(parents=True, exist_ok=True)
        for name, text in templates.items():
            (tdir / name).write_text(text, encoding="utf-8")
    return load_programme(path)


def template_dir(loaded: LoadedProgramme) -> Path:
    return loaded.path.parent / "templates" / loaded.programme.round.code


def round_id(loaded: LoadedProgramme) -> uuid.UUID:
    with db.session_scope() as session:
        return sync_round(session, loaded).id


def reminder(loaded: LoadedProgramme, unit: str, key: str = "application:reminder:T-1",
             template: str = "reminder.j2", day: dt.date = DAY, **extra: Any) -> Draft:
    p = loaded.programme
    ctx = {"programme_name": p.round.name, "item": extra.pop("item", "揭榜书"), "deadline": DEADLINE,
           "working_days_left": 1, "sender_name": "省局", "unit_name": p.unit(unit).name,
           "unit_code": unit} | extra
    return Draft(unit, template, ctx, key, day)


def plain(unit: str, n: int, key: str = "kill", template: str = "plain.j2", day: dt.date = DAY) -> Draft:
    return Draft(unit, template, {"n": n}, f"{key}:{n}", day)


PLAIN_TEMPLATE = "{% block subject %}消息{{ n }}{% endblock %}{% block body %}编号 MSG-{{ n }} 结束{% endblock %}"


REPO = Path(__file__).resolve().parent.parent.parent


def kill_worker_midway(loaded: LoadedProgramme, botserver: Any, total: int, now: dt.datetime, after: int,
                       *mode: str) -> None:
    """Run ``tests.notify.outbox_worker`` (queue ``total`` messages, deliver them) in a process
    of its own and SIGKILL it once the bot stand-in has received ``after`` requests."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.notify.outbox_worker", str(loaded.path), str(total),
                             now.isoformat(), *mode], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(botserver.received) < after:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
