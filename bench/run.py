"""Run one benchmark year in several modes, side by side, on the same data.

    python bench/run.py --units 3209 --modes qcycle,naive,floor --json OUT.json

For each mode: a fresh temp folder (app SQLite database, sink folder), for the Prefect modes
a fresh ``qcycle server`` (Prefect's server, serial SQLite transactions) on a free port with its own SQLite file in that folder
(analytics and UI off; ``--prefect-db postgres``: its own throwaway PostgreSQL cluster
instead, as in production), and a FRESH worker subprocess (``bench/modes.py``), so peak RSS
is per mode. The Prefect database growth is the size of its file (with ``-wal``; on
PostgreSQL ``pg_database_size``) after the server stopped, minus its size once the server
was up and migrated.

Writes ``{"units", "results": {mode: {wall_s, peak_rss_mib, prefect_db_growth_mib,
app_db_mib, messages, ...}}, "ratio_qcycle_floor", "machine"}``.
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

PREFECT_MODES = ("qcycle", "naive")


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
            timeout: float | None = None, prefect_db: str = "sqlite") -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"qcycle-bench-{mode}-"))
    server = PrefectServer(folder, prefect_db).start() if mode in PREFECT_MODES else None
    env = server.client_env() if server else {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = folder / "figures.json"
    cmd = [sys.executable, str(ROOT / "bench" / "modes.py"), mode, "--programme", str(programme),
           "--home", str(folder / "app"), "--out", str(out)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
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
    data = Path(tempfile.mkdtemp(prefix="qcycle-bench-data-"))
    programme = write_programme(data, units)
    results: dict[str, Any] = {}
    for mode in modes:
        log(f"[bench] {units} units, mode {mode} ...")
        prof = profile_dir / f"{mode}-{units}.prof" if profile_dir else None
        results[mode] = run_one(mode, programme, keep=keep, profile=prof, timeout=timeout, prefect_db=prefect_db)
        r = results[mode]
        log(f"[bench]   {mode}: " + (r.get("error") or
            f"{r['wall_s']} s, {r['peak_rss_mib']} MiB, {r['messages']} messages, "
            f"prefect db +{r['prefect_db_growth_mib']} MiB, app db {r['app_db_mib']} MiB"
            + (f", {r['prefect_retryable_errors']} server 503s" if "prefect_retryable_errors" in r else "")))
    shutil.rmtree(data, ignore_errors=True)
    ratio = None
    if "wall_s" in results.get("qcycle", {}) and "wall_s" in results.get("floor", {}):
        ratio = round(results["qcycle"]["wall_s"] / results["floor"]["wall_s"], 2)
    return {"units": units, "results": results, "ratio_qcycle_floor": ratio, "machine": machine()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=SCALE_1_UNITS)
    ap.add_argument("--modes", default="qcycle,naive,floor")
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--keep", action="store_true", help="keep the temp folders")
    ap.add_argument("--profile-dir", type=Path, default=None, help="cProfile each worker into this folder")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per mode before giving up")
    ap.add_argument("--prefect-db", choices=("sqlite", "postgres"), default="sqlite",
                    help="the Prefect server's database: its own SQLite file (default) or a throwaway "
                         "PostgreSQL 15 cluster, as in production (needs the postgres or dev extra: asyncpg)")
    args = ap.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in ("qcycle", "naive", "floor")]
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


if __name__ == "__main__":
    main()
