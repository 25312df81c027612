"""Where a test process writes what it makes once and reuses (a migrated database, programme variants)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

# The test session's own temporary folder (set by tests/conftest.py): pytest keeps the last few sessions' and removes
# older ones. A folder of its own, removed ``atexit``, stayed behind whenever a worker was stopped short (ten of them
# in the system's temporary folder after a day of runs).
session_dir: Path | None = None


def scratch_dir(name: str) -> Path:
    """``name`` in the session's folder; asked before the session set it (a module at import), a folder of its own."""
    if session_dir is None:
        folder = Path(tempfile.mkdtemp(prefix=f"qcycle-{name}-"))
        atexit.register(shutil.rmtree, folder, True)
        return folder
    folder = session_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
