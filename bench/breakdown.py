"""Where a floor year's seconds go: by step (the moments' actions, queuing, delivery, the world's
hand-ins and decisions), by kind of action, and by SQL statement.

```bash
.venv/bin/python bench/breakdown.py --units 3209 --json breakdown.json
```

The floor year of ``bench/modes.py floor`` in this process, each step timed as it returns (a statement to its
first row: fetching a SELECT's rows is counted where they are read, not as SQL). The
timers cost a little (a perf_counter pair per call and per statement): read the figures side by
side, not against a ``wall_s`` of ``bench/run.py``. A profiler says which functions are hot; this
says which of the programme's actions and statements the seconds belong to (a national year's
result letters cost more than its 15,000 reminders).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["breakdown", "statement_kind"]

STEPS = ("carry_out", "queue_drafts", "deliver_due", "world_submit", "world_decide")
OUTSIDE = "(no action: refusals answered)"


def statement_kind(statement: str, many: bool) -> str:
    """A statement as the breakdown groups it: whitespace collapsed, each ``(?, ?, …)`` list as
    ``(?…)`` (an IN list of 2 or 500 ids is one statement), ``MANY`` before an executemany."""
    text = re.sub(r"\(\?(?:, \?)*\)", "(?…)", re.sub(r"\s+", " ", statement).strip())
    return ("MANY " if many else "") + text


class _Clock:
    """Seconds and calls per key; ``timed(key_of, f)`` wraps ``f`` to add its time under
    ``key_of(args, kwargs)``."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()

    def add(self, key: str, seconds: float) -> None:
        self.seconds[key] += seconds
        self.calls[key] += 1

    def timed(self, key_of: Callable[..., str], f: Callable[..., Any],
              after: Callable[[str, Any], None] | None = None) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key, started = key_of(*args, **kwargs), time.perf_counter()
            result = f(*args, **kwargs)
            self.add(key, time.perf_counter() - started)
            if after is not None:
                after(key, result)
            return result
        return wrapper


def breakdown(programme_file: Path, home: Path, top: int = 25) -> dict[str, Any]:
    """Run the floor year of ``programme_file`` in ``home`` with every step timed (patches this
    process's qcycle modules: run it in a process of its own)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from bench import modes
    from qcycle import moment
    from qcycle.notify import outbox
    from qcycle.synthetic import World

    steps, actions, sql = _Clock(), _Clock(), _Clock()
    drafts: collections.Counter[str] = collections.Counter()
    current = {"action": OUTSIDE}

    def action_kind(session: Any, p: Any, round_id: Any, action: Any, **_: Any) -> str:
        current["action"] = f"{action.action}:{action.stage or ''}"
        return current["action"]

    def count_drafts(key: str, outcome: Any) -> None:
        drafts[key] += len(outcome.drafts)

    perform = moment.perform

    def performed(*args: Any, **kwargs: Any) -> Any:
        try:
            return perform(*args, **kwargs)
        finally:  # letters queued outside an action (late hand-ins answered) are not the last action's
            current["action"] = OUTSIDE

    moment.perform = performed
    carry_out = moment.carry_out
    moment.carry_out = actions.timed(action_kind, steps.timed(lambda *a, **k: "carry_out", carry_out),
                                     count_drafts)
    queued = _Clock()  # queuing by the action whose drafts it queues
    queue_drafts = steps.timed(lambda *a, **k: "queue_drafts", moment.queue_drafts)
    moment.queue_drafts = queued.timed(lambda *a, **k: current["action"], queue_drafts)
    outbox.deliver_due = steps.timed(lambda *a, **k: "deliver_due", outbox.deliver_due)
    World.submit = steps.timed(lambda *a, **k: "world_submit", World.submit)  # type: ignore[method-assign]
    World.decide = steps.timed(lambda *a, **k: "world_decide", World.decide)  # type: ignore[method-assign]

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["breakdown_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sql.add(statement_kind(statement, many), time.perf_counter() - conn.info.pop("breakdown_started"))

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        figures = modes.run_mode("floor", programme_file, home)
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
    kinds = sorted(actions.seconds.keys() | queued.seconds.keys(), key=lambda k: -(actions.seconds[k] + queued.seconds[k]))
    return {
        "wall_s": figures["wall_s"], "messages": figures["messages"], "records": figures["records"],
        "steps": {step: round(steps.seconds[step], 3) for step in STEPS},
        "steps_calls": {step: steps.calls[step] for step in STEPS},
        "other_s": round(figures["wall_s"] - sum(steps.seconds[s] for s in STEPS), 3),
        "actions": [{"action": k, "runs": actions.calls[k], "drafts": drafts[k],
                     "carry_s": round(actions.seconds[k], 3), "queue_s": round(queued.seconds[k], 3)}
                    for k in kinds],
        # Each statement to its first row: SQLite makes a SELECT's other rows as they are fetched, apart.
        "sql_s": round(sum(sql.seconds.values()), 3), "sql_calls": sum(sql.calls.values()),
        "sql": [{"statement": k[:300], "calls": sql.calls[k], "s": round(v, 3)}
                for k, v in sql.seconds.most_common(top)],
    }


def print_breakdown(report: dict[str, Any]) -> None:
    print(f"year {report['wall_s']} s, {report['messages']} messages, {report['records']} records")
    for step, seconds in report["steps"].items():
        print(f"  {step:<14} {seconds:7.2f} s  {report['steps_calls'][step]:6d} calls")
    print(f"  {'other':<14} {report['other_s']:7.2f} s")
    print("by action (carry out + queue its letters):")
    for a in report["actions"]:
        print(f"  {a['carry_s']:7.3f} + {a['queue_s']:7.3f} s  {a['runs']:4d} runs {a['drafts']:7d} letters  {a['action']}")
    print(f"SQL: {report['sql_s']} s in {report['sql_calls']} statements, each to its first row; the most costly:")
    for s in report["sql"]:
        print(f"  {s['s']:7.3f} s {s['calls']:6d}  {s['statement'][:150]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=3209, help="size of the generated programme (bench/generate.py)")
    ap.add_argument("--programme", type=Path, default=None, help="a programme file instead of a generated one")
    ap.add_argument("--json", type=Path, default=None, help="write the breakdown here too")
    ap.add_argument("--top", type=int, default=25, help="how many statements to list")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="qcycle-breakdown-") as tmp:
        programme = args.programme
        if programme is None:
            from bench.generate import write_programme

            programme = write_programme(Path(tmp) / "programme", args.units)
        report = breakdown(programme, Path(tmp) / "home", args.top)
    print_breakdown(report)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
