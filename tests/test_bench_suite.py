"""bench/suite.py's bookkeeping, without running any suite: which old tests the new commit
still has, the counts read from JUnit XML, and the test command for a ready venv."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.suite import junit_counts, match_old_ids, readme_test_command

ROOT = Path(__file__).resolve().parent.parent


def test_old_ids_kept_moved_and_missing() -> None:
    old = ["tests/a.py::t1", "tests/a.py::t2", "tests/a.py::C::t3[x]", "tests/a.py::t4", "tests/a.py::t5"]
    new = ["tests/a.py::t1", "tests/b.py::t2", "tests/b/c.py::C::t3[x]", "tests/b.py::t4", "tests/c.py::t4",
           "tests/a.py::t9"]
    kept, missing, moved = match_old_ids(old, new)
    assert kept == ["tests/a.py::t1"]
    assert moved == {"tests/a.py::t2": "tests/b.py::t2", "tests/a.py::C::t3[x]": "tests/b/c.py::C::t3[x]"}
    assert missing == ["tests/a.py::t4", "tests/a.py::t5"]  # t4: two candidates, t5: none


def test_junit_counts(tmp_path: Path) -> None:
    xml = tmp_path / "r.xml"
    xml.write_text('<testsuites><testsuite name="pytest">'
                   '<testcase name="a"/><testcase name="b"><failure message="x"/></testcase>'
                   '<testcase name="c"><error message="y"/></testcase><testcase name="d"><skipped/></testcase>'
                   '<testcase name="e"><system-out>hi</system-out></testcase>'
                   '</testsuite></testsuites>', encoding="utf-8")
    assert junit_counts(xml) == {"tests": 5, "passed": 2, "failed": 1, "errors": 1, "skipped": 1}
    assert junit_counts(tmp_path / "none.xml")["tests"] == 0


def test_a_ready_venv_runs_this_commits_test_command_without_installing(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "test.sh", tmp_path / "scripts" / "test.sh")
    assert readme_test_command(tmp_path, None) == ["bash", "scripts/test.sh"]
    assert readme_test_command(tmp_path, "/opt/venv/bin/python") == ["bash", "scripts/test-ready-venv.sh"]
    derived = (tmp_path / "scripts" / "test-ready-venv.sh").read_text(encoding="utf-8")
    assert "bootstrap.sh" not in derived.replace("# (bench/suite.py", "")
    assert 'exec "/opt/venv/bin/python" -m pytest' in derived and ".venv/bin/python" not in derived
