"""The ways of running the same benchmark year (each inside a fresh worker process).

- ``floor``:  the core functions called directly, no Prefect imported (expand, due,
  carry_out, queue_drafts, deliver_due with the sink, ingest).
- ``limit``:  what the hardware allows for the floor's output, no qcycle code: the rows the
  floor left in its database written with plain ``sqlite3`` ``executemany`` and its messages
  rendered from their templates (one compiled Jinja template per message kind) into one JSON
  Lines file. What to write is taken, untimed, from a floor year run beforehand in another
  process with ``--capture`` (every table's rows, and each sent message's template and context).
- ``empty``:  the qcycle year's shape of flow runs, stage subflows, task runs and artifacts,
  read back from the qcycle mode's Prefect database (``--shape``), doing no work
  (:func:`bench.main_job.empty_year`): Prefect's own floor for that year.
- ``qcycle``: the product as built, as ``flows.simulate`` runs it: the world's records are
  ingested directly and ``flows.lifecycle.reconcile`` runs once per timetable moment
  (heartbeats off: ``flows.simulate.back_to_back_runs``), against
  the Prefect server named by ``PREFECT_API_URL``.
- ``naive``:  the design a newcomer writes first: one flow run per moment, one task run per
  submission ingested and one task run per message (``send_one``: queue the draft, deliver
  it), same server setup, heartbeats off too (with them on, each of its flow runs would cost
  ~1 s more).

Each mode returns a dict of figures; :func:`main` (``python bench/modes.py MODE ...``) is the
worker entry point that :mod:`bench.run` starts in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["MODES", "run_mode"]

MODES = ("qcycle", "naive", "floor", "limit", "empty")
# How many list items a unit applies for (mean 3.5 → ~10,000 applications at 3,209 units).
ITEMS_PER_APPLICANT = (2, 3, 3, 4, 4, 5)


def _setup(programme_file: Path, home: Path, load=None):
    """Fresh app database in ``home``; returns (loaded, timetable, round_id).

    ``load``: how to read the programme (qcycle mode: ``tasks.rounds.cached_programme``, so
    that ``reconcile`` finds it parsed, as a long-running worker process would)."""
    os.environ["QCYCLE_HOME"] = str(home)
    os.environ["QCYCLE_SINK_DIR"] = str(home / "sink")
    # One JSON Lines file per day, in every mode: creating 40,000 files costs 8–18 s of kernel
    # time on these machines (it varies run to run), more than anything qcycle does with them.
    os.environ.setdefault("QCYCLE_SINK_LAYOUT", "jsonl")
    from qcycle import db
    from qcycle.lifecycle import sync_round
    from qcycle.loader import load_programme
    from qcycle.settings import get_settings
    from qcycle.timetable import expand
    from qcycle.workcal import default_calendar

    get_settings.cache_clear()
    db.dispose_engines()
    db.upgrade()
    loaded = (load or load_programme)(programme_file)
    timetable = expand(loaded.programme, default_calendar())
    with db.session_scope() as session:
        round_id = sync_round(session, loaded).id
    return loaded, timetable, round_id


def _world(p, timetable, round_id):
    """The same outside world for every mode (``qcycle.synthetic.World``): each unit applies
    for 2–5 list items (≈10,000 applications at 3,209 units)."""
    from qcycle.synthetic import World

    return World(p, timetable, round_id, seed=2025, items_per_applicant=ITEMS_PER_APPLICANT, source="bench")


# ---------------------------------------------------------------- floor


def run_floor(programme_file: Path, home: Path) -> dict[str, Any]:
    from qcycle import synthetic

    loaded, timetable, round_id = _setup(programme_file, home)
    world = _world(loaded.programme, timetable, round_id)
    synthetic.play_locally(loaded, timetable, round_id, world.seed, actor="bench:floor", world=world)
    return {"ticks": world.moments_played, "flow_runs": 0, "records": world.records_made,
            "template_dir": str(loaded.template_dir) if loaded.template_dir else None}


# ---------------------------------------------------------------- limit (no qcycle code)


def _text_key(subject: str, body: str) -> bytes:
    # A digest, not the texts: holding 40,000 letters twice would inflate the floor's peak RSS.
    import hashlib

    return hashlib.blake2b(f"{subject}\x1f{body}".encode(), digest_size=16).digest()


def _capturing_renders() -> dict[bytes, tuple[str, dict[str, Any]]]:
    """Record every message qcycle renders: its text's digest → (template, context as rendered).

    A merged reminder is rendered again as reminders join it; the last render with the text a
    message was sent with is the one that counts, and identical texts render identically."""
    from qcycle import clock
    from qcycle.notify import outbox, reminders
    from qcycle.render import Letters, render_message

    renders: dict[bytes, tuple[str, dict[str, Any]]] = {}

    def capturing(template_name, context, override_dir=None):
        subject, body = render_message(template_name, context, override_dir)
        renders[_text_key(subject, body)] = (template_name, {"today": clock.today(), **context})
        return subject, body

    letters_render = Letters.render

    def capturing_letter(self, template_name, context, alike=None):  # each letter, rendered once for its family or not
        subject, body = letters_render(self, template_name, context, alike)
        renders[_text_key(subject, body)] = (template_name, {"today": clock.today(), **context})
        return subject, body

    outbox.render_message = capturing  # type: ignore[assignment]
    reminders.render_message = capturing  # type: ignore[assignment]
    Letters.render = capturing_letter  # type: ignore[method-assign]
    return renders


def _write_capture(capture: Path, home: Path, renders: dict, template_dir: str | None) -> None:
    """What the limit writes: every table's rows as the floor left them, and each sent
    message's unit, channel, template and context, in the order they were sent."""
    import pickle
    import sqlite3

    from qcycle import db
    from qcycle.settings import get_settings

    db.dispose_engines()
    con = sqlite3.connect(home / "qcycle.db")
    tables: dict[str, tuple[list[str], list[tuple]]] = {}
    names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")]
    for name in names:
        cur = con.execute(f'SELECT * FROM "{name}"')
        tables[name] = ([c[0] for c in cur.description], cur.fetchall())
    messages, missing = [], 0
    for unit, channel, day, subject, body in con.execute(
            "SELECT unit_code, channel, logical_date, subject, body FROM outbox_message "
            "WHERE status = 'sent' ORDER BY sent_at, rowid"):
        found = renders.get(_text_key(subject, body))
        if found is None:
            missing += 1
            continue
        messages.append({"unit": unit, "channel": channel, "day": day, "template": found[0],
                         "context": found[1], "subject": subject, "body": body})
    con.close()
    search = [str(template_dir)] if template_dir else []
    search.extend(str(folder) for folder in get_settings().template_dirs)
    with open(capture, "wb") as f:
        pickle.dump({"tables": tables, "messages": messages, "uncaptured": missing, "templates": search}, f)


def run_limit(programme_file: Path, home: Path, capture: Path) -> dict[str, Any]:
    """The floor's rows and messages written as fast as plain ``sqlite3`` and Jinja allow.

    Loading the capture is not timed; the returned ``wall_s`` is the writing and rendering."""
    import pickle
    import re
    import sqlite3

    import jinja2

    with open(capture, "rb") as f:
        data = pickle.load(f)
    started = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(home / "limit.db")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    rows = 0
    with con:
        for name, (columns, values) in data["tables"].items():
            cols = ", ".join(f'"{c}"' for c in columns)
            con.execute(f'CREATE TABLE "{name}" ({cols})')
            con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(columns))})', values)
            rows += len(values)
    con.close()

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(data["templates"], encoding="utf-8"),
                             undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False)
    env.filters.update(limit_filters())
    compiled: dict[str, Any] = {}
    gaps = re.compile(r"\n{3,}")
    written: list[tuple[str, str, str]] = []
    with open(home / "sink.jsonl", "w", encoding="utf-8") as out:
        for m in data["messages"]:
            template = compiled.get(m["template"])
            if template is None:
                template = compiled[m["template"]] = env.get_template(m["template"])
            ctx = template.new_context(m["context"])
            subject = " ".join("".join(template.blocks["subject"](ctx)).split())
            ctx = template.new_context(m["context"])
            body = "".join(template.blocks["body"](ctx))
            body = gaps.sub("\n\n", "\n".join(line.rstrip() for line in body.strip("\n").splitlines())).strip()
            out.write(json.dumps({"unit": m["unit"], "channel": m["channel"], "subject": subject, "body": body},
                                 ensure_ascii=False) + "\n")
            written.append((m["unit"], subject, body))
    wall = time.perf_counter() - started
    # Checked after the clock stops, as the floor's digests are.
    different = sum((subject, body) != (m["subject"], m["body"])
                    for (_, subject, body), m in zip(written, data["messages"], strict=True))
    return {"wall_s": round(wall, 2), "ticks": 0, "flow_runs": 0, "rows_written": rows,
            "messages": len(data["messages"]), "sink_messages": len(data["messages"]),
            "messages_not_identical": different, "messages_uncaptured": data["uncaptured"],
            "messages_digest": _messages_digest(sorted(written)), "templates_compiled": len(compiled),
            "results_digest": _results_digest(data["tables"].get("assessment_result")),
            "app_db_mib": round(_file_mib(home / "limit.db", home / "limit.db-wal"), 2)}


def limit_filters() -> dict[str, Any]:
    """The filters as qcycle.render defines them, written out: the limit runs no qcycle code (a test holds
    the two alike)."""
    def cn_date(value):
        if isinstance(value, dt.datetime):
            value = _to_shanghai(value).date()
        return f"{value.year}年{value.month}月{value.day}日"

    def cn_datetime(value, seconds=False):
        if not isinstance(value, dt.datetime):
            return cn_date(value)
        local = _to_shanghai(value)
        return f"{cn_date(local)} {local:%H:%M:%S}" if seconds and local.second else f"{cn_date(local)} {local:%H:%M}"

    def weekday_cn(value):
        if isinstance(value, dt.datetime):
            value = _to_shanghai(value).date()
        return f"星期{'一二三四五六日'[value.weekday()]}"

    def cn_deadline(value, note=None):
        after = f"（{note}）" if note else ""
        if not isinstance(value, dt.datetime):
            return f"{cn_date(value)}（{weekday_cn(value)}）{after}"
        return f"{cn_date(value)}（{weekday_cn(value)}）{_to_shanghai(value):%H:%M}{after}"

    def quoted(text):
        return "“" + str(text).replace("“", "‘").replace("”", "’") + "”"

    def work_arrangement(name):
        return f"{name}安排" if str(name).endswith("工作") else f"{name}工作安排"

    def of_round(name, item):
        name, item = str(name), str(item)
        shared = next((k for k in range(min(len(name), len(item) - 1), 1, -1) if name.endswith(item[:k])), 0)
        return name + item[shared:] if shared else f"{name}的{item}"

    return {"cn_date": cn_date, "cn_datetime": cn_datetime, "cn_deadline": cn_deadline, "weekday_cn": weekday_cn,
            "quoted": quoted, "category_label": category_label, "work_arrangement": work_arrangement,
            "of_round": of_round}


def category_label(name: str) -> str:
    """qcycle.schema.who.category_label written out (the limit runs no qcycle code; a test holds them alike)."""
    return name if name.endswith(("类", "批", "期", "次", "组", "档", "型")) else f"{name}类"


def _to_shanghai(value: dt.datetime) -> dt.datetime:
    # Stored times are naive local (Asia/Shanghai) times; aware ones are converted.
    return value.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None) if value.tzinfo else value


def _messages_digest(rows: Any) -> str:
    """What was sent, as (unit, subject, body) rows in a stable order."""
    import hashlib

    digest = hashlib.sha256()
    for unit, subject, body in rows:
        digest.update(f"{unit}\x1f{subject}\x1f{body}\x1e".encode())
    return digest.hexdigest()[:16]


def _results_digest(table: tuple[list[str], list[tuple]] | None) -> str:
    """The assessment results, order aside: unit, subject, score and level of each."""
    import hashlib

    if not table:
        return ""
    columns, values = table
    keep = [i for i, c in enumerate(columns) if c not in ("id", "round_id", "computed_at")]
    lines = sorted("\x1f".join(str(v[i]) for i in keep) for v in values)
    return hashlib.sha256("\x1e".join(lines).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- empty (Prefect's own floor)


def run_empty(programme_file: Path, home: Path, shape_file: Path) -> dict[str, Any]:
    from bench.main_job import empty_year

    shape = json.loads(shape_file.read_text(encoding="utf-8"))
    empty_year(shape)
    return {"ticks": 0, "flow_runs": len(shape), "records": 0}


# ---------------------------------------------------------------- qcycle (the product)


def run_qcycle(programme_file: Path, home: Path) -> dict[str, Any]:
    from qcycle.flows.lifecycle import reconcile
    from qcycle.flows.simulate import back_to_back_runs
    from qcycle.tasks.rounds import cached_programme

    loaded, timetable, round_id = _setup(programme_file, home, load=cached_programme)
    world = _world(loaded.programme, timetable, round_id)
    ticks = sorted({a.at for a in timetable.actions})

    def moment(tick: dt.datetime) -> int:
        done = reconcile(programme_file=str(programme_file), as_of=tick, channel_override="sink",
                         actor="bench:qcycle")
        return 1 + done["stage_flow_runs"]

    with back_to_back_runs():
        runs = world.play(ticks, moment)
    return {"ticks": world.moments_played, "flow_runs": runs, "records": world.records_made}


# ---------------------------------------------------------------- naive (a task run per item)


def run_naive(programme_file: Path, home: Path) -> dict[str, Any]:
    from prefect import flow, task
    from prefect.cache_policies import NONE
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from qcycle import db, moment
    from qcycle.intake import ingest
    from qcycle.lifecycle import carry_out
    from qcycle.notify.outbox import deliver_due, queue_drafts
    from qcycle.timetable import due

    loaded, timetable, round_id = _setup(programme_file, home)
    p, code = loaded.programme, loaded.programme.round.code
    template_dir = loaded.template_dir
    world = _world(p, timetable, round_id)
    ticks = sorted({a.at for a in timetable.actions})
    actor = "bench:naive"
    counts = {"task_runs": 0}

    @task(name="ingest_one", cache_policy=NONE)
    def ingest_one(record: dict, source: str) -> str:
        with db.session_scope() as session:
            return ingest(session=session, programme=p, timetable=timetable, round_id=round_id,
                          record=record, source=source).status

    @task(name="send_one", cache_policy=NONE)
    def send_one(unit: str, draft: Any, tick: dt.datetime) -> int:
        with db.session_scope() as session:
            queue_drafts(session=session, programme=p, round_id=round_id, drafts=[draft],
                         template_dir=template_dir)
        return deliver_due(programme=p, round_id=round_id, now=tick, channel_override="sink",
                           template_dir=template_dir).sent

    @flow(name="naive-moment", validate_parameters=False)
    def naive_moment(tick: dt.datetime, final: bool = False) -> None:
        if not final:
            for arrived in (world.arriving, world.scoring):  # the hand-ins, then the scores due
                with db.session_scope() as session:
                    arriving = arrived(session, tick)
                for record, source in arriving:
                    ingest_one(record, source)
                    counts["task_runs"] += 1
            with db.session_scope() as session:
                world.decide(session, tick, strictly_before=True)
        with db.session_scope() as session:
            plan = due(timetable, tick, moment.done_actions(session, round_id))
            if plan.skipped:
                moment.record_skipped(session, code, round_id, plan.skipped, actor)
        for action in plan.run:
            with db.session_scope() as session:
                outcome = carry_out(session, p, round_id, action, as_of=tick)
            for draft in outcome.drafts:
                send_one(draft.unit, draft, tick)
                counts["task_runs"] += 1
            with db.session_scope() as session:
                moment.record_outcome(session, code, round_id, outcome, actor)
        if moment.could_refuse(p, timetable, tick):  # late hand-ins refused: told, as reconcile does
            with db.session_scope() as session:
                moment.answer_refusals(session, p, round_id, timetable, tick, template_dir=template_dir)
        # Whatever was held back (office hours) or failed earlier.
        deliver_due(programme=p, round_id=round_id, now=tick, channel_override="sink", template_dir=template_dir)

    runs = 0
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        while runs < len(ticks):  # the moments World.play plays, refusals answered at the safety net
            naive_moment(ticks[runs])
            runs += 1
            ticks = sorted({*ticks, *world.answering(ticks[runs - 1], ticks[runs:])})
        played = runs
        with db.session_scope() as session:
            late = world.decide(session, ticks[-1])
        if late:
            naive_moment(ticks[-1], final=True)
            runs += 1
    return {"ticks": played, "flow_runs": runs, "records": world.records_made, **counts}


# ---------------------------------------------------------------- figures


def _file_mib(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def _app_figures(home: Path) -> dict[str, Any]:
    from sqlmodel import func, select

    from qcycle import db
    from qcycle.models import (
        AssessmentResult,
        Decision,
        OutboxMessage,
        QuarantinedRecord,
        Review,
        Submission,
    )

    out: dict[str, Any] = {}
    with db.session_scope() as session:
        def count(model, *where):
            return session.exec(select(func.count()).select_from(model).where(*where)).one()

        out["messages"] = count(OutboxMessage, OutboxMessage.status == "sent")
        out["outbox_rows"] = count(OutboxMessage)
        out["outbox_not_sent"] = out["outbox_rows"] - out["messages"]
        out["submissions"] = dict(session.exec(select(Submission.kind, func.count()).group_by(Submission.kind)).all())
        out["reviews"] = count(Review)
        out["decisions"] = count(Decision)
        out["results"] = count(AssessmentResult)
        out["quarantined"] = count(QuarantinedRecord)
    db.dispose_engines()
    out.update(_digests(home / "qcycle.db"))
    sink = home / "sink"
    out["sink_messages"] = (sum(1 for _ in sink.glob("*.json"))
                            + sum(len(f.read_bytes().splitlines()) for f in sink.glob("*.jsonl"))) if sink.is_dir() else 0
    out["app_db_mib"] = round(_file_mib(home / "qcycle.db", home / "qcycle.db-wal"), 2)
    return out


def _digests(app_db: Path) -> dict[str, str]:
    """Fingerprints of what a year sent and decided, to compare modes within a run."""
    import sqlite3

    con = sqlite3.connect(app_db)
    # Sorted as the limit sorts what it wrote.
    sent = sorted(con.execute("SELECT unit_code, subject, body FROM outbox_message WHERE status = 'sent'"))
    cur = con.execute("SELECT * FROM assessment_result")
    results = ([c[0] for c in cur.description], cur.fetchall())
    con.close()
    return {"messages_digest": _messages_digest(sent), "results_digest": _results_digest(results)}


_CORE = ["alembic.command", "qcycle.crud", "qcycle.db", "qcycle.intake", "qcycle.lifecycle", "qcycle.loader", "qcycle.moment",
         "qcycle.models", "qcycle.notify.outbox", "qcycle.synthetic", "qcycle.timetable", "qcycle.workcal",
         "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.sqlite"]
_IMPORTS = {"floor": _CORE, "qcycle": [*_CORE, "qcycle.flows.lifecycle", "qcycle.flows.simulate", "qcycle.tasks.rounds"],
            "naive": [*_CORE, "prefect", "prefect.cache_policies"],
            "limit": ["jinja2", "sqlite3", "pickle", "hashlib"],
            "empty": ["prefect", "prefect.artifacts", "prefect.cache_policies", "qcycle.flows.simulate"]}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_mode(mode: str, programme_file: Path, home: Path, profile: Path | None = None,
             capture: Path | None = None, shape: Path | None = None) -> dict[str, Any]:
    """One mode's year in this process. ``capture``: for ``floor``, also write what the
    ``limit`` mode writes (untimed work after the year); for ``limit``, read it. ``shape``:
    the flow-run shape the ``empty`` mode replays."""
    if mode == "limit" and capture is None:
        raise SystemExit("the limit mode needs --capture (written by a floor run with --capture)")
    if mode == "empty" and shape is None:
        raise SystemExit("the empty mode needs --shape (read from a qcycle year's Prefect database)")
    runner: Any = {"floor": run_floor, "qcycle": run_qcycle, "naive": run_naive,
                   "limit": lambda f, h: run_limit(f, h, capture),
                   "empty": lambda f, h: run_empty(f, h, shape)}[mode]
    home.mkdir(parents=True, exist_ok=True)
    # A worker that runs a programme has its modules loaded already: importing them (Prefect
    # takes ~1.5 s) is start-up, reported apart as import_s, not part of the year.
    started = time.perf_counter()
    for module in _IMPORTS[mode]:
        importlib.import_module(module)
    if mode in ("floor", "qcycle", "naive"):
        # Apprise loads its ~100 plugin modules when qcycle's channel schemas are first
        # registered (~0.3 s): start-up of the same kind, done by the first delivery otherwise.
        from qcycle.notify.handlers import ensure_schemas

        ensure_schemas()
    import_s = time.perf_counter() - started
    # Recording what each render was given cost the year ~1.2 s (7 %): bench/run.py captures in a floor year of its
    # own, untimed, and times another.
    renders = _capturing_renders() if mode == "floor" and capture else None
    started, cpu_started = time.perf_counter(), _cpu_s()
    if profile is not None:
        import cProfile

        prof = cProfile.Profile()
        extra = prof.runcall(runner, programme_file, home)
        prof.dump_stats(str(profile))
    else:
        extra = runner(programme_file, home)
    wall, cpu = time.perf_counter() - started, _cpu_s() - cpu_started
    template_dir = extra.pop("template_dir", None)
    if renders is not None and capture is not None:
        _write_capture(capture, home, renders, template_dir)
    # cpu_s: this process's user + system time in the year (its server's aside): steadier than
    # wall_s on a shared machine, for comparing changes.
    figures = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "import_s": round(import_s, 2),
               "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if mode == "floor":
        figures["captured"] = renders is not None  # whether this year also recorded what the limit writes
    if mode in ("limit", "empty"):
        # No qcycle database: the limit reports its own figures (its wall_s leaves out
        # loading the capture), the empty year has none.
        figures.update({"messages": 0, "sink_messages": 0, "app_db_mib": 0.0, "outbox_rows": 0})
    else:
        figures.update(_app_figures(home))
    figures.update(extra)
    return figures


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="benchmark worker: one mode, one year, this process")
    ap.add_argument("mode", choices=MODES)
    ap.add_argument("--programme", type=Path, required=True)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    ap.add_argument("--capture", type=Path, default=None,
                    help="floor: also write what the limit mode writes here; limit: read it from here")
    ap.add_argument("--shape", type=Path, default=None, help="empty: the flow-run shape to replay (JSON)")
    args = ap.parse_args(argv)
    figures = run_mode(args.mode, args.programme, args.home, args.profile, args.capture, args.shape)
    args.out.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
