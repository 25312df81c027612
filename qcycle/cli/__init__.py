"""The ``qcycle`` command (typer): ``qcycle.cli:main`` is the console script.

Not part of the domain core: commands may use flows and deploy, imported lazily inside the
commands that run flows, so ``qcycle validate`` and ``qcycle plan`` stay fast and need no server.
Every command has help text with an example (a test checks it).

The shared objects (:data:`app`, the consoles, :func:`~qcycle.cli.common.fail`) live in
:mod:`qcycle.cli.common`; each command group in a module of its own registers on that ``app``
when imported. This package imports them all, in the order ``qcycle --help`` lists them.
"""

from __future__ import annotations

# ``qcycle --help`` lists the commands in the order these imports register them: keep it.
from qcycle.cli import programme, rounds  # noqa: F401  isort: skip
from qcycle.cli import amend, deploy, intake, outbox  # noqa: F401  isort: skip
from qcycle.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the ``qcycle`` command (the console script)."""
    app()
