"""Reading YAML config files with positions: the one way qcycle parses its files.

Programme files and operator calendar files both go through :func:`read`, so both get the
same rules and the same kind of report: YAML 1.2 booleans (``on:`` is a key, not ``True``),
dates kept as text until pydantic checks them (2023-02-30 is reported at its field instead of
crashing the parser), repeated keys reported instead of silently overwritten, and every
problem carrying the file, the field path and the line.

A hostile file is refused by limits before anything is built from it: its size in bytes, its
nesting depth and its node count *after alias expansion* (an alias bomb is small on disk and
cheap to compose, since aliases share nodes, but everything walking the data pays the expansion).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qcycle.errors import ConfigError, Problem, why_unreadable

__all__ = ["MAX_DEPTH", "MAX_EXPANDED_NODES", "MAX_FILE_BYTES", "Document", "Loader", "Loc", "parse",
           "path_str", "read"]

Loc = tuple[str | int, ...]

# Limits, far above real files: a national programme (3,209 units, bench/generate.py) is 600 KB,
# 45,396 nodes, 6 levels deep; the 20,000-unit scaling file is 3.7 MB and 280,470 nodes.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_EXPANDED_NODES = 1_000_000
MAX_DEPTH = 200  # libyaml's composer recurses in C: ~50,000 levels crash the process


# libyaml's parser when PyYAML has it (about 6x faster on a national programme file); the
# resolver and constructor stay the safe Python ones, with the changes below.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe loading with YAML 1.2 booleans and numbers (no base-60) and without the timestamp
    resolver: ``time: 17:00`` unquoted is the text 17:00, not YAML 1.1's 1020 (read as seconds
    after midnight, it put a deadline at 00:17 and passed validation)."""


_REPLACED = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# PyYAML's own patterns without their base-60 forms (12:30 → 750, 1:20.5 → 80.5).
Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"), list("-+0123456789"))
Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


# Lists whose items a problem names by their code (or name), as the file writes them.
_ITEMS = {"stages": "阶段", "units": "单位", "channels": "渠道", "periods": "期次", "components": "部分",
          "grades": "等次", "deductions": "扣分项", "bonuses": "加分项", "vetoes": "否决项", "categories": "类别",
          "items": "项目", "indicators": "指标"}


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
    duplicates: tuple[Problem, ...] = ()  # found on the node tree as written, before merges
    text: str = ""  # what was parsed

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        """A Problem at a field location: the deepest existing node gives the line."""
        node, kept = self.root, list(loc)
        line = None if node is None else node.start_mark.line + 1
        named: list[str] = []
        for i, part in enumerate(loc):
            child, at = None, None
            if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and i and (word := _ITEMS.get(str(loc[i - 1]))):
                # "stages[5]" counts from 0 and an officer counts from 1: the item is named by its code too.
                item = node.value[part] if 0 <= part < len(node.value) else None
                code = next((v.value for k, v in item.value if k.value in ("code", "name")
                             and isinstance(v, yaml.ScalarNode)), None) if isinstance(item, yaml.MappingNode) else None
                if code:
                    named.append(f"{word} {code}")
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                # A field's line is its key's line (a nested mapping starts a line below it).
                # The last occurrence is the one in the data (merged ``<<`` pairs come first).
                child, at = next(((v, k) for k, v in reversed(node.value) if k.value == part), (None, None))
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
            line = at.start_mark.line + 1 if at is not None else line
        return Problem(file=self.file, path=path_str(kept), message=message, line=line, named="，".join(named))

    def duplicate_keys(self) -> list[Problem]:
        """Keys written twice in one mapping (PyYAML would silently keep the last)."""
        return list(self.duplicates)


def _duplicates(doc: Document) -> tuple[Problem, ...]:
    """Repeated keys, each mapping checked once (aliases share nodes); run before constructing,
    which flattens ``<<`` merges into the mapping's own pairs."""
    problems = []
    for mapping, loc in _mappings(doc.root):
        seen: set[str] = set()
        for key, _ in mapping.value:
            if not isinstance(key, yaml.ScalarNode):
                continue  # a complex key: the constructor refuses it
            if key.value in seen:
                p = doc.problem((*loc, key.value), "字段重复出现；每个字段只能写一次")
                problems.append(Problem(p.file, p.path, p.message, key.start_mark.line + 1, p.named))
            seen.add(key.value)
    return tuple(problems)


def _mappings(root: yaml.Node | None) -> Iterator[tuple[yaml.MappingNode, Loc]]:
    """Every mapping once, in document order, with the path of its first occurrence."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Loc]] = [] if root is None else [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            yield node, loc
            children = [(v, (*loc, k.value)) for k, v in node.value
                        if isinstance(k, yaml.ScalarNode) and not isinstance(v, yaml.ScalarNode)]
        elif isinstance(node, yaml.SequenceNode):
            children = [(v, (*loc, i)) for i, v in enumerate(node.value) if not isinstance(v, yaml.ScalarNode)]
        else:
            continue
        stack.extend(reversed(children))


def _check_limits(loader: Loader, file: str) -> None:
    """One pass over the parser's events, before composing: depth and expanded node count.

    Counting in expanded form costs O(events): an anchor's size is remembered when it closes and
    an alias adds it. Raise ConfigError at the line where a limit is crossed.
    """
    sizes: dict[str, int] = {}  # anchor → expanded node count of its node
    open_: list[tuple[str | None, int]] = []  # open collections: (anchor, count before it)
    total = 0
    while True:
        event = loader.get_event()
        kind = type(event)
        message = None
        if kind is yaml.ScalarEvent:
            total += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
            open_.append((event.anchor, total))
            total += 1
            if len(open_) > MAX_DEPTH:
                message = f"嵌套超过 {MAX_DEPTH} 层，拒绝读取"
        elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
            anchor, before = open_.pop()
            if anchor is not None:
                sizes[anchor] = total - before
        elif kind is yaml.AliasEvent:
            if event.anchor not in sizes and any(a == event.anchor for a, _ in open_):
                message = f"别名 *{event.anchor} 引用了包含它自身的锚点（循环引用），拒绝读取"
            total += sizes.get(event.anchor, 1)  # an undefined alias is the composer's to report
            if total > MAX_EXPANDED_NODES and message is None:
                message = f"别名展开后超过 {MAX_EXPANDED_NODES:,} 个节点（疑似别名炸弹），拒绝读取"
        elif kind is yaml.StreamEndEvent:
            return
        if total > MAX_EXPANDED_NODES and message is None:
            message = f"超过 {MAX_EXPANDED_NODES:,} 个节点（含别名展开），配置文件不应这么大，拒绝读取"
        if message is not None:
            raise ConfigError([Problem(file, "", message, event.start_mark.line + 1)])


# PyYAML's problems (libyaml's and its own words) as an officer reads them, most specific first.
_SYNTAX = (
    ("expected ',' or ']'", "方括号列表缺少逗号“,”或右方括号“]”"),
    ("expected ',' or '}'", "花括号映射缺少逗号“,”或右花括号“}”"),
    ("tab", "缩进里有制表符（Tab），请改用空格"),
    ("'\\t'", "缩进里有制表符（Tab），请改用空格"),
    ("end of stream", "引号或括号没有闭合，文件就结束了"),
    ("mapping values are not allowed", "这里不能再有“键: 值”（值里含冒号时请给整个值加引号）"),
    ("expected key", "缩进与上一级不一致，或少了“键:”"),
    ("expected ':'", "缺少冒号“:”"),
    ("expected '-'", "列表项的缩进不一致（每项以“- ”开头并对齐）"),
    ("undefined alias", "引用了没有定义的锚点（*名称 之前须有 &名称）"),
    ("another document", "一个文件只能有一个文档（不要用“---”分隔多份）"),
    ("escape", "双引号里有无法识别的转义（反斜杠“\\”后的字符），可改用单引号"),
    ("cannot start any token", "这里有 YAML 不允许出现在开头的字符（如 @、` 或 %），请给整个值加引号"),
    ("alphabetic or numeric", "锚点或别名的名称无效"),
    ("document start", "文件结构无法识别（检查第一行的缩进）"),
)


def syntax_problem(problem: str) -> str:
    """A YAML syntax problem in Chinese (pydantic and PyYAML speak English to an officer)."""
    lowered = problem.lower()
    return next((words for found, words in _SYNTAX if found in lowered), "无法解析这里的结构（检查缩进、引号和括号）")


def parse(text: str, file: str | Path) -> Document:
    """Parse YAML text; a syntax error is a ConfigError with the line (and where it began)."""
    file = str(file)
    loader = Loader(text)
    try:
        _check_limits(loader, file)
        loader.dispose()
        loader = Loader(text)
        root = loader.get_single_node()
        duplicates = _duplicates(Document(file, root, None))
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        detail = syntax_problem(getattr(exc, "problem", None) or str(exc))
        context = getattr(exc, "context_mark", None)
        if context is not None and mark is not None and context.line != mark.line:
            # An unclosed bracket is found only at the end; say where it was opened.
            detail += f"（相关结构始于第 {context.line + 1} 行）"
        raise ConfigError([Problem(file=file, path="", message=f"YAML 格式错误：{detail}（应为合法的 YAML）",
                                   line=None if mark is None else mark.line + 1)]) from exc
    finally:
        loader.dispose()
    return Document(file, root, data, duplicates, text)


def read(file: str | Path) -> Document:
    """Read a UTF-8 YAML file and parse it (ConfigError naming the file if it cannot be read)."""
    path = Path(file)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # bounded: also for a pipe or a device
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "", f"无法读取文件：{why_unreadable(exc)}")]) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([Problem(str(path), "", f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB，"
                                                  "配置文件不应这么大，拒绝读取")])
    return parse(text, path)
