"""qcycle: the yearly cycles of quality work (质量工作年度周期) as observable flows.

The layers above the domain core are top-level folders of the repository (``flows/``,
``tasks/``, ``deploy/``) and import as ``qcycle.flows``, ``qcycle.tasks`` and
``qcycle.deploy``: an installed wheel has them inside this package (``package-dir`` in
pyproject.toml), and in a checkout the repository root is added to this package's path so
the same names find the folders. No top-level package but ``qcycle`` is ever installed.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_checkout = _Path(__file__).resolve().parent.parent
if (_checkout / "flows" / "__init__.py").is_file() and str(_checkout) not in __path__:
    __path__.append(str(_checkout))
