"""The domain core knows nothing of Prefect: every module of the ``qcycle`` package imports
without pulling in prefect, nor the layers above it (flows, tasks, deploy).

The command line, ``qcycle.cli``, is no part of the core: its commands use flows and deploy. It
imports them inside the commands that run flows, so ``qcycle validate`` and ``plan`` stay fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "qcycle"
# Prefect, and the layers above the core (top-level folders imported as qcycle.flows, ...).
ABOVE = ("prefect", "qcycle.flows", "qcycle.tasks", "qcycle.deploy", "flows", "tasks", "deploy")
NOT_CORE = ("migrations", "cli")  # run by Alembic, not imported; the command line, above the core


def core_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[1] in NOT_CORE:
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_core_module_imports_without_prefect_or_the_layers_above():
    modules = core_modules()
    assert "qcycle.lifecycle" in modules and "qcycle.notify.outbox" in modules and len(modules) > 30
    assert not [m for m in modules if m == "qcycle.cli" or m.startswith("qcycle.cli.")]
    # One fresh interpreter, the modules imported one by one: the first that pulls a layer in
    # is named.
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"    bad = sorted(m for m in sys.modules if (m + '.').startswith(tuple(a + '.' for a in {ABOVE!r})))\n"
        "    if bad:\n"
        "        sys.exit(f'{name} imports {bad[:5]}')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_command_line_imports_the_layers_above_only_when_a_command_runs():
    code = (
        "import sys\n"
        "import qcycle.cli\n"
        f"bad = sorted(m for m in sys.modules if (m + '.').startswith(tuple(a + '.' for a in {ABOVE!r})))\n"
        "sys.exit(f'qcycle.cli imports {bad[:5]}' if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
