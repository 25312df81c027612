"""A command's own peak RSS, as the kernel counts it (used by the benchmarks and the fault suite).

``wait4``'s ``ru_maxrss`` of a child is not the child's alone: Linux keeps, with the child's
own high-water mark, that of the memory it had before its exec, which is its parent's (a
forked copy, or with ``vfork`` the parent's memory itself). Run from pytest or from a benchmark
holding 500,000 records, a command read the parent's size: 390 MiB for a pull that peaked at
120. Sampling ``/proc/PID/status``'s ``VmHWM`` while it runs misses a peak in its last moments
(a large import builds an index just before it exits).

:func:`peak_launcher` runs the command as the child of a small launcher (a fresh interpreter,
~10 MiB); the launcher's own children's ``ru_maxrss`` is then the command's peak, exact and
taken at its exit, and the launcher writes it to a file. The launcher passes the command's exit
status on (a death by signal N as 128 + N) and SIGTERM to the command; the command is killed
with the launcher if that is killed (Linux's parent-death signal).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["peak_launcher", "read_peak_mib"]

# Run as ``python -c _LAUNCHER OUT CMD...``: CMD's peak RSS (KiB, as Linux reports ru_maxrss)
# into OUT, CMD's exit status as its own (a signal's death as 128 + the signal's number).
_LAUNCHER = """\
import ctypes, resource, signal, subprocess, sys
out, cmd = sys.argv[1], sys.argv[2:]
child = None

def forward(number, _frame):
    if child is None:
        sys.exit(128 + number)
    child.send_signal(number)

signal.signal(signal.SIGTERM, forward)
# Ctrl-C reaches the command from the terminal itself (its process group): not sent twice.
signal.signal(signal.SIGINT, lambda _number, _frame: None)
# PR_SET_PDEATHSIG: the command is killed if the launcher is (a timeout's SIGKILL), not left running.
prctl = ctypes.CDLL(None).prctl
child = subprocess.Popen(cmd, preexec_fn=lambda: prctl(1, signal.SIGKILL))
code = child.wait()
with open(out, "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code if code >= 0 else 128 - code)
"""


def peak_launcher(cmd: list[str], out: Path) -> list[str]:
    """``cmd`` run through the launcher, its peak RSS written to ``out`` when it ends."""
    return [sys.executable, "-c", _LAUNCHER, str(out), *cmd]


def read_peak_mib(out: Path) -> float | None:
    """The peak the launcher wrote (MiB), or None when it wrote none (killed before the end)."""
    try:
        return int(out.read_text().strip()) / 1024
    except (OSError, ValueError):
        return None
