"""Run one benchmark year in several modes, side by side, on the same data.

    python bench/run.py --units 3209 --modes qcycle,floor,limit,empty --json OUT.json

For each mode: a fresh temp folder (app SQLite database, sink folder), for the Prefect modes
(qcycle, naive, empty) a fresh ``qcycle server`` (Prefect's server, serial SQLite transactions)
on a free port with its own SQLite file in that folder (analytics and UI off; ``--prefect-db
postgres``: its own throwaway PostgreSQL cluster instead, as in production), and a FRESH worker
subprocess (``bench/modes.py``), so peak RSS is per mode. The Prefect database growth is the
size of its file (with ``-wal``; on PostgreSQL ``pg_database_size``) after the server stopped,
minus its size once the server was up and migrated.

``limit`` writes what a ``floor`` year wrote (plain ``sqlite3``, one compiled Jinja template per
message kind, one JSON Lines file) and ``empty`` replays the ``qcycle`` run's shape of flow runs
doing nothing, so each runs after the mode it copies (added to the run when missing). What the
limit writes is captured by a second floor year, untimed (``capture_run``: its messages must be
the timed floor's): recording each letter's template and context during the timed year had cost
it ~1.2 s (7 %; three pairs, 2026-12-07).

Writes ``{"units", "results": {mode: {wall_s, peak_rss_mib, prefect_db_growth_mib,
app_db_mib, messages, messages_digest, results_digest, ...}}, "ratio_qcycle_floor",
"ratio_floor_limit", "ratio_overhead_empty" ((qcycle − floor) / empty), "messages_identical",
"results_identical", "machine"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import SCALE_1_UNITS, write_programme
from tests.servers import ThrowawayPostgres, free_port

__all__ = ["PrefectServer", "machine", "run_modes"]

PREFECT_MODES = ("qcycle", "naive", "empty")
MODES = ("qcycle", "naive", "floor", "limit", "empty")


def machine() -> dict[str, Any]:
    """What the figures were measured on (and how busy it was)."""
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "nproc": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 2**20, 1)
        info["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        pass
    try:
        import prefect

        info["prefect"] = prefect.__version__
    except ImportError:
        pass
    return info


def _size_mib(db: Path) -> float:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists()) / 2**20


def _tree_hwm_mib(pid: int) -> float:
    """Peak RSS (VmHWM) summed over a process and its descendants (Linux /proc)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except OSError:
            continue
    return total / 1024


class Postgres(ThrowawayPostgres):
    """A throwaway PostgreSQL 15 cluster holding Prefect's database, as in production
    (docs/runbook.md §3). ``synchronous_commit=off``: commits do not wait for the disk, like
    the SQLite server's ``synchronous=NORMAL``; crash-safe, unlike ``fsync=off``."""

    def __init__(self) -> None:
        super().__init__("-c synchronous_commit=off", prefix="qcycle-bench-pg-")

    def start(self) -> Postgres:
        super().start()
        self.create_database("prefect")
        return self

    def size_mib(self) -> float:
        return int(self.sql("SELECT pg_database_size('prefect')")) / 2**20


class PrefectServer:
    """``qcycle server`` (Prefect's server) in its own session and PREFECT_HOME, on its own SQLite file
    (``database="sqlite"``, the local default) or PostgreSQL cluster (``"postgres"``)."""

    def __init__(self, folder: Path, database: str = "sqlite"):
        self.folder = folder
        self.db = folder / "prefect.db"
        self.postgres = Postgres() if database == "postgres" else None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(folder / "prefect-home"),
            "PREFECT_API_DATABASE_CONNECTION_URL": (self.postgres.url("prefect", "asyncpg") if self.postgres
                                                    else f"sqlite+aiosqlite:///{self.db}"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            # Logged so that they can be counted: each one is a client retry after ~2 s.
            "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
        }
        self.env.pop("PREFECT_API_URL", None)
        self.proc: subprocess.Popen | None = None
        self.start_s = 0.0
        self.size_before = 0.0
        self.peak_rss_mib = 0.0

    def _db_mib(self) -> float:
        return self.postgres.size_mib() if self.postgres else _size_mib(self.db)

    def start(self, timeout: float = 120) -> PrefectServer:
        started = time.perf_counter()
        if self.postgres:
            self.postgres.start()
        self.log = open(self.folder / "prefect-server.log", "wb")  # noqa: SIM115 - closed in stop()
        # The product's server (`qcycle server`: Prefect's, serial SQLite transactions).
        exe = Path(sys.executable).with_name("qcycle")
        self.proc = subprocess.Popen(
            [str(exe), "server", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited early; see {self.folder / 'prefect-server.log'}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            self.stop()
            raise RuntimeError("prefect server did not answer /api/health in time")
        self.start_s = time.perf_counter() - started
        time.sleep(1.0)  # let start-up writes settle before the baseline size
        self.size_before = self._db_mib()
        return self

    def client_env(self) -> dict[str, str]:
        env = dict(self.env)
        env["PREFECT_API_URL"] = self.url
        return env

    def retryable_errors(self) -> int:
        """Requests the server answered 503 (on SQLite: "database is locked" while its own event
        writers commit); the client retries each after ~2 s (``2 ** attempt`` seconds)."""
        log = self.folder / "prefect-server.log"
        return log.read_text(errors="replace").count("Encountered retryable exception") if log.exists() else 0

    def stop(self) -> float:
        """Stop the server; returns the growth of its database in MiB."""
        if self.proc is not None and self.proc.poll() is None:
            self.peak_rss_mib = _tree_hwm_mib(self.proc.pid)
            os.killpg(self.proc.pid, signal.SIGINT)  # our own process group (start_new_session)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        try:
            return self._db_mib() - self.size_before
        finally:
            if self.postgres:
                self.postgres.stop()


def run_one(mode: str, programme: Path, keep: bool = False, profile: Path | None = None,
            timeout: float | None = None, prefect_db: str = "sqlite", capture: Path | None = None,
            shape: Path | None = None, shape_out: Path | None = None) -> dict[str, Any]:
    """One mode in a fresh worker process. ``capture``: the floor writes (the limit reads) the
    rows and messages the limit writes; ``shape``: the flow-run shape the empty mode replays;
    ``shape_out``: where the qcycle mode's shape is written, read back from its Prefect
    database (SQLite only)."""
    folder = Path(tempfile.mkdtemp(prefix=f"qcycle-bench-{mode}-"))
    server = PrefectServer(folder, prefect_db).start() if mode in PREFECT_MODES else None
    env = server.client_env() if server else {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = folder / "figures.json"
    cmd = [sys.executable, str(ROOT / "bench" / "modes.py"), mode, "--programme", str(programme),
           "--home", str(folder / "app"), "--out", str(out)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    if capture is not None:
        cmd += ["--capture", str(capture)]
    if shape is not None:
        cmd += ["--shape", str(shape)]
    started = time.perf_counter()
    try:
        with open(folder / "worker.log", "wb") as log:
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        proc = None
    finally:
        growth = server.stop() if server else None
    process_s = time.perf_counter() - started
    if proc is None or proc.returncode != 0 or not out.exists():
        tail = (folder / "worker.log").read_text(errors="replace")[-3000:]
        result = {"error": "timeout" if proc is None else f"worker exited {proc.returncode}", "log_tail": tail,
                  "folder": str(folder)}
    else:
        result = json.loads(out.read_text())
        result["process_s"] = round(process_s, 2)  # with interpreter start and imports
        if shape_out is not None and server is not None and server.postgres is None:
            from bench.main_job import read_shape, shape_counts

            year = read_shape(server.db)
            shape_out.write_text(json.dumps(year), encoding="utf-8")
            result["shape"] = shape_counts(year)
    result["prefect_db_growth_mib"] = round(growth, 2) if growth is not None else 0.0
    if server:
        result["prefect_db"] = prefect_db
        result["prefect_server_start_s"] = round(server.start_s, 1)
        result["prefect_server_peak_rss_mib"] = round(server.peak_rss_mib, 1)
        result["prefect_retryable_errors"] = server.retryable_errors()
    if not keep and "error" not in result:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        result["folder"] = str(folder)
    return result


def run_modes(units: int, modes: list[str], *, keep: bool = False, profile_dir: Path | None = None,
              timeout: float | None = None, prefect_db: str = "sqlite", log=print) -> dict[str, Any]:
    """The modes one after the other on the same generated programme. ``limit`` writes what the
    floor run of the same call wrote, and ``empty`` replays the shape of its qcycle run, so
    those run after them (``floor`` and ``qcycle`` are added when missing)."""
    modes = _ordered(modes)
    data = Path(tempfile.mkdtemp(prefix="qcycle-bench-data-"))
    programme = write_programme(data, units)
    capture, shape = data / "floor-capture.pickle", data / "qcycle-shape.json"
    results: dict[str, Any] = {}
    captured: dict[str, Any] | None = None
    for mode in modes:
        if mode == "limit":
            # What the limit writes, from a floor year of its own: recording it costs the year that records it.
            log(f"[bench] {units} units, a floor year capturing what the limit writes (untimed) ...")
            captured = run_one("floor", programme, keep=keep, timeout=timeout, capture=capture)
        log(f"[bench] {units} units, mode {mode} ...")
        prof = profile_dir / f"{mode}-{units}.prof" if profile_dir else None
        results[mode] = run_one(
            mode, programme, keep=keep, profile=prof, timeout=timeout,
            prefect_db="sqlite" if mode == "empty" and prefect_db != "postgres" else prefect_db,
            capture=capture if mode == "limit" else None,
            shape=shape if mode == "empty" else None,
            shape_out=shape if mode == "qcycle" and "empty" in modes else None)
        r = results[mode]
        log(f"[bench]   {mode}: " + (r.get("error") or
            f"{r['wall_s']} s, {r['peak_rss_mib']} MiB, {r['messages']} messages, "
            f"prefect db +{r['prefect_db_growth_mib']} MiB, app db {r['app_db_mib']} MiB"
            + (f", {r['prefect_retryable_errors']} server 503s" if "prefect_retryable_errors" in r else "")))
    shutil.rmtree(data, ignore_errors=True)
    report = {"units": units, "results": results, **ratios(results), "machine": machine()}
    if captured is not None:
        same = ("messages_digest", "results_digest", "outbox_rows", "records", "reviews", "decisions")
        report["capture_run"] = {k: captured.get(k) for k in ("wall_s", "messages", "error", *same)}
        # The limit's rows and messages are the capturing year's: the timed floor's, or the comparison says nothing.
        floor = results.get("floor", {})
        report["capture_run"]["same_as_floor"] = all(captured.get(k) == floor.get(k) is not None for k in same)
    return report


def _ordered(modes: list[str]) -> list[str]:
    wanted = set(modes) | ({"floor"} if "limit" in modes else set()) | ({"qcycle"} if "empty" in modes else set())
    return [m for m in MODES if m in wanted]


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """The ratios the targets are stated in (issue 14), and whether the modes sent and decided
    the same: ``floor ≤ 3 × limit``, ``qcycle − floor ≤ 1.5 × empty``."""
    wall = {m: r["wall_s"] for m, r in results.items() if "wall_s" in r}
    out: dict[str, Any] = {"ratio_qcycle_floor": None, "ratio_floor_limit": None, "ratio_overhead_empty": None}
    if "qcycle" in wall and "floor" in wall:
        out["ratio_qcycle_floor"] = round(wall["qcycle"] / wall["floor"], 2)
    if "floor" in wall and "limit" in wall:
        out["ratio_floor_limit"] = round(wall["floor"] / wall["limit"], 2)
    if {"qcycle", "floor", "empty"} <= wall.keys():
        out["ratio_overhead_empty"] = round((wall["qcycle"] - wall["floor"]) / wall["empty"], 2)
    for what in ("messages_digest", "results_digest"):
        seen = {m: r[what] for m, r in results.items() if r.get(what)}
        out[what.replace("_digest", "_identical")] = len(set(seen.values())) <= 1 if seen else None
    return out


def main(argv: list[str] | None = None) -> None:
    # Started in the background (`… &`), this process and its Prefect servers inherit SIGINT
    # ignored: stop() would wait 30 s for each server, then kill it.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=SCALE_1_UNITS)
    ap.add_argument("--modes", default="qcycle,floor,limit,empty",
                    help="of qcycle, naive, floor, limit, empty (naive takes hours at national scale)")
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--keep", action="store_true", help="keep the temp folders")
    ap.add_argument("--profile-dir", type=Path, default=None, help="cProfile each worker into this folder")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per mode before giving up")
    ap.add_argument("--prefect-db", choices=("sqlite", "postgres"), default="sqlite",
                    help="the Prefect server's database: its own SQLite file (default) or a throwaway "
                         "PostgreSQL 15 cluster, as in production (needs the postgres or dev extra: asyncpg)")
    args = ap.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        ap.error(f"unknown modes: {bad}")
    if args.profile_dir:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    report = run_modes(args.units, modes, keep=args.keep, profile_dir=args.profile_dir, timeout=args.timeout,
                       prefect_db=args.prefect_db)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({m: {k: r.get(k) for k in ("wall_s", "peak_rss_mib", "prefect_db_growth_mib",
                                                 "app_db_mib", "messages", "error")}
                      for m, r in report["results"].items()} | {"ratio_qcycle_floor": report["ratio_qcycle_floor"]},
                     ensure_ascii=False, indent=1))
    print(f"targets (issue 14): floor ≤ 3 × limit: {report['ratio_floor_limit']}; "
          f"qcycle − floor ≤ 1.5 × empty: {report['ratio_overhead_empty']}; "
          f"messages identical: {report['messages_identical']}, results identical: {report['results_identical']}")


if __name__ == "__main__":
    main()
