"""``python -m qcycle.cli``: the ``qcycle`` command, every command registered."""

from __future__ import annotations

from qcycle.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
