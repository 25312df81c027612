"""Local servers the tests and the benchmarks start on 127.0.0.1: a free port, and a throwaway
PostgreSQL 15 cluster (the production database path, without the production durability).

One copy for the test fixtures (``tests/conftest.py``, ``tests/prefect_proc.py``) and the
benchmarks (``bench/run.py``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PG_BIN", "ThrowawayPostgres", "free_port"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*args: str) -> list[str]:
    # PostgreSQL refuses to run as root; when we are root, run it as the postgres user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


class ThrowawayPostgres:
    """A PostgreSQL 15 cluster in a temporary folder, on a free port, removed by :meth:`stop`.

    ``options``: server settings (``-c name=value ...``). The tests turn durability off
    (``fsync=off``: the cluster is thrown away); the benchmarks keep it crash-safe with only
    ``synchronous_commit=off``, as production could.
    """

    def __init__(self, options: str = "-c synchronous_commit=off", prefix: str = "qcycle-pg-") -> None:
        # Not under a root-only folder (pytest's tmp is one): postgres must be able to enter it.
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self.port = free_port()
        self.options = options
        self.started = False

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists()

    def _run(self, *args: str) -> str:
        done = subprocess.run(_as_postgres(*args), cwd=self.base, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.base / "server.log"
            server_log = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{server_log}")
        return done.stdout

    def start(self) -> ThrowawayPostgres:
        if not self.available():
            raise RuntimeError(f"PostgreSQL 15 is not installed here ({PG_BIN / 'initdb'} is missing)")
        data = str(self.base / "data")
        try:
            self._run(str(PG_BIN / "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "--no-sync")
            self._run(str(PG_BIN / "pg_ctl"), "-D", data, "-l", str(self.base / "server.log"), "-w", "-t", "30",
                      "-o", f"-p {self.port} -k {self.base} -h 127.0.0.1 {self.options}", "start")
            self.started = True
        except RuntimeError:
            self.stop()  # no cluster left running, no folder left behind
            raise
        return self

    def sql(self, query: str, db: str = "postgres") -> str:
        return self._run(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                         "-d", db, "-tAc", query).strip()

    def create_database(self, name: str) -> None:
        self.sql(f"CREATE DATABASE {name}")

    def url(self, db: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.started:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.base / "data"), "-m", "fast", "-w", "stop")
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)
