"""The one config loader: a programme YAML file → a validated :class:`Programme`.

Every problem is reported with the file, the field path, the line where known, and what
was expected; all problems of a file are collected before raising one :class:`ConfigError`.
Dates stay strings until pydantic reads them, so 2023-02-30 is reported as an impossible
date at its field instead of as a YAML crash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from qcycle import versions, yamlfile
from qcycle.checks import check_programme
from qcycle.errors import ConfigError, Problem
from qcycle.gcpause import without_full_collections
from qcycle.letter_checks import (
    private_in_groups,
    rejections_untold,
    self_assessed,
    title_untold,
    validity_apart,
)
from qcycle.schema import Programme
from qcycle.schema.base import CODE_PATTERN
from qcycle.yamlfile import Document

__all__ = ["LoadedProgramme", "check_programme", "load_programme", "load_programmes", "problems_from", "read_schema"]


@dataclass(frozen=True)
class LoadedProgramme:
    programme: Programme
    path: Path
    sha256: str
    # Not errors, but worth an officer's eye: a v1 file read as v2, a meeting on a day off …
    notices: tuple[Problem, ...] = ()
    text: str = ""  # the file as read: kept with the round, so that a later change can be shown

    @property
    def template_dir(self) -> Path:
        """The round's own message templates, next to the file (``templates/ROUND/``), if any."""
        return self.path.parent / "templates" / self.programme.round.code


# Pydantic's messages, said the way our users read them.
_MESSAGES = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段（拼写错误？）",
    "date_from_datetime_parsing": "不是有效日期（应为 YYYY-MM-DD 且真实存在）",
    "date_parsing": "不是有效日期（应为 YYYY-MM-DD 且真实存在）",
    "date_from_datetime_inexact": "不是有效日期（应为 YYYY-MM-DD）",
    "date_type": "应为日期 YYYY-MM-DD",
    "time_parsing": "不是有效时刻（应为 HH:MM）",
    "time_type": "应为时刻 HH:MM",
    "string_pattern_mismatch": "格式不符",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表",
    "dict_type": "应为若干“字段: 值”（写成 {字段: 值}，或在下一行缩进逐项写）",
    "model_type": "应为若干“字段: 值”（写成 {字段: 值}，或在下一行缩进逐项写）",
    "string_type": "应为文本",
    "too_short": "项数不足",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "int_from_float": "应为整数（不能有小数）",
}


def problems_from(exc: ValidationError, doc: Document) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            message = f"未知字段 {loc[-1]!r}（本版本的语言没有这个字段）"
            if allowed:
                message += f"；此处允许：{'、'.join(allowed)}"
            problems.append(doc.problem(loc, message))
            continue
        if kind == "value_error":
            message = str(err["ctx"].get("error", err["msg"]))
        else:
            message = _MESSAGES.get(kind, err["msg"])
            if kind in ("literal_error", "enum") and "expected" in err.get("ctx", {}):
                message += f"，应为 {_choices(err['ctx']['expected'])}"
            elif kind == "string_pattern_mismatch" and err["ctx"]["pattern"] == CODE_PATTERN:
                # A code, not a regex to read ("应匹配 ^[A-Za-z0-9]…" told an officer nothing).
                message += "，应为代码：字母或数字开头，只含字母、数字和 _ . -（如 annual、q1、2026-03）"
            elif kind == "string_pattern_mismatch":
                message += f"，应匹配 {err['ctx']['pattern']}"
            elif kind == "too_short" and "min_length" in err.get("ctx", {}):
                message += f"，至少 {err['ctx']['min_length']} 项"
            elif kind in ("greater_than", "greater_than_equal"):
                message += f"，应 {'>' if kind == 'greater_than' else '≥'} {err['ctx'].get('gt', err['ctx'].get('ge'))}"
            elif kind in ("less_than", "less_than_equal"):
                bound = err["ctx"].get("lt", err["ctx"].get("le"))
                message += f"，应 {'<' if kind == 'less_than' else '≤'} {bound}"
                if bound == 1 and isinstance(err.get("input"), int | float) and 1 < err["input"] <= 100:
                    message += f"（比例写小数：{err['input']:g}% 写 {err['input'] / 100:g}）"
            elif kind == "missing" and (choices := _field_choices(loc)):
                message += f"，可选：{'、'.join(repr(c) for c in choices)}"
        # A rejected channel url may be a webhook with its key: never echo it into logs.
        secret = bool(loc) and loc[-1] == "url"
        shown = "input" in err and not isinstance(err["input"], dict | list)
        if kind != "missing" and shown and not secret:
            message += f"（实际为 {err['input']!r}）"
        problems.append(doc.problem(loc, message))
    return problems


def load_programme(path: str | Path, text: str | None = None) -> LoadedProgramme:
    """Read, parse and validate one programme file; raise ConfigError listing every problem.

    ``text``: a version of the file kept elsewhere (the one a round last ran on), read as if it
    were at ``path`` (for templates and for the file named in problems)."""
    path = Path(path)
    with without_full_collections():
        doc = yamlfile.read(path) if text is None else yamlfile.parse(text, path)
        programme, notices = read_schema(doc)
    problems = doc.duplicate_keys()
    problems += [doc.problem(_loc(where), message) for where, message in check_programme(programme)]
    if problems:
        raise ConfigError(problems)
    from qcycle.timetable import check_dates  # the timetable reads the loaded schema, not the file

    errors, warnings = check_dates(programme)
    errors += _missing_templates(programme, path)
    if errors:
        raise ConfigError([doc.problem(_loc(where), message) for where, message in errors])
    notices += [doc.problem(_loc(where), message) for where, message in warnings + private_in_groups(programme)
                + self_assessed(programme) + validity_apart(programme) + rejections_untold(programme)
                + title_untold(programme)]
    # The hash of the text parsed (the file's bytes: it was read as UTF-8), not of a second read.
    return LoadedProgramme(programme, path, hashlib.sha256(doc.text.encode("utf-8")).hexdigest(), tuple(notices),
                           doc.text)


def read_schema(doc: Document) -> tuple[Programme, list[Problem]]:
    """A parsed file read by the schema (a version 1 file upgraded first), with the upgrade's
    notices; ConfigError with every problem the schema finds (keys written twice included).
    Only the schema: :func:`load_programme` checks references and dates after it."""
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "顶层应为映射（round、units、stages ……）")])
    data, notices = doc.data, []
    version = data.get("version")
    if version is None or version == 1:
        data, changes = versions.upgrade(data)
        notices = [doc.problem(_loc(where), message) for where, message in changes]
    elif version != versions.CURRENT:
        raise ConfigError([doc.problem(("version",), f"不支持的版本 {version!r}（应为 1 或 {versions.CURRENT}）")])
    try:
        return Programme.model_validate(data), notices
    except ValidationError as exc:
        raise ConfigError(doc.duplicate_keys() + problems_from(exc, doc)) from exc


# What a notification stage may send of the shipped letters; the others are qcycle's own (a
# reminder, a 事项撤销 letter), drafted with other variables: ``template: withdrawal`` passed
# validate and the round then stopped at the stage with a missing variable.
NOTIFICATION_TEMPLATES = ("result", "praise", "award", "summons", "step_result", "objection_reply", "report", "circular")


def _missing_templates(p: Programme, path: Path) -> list[tuple[str, str]]:
    """A stage's letter template must exist: the round's own folder, then config/templates (and the
    shipped templates, under another config folder); one of qcycle's own letters is not a stage's."""
    from qcycle.render import TEMPLATE_NAMES
    from qcycle.settings import get_settings

    folders = [path.parent / "templates" / p.round.code, *get_settings().template_dirs]
    own = {name.removesuffix(".j2") for name in TEMPLATE_NAMES} - set(NOTIFICATION_TEMPLATES)
    out = []
    for i, s in enumerate(p.stages):
        if not s.template:
            continue
        usable = [*NOTIFICATION_TEMPLATES, *sorted({f.stem for folder in folders for f in folder.glob("*.j2")} - own
                                                   - set(NOTIFICATION_TEMPLATES))]
        if s.template in own:
            out.append((f"stages[{i}].template", (f"函件模板 {s.template!r} 是系统自动生成的函件，不能作为通知阶段的模板"
                                                 f"（可选：{'、'.join(usable)}）")))
        elif not any((folder / f"{s.template}.j2").exists() for folder in folders):
            out.append((f"stages[{i}].template", (f"函件模板 {s.template!r} 不存在（可选：{'、'.join(usable)}；"
                                                  f"或放在 {folders[0]}/ 下）")))
    return out


def _choices(expected: str) -> str:
    """Pydantic's "'all', 'level' or 'group'" as a Chinese list: 'all'、'level' 或 'group'."""
    return re.sub(r"(['\"]) or (['\"])", r"\1 或 \2", re.sub(r"(['\"]), (['\"])", r"\1、\2", expected))


def _model_at(loc: tuple) -> Any:
    """The schema's model of the mapping at ``loc`` (None where it is not one)."""
    model: Any = Programme
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        # A dict keyed by codes (per_category.X, reminder_policies.X): the value's model.
        model = _inner_model(field.annotation) if field is not None else _value_model(model)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys a mapping at ``loc`` may hold, read from the schema (for unknown-key messages)."""
    model = _model_at(loc)
    return list(model.model_fields) if model is not None else []


def _field_choices(loc: tuple) -> list[Any]:
    """The values a missing field at ``loc`` may take, where the schema lists them (an event: on, opens…)."""
    model = _model_at(loc[:-1]) if loc else None
    if model is None or loc[-1] not in model.model_fields:
        return []
    annotation = model.model_fields[loc[-1]].annotation
    literal = annotation if get_origin(annotation) is Literal else next(
        (a for a in get_args(annotation) if get_origin(a) is Literal), None)
    return list(get_args(literal)) if literal is not None else []


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as ``list[Stage]`` or ``Who | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, type) and annotation is dict:
        return None
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is dict and len(args) == 2:
        return {"__value__": _inner_model(args[1])}
    for arg in args:
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _value_model(model: Any) -> Any:
    return model.get("__value__") if isinstance(model, dict) else None


def load_programmes(paths: Iterable[str | Path]) -> list[LoadedProgramme]:
    """Load several files; problems of all files are gathered into one ConfigError."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_programme(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    codes: dict[str, Path] = {}
    for item in loaded:
        code = item.programme.round.code
        if code in codes:
            problems.append(
                Problem(str(item.path), "round.code", f"周期代码 {code} 与 {codes[code]} 重复", 
                        None)
            )
        codes[code] = item.path
    if problems:
        raise ConfigError(problems)
    return loaded


def _loc(where: str) -> tuple:
    """'stages[2].deadline.date' → ('stages', 2, 'deadline', 'date')."""
    out: list = []
    for part in where.replace("]", "").split("."):
        name, *indices = part.split("[")
        if name:
            out.append(name)
        out.extend(int(i) if i.isdigit() else i for i in indices)
    return tuple(out)
