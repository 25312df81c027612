"""What a faster import could reach (issue 13): the least per-row work any design of
``qcycle import`` could do, timed beside the limit on one file in one run.

    python bench/intake_designs.py --rows 500000 --json OUT.json [--keep DIR] [--import-json INTAKE.json]

The file and the limit are ``bench/intake.py``'s (same generator, same seed, same
``csv.reader`` + ``executemany`` into an index-less table). Each design then loads the same
file with its checks done **in SQLite, not in Python**: the rows go into a staging table by
``executemany`` straight from ``csv.reader`` (the limit's own path), and each batch of 5,000
(the import's batch, one commit each) is moved by two ``INSERT … SELECT`` statements: rows
whose unit or item is unknown or whose time is not a canonical ``YYYY-MM-DD HH:MM`` go to
quarantine with a reason; the rest go to the submission table with their category, lateness
and status, the identity (stage, unit, item) and the payload built by SQLite's JSON
functions, a sha256 fingerprint (the only Python per row: a registered function, and the
random id on the current tables), and ``ON CONFLICT DO NOTHING`` for repeats. No revision
history (a changed record under a known key would cost one more statement per batch, over the
identity key), no checkpoints, no per-row reasons beyond three: strictly less than the import
does, so each figure is a floor for its schema.

Designs (``--designs``, default all):

- ``current``: qcycle's own tables as ``qcycle db upgrade`` makes them, ids made as qcycle
  makes them (since migration 0021: time-ordered 32-hex ids, one unique (round, identity) key,
  ``ix_submission_handed_in``; before it, random ids and a unique (round, fingerprint) key too);
- ``current-index-after``: the same, the handed-in index dropped for the load and built again
  at its end (inside the timing: what ``qcycle import`` does since 0021 with a large file;
  readers meanwhile scan);
- ``uuid-one-key-index-after``: random 32-hex ids kept, one unique (round, identity) key (a
  fingerprint repeats only with its identity, so that key covers exact repeats), the
  handed-in index built after the load;
- ``lean``: integer row ids and round, the one unique key, the handed-in index;
- ``lean-no-index``: ``lean`` without the handed-in index (reads of who handed in what would
  then scan the round's rows);
- ``lean-index-after``: ``lean`` with the handed-in index built after the load.

Writes ``{"rows", "limit_s", "designs": {name: {"wall_s", "over_limit", "stored",
"quarantined"}}, "import": {...from --import-json}, "machine"}`` and prints each design's
multiple of the limit against the issue's 10 ×.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import SCALE_1_UNITS, write_programme
from bench.intake import TARGETS, _env, _qcycle, generate_csv, measure_limit, window_of
from bench.run import machine
from qcycle.intake.files.importing import bulk_pragmas
from qcycle.models import ordered_uuid

__all__ = ["DESIGNS", "measure_design"]

DESIGNS = ("current", "current-index-after", "uuid-one-key-index-after", "lean", "lean-no-index", "lean-index-after")
BATCH = 5000
LEAN_TABLES = """
CREATE TABLE submission (id {id_type} PRIMARY KEY, round_id {id_type} NOT NULL, kind TEXT NOT NULL, stage TEXT,
    unit_code TEXT NOT NULL, category_code TEXT, item_code TEXT, period TEXT, external_id TEXT,
    fingerprint TEXT NOT NULL, payload TEXT NOT NULL, submitted_at TEXT NOT NULL, source TEXT NOT NULL,
    late INTEGER NOT NULL, status TEXT NOT NULL, identity TEXT NOT NULL, received_at TEXT NOT NULL,
    revisions INTEGER NOT NULL DEFAULT 0, answered_at TEXT);
CREATE UNIQUE INDEX uq_submission_round_id_identity ON submission (round_id, identity);
CREATE TABLE quarantined_record (id {id_type} PRIMARY KEY, round_id {id_type}, source TEXT NOT NULL, raw TEXT NOT NULL,
    reason TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE, received_at TEXT NOT NULL);
"""
HANDED_IN_INDEX = ("CREATE INDEX ix_submission_handed_in ON submission "
                   "(round_id, stage, status, unit_code, period, category_code, item_code)")
CANONICAL_TIME = "'[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]'"


def _database(design: str, folder: Path) -> Path:
    """A fresh database with the design's tables."""
    home = folder / f"home-{design}"
    db = home / "qcycle.db"
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)
    if design.startswith("current"):
        subprocess.run(_qcycle(home, "db", "upgrade"), env=_env(home), capture_output=True, check=True)
        return db
    home.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)
    con.executescript(LEAN_TABLES.format(id_type="CHAR(32)" if design.startswith("uuid") else "INTEGER")
                      + ("" if design == "lean-no-index" else HANDED_IN_INDEX + ";"))
    con.close()
    return db


def measure_design(design: str, csv_path: Path, folder: Path, window: dict[str, Any]) -> dict[str, Any]:
    """Load the file into the design's tables with the checks in SQL (see the module's doc)."""
    db = _database(design, folder)
    uuids = design.startswith(("current", "uuid"))  # ids made per row, as qcycle makes them
    index_after = design.endswith("index-after")
    started = time.perf_counter()
    con = sqlite3.connect(db, isolation_level=None)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]  # the lean designs' are SQLite's own (4 KB)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", *bulk_pragmas(64, page_size)):
        con.execute(pragma)  # the import's own settings
    if index_after:
        con.execute("DROP INDEX ix_submission_handed_in")
    con.create_function("sha256", 1, lambda s: hashlib.sha256(s.encode()).hexdigest(), deterministic=True)
    new_id = (lambda: ordered_uuid().hex) if design.startswith("current") else (lambda: uuid.uuid4().hex)
    con.create_function("new_id", 0, new_id)
    con.execute("CREATE TEMP TABLE staged (n INTEGER PRIMARY KEY, kind, unit, item, at, external_id, contact)")
    con.execute("CREATE TEMP TABLE known_unit (code TEXT PRIMARY KEY) WITHOUT ROWID")
    con.execute("CREATE TEMP TABLE known_item (code TEXT PRIMARY KEY, category TEXT, cutoff TEXT) WITHOUT ROWID")
    con.executemany("INSERT INTO known_unit VALUES (?)", [(u,) for u in window["known_units"]])
    tz = window["opens"].tzinfo
    con.executemany("INSERT INTO known_item VALUES (?, ?, ?)",
                    [(i, window["categories"][i], window["cutoffs"][i].astimezone(tz).strftime("%Y-%m-%d %H:%M"))
                     for i in window["items"]])
    round_id = f"'{uuid.uuid4().hex}'" if uuids else "1"
    row_id = "new_id(), " if uuids else ""
    id_column = "id, " if uuids else ""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    valid = (f"s.at GLOB {CANONICAL_TIME} AND strftime('%Y-%m-%d %H:%M', s.at, '+0 days') = s.at "
             "AND u.code IS NOT NULL AND i.code IS NOT NULL")
    quarantine = f"""
        INSERT INTO quarantined_record ({id_column}round_id, source, raw, reason, fingerprint, received_at)
        SELECT {row_id}{round_id}, 'import:bench', json_array(s.kind, s.unit, s.item, s.at, s.external_id, s.contact),
               CASE WHEN u.code IS NULL THEN '未知单位' WHEN i.code IS NULL THEN '未知项目' ELSE '提交时间无法识别' END,
               sha256(json_array(s.kind, s.unit, s.item, s.at, s.external_id, s.contact)), '{stamp}'
        FROM staged s LEFT JOIN known_unit u ON u.code = s.unit LEFT JOIN known_item i ON i.code = s.item
        WHERE NOT ({valid}) ON CONFLICT DO NOTHING"""
    late = "s.at > i.cutoff"
    accept = f"""
        WITH checked AS (
            SELECT s.n, s.unit, s.item, s.at, s.external_id, i.category, {late} AS late,
                   json_object('材料种类', s.kind, '单位代码', s.unit, '项目代码', s.item, '提交时间', s.at,
                               '编号', s.external_id, '联系人', s.contact) AS payload
            FROM staged s JOIN known_unit u ON u.code = s.unit JOIN known_item i ON i.code = s.item
            WHERE {valid})
        INSERT INTO submission ({id_column}round_id, kind, stage, unit_code, category_code, item_code, external_id,
            fingerprint, payload, submitted_at, source, late, status, identity, received_at, revisions)
        SELECT {row_id}{round_id}, '{window["kind"]}', '{window["stage"]}', unit, category, item, external_id,
            sha256(payload), payload, at || ':00', 'import:bench', late,
            CASE WHEN late THEN 'rejected_late' ELSE 'accepted' END,
            json_array('{window["stage"]}', external_id), '{stamp}', 0
        FROM checked WHERE true ORDER BY n ON CONFLICT DO NOTHING"""
    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        while batch := list(itertools.islice(reader, BATCH)):
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM staged")
            con.executemany("INSERT INTO staged (kind, unit, item, at, external_id, contact) VALUES (?, ?, ?, ?, ?, ?)",
                            batch)
            con.execute(quarantine)
            con.execute(accept)
            con.execute("COMMIT")
    if index_after:
        con.execute(HANDED_IN_INDEX)
    wall = time.perf_counter() - started
    stored = dict(con.execute("SELECT status, count(*) FROM submission GROUP BY status").fetchall())
    quarantined = con.execute("SELECT count(*) FROM quarantined_record").fetchone()[0]
    con.close()
    return {"wall_s": round(wall, 3), "stored": stored, "quarantined": quarantined}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--keep", type=Path, default=None, help="work folder, kept (default: a temp folder)")
    ap.add_argument("--designs", default=",".join(DESIGNS), help=f"comma-separated, of {', '.join(DESIGNS)}")
    ap.add_argument("--import-json", type=Path, default=None,
                    help="a bench/intake.py result of the same rows, shown beside (its own limit is its own run's)")
    ap.add_argument("--seed", type=int, default=2025)
    args = ap.parse_args(argv)
    designs = [d for d in args.designs.split(",") if d]
    if unknown := set(designs) - set(DESIGNS):
        ap.error(f"--designs: unknown {sorted(unknown)}; choose from {', '.join(DESIGNS)}")
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="qcycle-bench-designs-"))
    work.mkdir(parents=True, exist_ok=True)
    programme = write_programme(work, SCALE_1_UNITS)
    window = window_of(programme)
    from qcycle.loader import load_programme

    window["categories"] = load_programme(programme).programme.item_category
    csv_path = work / f"intake-{args.rows}.csv"
    mix = generate_csv(csv_path, args.rows, window, args.seed)
    limit_s = measure_limit(csv_path, work)
    print(f"[designs] {args.rows:,} rows; limit {limit_s:.2f} s")
    results: dict[str, Any] = {}
    for design in designs:
        r = measure_design(design, csv_path, work, window)
        r["over_limit"] = round(r["wall_s"] / limit_s, 1)
        results[design] = r
        print(f"[designs] {design:24} {r['wall_s']:7.2f} s = {r['over_limit']:5.1f} × the limit "
              f"(≤ {TARGETS['file_over_limit']:g}×: {'met' if r['over_limit'] <= TARGETS['file_over_limit'] else 'NOT met'}); "
              f"stored {r['stored']}, quarantined {r['quarantined']:,}")
    report: dict[str, Any] = {"rows": args.rows, "limit_s": round(limit_s, 3), "mix": mix, "designs": results,
                              "machine": machine()}
    if args.import_json:
        done = json.loads(args.import_json.read_text(encoding="utf-8"))
        report["import"] = {k: done.get(k) for k in ("rows", "limit_s", "schema_floor_s", "ratio_file_limit")}
        report["import"]["wall_s"] = done.get("file", {}).get("wall_s")
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"[designs] figures: {args.json}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
