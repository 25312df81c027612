"""No import cycles: the module-level imports of ``qcycle``, ``flows``, ``tasks`` and ``deploy``
form a graph without a cycle.

Read from the source with :mod:`ast`, nothing is imported. An import counts when it runs as the
module is imported: at the top level, in a top-level ``try``/``if``/``with`` block or a class
body; not in a function (a deliberate lazy import) nor under ``if TYPE_CHECKING:``.
``import a.b.c`` depends on ``a.b.c``; ``from a.b import c`` on ``a.b.c`` if that is a module,
else on ``a.b`` (the package's ``__init__``). A package's ``__init__`` importing its submodules is
an edge like any other, so a submodule that imports a name from its parent's ``__init__``
closes a cycle.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("qcycle", "flows", "tasks", "deploy")
# The layers are top-level folders that import as qcycle.flows, qcycle.tasks, qcycle.deploy.
LAYERS = ("flows", "tasks", "deploy")
SKIP = ("migrations",)  # Alembic runs these from their paths; they are not modules of the package


@dataclass
class Graph:
    files: dict[str, Path] = field(default_factory=dict)  # module name -> file
    edges: dict[str, dict[str, int]] = field(default_factory=dict)  # module -> {imported: line}


def module_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    files = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if any(part in SKIP for part in parts):
                continue
            if package in LAYERS:
                parts = ("qcycle", *parts)
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_at_import(body: list[ast.stmt]):
    """The import statements that run when the module is imported (not in functions)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _run_at_import(node.body)
            yield from _run_at_import(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _run_at_import(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _run_at_import(node.body)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def build_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> Graph:
    graph = Graph(files=module_files(root, packages))
    for module, path in graph.files.items():
        deps: dict[str, int] = {}
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _run_at_import(tree.body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _absolute(node, module, path.name == "__init__.py")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in graph.files else base for a in node.names]
            for target in targets:
                if target in graph.files and target != module:
                    deps.setdefault(target, node.lineno)
        graph.edges[module] = deps
    return graph


def tangles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of two or more modules (each sorted): every module of
    one imports every other, through the others (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph.files):
        if v not in index:
            connect(v)
    return sorted(found)


def find_cycles(graph: Graph) -> list[list[str]]:
    """One shortest cycle (first module repeated at the end) in each tangle."""
    return [_cycle_in(graph, set(c), c[0]) for c in tangles(graph)]


def _cycle_in(graph: Graph, component: set[str], start: str) -> list[str]:
    """The shortest way from ``start`` back to itself inside its component (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph.edges[v]):
                if w not in component:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if w not in came_from:
                    came_from[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a component of 2+ modules always has one


def describe(graph: Graph, cycle: list[str], root: Path = ROOT) -> str:
    """``a (a.py:12) → b (b/__init__.py:3) → a``: each module, where it imports the next."""
    steps = [f"{a} ({graph.files[a].relative_to(root)}:{graph.edges[a][b]})" for a, b in pairwise(cycle)]
    return " → ".join([*steps, cycle[-1]])


def report(graph: Graph, root: Path = ROOT) -> str:
    """Each tangle: one cycle in it as a chain, and every module caught in it."""
    lines = []
    for component in tangles(graph):
        lines.append(describe(graph, _cycle_in(graph, set(component), component[0]), root))
        lines.append(f"    ({len(component)} modules import each other: {', '.join(component)})")
    return "\n".join(lines)


def test_no_import_cycles():
    graph = build_graph()
    assert {"qcycle", "qcycle.lifecycle", "qcycle.flows.lifecycle", "qcycle.tasks.rounds", "qcycle.deploy.server"} <= set(graph.files)
    assert {"qcycle.lifecycle", "qcycle.tasks.rounds"} <= set(graph.edges["qcycle.flows.lifecycle"])  # the reader reads
    if find_cycles(graph):
        pytest.fail("import cycle(s), each module where it imports the next:\n" + report(graph), pytrace=False)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_the_graph_follows_the_rules(tmp_path: Path):
    """The reader itself: what counts as an edge, and a cycle reported as a chain."""
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg import a, sub  # a package importing its submodules\n",
        "pkg/a.py": (
            "from typing import TYPE_CHECKING\n"
            "import pkg.b\n"
            "if TYPE_CHECKING:\n    from pkg import c\n"
            "try:\n    from . import d\nexcept ImportError:\n    pass\n"
            "def f():\n    from pkg import e\n"
        ),
        "pkg/b.py": "from .sub import x\n",
        "pkg/c.py": "", "pkg/d.py": "", "pkg/e.py": "",
        "pkg/sub/__init__.py": "x = 1\n",
        "pkg/sub/y.py": "from .. import a\nfrom pkg.sub import x\n",
    })
    graph = build_graph(tmp_path, ("pkg",))
    assert graph.edges["pkg"] == {"pkg.a": 1, "pkg.sub": 1}
    assert graph.edges["pkg.a"] == {"pkg.b": 2, "pkg.d": 6}  # not under TYPE_CHECKING, not in f()
    assert graph.edges["pkg.b"] == {"pkg.sub": 1}  # x is a name in pkg/sub/__init__.py
    assert graph.edges["pkg.sub.y"] == {"pkg.a": 1, "pkg.sub": 2}
    assert find_cycles(graph) == []

    _write(tmp_path, {"pkg/d.py": "from pkg import sub\n", "pkg/sub/__init__.py": "from pkg.a import f\n"})
    graph = build_graph(tmp_path, ("pkg",))
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub", "pkg.a"]]  # one of the shortest
    assert describe(graph, find_cycles(graph)[0], tmp_path) == (
        "pkg.a (pkg/a.py:2) → pkg.b (pkg/b.py:1) → pkg.sub (pkg/sub/__init__.py:1) → pkg.a"
    )
