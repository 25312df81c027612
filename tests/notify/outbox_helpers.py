"""Small programmes and drafts for the outbox tests (tests/data/mini.yaml with other channels)."""

from __future__ import annotations

import datetime as dt
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
