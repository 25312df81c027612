"""The suite's own process handling: a suite started in the background (``cmd &`` in a script,
as CI or ``bench/suite.py`` may start it) still interrupts the servers and workers it starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.prefect_proc import REPO

PARENT = textwrap.dedent("""
    import subprocess, sys
    sys.path.insert(0, {repo!r})
    from tests.prefect_proc import interruptible, stop
    if {restore}:
        interruptible()
    child = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    child.stdout.readline()
    stop(child, timeout=2)
    print(child.returncode)
""")


@pytest.mark.parametrize(("restore", "exit_code"), [(True, "-2"), (False, "-9")])
def test_a_backgrounded_suite_interrupts_what_it_starts(tmp_path, restore, exit_code):
    """Started with ``&`` from a script, a process inherits SIGINT ignored, and so do its
    children: without :func:`interruptible`, ``stop`` waits out its timeout and kills (-9);
    with it the child is interrupted at once (-2: SIGINT)."""
    parent = tmp_path / "parent.py"
    parent.write_text(PARENT.format(repo=str(REPO), restore=restore), encoding="utf-8")
    done = subprocess.run(["bash", "-c", f"'{sys.executable}' '{parent}' & wait"], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split()[-1] == exit_code, done.stderr
