"""Run in a subprocess by the kill test: queue messages to bot stand-ins, then deliver them.

Usage: python -m tests.notify.outbox_worker PROGRAMME_FILE COUNT NOW_ISO
(database and bot URLs come from the environment, as in production).
"""

from __future__ import annotations

import datetime as dt
import sys

from qcycle import db
from qcycle.loader import load_programme
from qcycle.notify.outbox import deliver_due, queue_drafts
from tests.notify.outbox_helpers import plain, round_id, template_dir


def main() -> None:
    path, count, now = sys.argv[1], int(sys.argv[2]), dt.datetime.fromisoformat(sys.argv[3])
    loaded = load_programme(path)
    db.upgrade()
    rid = round_id(loaded)
    units = [u.code for u in loaded.programme.units if u.code != "p"]
    with db.session_scope() as session:
        queue_drafts(session=session, programme=loaded.programme, round_id=rid, template_dir=template_dir(loaded),
                     drafts=[plain(units[n % len(units)], n) for n in range(count)])
    print("queued", flush=True)
    report = deliver_due(programme=loaded.programme, round_id=rid, now=now, max_workers=8)
    print("delivered", report.as_dict(), flush=True)


if __name__ == "__main__":
    main()
