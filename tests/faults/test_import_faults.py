"""Large file imports: committed in batches, resumable after a kill, never blocking other commands.

``qcycle import`` runs in a real subprocess on a generated CSV of ~60,000 rows (valid, late,
duplicate, unknown-unit and malformed rows, GB18030 with Chinese headers; 120,000 and 240,000
for the memory test). It is SIGKILLed once
its first batch is committed; the rerun must end with the counts, submissions and quarantine
records of an uninterrupted import of the same file into a fresh home.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.measure import peak_launcher, read_peak_mib
from qcycle.settings import REPO_ROOT

pytestmark = [pytest.mark.faults]

QCYCLE = Path(sys.executable).with_name("qcycle")
SUMMARY = re.compile(r"按时受理 (\d+)，逾期已受理 (\d+)，逾期不予受理 (\d+)，重复 (\d+)，修改重报 (\d+)(?:（[^）]*）)?，"
                     r"冲突隔离 (\d+)，隔离 (\d+)")
BOUND = 60.0  # seconds for a command to finish: termination, not speed


def _programme(folder: Path) -> Path:
    """The mini round, its records known by their 编号: a changed 揭榜书 is a revision, a
    changed 评价确认申请 a conflict."""
    text = (REPO_ROOT / "tests" / "data" / "mini.yaml").read_text("utf-8")
    text = text.replace("    lateness: reject\n", "    lateness: reject\n    identity: {key: [id]}\n")
    text = text.replace("    deadline: {date: 2023-12-20}\n",
                        "    deadline: {date: 2023-12-20}\n    identity: {key: [id], on_change: conflict}\n")
    path = folder / "mini-ids.yaml"
    path.write_text(text, "utf-8")
    return path


def _plain(n: int) -> bool:
    return all(n % m for m in (97, 89, 83, 79, 71, 67, 61))


def write_csv(path: Path, rows: int, *, encoding: str = "gb18030") -> Path:
    """A mini-2023 export: mostly on-time applications, with every kind of trouble mixed in."""
    lines = ["材料种类,单位代码,项目代码,提交时间,编号"]
    for n in range(1, rows + 1):
        unit, item = f"c{n % 4 + 1}", f"k-{n % 2 + 1}"
        if n % 97 == 0:
            lines.append(lines[-1 - n % 50] if len(lines) > 60 else f"揭榜书,{unit},{item},2023-04-10 09:00,A{n}")
        elif n % 89 == 0:
            lines.append(f"揭榜书,zz{n},{item},2023-04-10 09:00,A{n}")  # unknown unit
        elif n % 83 == 0:
            lines.append(f"揭榜书,{unit},{item}")  # too few columns
        elif n % 79 == 0:
            lines.append(f"揭榜书,{unit},{item},2023-04-20 09:00,A{n}")  # late: refused
        elif n % 71 == 0:
            lines.append(f"评价确认申请,{unit},{item},2023-12-25 09:00,E{n}")  # late: accepted
        elif n % 67 == 0 and n > 71:
            lines.append(f"评价确认申请,{unit},{item},2023-12-26 09:00,E71")  # the same 编号 changed: a conflict
        elif n % 61 == 0 and _plain(n - 1):
            lines.append(f"揭榜书,{unit},k-1,2023-04-13 10:00,A{n - 1}")  # row n-1 corrected: a revision
        else:
            lines.append(f"揭榜书,{unit},{item},2023-04-{n % 10 + 3:02d} 09:00,A{n}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCYCLE_")}
    return {**env, "QCYCLE_HOME": str(home)}


def _qcycle(home: Path, *args: str, timeout: float = BOUND) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(QCYCLE), *args], env=_env(home), capture_output=True, text=True,
                          timeout=timeout, check=False)


def _counts(output: str) -> tuple[int, ...]:
    match = SUMMARY.search(output)
    assert match, output
    return tuple(int(x) for x in match.groups())


def _table_counts(home: Path) -> dict[str, int]:
    with sqlite3.connect(home / "qcycle.db") as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("submission", "submission_revision", "quarantined_record")}


def _indexes(home: Path) -> set[str]:
    with sqlite3.connect(home / "qcycle.db") as conn:
        return {row[1] for row in conn.execute("PRAGMA index_list('submission')")}


def _rows_committed(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'qcycle.db'}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT max(rows_done) FROM import_checkpoint").fetchone()
    except sqlite3.Error:  # not created yet, or not migrated yet
        return 0
    return row[0] or 0


def _start_import(home: Path, path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(QCYCLE), "import", str(path), "--round", str(_programme(path.parent))],
                            env=_env(home) | env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(home: Path, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + BOUND
    while (done := _rows_committed(home)) == 0:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no batch committed"
        time.sleep(0.02)
    return done


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("files") / "揭榜书汇总.csv", 60_000)


# The import's SQLite page cache is a fixed cost (64 MiB by default) that only a large file
# fills; with a small one for both imports, what is compared is what qcycle itself holds.
SMALL_CACHE = {"QCYCLE_IMPORT_CACHE_MIB": "2"}


def _measured_import(home: Path, path: Path) -> tuple[str, float]:
    """Output and peak RSS (MiB) of ``qcycle import`` in a process of its own (small cache),
    the peak its own: through :func:`bench.measure.peak_launcher` (``wait4`` here would count
    pytest's memory too)."""
    peak = home.parent / f"{home.name}.peak"
    with (home.parent / f"{home.name}.out").open("w+", encoding="utf-8") as out:
        cmd = [str(QCYCLE), "import", str(path), "--round", str(_programme(path.parent))]
        done = subprocess.run(peak_launcher(cmd, peak), env=_env(home) | SMALL_CACHE, stdout=out,
                              stderr=subprocess.STDOUT, text=True, timeout=4 * BOUND, check=False)
        out.seek(0)
        output = out.read()
    assert done.returncode == 0, output
    measured = read_peak_mib(peak)
    assert measured is not None and measured > 20, measured  # an interpreter with SQLAlchemy: tens of MiB
    return output, measured


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, big_csv) -> tuple[tuple[int, ...], dict[str, int]]:
    home = tmp_path_factory.mktemp("whole")
    result = _qcycle(home, "import", str(big_csv), "--round", str(_programme(big_csv.parent)))
    assert result.returncode == 0, result.stderr
    counts = _counts(result.stdout)
    assert sum(counts) == 60_000  # every row counted
    assert all(counts), counts  # every outcome occurs in the file
    return counts, _table_counts(home)


def test_memory_is_bounded_by_the_batch_not_by_the_file(tmp_path):
    """Twice the rows, the same memory: the import holds a few batches, not the file.

    Both files are past what fills up once (the batches planned ahead while the write lock is
    left free, the first of them after a second's writing; a bounded cache or two): measured,
    the peak rises from 3,000 rows (100 MiB) to 60,000 (120-124) and ~100,000, and is flat from
    there (129 MiB at 120,000 and at 240,000 rows). 120,000 more rows held at even 90 bytes each
    would add 10 MiB; the import of 2026-11 held ~2 KB a row."""
    peaks = {}
    for rows in (120_000, 240_000):
        output, peaks[rows] = _measured_import(tmp_path / f"home-{rows}", write_csv(tmp_path / f"{rows}.csv", rows))
        assert sum(_counts(output)) == rows
    print(f"peak RSS: 120,000 rows {peaks[120_000]:.0f} MiB, 240,000 rows {peaks[240_000]:.0f} MiB")
    assert peaks[240_000] < peaks[120_000] + 10, peaks


def test_a_killed_import_resumes_and_ends_with_the_same_counts(tmp_path, big_csv, uninterrupted):
    proc = _start_import(tmp_path, big_csv)
    committed = _wait_for_checkpoint(tmp_path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=BOUND)
    assert 0 < committed < 60_000
    stored_before = _table_counts(tmp_path)["submission"]
    assert stored_before > 0  # the committed batches were kept
    assert "ix_submission_handed_in" not in _indexes(tmp_path)  # a large load builds it at its end

    result = _qcycle(tmp_path, "import", str(big_csv), "--round", str(_programme(big_csv.parent)))
    assert result.returncode == 0, result.stderr
    assert re.search(r"从第 \d+ 行继续", result.stdout), result.stdout
    assert (_counts(result.stdout), _table_counts(tmp_path)) == uninterrupted
    assert "ix_submission_handed_in" in _indexes(tmp_path)

    # Finished: importing it again behaves as a second import always did.
    again = _qcycle(tmp_path, "import", str(big_csv), "--round", str(_programme(big_csv.parent)))
    counts = _counts(again.stdout)
    assert "继续" not in again.stdout
    accepted, late_accepted, refused, _, revised, conflicts, _ = counts
    assert accepted == late_accepted == refused == revised == 0 and sum(counts) == 60_000
    assert conflicts == uninterrupted[0][5]  # a conflict stays one until it is settled
    assert _table_counts(tmp_path) == uninterrupted[1]


def test_other_commands_work_while_a_large_import_runs(tmp_path, big_csv):
    small = tmp_path / "small.csv"
    small.write_text("kind,unit,item,submitted_at,id\n"
                     + "".join(f"application,c1,k-1,2023-04-05 10:00,S{i}\n" for i in range(5)), "utf-8")
    # The row-by-row way (the same outcomes, ~5× slower): the bulk lane's import of this file
    # could end while the two commands ran (they take ~3 s, waiting for the lock's pause), and
    # "still running" is what makes this test mean something. The lane beside a writer:
    # tests/faults/test_kill_faults.py. Twice the shared file's rows: beside the rest of the suite,
    # the shared one's import had ended while the two commands ran (1.9 s and 5.9 s).
    bigger = write_csv(tmp_path / "揭榜书汇总（两倍）.csv", 120_000)
    alone = _qcycle(tmp_path / "alone", "import", str(bigger), "--round", str(_programme(bigger.parent)))
    assert alone.returncode == 0, alone.stderr  # what the same file gives imported alone (the lane)
    home = tmp_path / "beside"
    proc = _start_import(home, bigger, QCYCLE_IMPORT_LANE="false")
    try:
        _wait_for_checkpoint(home, proc)
        assert proc.poll() is None, "the large import finished too soon to test anything"
        started = time.monotonic()
        listing = _qcycle(home, "outbox", "list", timeout=20)
        listed = time.monotonic()
        five = _qcycle(home, "import", str(small), "--round", str(_programme(big_csv.parent)), timeout=20)
        elapsed = (listed - started, time.monotonic() - listed)
        still_running = proc.poll() is None
    finally:
        out, err = proc.communicate(timeout=BOUND)
    assert five.returncode == 0, five.stderr
    assert _counts(five.stdout) == (5, 0, 0, 0, 0, 0, 0)
    assert listing.returncode == 0, listing.stderr
    assert max(elapsed) < 20 and still_running, elapsed
    assert proc.returncode == 0, err
    assert _counts(out) == _counts(alone.stdout) and sum(_counts(out)) == 120_000
