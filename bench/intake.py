"""Intake at scale (issue 13): a big CSV through ``qcycle import``, the same records through
``qcycle pull`` from a local paged HTTP endpoint, and a plain ``csv`` + ``sqlite3`` load of the
same file as the limit, all in one run.

    python bench/intake.py --rows 500000 --json OUT.json [--keep DIR] [--programme FILE]

1. A deterministic (``--seed``) CSV of ``--rows`` 揭榜书 rows (材料种类, 单位代码, 项目代码,
   提交时间, 编号, 联系人): 90 % valid and on time, 4 % late, 3 % duplicates (exact copies of
   earlier on-time rows), 2 % unknown units, 1 % malformed dates. The programme is the bench's
   national one (``bench/generate.py``, 3,209 units, 30 items) unless ``--programme`` names
   another; the rows fall in its first submission window (``application`` if it has one).
2. **limit**: ``csv.reader`` + ``sqlite3`` ``executemany`` of that file into a table with the
   same columns (WAL, ``synchronous=NORMAL``, one transaction), in this process: ``limit_s``.
   **schema floor**: the same rows with plain ``sqlite3`` into qcycle's own ``submission``
   table (its keys and indexes), committed every 5,000 rows: ``schema_floor_s``.
3. **file**: ``qcycle --home W db upgrade``, then ``qcycle --home W import CSV --round P`` in a
   subprocess: its wall time and peak RSS (its own, through ``bench/measure.py``'s launcher:
   ``wait4`` here would also count this process's memory); meanwhile, every
   ~0.5 s, ``qcycle --home W outbox list --limit 5`` one after the other, each one's wall time
   (with interpreter start-up; the idle figure before the import is reported apart).
4. **http**: the same records (one JSON object per row, keys as the CSV headers) from a
   ``ThreadingHTTPServer`` on 127.0.0.1 in this process (``?page=N&page_size=M`` →
   ``{"records": [...], "has_more": ...}``), into a fresh home with ``qcycle pull --page-size
   1000`` (``--deadline`` raised so that a slow pull is measured, not cut): wall and peak RSS.

Outcomes are read back from each home's database (submissions by status, quarantined rows)
and compared with the mix. Figures are printed against the targets (file import ≤ 10 × the
limit, peak RSS ≤ 300 MiB, ``outbox list`` ≤ 2 s during the import), never asserted.

Writes ``{"rows", "limit_s", "file": {"wall_s", "peak_rss_mib", "outbox_list_max_s", ...},
"http": {"wall_s", "peak_rss_mib", ...}, "mix", "expected", "targets", "machine"}``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import itertools
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import SCALE_1_UNITS, write_programme
from bench.measure import peak_launcher, read_peak_mib
from bench.run import machine
from qcycle.crud import HANDED_IN_INDEX
from qcycle.intake.files import DEFER_INDEX_ROWS
from qcycle.intake.files.importing import bulk_pragmas
from qcycle.models import ordered_uuid
from qcycle.settings import Settings

__all__ = ["MIX", "TARGETS", "generate_csv", "measure_intake", "window_of"]

QCYCLE = Path(sys.executable).with_name("qcycle")
HEADERS = ["材料种类", "单位代码", "项目代码", "提交时间", "编号", "联系人"]
# Share of each kind of row; they add up to 1.
MIX = {"on_time": 0.90, "late": 0.04, "duplicate": 0.03, "unknown_unit": 0.02, "malformed_date": 0.01}
TARGETS = {"file_over_limit": 10.0, "peak_rss_mib": 300.0, "outbox_list_s": 2.0}
MALFORMED = ["2025-04-31 10:00", "2025年13月40日", "下周一上午", "2025/02/30 09:00", "20250418 25:61", "??"]
CONTACTS = ["王芳", "李强", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄婷"]
TIME_FORMAT = "%Y-%m-%d %H:%M"


# -- the data -------------------------------------------------------------------------------------


def window_of(programme: Path) -> dict[str, Any]:
    from qcycle.loader import load_programme
    from qcycle.timetable import expand
    from qcycle.workcal import default_calendar

    p = load_programme(programme).programme
    stages = [s for s in p.stages if s.submission is not None]
    if not stages:
        raise SystemExit(f"{programme}: no submission stage to import into")
    stage = next((s for s in stages if s.submission == "application"), stages[0])
    if stage.periods:
        raise SystemExit(f"{programme}: stage {stage.code} has periods; pick a programme whose first "
                         "submission stage has one window (the bench writes no period column)")
    timetable = expand(p, default_calendar())
    opens = min((a.at for a in timetable.actions if a.stage == stage.code and a.action == "window_open"),
                default=None)
    items = sorted(p.item_category)
    if not items:
        raise SystemExit(f"{programme}: the programme has no list items")
    cutoffs = {item: timetable.cutoff(stage.code, None, p.item_category[item]) for item in items}
    if any(c is None for c in cutoffs.values()):
        raise SystemExit(f"{programme}: stage {stage.code} has no deadline")
    issuer = p.round.issuer
    units = [u.code for u in p.units if u.code != issuer] or [u.code for u in p.units]
    earliest = min(cutoffs.values())
    if opens is None or opens >= earliest:
        opens = earliest - dt.timedelta(days=14)
    return {"kind": str(stage.submission), "stage": stage.code, "lateness": stage.lateness,
            "opens": opens, "cutoffs": cutoffs, "units": units, "items": items,
            "known_units": {u.code for u in p.units}}


def _counts(rows: int) -> dict[str, int]:
    counts = {k: int(rows * share) for k, share in MIX.items()}
    counts["on_time"] += rows - sum(counts.values())
    return counts


def generate_csv(path: Path, rows: int, window: dict[str, Any], seed: int = 2025) -> dict[str, int]:
    """Write the CSV; returns how many rows of each kind it holds (the actual mix)."""
    rng = random.Random(f"{seed}:intake")
    counts = _counts(rows)
    kinds = [k for k, n in counts.items() for _ in range(n)]
    rng.shuffle(kinds)
    # A duplicate copies an earlier on-time row: the first row is an on-time one.
    first = kinds.index("on_time")
    kinds[0], kinds[first] = kinds[first], kinds[0]
    units, items, cutoffs, opens = window["units"], window["items"], window["cutoffs"], window["opens"]
    known = window["known_units"]
    kind_label = {"application": "揭榜书"}.get(window["kind"], window["kind"])
    on_time_rows: list[list[str]] = []
    made: Counter[str] = Counter()
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(HEADERS)
        for number, kind in enumerate(kinds, start=1):
            if kind == "duplicate":
                writer.writerow(rng.choice(on_time_rows))
                made[kind] += 1
                continue
            item = rng.choice(items)
            cutoff = cutoffs[item].astimezone(opens.tzinfo)
            unit = rng.choice(units)
            if kind == "late":  # an hour to ten days after the deadline
                at = cutoff + dt.timedelta(minutes=rng.randint(60, 10 * 24 * 60))
                when = at.strftime(TIME_FORMAT)
            elif kind == "malformed_date":
                when = rng.choice(MALFORMED)
            else:  # from the window's opening to a minute before the deadline
                span = max(1, int((cutoff - opens).total_seconds() // 60) - 1)
                at = opens + dt.timedelta(minutes=rng.randint(0, span))
                when = at.strftime(TIME_FORMAT)
            if kind == "unknown_unit":
                unit = f"X{rng.randint(0, 999_999):06d}"
                while unit in known:  # pragma: no cover - codes of the bench's programmes never start with X
                    unit = "X" + unit
            row = [kind_label, unit, item, when, f"JB{number:08d}", rng.choice(CONTACTS)]
            writer.writerow(row)
            if kind == "on_time":
                on_time_rows.append(row)
            made[kind] += 1
    return {k: made.get(k, 0) for k in MIX}


def expected_outcomes(mix: dict[str, int], window: dict[str, Any]) -> dict[str, int]:
    late = "rejected_late" if window["lateness"] == "reject" else "late_accepted"
    out = {"accepted": mix["on_time"], "late_accepted": 0, "rejected_late": 0, "duplicate": mix["duplicate"],
           "revised": 0, "conflict": 0, "quarantined": mix["unknown_unit"] + mix["malformed_date"]}
    out[late] += mix["late"]
    return out


def _stored_outcomes(home: Path) -> dict[str, int] | str:
    """Submissions by status and quarantined rows, read back from a home's database
    (duplicates are not stored: they are the rows the others do not account for)."""
    try:
        con = sqlite3.connect(f"file:{home / 'qcycle.db'}?mode=ro", uri=True)
        try:
            found = dict(con.execute("SELECT status, count(*) FROM submission GROUP BY status").fetchall())
            found["quarantined"] = con.execute("SELECT count(*) FROM quarantined_record").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"unreadable: {exc}"
    return {k: int(v) for k, v in found.items()}


# -- the limit --------------------------------------------------------------------------------------


def measure_limit(csv_path: Path, folder: Path) -> float:
    """Plain csv.reader + sqlite3 executemany of the file, in one transaction: the floor."""
    db = folder / "limit.db"
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        columns = ", ".join(f"c{i} TEXT" for i in range(len(header)))
        con.execute(f"CREATE TABLE rows (id INTEGER PRIMARY KEY, {columns})")
        marks = ", ".join("?" * len(header))
        names = ", ".join(f"c{i}" for i in range(len(header)))
        con.execute("BEGIN")
        con.executemany(f"INSERT INTO rows ({names}) VALUES ({marks})", reader)
        con.execute("COMMIT")
    con.close()
    return time.perf_counter() - started


def measure_schema_floor(csv_path: Path, folder: Path, rows: int) -> float:
    """The same rows with plain ``sqlite3`` into qcycle's own ``submission`` table (made by
    ``qcycle db upgrade``: its time-ordered primary key made as qcycle makes it, the unique
    identity and two lookup indexes; before migration 0021 also a unique fingerprint),
    ``INSERT OR IGNORE`` in commits of 5,000 rows, as the import commits, with the handed-in
    index built after the load as the import builds it for a file this large: what this schema
    allows, with no qcycle code. Every row is written as it is (no checks)."""
    home = folder / "home-schema-floor"
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run(_qcycle(home, "db", "upgrade"), env=_env(home), capture_output=True, check=True)
    started = time.perf_counter()
    con = sqlite3.connect(home / "qcycle.db", isolation_level=None)
    own = bulk_pragmas(Settings.model_fields["import_cache_mib"].default, con.execute("PRAGMA page_size").fetchone()[0])
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", *own):
        con.execute(pragma)  # the import's own settings (its default cache)
    index = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (HANDED_IN_INDEX,)).fetchone()
    index_after = index is not None and rows >= DEFER_INDEX_ROWS
    if index_after:
        con.execute(f"DROP INDEX {HANDED_IN_INDEX}")
    round_id = uuid.uuid4().hex
    stamp = dt.datetime.now(dt.UTC).isoformat()
    sql = ("INSERT OR IGNORE INTO submission (id, round_id, kind, stage, unit_code, item_code, external_id, "
           "fingerprint, identity, payload, submitted_at, source, late, status, received_at, revisions) "
           "VALUES (?, ?, 'application', 'application', ?, ?, ?, ?, ?, '{}', ?, 'floor', 0, 'accepted', ?, 0)")
    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        while batch := list(itertools.islice(reader, 5000)):
            con.execute("BEGIN IMMEDIATE")
            con.executemany(sql, [(ordered_uuid().hex, round_id, r[1], r[2], r[4],
                                   hashlib.sha256(",".join(r).encode()).hexdigest(),
                                   json.dumps(["application", r[4]]), r[3], stamp) for r in batch if len(r) > 4])
            con.execute("COMMIT")
    if index_after:
        con.execute(index[0])
    con.close()
    return time.perf_counter() - started


# -- running qcycle ---------------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "QCYCLE_"))}
    env["QCYCLE_HOME"] = str(home)
    return env


def _qcycle(home: Path, *args: str) -> list[str]:
    return [str(QCYCLE), "--home", str(home), *args]


def _timed_run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> tuple[float, int, str]:
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        rc, tail = done.returncode, (done.stdout + done.stderr)[-500:]
    except subprocess.TimeoutExpired:
        rc, tail = -1, f"timed out after {timeout:g} s"
    return time.perf_counter() - started, rc, tail


class _Child:
    """A subprocess through :func:`bench.measure.peak_launcher` (its own peak RSS, taken at its
    exit), waited for in a thread so the caller can do other things meanwhile."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path):
        self.log = open(log, "wb")  # noqa: SIM115 - closed in _wait
        self.peak_file = log.with_suffix(".peak")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(peak_launcher(cmd, self.peak_file), env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.wall_s = 0.0
        self.returncode: int | None = None
        self.peak_rss_mib: float | None = None
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def _wait(self) -> None:
        self.returncode = self.proc.wait()
        self.wall_s = time.perf_counter() - self.started
        self.peak_rss_mib = read_peak_mib(self.peak_file)  # None: it wrote none (killed)
        self.log.close()

    def running(self) -> bool:
        return self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        self.thread.join(timeout)
        if self.thread.is_alive():  # over the time allowed: stop it (the launcher passes it on), report it
            self.proc.terminate()
            self.thread.join()
            return False
        return True


def _mib(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _tail(log: Path, chars: int = 2000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-chars:] if log.exists() else ""


def _summary_line(log: Path) -> str:
    """The import's own summary line (按时受理 …，隔离 …)."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    for line in text.splitlines():  # before the list of quarantined rows
        if "按时受理" in line:
            return line.strip()
    return ""


def measure_file(csv_path: Path, programme: Path, home: Path, *, interval: float = 0.5,
                 timeout: float | None = None) -> dict[str, Any]:
    home.mkdir(parents=True, exist_ok=True)
    env = _env(home)
    up_s, rc, tail = _timed_run(_qcycle(home, "db", "upgrade"), env)
    result: dict[str, Any] = {"db_upgrade_s": round(up_s, 2)}
    if rc != 0:
        return result | {"error": f"db upgrade exited {rc}", "log_tail": tail}
    listing = _qcycle(home, "outbox", "list", "--limit", "5")
    idle = [_timed_run(listing, env)[0] for _ in range(2)]  # before the import: start-up and all
    result["outbox_list_idle_s"] = round(min(idle), 3)
    log = home / "import.log"
    child = _Child(_qcycle(home, "import", str(csv_path), "--round", str(programme)), env, log)
    samples: list[dict[str, Any]] = []
    over = False
    while child.running():
        if timeout is not None and time.perf_counter() - child.started > timeout:
            over = True
            break
        at = time.perf_counter() - child.started
        wall, rc, tail = _timed_run(listing, env)
        sample = {"at_s": round(at, 2), "wall_s": round(wall, 3), "rc": rc}
        if rc != 0:
            sample["tail"] = tail
        samples.append(sample)
        child.thread.join(interval)
    finished = child.wait(0 if over else None)
    during = [s for s in samples if s["at_s"] < child.wall_s]
    failures = [s for s in samples if s["rc"] != 0]
    result |= {
        "wall_s": round(child.wall_s, 2),
        "peak_rss_mib": _mib(child.peak_rss_mib),
        "outbox_list_max_s": max((s["wall_s"] for s in samples), default=None),
        "outbox_list_median_s": (sorted(s["wall_s"] for s in samples)[len(samples) // 2] if samples else None),
        "outbox_list_runs": len(samples),
        "outbox_list_runs_during_import": len(during),
        "outbox_list_failures": len(failures),
        "outbox_list_failure_tails": [s["tail"] for s in failures[:3]],
        "outbox_list_samples": samples,
        "exit_code": child.returncode,
        "summary": _summary_line(log),
        "stored": _stored_outcomes(home),
    }
    if not finished:
        result["error"] = f"import killed after {timeout:g} s"
    elif child.returncode != 0:
        result["error"] = f"import exited {child.returncode}"
        result["log_tail"] = _tail(log)
    return result


class _Records:
    """The CSV's rows as JSON records, page by page."""

    def __init__(self, csv_path: Path):
        with open(csv_path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            self.headers = next(reader)
            self.rows = list(reader)
        self.pages = 0

    def page(self, page: int, size: int) -> bytes:
        chunk = self.rows[(page - 1) * size: page * size]
        self.pages += 1
        body = {"records": [dict(zip(self.headers, row, strict=True)) for row in chunk],
                "page": page, "has_more": page * size < len(self.rows)}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _server(records: _Records) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            query = dict(parse_qsl(urlsplit(self.path).query))
            try:
                page, size = max(1, int(query.get("page", 1))), max(1, int(query.get("page_size", 100)))
            except ValueError:
                self.send_error(400)
                return
            body = records.page(page, size)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure_http(csv_path: Path, programme: Path, home: Path, *, page_size: int = 1000,
                 timeout: float | None = None) -> dict[str, Any]:
    home.mkdir(parents=True, exist_ok=True)
    env = _env(home)
    up_s, rc, tail = _timed_run(_qcycle(home, "db", "upgrade"), env)
    if rc != 0:
        return {"db_upgrade_s": round(up_s, 2), "error": f"db upgrade exited {rc}", "log_tail": tail}
    records = _Records(csv_path)
    server = _server(records)
    url = f"http://127.0.0.1:{server.server_address[1]}/submissions"
    log = home / "pull.log"
    try:
        child = _Child(_qcycle(home, "pull", "--round", str(programme), "--url", url, "--page-size",
                               str(page_size), "--deadline", str(int(timeout or 86400))), env, log)
        finished = child.wait(timeout)
    finally:
        server.shutdown()
        server.server_close()
    result: dict[str, Any] = {
        "db_upgrade_s": round(up_s, 2), "wall_s": round(child.wall_s, 2),
        "peak_rss_mib": _mib(child.peak_rss_mib), "page_size": page_size, "pages_served": records.pages,
        "exit_code": child.returncode, "summary": _summary_line(log), "stored": _stored_outcomes(home),
    }
    if not finished:
        result["error"] = f"pull killed after {timeout:g} s"
    elif child.returncode != 0:
        result["error"] = f"pull exited {child.returncode}"
        result["log_tail"] = _tail(log)
    return result


# -- the whole thing --------------------------------------------------------------------------------


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= target else "NOT met"


def measure_intake(rows: int, work: Path, programme: Path | None = None, *, seed: int = 2025,
                   page_size: int = 1000, http: bool = True, timeout: float | None = None,
                   log=print) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    load_before = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None
    if programme is None:
        programme = write_programme(work, SCALE_1_UNITS)
    programme = programme.resolve()
    window = window_of(programme)
    csv_path = work / f"intake-{rows}.csv"
    started = time.perf_counter()
    mix = generate_csv(csv_path, rows, window, seed)
    size_mib = csv_path.stat().st_size / 2**20
    log(f"[intake] {csv_path}: {rows:,} rows, {size_mib:.1f} MiB, written in {time.perf_counter() - started:.1f} s; "
        "mix " + ", ".join(f"{k} {n:,} ({n / rows:.1%})" for k, n in mix.items()))
    expected = expected_outcomes(mix, window)
    log(f"[intake] expected outcomes: {expected}")

    log("[intake] limit: csv.reader + sqlite3 executemany ...")
    limit_s = measure_limit(csv_path, work)
    log(f"[intake]   limit_s {limit_s:.2f} s")
    log("[intake] schema floor: the same rows with plain sqlite3 into qcycle's submission table ...")
    schema_floor_s = measure_schema_floor(csv_path, work, rows)
    log(f"[intake]   schema_floor_s {schema_floor_s:.2f} s")

    log("[intake] file: qcycle import (outbox list every ~0.5 s meanwhile) ...")
    file_home = work / "home-file"
    shutil.rmtree(file_home, ignore_errors=True)
    file_r = measure_file(csv_path, programme, file_home, timeout=timeout)
    log(f"[intake]   {file_r.get('error') or ''} wall {file_r.get('wall_s')} s, peak RSS {file_r.get('peak_rss_mib')} MiB, "
        f"outbox list max {file_r.get('outbox_list_max_s')} s over {file_r.get('outbox_list_runs')} runs "
        f"(idle {file_r.get('outbox_list_idle_s')} s, {file_r.get('outbox_list_failures')} failed); "
        f"{file_r.get('summary')}")

    http_r: dict[str, Any] = {"skipped": True}
    if http:
        log(f"[intake] http: qcycle pull --page-size {page_size} from 127.0.0.1 ...")
        http_home = work / "home-http"
        shutil.rmtree(http_home, ignore_errors=True)
        http_r = measure_http(csv_path, programme, http_home, page_size=page_size, timeout=timeout)
        log(f"[intake]   {http_r.get('error') or ''} wall {http_r.get('wall_s')} s, peak RSS "
            f"{http_r.get('peak_rss_mib')} MiB, {http_r.get('pages_served')} pages; {http_r.get('summary')}")

    ratio = round(file_r["wall_s"] / limit_s, 1) if file_r.get("wall_s") and limit_s else None
    for r in (file_r, http_r):
        stored = r.get("stored")
        if isinstance(stored, dict):
            # Duplicates are not stored; everything else is, once.
            kept = {k: stored.get(k, 0) for k in expected if k != "duplicate"}
            r["matches_expected"] = kept == {k: v for k, v in expected.items() if k != "duplicate"}
    return {
        "rows": rows,
        "limit_s": round(limit_s, 3),
        "schema_floor_s": round(schema_floor_s, 3),
        "ratio_file_schema_floor": round(file_r["wall_s"] / schema_floor_s, 1) if file_r.get("wall_s") else None,
        "file": file_r,
        "http": http_r,
        "ratio_file_limit": ratio,
        "ratio_http_limit": round(http_r["wall_s"] / limit_s, 1) if http_r.get("wall_s") and limit_s else None,
        "csv_mib": round(size_mib, 1),
        "mix": mix,
        "expected": expected,
        "programme": str(programme),
        "stage": window["stage"],
        "targets": TARGETS,
        "loadavg_before": load_before,  # the machine's own load; machine()["loadavg"] is after
        "machine": machine(),
    }


def print_summary(report: dict[str, Any]) -> None:
    f, h = report["file"], report["http"]
    print(f"\n[intake] {report['rows']:,} rows ({report['csv_mib']} MiB CSV); limit (csv + sqlite3 executemany) "
          f"{report['limit_s']:.2f} s; schema floor (plain sqlite3 into qcycle's submission table) "
          f"{report['schema_floor_s']:.2f} s = {report['schema_floor_s'] / report['limit_s']:.1f} × the limit")
    print(f"  file  wall {f.get('wall_s')} s = {report['ratio_file_limit']} × the limit "
          f"(target ≤ {TARGETS['file_over_limit']:g}×: {_verdict(report['ratio_file_limit'], TARGETS['file_over_limit'])}), "
          f"{report['ratio_file_schema_floor']} × the schema floor; "
          f"peak RSS {f.get('peak_rss_mib')} MiB (≤ {TARGETS['peak_rss_mib']:g}: "
          f"{_verdict(f.get('peak_rss_mib'), TARGETS['peak_rss_mib'])}); outbox list max {f.get('outbox_list_max_s')} s "
          f"over {f.get('outbox_list_runs')} runs, {f.get('outbox_list_failures')} failed "
          f"(≤ {TARGETS['outbox_list_s']:g} s: {_verdict(f.get('outbox_list_max_s'), TARGETS['outbox_list_s'])}"
          f"{'' if not f.get('outbox_list_failures') else ', with failures'})")
    if not h.get("skipped"):
        print(f"  http  wall {h.get('wall_s')} s = {report['ratio_http_limit']} × the limit; peak RSS "
              f"{h.get('peak_rss_mib')} MiB (≤ {TARGETS['peak_rss_mib']:g}: "
              f"{_verdict(h.get('peak_rss_mib'), TARGETS['peak_rss_mib'])})")
    for name, r in (("file", f), ("http", h)):
        if r.get("error"):
            print(f"  {name}: {r['error']}")
        if "stored" in r:
            print(f"  {name} stored {r['stored']} (expected {report['expected']}; "
                  f"matches: {r.get('matches_expected')})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--keep", type=Path, default=None,
                    help="work folder (CSV, homes, logs), kept; default: a temp folder, removed unless something failed")
    ap.add_argument("--programme", type=Path, default=None,
                    help="programme file (default: the bench's national programme, 3,209 units)")
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--page-size", type=int, default=1000, help="records per page for the pull")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP pull")
    ap.add_argument("--timeout", type=float, default=None, help="seconds for the import and for the pull each")
    args = ap.parse_args(argv)
    if args.rows < 100:
        ap.error("--rows: at least 100")
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="qcycle-bench-intake-"))
    report = measure_intake(args.rows, work, args.programme, seed=args.seed, page_size=args.page_size,
                            http=not args.no_http, timeout=args.timeout)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print_summary(report)
    failed = any(r.get("error") for r in (report["file"], report["http"]))
    if args.keep is None and not failed:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"  work folder: {work}")
    print(f"  figures: {args.json}")


if __name__ == "__main__":
    main()
