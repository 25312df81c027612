"""Run in a subprocess by the kill test: queue messages to bot stand-ins, then deliver them.

Usage: python -m tests.notify.outbox_worker PROGRAMME_FILE COUNT NOW_ISO [group|long|due]
(``group``: each of COUNT notices to every unit, as a group bot's units share them; ``long``: COUNT
letters of the programme's own template ``long.j2``, each longer than a bot takes in one post;
``due``: queue nothing, deliver what the test queued)
(database and bot URLs come from the environment, as in production).
"""

from __future__ import annotations

import datetime as dt
import sys

from qcycle import db
from qcycle.lifecycle import Draft
from qcycle.loader import load_programme
from qcycle.notify.outbox import deliver_due, queue_drafts
from tests.notify.outbox_helpers import DAY, plain, round_id, template_dir


def main() -> None:
    path, count, now = sys.argv[1], int(sys.argv[2]), dt.datetime.fromisoformat(sys.argv[3])
    loaded = load_programme(path)
    db.upgrade()
    rid = round_id(loaded)
    units = [u for u in loaded.programme.units if u.code != "p"]
    drafts: list[Draft]
    if sys.argv[4:] == ["due"]:
        drafts = []
    elif sys.argv[4:] == ["long"]:
        drafts = [plain(units[n % len(units)].code, n, template="long.j2") for n in range(count)]
    elif sys.argv[4:] == ["group"]:
        drafts = [Draft(u.code, "notice.j2", {"n": n, "unit_name": u.name}, f"notice:{n}", DAY)
                  for n in range(count) for u in units]
    else:
        drafts = [plain(units[n % len(units)].code, n) for n in range(count)]
    with db.session_scope() as session:
        queue_drafts(session=session, programme=loaded.programme, round_id=rid, template_dir=template_dir(loaded),
                     drafts=drafts)
    print("queued", flush=True)
    report = deliver_due(programme=loaded.programme, round_id=rid, now=now, max_workers=8)
    print("delivered", report.as_dict(), flush=True)


if __name__ == "__main__":
    main()
