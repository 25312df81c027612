"""A whole round without Prefect in a process of its own, for the fault suite:

    python -m tests.faults.round_child PROGRAMME SEED [--die-after FUNCTION]

plays PROGRAMME (``tests.homes.play_programme``: the world submits, ops decide, every moment's
due actions are carried out and delivered to the sink) in the home of ``QCYCLE_HOME``. With
``--die-after save_results`` the process kills itself with SIGKILL right after the first
assessment's results are written and before its transaction commits: a machine dying in the
middle of an assessment. Run again without it, the round must end as if nothing happened.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from qcycle import crud, db
from tests.homes import play_programme


def _die_after(name: str) -> None:
    original = getattr(crud, name)

    def then_die(*args, **kwargs):
        result = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(crud, name, then_die)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("programme", type=Path)
    parser.add_argument("seed", type=int)
    parser.add_argument("--die-after", choices=["save_results"])
    args = parser.parse_args()
    db.upgrade()
    if args.die_after:
        _die_after(args.die_after)
    play_programme(args.programme, args.seed)


if __name__ == "__main__":
    main()
