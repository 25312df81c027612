"""The test suite of two commits, side by side (issue 14): the old tests at the new commit, both suites.

    python bench/suite.py --old 42b1fdd --new HEAD --json OUT.json [--keep DIR]
                          [--old-python PATH] [--new-python PATH] [--select EXPR] [--rounds N]

Both commits are extracted (``git archive``: no worktree is registered in the repository) into
a work folder (``--keep DIR``: that folder, kept; otherwise a temp folder, removed at the end).
Each needs its venv: by default each extract builds its own with its own ``bash
scripts/bootstrap.sh dev`` (``.venv`` in the extract, pip from the registries; minutes, not
timed); ``--old-python`` / ``--new-python`` give a ready venv's interpreter instead (that venv is
not modified: the extract's ``qcycle`` is found through ``PYTHONPATH``, always set to the
extract, and the test command is run without its install step, see below).

Then the node ids of the old commit's tests (``pytest --collect-only -q`` at the old commit) and of
the new commit's; old ids missing at the new commit are listed (``old_ids_missing_at_new``), and
those whose file-independent name (``Class::test[param]``) names exactly one new test that is not
itself an old id are run under that id (``old_ids_moved``). Then, one after the other (a round):

a. ``old_suite``: the old whole suite with the old commit's README test command,
   ``bash scripts/test.sh -q -p no:cacheprovider --junitxml=...``;
b. ``old_tests_new``: at the new commit, the old tests that it still has (and the moved ones),
   given as node ids to the new commit's test command;
c. ``new_suite``: the new whole suite with the new commit's test command.

``--rounds N`` repeats the round (a, b, c, a, b, c, ...: interleaved, so a slow hour of the
machine falls on both commits) and reports each run and the median of each part. With a ready
venv the command is the commit's own ``scripts/test.sh`` with its ``bootstrap.sh`` line dropped
and ``$ROOT/.venv/bin/python`` replaced by the given interpreter (written next to it as
``scripts/test-ready-venv.sh``): everything else in it (workers, ``--durations``, its
environment) stays as at that commit. ``--select EXPR`` passes ``-k EXPR`` to every collection and
run (for smoke tests of this script; the ratios then mean nothing).

Each run is timed as the whole process (``wall_s``: interpreter start, collection, workers);
passed, failed, errors and skipped come from its JUnit XML; the load average before and after.
Writes ``{"old": {commit, sha, python, venv, venv_build_s, collected}, "new": {...},
"old_ids_missing_at_new", "old_ids_moved", "runs": [{part, round, wall_s, rc, tests, passed,
failed, errors, skipped, loadavg_before, loadavg_after, log}], "median_s": {part: s},
"ratio_old_tests_new_old_suite", "ratio_new_suite_old_suite", "targets", "machine"}`` and prints
the figures against the targets (old tests at the new commit ≤ 0.5 × the old suite, new suite ≤
1.0 × the old suite), never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PARTS = ("old_suite", "old_tests_new", "new_suite")
TARGETS = {"ratio_old_tests_new_old_suite": 0.5, "ratio_new_suite_old_suite": 1.0}
TEST_ARGS = ["-q", "-p", "no:cacheprovider"]
BOOTSTRAP_LINE = re.compile(r'^\s*bash\s+"\$ROOT/scripts/bootstrap\.sh"\s+dev\s*$', re.MULTILINE)
VENV_PYTHON = '"$ROOT/.venv/bin/python"'


def machine() -> dict[str, Any]:
    """What the figures were measured on (as ``bench/run.py``, without importing the venvs)."""
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
    except OSError:
        pass
    info["loadavg"] = loadavg()
    return info


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def extract(commit: str, dest: Path) -> str:
    """The commit's tree in ``dest`` (``git archive``); returns its full sha."""
    sha = _git("rev-parse", "--verify", f"{commit}^{{commit}}")
    dest.mkdir(parents=True)
    archive = dest.with_suffix(".tar")
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), sha], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="tar")
    archive.unlink()
    return sha


def _env(checkout: Path) -> dict[str, str]:
    """This environment without Prefect, qcycle, pytest and venv settings; the extract first on the path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "QCYCLE_", "PYTEST_", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = str(checkout)
    return env


def build_venv(checkout: Path, log: Path, bootstrap_python: str | None) -> tuple[str, float]:
    """The commit's own ``scripts/bootstrap.sh dev``: ``.venv`` in the extract."""
    env = _env(checkout)
    if bootstrap_python:
        env["PYTHON"] = bootstrap_python
    started = time.perf_counter()
    with open(log, "wb") as out:
        done = subprocess.run(["bash", "scripts/bootstrap.sh", "dev"], cwd=checkout, env=env, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bootstrap.sh dev failed in {checkout} (exit {done.returncode}); see {log}")
    return str(checkout / ".venv" / "bin" / "python"), round(time.perf_counter() - started, 1)


def readme_test_command(checkout: Path, python: str | None) -> list[str]:
    """The README's test command of this extract; with a ready venv, without its install step."""
    if python is None:
        return ["bash", "scripts/test.sh"]
    script = (checkout / "scripts" / "test.sh").read_text(encoding="utf-8")
    if not BOOTSTRAP_LINE.search(script) or VENV_PYTHON not in script:
        raise SystemExit(f"{checkout}/scripts/test.sh does not have the expected bootstrap line and "
                         f"{VENV_PYTHON}: run without --old-python/--new-python (build the venvs)")
    script = BOOTSTRAP_LINE.sub("# (bench/suite.py: a ready venv, nothing installed)", script)
    script = script.replace(VENV_PYTHON, '"' + python + '"')
    derived = checkout / "scripts" / "test-ready-venv.sh"
    derived.write_text(script, encoding="utf-8")
    return ["bash", "scripts/test-ready-venv.sh"]


def collect(checkout: Path, python: str, select: str | None, log: Path) -> list[str]:
    """Node ids of the extract's tests (``pytest --collect-only -q``)."""
    cmd = [python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    if select:
        cmd += ["-k", select]
    done = subprocess.run(cmd, cwd=checkout, env=_env(checkout), capture_output=True, text=True, check=False)
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode not in (0, 5):  # 5: nothing collected (a narrow --select)
        raise SystemExit(f"collection failed in {checkout} (exit {done.returncode}); see {log}")
    ids: list[str] = []
    for line in done.stdout.splitlines():
        if not line.strip() or line.startswith("="):  # the ids end where the summary begins
            break
        if "::" in line and line not in ids:
            ids.append(line)
    return ids


def _name(node_id: str) -> str:
    """The node id without its file: ``Class::test[param]``."""
    return node_id.split("::", 1)[1]


def match_old_ids(old: list[str], new: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """(old ids the new commit has, old ids it has not, {old id: new id} for the moved ones)."""
    new_set = set(new)
    kept = [i for i in old if i in new_set]
    missing = [i for i in old if i not in new_set]
    old_set = set(old)
    by_name: dict[str, list[str]] = {}
    for i in new:
        if i not in old_set:
            by_name.setdefault(_name(i), []).append(i)
    moved: dict[str, str] = {}
    for i in missing:
        candidates = by_name.get(_name(i), [])
        if len(candidates) == 1 and candidates[0] not in moved.values():
            moved[i] = candidates[0]
    return kept, [i for i in missing if i not in moved], moved


def junit_counts(xml: Path) -> dict[str, int]:
    counts = {"tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    if not xml.exists():
        return counts
    for case in ET.parse(xml).getroot().iter("testcase"):
        counts["tests"] += 1
        tags = {child.tag for child in case}
        if "failure" in tags:
            counts["failed"] += 1
        elif "error" in tags:
            counts["errors"] += 1
        elif "skipped" in tags:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def run_part(part: str, rnd: int, checkout: Path, command: list[str], ids: list[str] | None,
             select: str | None, work: Path, timeout: float | None) -> dict[str, Any]:
    xml = work / "results" / f"{part}-{rnd}.xml"
    log = work / "logs" / f"{part}-{rnd}.log"
    args = [*command, *TEST_ARGS, f"--junitxml={xml}"]
    if select:
        args += ["-k", select]
    argsfile = None
    if ids is not None:  # a file of node ids (pytest's @FILE), not a command line of thousands
        argsfile = work / "results" / f"{part}-{rnd}.ids"
        argsfile.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        args.append(f"@{argsfile}")
    before = loadavg()
    started = time.perf_counter()
    try:
        with open(log, "wb") as out:
            rc = subprocess.run(args, cwd=checkout, env=_env(checkout), stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        rc = None
    wall = time.perf_counter() - started
    result = {"part": part, "round": rnd, "wall_s": round(wall, 1), "rc": rc, **junit_counts(xml),
              "loadavg_before": before, "loadavg_after": loadavg(), "log": str(log)}
    if rc != 0:  # the end of its output (the summary, the durations), kept in the JSON
        result["log_tail"] = log.read_text(encoding="utf-8", errors="replace")[-4000:]
    return result


def _side(name: str, commit: str, checkout: Path, python: str | None, bootstrap_python: str | None,
          work: Path, log=print) -> dict[str, Any]:
    sha = extract(commit, checkout)
    info: dict[str, Any] = {"commit": commit, "sha": sha, "checkout": str(checkout)}
    if python:
        info.update(python=str(Path(python).absolute()), venv="given", venv_build_s=None)
    else:
        log(f"[suite] {name}: building its venv with scripts/bootstrap.sh dev ...")
        built, seconds = build_venv(checkout, work / "logs" / f"{name}-bootstrap.log", bootstrap_python)
        info.update(python=built, venv="built", venv_build_s=seconds)
        log(f"[suite]   {seconds} s")
    versions = subprocess.run([info["python"], "-c", "import prefect, pytest; print(prefect.__version__, pytest.__version__)"],
                              env=_env(checkout), capture_output=True, text=True, check=False).stdout.split()
    if len(versions) == 2:
        info["prefect"], info["pytest"] = versions
    return info


def compare(old: str, new: str, work: Path, *, old_python: str | None = None, new_python: str | None = None,
            bootstrap_python: str | None = None, select: str | None = None, rounds: int = 1,
            timeout: float | None = None, log=print) -> dict[str, Any]:
    for sub in ("logs", "results"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    sides = {"old": _side("old", old, work / "old", old_python, bootstrap_python, work, log),
             "new": _side("new", new, work / "new", new_python, bootstrap_python, work, log)}
    checkouts = {k: Path(v["checkout"]) for k, v in sides.items()}
    commands = {k: readme_test_command(checkouts[k], {"old": old_python, "new": new_python}[k]) for k in sides}
    ids = {k: collect(checkouts[k], sides[k]["python"], select, work / "logs" / f"{k}-collect.log") for k in sides}
    for k, side in sides.items():
        side["collected"] = len(ids[k])
    kept, missing, moved = match_old_ids(ids["old"], ids["new"])
    log(f"[suite] old {len(ids['old'])} tests, new {len(ids['new'])}; old ones at the new commit: "
        f"{len(kept)} by id, {len(moved)} moved, {len(missing)} missing")
    plan = {"old_suite": ("old", None), "old_tests_new": ("new", kept + list(moved.values())),
            "new_suite": ("new", None)}
    runs = []
    for rnd in range(1, rounds + 1):
        for part in PARTS:
            side, node_ids = plan[part]
            if node_ids is not None and not node_ids:
                log(f"[suite] round {rnd} {part}: no tests to run")
                continue
            log(f"[suite] round {rnd} {part} ({side}) ...")
            r = run_part(part, rnd, checkouts[side], commands[side], node_ids, select, work, timeout)
            runs.append(r)
            log(f"[suite]   {r['wall_s']} s, exit {r['rc']}: {r['passed']} passed, {r['failed']} failed, "
                f"{r['errors']} errors, {r['skipped']} skipped (load {r['loadavg_before']} → {r['loadavg_after']})")
    median = {p: round(statistics.median(r["wall_s"] for r in runs if r["part"] == p), 1)
              for p in PARTS if any(r["part"] == p for r in runs)}

    def ratio(part: str) -> float | None:
        return round(median[part] / median["old_suite"], 3) if part in median and median.get("old_suite") else None

    return {"old": sides["old"], "new": sides["new"], "select": select, "rounds": rounds,
            "order": "a round is old_suite, old_tests_new, new_suite, one after the other; rounds repeat it",
            "old_ids_missing_at_new": missing, "old_ids_moved": moved, "runs": runs, "median_s": median,
            "ratio_old_tests_new_old_suite": ratio("old_tests_new"), "ratio_new_suite_old_suite": ratio("new_suite"),
            "targets": TARGETS, "machine": machine()}


def main(argv: list[str] | None = None) -> None:
    # Started in the background (`… &`), this process inherits SIGINT ignored, and so would both
    # commits' suites and every server and worker their tests start and stop with SIGINT: each
    # stop would wait out its timeout and kill, adding minutes to whichever commit stops more.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", default="42b1fdd", help="the old commit (default 42b1fdd)")
    ap.add_argument("--new", default="HEAD", help="the new commit (default HEAD)")
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--keep", type=Path, default=None,
                    help="work in this folder (must not exist or be empty) and keep it: extracts, venvs, logs, JUnit XML")
    ap.add_argument("--old-python", default=None, help="a ready venv's python for the old commit (default: build one)")
    ap.add_argument("--new-python", default=None, help="a ready venv's python for the new commit (default: build one)")
    ap.add_argument("--bootstrap-python", default=None,
                    help="the Python 3.11 that bootstrap.sh builds venvs from (its PYTHON; default python3)")
    ap.add_argument("--select", default=None, help="-k EXPR for every collection and run (smoke tests of this script)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the three runs this many times, interleaved")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per run before giving up")
    args = ap.parse_args(argv)
    for given in (args.old_python, args.new_python):
        if given and not Path(given).is_file():
            ap.error(f"no interpreter at {given}")
    if args.keep:
        if args.keep.exists() and any(args.keep.iterdir()):
            ap.error(f"{args.keep} is not empty")
        work = args.keep.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="qcycle-bench-suite-"))
    try:
        report = compare(args.old, args.new, work, old_python=args.old_python, new_python=args.new_python,
                         bootstrap_python=args.bootstrap_python, select=args.select, rounds=args.rounds,
                         timeout=args.timeout)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if not args.keep:
        report["work"] = None
        for r in report["runs"]:
            r["log"] = None
    else:
        report["work"] = str(work)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    summary = {"median_s": report["median_s"], "missing_at_new": len(report["old_ids_missing_at_new"]),
               "moved": len(report["old_ids_moved"])}
    for key, target in TARGETS.items():
        value = report[key]
        summary[key] = value
        summary[key + "_target"] = f"≤ {target}: " + ("n/a" if value is None else "met" if value <= target else "missed")
    print(json.dumps(summary, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    sys.exit(main())
