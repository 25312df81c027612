"""Reading YAML config files with positions: the one way qcycle parses its files.

Programme files and operator calendar files both go through :func:`read`, so both get the
same rules and the same kind of report: YAML 1.2 booleans (``on:`` is a key, not ``True``),
dates kept as text until pydantic checks them (2023-02-30 is reported at its field instead of
crashing the parser), repeated keys reported instead of silently overwritten, and every
problem carrying the file, the field path and the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qcycle.errors import ConfigError, Problem

__all__ = ["Document", "Loader", "Loc", "parse", "path_str", "read"]

Loc = tuple[str | int, ...]


# libyaml's parser when PyYAML has it (about 6x faster on a national programme file); the
# resolver and constructor stay the safe Python ones, with the changes below.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe loading with YAML 1.2 booleans and without the timestamp resolver."""


Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def path_str(loc: Sequence[str | int]) -> str:
    """('stages', 2, 'deadline') → 'stages[2].deadline'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Document:
    """A parsed file: its data, and its node tree for positions."""

    file: str
    root: yaml.Node | None
    data: Any

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        """A Problem at a field location: the deepest existing node gives the line."""
        node, kept = self.root, list(loc)
        line = None if node is None else node.start_mark.line + 1
        for i, part in enumerate(loc):
            child, at = None, None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                # A field's line is its key's line (a nested mapping starts a line below it).
                child, at = next(((v, k) for k, v in node.value if k.value == part), (None, None))
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                child = node.value[part] if 0 <= part < len(node.value) else None
                at = child
            elif isinstance(node, yaml.ScalarNode):
                # Beneath a scalar only a validator's own wrapping remains: report the scalar.
                kept = list(loc[:i])
                break
            if child is None:
                break  # a missing key: keep the full path, point at the enclosing mapping
            node = child
            line = at.start_mark.line + 1
        return Problem(file=self.file, path=path_str(kept), message=message, line=line)

    def duplicate_keys(self) -> list[Problem]:
        """Keys written twice in one mapping (PyYAML would silently keep the last)."""
        problems = []
        for mapping, loc in _mappings(self.root) if self.root is not None else ():
            seen: set[str] = set()
            for key, _ in mapping.value:
                if key.value in seen:
                    p = self.problem((*loc, key.value), "字段重复出现；每个字段只能写一次")
                    problems.append(Problem(p.file, p.path, p.message, key.start_mark.line + 1))
                seen.add(key.value)
        return problems


def _mappings(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[yaml.MappingNode, Loc]]:
    if isinstance(node, yaml.MappingNode):
        yield node, loc
        for key, value in node.value:
            yield from _mappings(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            yield from _mappings(value, (*loc, i))


def parse(text: str, file: str | Path) -> Document:
    """Parse YAML text; a syntax error is a ConfigError with the line (and where it began)."""
    file = str(file)
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        detail = " ".join(
            str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x
        )
        context = getattr(exc, "context_mark", None)
        if context is not None and mark is not None and context.line != mark.line:
            # An unclosed bracket is found only at the end; say where it was opened.
            detail += f"（相关结构始于第 {context.line + 1} 行）"
        raise ConfigError([Problem(file=file, path="", message=f"YAML 格式错误：{detail or exc}（应为合法的 YAML）",
                                   line=None if mark is None else mark.line + 1)]) from exc
    finally:
        loader.dispose()
    return Document(file, root, data)


def read(file: str | Path) -> Document:
    """Read a UTF-8 YAML file and parse it (ConfigError naming the file if it cannot be read)."""
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError([Problem(str(path), "", f"无法读取文件（应为 UTF-8 文本）：{reason}")]) from exc
    return parse(text, path)
