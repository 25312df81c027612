"""One room per concern: SQL is built and run only in the data-access modules, and no
production module grows past 500 lines.

Read with ``ast``, so text in strings, comments and docstrings does not count, and neither
does a method that merely shares a name (``dict.update``, ``progress.update``): what counts
is a call of ``select``/``insert``/``update``/``delete``/``text`` imported from SQLAlchemy or
SQLModel (by name or through the module, e.g. ``postgresql.insert``), and any
``.execute(``/``.exec(``/``.exec_driver_sql(`` call.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("qcycle", "flows", "tasks", "deploy")
# Where SQL belongs: the repositories, the engine and sessions, the migrations.
DATA_ACCESS = ("qcycle/crud/", "qcycle/db.py", "qcycle/migrations/")
SQL_LIBRARIES = ("sqlalchemy", "sqlmodel")
STATEMENTS = frozenset({"select", "insert", "update", "delete", "text"})
EXECUTING = frozenset({"execute", "exec", "exec_driver_sql"})
MAX_LINES = 500


def production_files() -> list[Path]:
    files = []
    for folder in PRODUCTION:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in f"/{rel}" or "/tests/" in f"/{rel}":
                continue
            files.append(path)
    return files


def _from_sql_library(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in SQL_LIBRARIES


def sql_calls(source: str) -> list[tuple[int, str]]:
    """(line, what) of every SQL statement built or executed in ``source``."""
    tree = ast.parse(source)
    statements: dict[str, str] = {}  # local name → the SQLAlchemy/SQLModel function it is
    namespaces: set[str] = set()  # local names of SQLAlchemy/SQLModel modules and objects
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _from_sql_library(node.module):
            for alias in node.names:
                local = alias.asname or alias.name
                if alias.name in STATEMENTS:
                    statements[local] = alias.name
                else:
                    namespaces.add(local)  # e.g. ``from sqlalchemy.dialects import postgresql``
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _from_sql_library(alias.name):
                    namespaces.add(alias.asname or alias.name.split(".")[0])
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in statements:
            found.append((node.lineno, f"{func.id}("))
        elif isinstance(func, ast.Attribute):
            if func.attr in EXECUTING:
                found.append((node.lineno, f".{func.attr}("))
            elif func.attr in STATEMENTS:
                root = func.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in namespaces:
                    found.append((node.lineno, f"{ast.unparse(func)}("))
    return sorted(found)


def test_the_scan_sees_sql_and_only_sql():
    source = '''
"""A docstring naming select( and session.exec( does not count."""
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import select as pick, update

# a comment: delete(Table) does not count
counts = {}
counts.update(a=1)  # a dict's update
progress.update(task, completed=3)
label = "update(x) in a string"
q = pick(Model).where(Model.id == 1)
session.exec(q)
conn.execute(update(Model).values(a=1))
sa.delete(Model)
postgresql.insert(Model.__table__)
connection.exec_driver_sql("PRAGMA x")
'''
    assert sql_calls(source) == [(12, "pick("), (13, ".exec("), (14, ".execute("), (14, "update("),
                                 (15, "sa.delete("), (16, "postgresql.insert("), (17, ".exec_driver_sql(")]


def test_no_sql_outside_the_data_access_modules():
    checked = 0
    offenders = []
    for path in production_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(DATA_ACCESS):
            continue
        checked += 1
        offenders += [f"{rel}:{line}: {what}" for line, what in sql_calls(path.read_text(encoding="utf-8"))]
    assert checked > 50
    assert not offenders, "SQL belongs in qcycle/crud/ (a named function there):\n" + "\n".join(offenders)


def test_the_data_access_modules_do_hold_the_sql():
    # The scan would pass vacuously if it could not see SQL where it is.
    crud = ROOT / "qcycle" / "crud"
    assert sum(len(sql_calls(p.read_text(encoding="utf-8"))) for p in crud.glob("*.py")) > 50


def test_no_production_module_over_500_lines():
    too_long = []
    for path in production_files():
        rel = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long.append(f"{rel}: {lines} lines")
    assert not too_long, f"split by concern (at most {MAX_LINES} lines):\n" + "\n".join(too_long)
