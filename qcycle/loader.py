"""The one config loader: a programme YAML file → a validated :class:`Programme`.

Every problem is reported with the file, the field path, the line where known, and what
was expected; all problems of a file are collected before raising one :class:`ConfigError`.
Dates stay strings until pydantic reads them, so 2023-02-30 is reported as an impossible
date at its field instead of as a YAML crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from qcycle import versions, yamlfile
from qcycle.errors import ConfigError, Problem
from qcycle.schema import Programme, StageKind, SubmissionKind, Who
from qcycle.yamlfile import Document

__all__ = ["LoadedProgramme", "check_programme", "load_programme", "load_programmes", "problems_from"]


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
    "dict_type": "应为映射（键: 值）",
    "model_type": "应为映射（键: 值）",
    "string_type": "应为文本",
    "too_short": "项数不足",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
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
                message += f"，应为 {err['ctx']['expected']}"
            elif kind == "string_pattern_mismatch":
                message += f"，应匹配 {err['ctx']['pattern']}"
            elif kind in ("greater_than", "greater_than_equal"):
                message += f"，应 {'>' if kind == 'greater_than' else '≥'} {err['ctx'].get('gt', err['ctx'].get('ge'))}"
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
    doc = yamlfile.read(path) if text is None else yamlfile.parse(text, path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "顶层应为映射（round、units、stages ……）")])
    problems = doc.duplicate_keys()
    data, notices = doc.data, []
    version = data.get("version")
    if version is None or version == 1:
        data, changes = versions.upgrade(data)
        notices = [doc.problem(_loc(where), message) for where, message in changes]
    elif version != versions.CURRENT:
        raise ConfigError([doc.problem(("version",), f"不支持的版本 {version!r}（应为 1 或 {versions.CURRENT}）")])
    try:
        programme = Programme.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + problems_from(exc, doc)) from exc
    problems += [doc.problem(_loc(where), message) for where, message in check_programme(programme)]
    if problems:
        raise ConfigError(problems)
    from qcycle.timetable import check_dates  # the timetable reads the loaded schema, not the file

    errors, warnings = check_dates(programme)
    errors += _missing_templates(programme, path)
    if errors:
        raise ConfigError([doc.problem(_loc(where), message) for where, message in errors])
    notices += [doc.problem(_loc(where), message) for where, message in warnings]
    # The hash of the text parsed (the file's bytes: it was read as UTF-8), not of a second read.
    return LoadedProgramme(programme, path, hashlib.sha256(doc.text.encode("utf-8")).hexdigest(), tuple(notices),
                           doc.text)


def _missing_templates(p: Programme, path: Path) -> list[tuple[str, str]]:
    """A stage's letter template must exist: the round's own folder, then config/templates."""
    from qcycle.settings import get_settings

    folders = [path.parent / "templates" / p.round.code, get_settings().templates_dir]
    out = []
    for i, s in enumerate(p.stages):
        if s.template and not any((folder / f"{s.template}.j2").exists() for folder in folders):
            shipped = sorted(f.stem for f in folders[-1].glob("*.j2"))
            out.append((f"stages[{i}].template", (f"函件模板 {s.template!r} 不存在（可选：{'、'.join(shipped)}；"
                                                  f"或放在 {folders[0]}/ 下）")))
    return out


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys a mapping at ``loc`` may hold, read from the schema (for unknown-key messages)."""
    model: Any = Programme
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            # A dict keyed by codes (per_category.X, reminder_policies.X): the value's model.
            model = _value_model(model)
            if model is None:
                return []
            continue
        model = _inner_model(field.annotation)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


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


# -- cross-field checks --------------------------------------------------------------------


def _duplicates(codes: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for code in codes:
        (dup if code in seen else seen).add(code)
    return dup


def check_programme(p: Programme) -> list[tuple[str, str]]:
    """Relations between parts of a programme; returns (field path, message) pairs."""
    out: list[tuple[str, str]] = []
    unit_codes = {u.code for u in p.units}
    category_codes = {c.code for c in p.categories}
    channel_names = {c.name for c in p.channels}
    stage_codes = {s.code for s in p.stages}
    levels = {u.level for u in p.units}

    def dup(kind: str, path: str, codes: list[str], field: str = "code") -> None:
        for code in _duplicates(codes):
            index = codes.index(code, codes.index(code) + 1)
            out.append((f"{path}[{index}].{field}", f"{kind}代码 {code!r} 重复（应唯一）"))

    dup("单位", "units", [u.code for u in p.units])
    dup("类别", "categories", [c.code for c in p.categories])
    dup("阶段", "stages", [s.code for s in p.stages])
    dup("渠道", "channels", [c.name for c in p.channels], "name")
    item_codes: list[str] = []
    for ci, c in enumerate(p.categories):
        for ii, item in enumerate(c.items):
            if item.code in item_codes:
                out.append(
                    (f"categories[{ci}].items[{ii}].code", f"项目代码 {item.code!r} 重复（应唯一）")
                )
            item_codes.append(item.code)

    if p.round.issuer not in unit_codes:
        out.append(("round.issuer", f"发布单位 {p.round.issuer!r} 不在 units 中（应为已定义的单位代码）"))

    for ui, u in enumerate(p.units):
        if u.parent is not None and u.parent not in unit_codes:
            out.append((f"units[{ui}].parent", f"上级单位 {u.parent!r} 未定义（应为 units 中的代码）"))
        for k, name in enumerate(u.channels):
            if name not in channel_names:
                out.append((f"units[{ui}].channels[{k}]", f"渠道 {name!r} 未定义（应为 channels 中的 name）"))
        if any(_channel(p, n) == "email" for n in u.channels) and not u.email:
            out.append((f"units[{ui}].email", f"单位 {u.code} 使用邮件渠道但未填写 email 地址"))
    out.extend(_cycles(p))

    stage_kinds = {s.code: s.kind for s in p.stages}
    grade_names = p.assessment.grade_names if p.assessment is not None else []

    def check_stage_ref(path: str, code: str | None, kinds: tuple[StageKind, ...], what: str) -> None:
        if code is None:
            return
        if code not in stage_kinds:
            out.append((path, f"阶段 {code!r} 未定义（应为 stages 中的代码）"))
        elif stage_kinds[code] not in kinds:
            allowed = "、".join(s.code for s in p.stages if s.kind in kinds) or "无"
            out.append((path, f"阶段 {code!r} 不是{what}（可选：{allowed}）"))

    def check_who(path: str, who: Who | None) -> None:
        if who is None:
            return
        for k, code in enumerate(who.units):
            if code not in unit_codes:
                out.append((f"{path}.units[{k}]", f"单位 {code!r} 未定义（应为 units 中的代码）"))
        for k, level in enumerate(who.levels):
            if level not in levels:
                out.append((f"{path}.levels[{k}]", f"没有级别为 {level!r} 的单位（现有：{'、'.join(sorted(levels))}）"))
        check_stage_ref(f"{path}.submitted_at", who.submitted_at, (StageKind.submission, StageKind.followup), "受理阶段")
        check_stage_ref(f"{path}.missing_at", who.missing_at, (StageKind.submission, StageKind.followup), "受理阶段")
        check_stage_ref(f"{path}.approved_at", who.approved_at, (StageKind.decision,), "决定阶段（decision）")
        check_stage_ref(f"{path}.rejected_at", who.rejected_at, (StageKind.decision,), "决定阶段（decision）")
        check_stage_ref(f"{path}.assessed_at", who.assessed_at, (StageKind.assessment,), "考核阶段（assessment）")
        if (who.grades or who.rank) and p.assessment is None:
            out.append((path, "按等次或排名选择需要 assessment（考核方案）"))
        for k, grade in enumerate(who.grades):
            if grade_names and grade not in grade_names:
                out.append((f"{path}.grades[{k}]", f"等次 {grade!r} 不在 assessment.grades 中（可选：{'、'.join(grade_names)}）"))
        for k, alt in enumerate(who.any_of):
            check_who(f"{path}.any_of[{k}]", alt)

    known_kinds = {k.value for k in SubmissionKind} | set(p.submission_kinds)
    for si, s in enumerate(p.stages):
        if s.submission is not None and s.submission not in known_kinds:
            builtin = "、".join(k.value for k in SubmissionKind if k.value != "score")
            out.append((f"stages[{si}].submission",
                        (f"材料种类 {s.submission!r} 未定义（内置：{builtin}；"
                        f"其他种类请在 submission_kinds 中声明，如 target_filing: {{title: 目标备案}}）")))
        if s.kind is StageKind.decision:
            check_stage_ref(f"stages[{si}].decides", s.decides,
                            (StageKind.submission, StageKind.followup, StageKind.decision, StageKind.assessment),
                            "可决定的阶段（受理、决定或考核）")
            if s.decides == s.code:
                out.append((f"stages[{si}].decides", "不能对本阶段自身作决定"))
    for code in p.submission_kinds:
        if code in {k.value for k in SubmissionKind}:
            out.append((f"submission_kinds.{code}", f"{code!r} 是内置材料种类，无需声明"))

    for name, policy in p.reminder_policies.items():
        if policy.escalate_to != "parent" and policy.escalate_to not in unit_codes:
            out.append((f"reminder_policies.{name}.escalate_to",
                        f"督办对象 {policy.escalate_to!r} 未定义（应为 parent 或单位代码）"))

    for si, s in enumerate(p.stages):
        base = f"stages[{si}]"
        check_who(f"{base}.owed_by", s.owed_by)
        check_who(f"{base}.notify", s.notify)
        check_who(f"{base}.among", s.among)
        if s.sender is not None and s.sender not in unit_codes:
            out.append((f"{base}.sender", f"署名单位 {s.sender!r} 未定义（应为 units 中的代码）"))
        if s.reminders is not None and s.reminders not in p.reminder_policies:
            out.append((f"{base}.reminders", f"提醒策略 {s.reminders!r} 未定义（应为 reminder_policies 中的名称）"))
        for code in s.per_category:
            if code not in category_codes:
                out.append((f"{base}.per_category.{code}", f"类别 {code!r} 未定义（应为 categories 中的代码）"))
        for pi, period in enumerate(s.periods):
            for k, code in enumerate(period.categories):
                if code not in category_codes:
                    out.append((f"{base}.periods[{pi}].categories[{k}]", f"类别 {code!r} 未定义"))
        for where, ref in _relative_refs(s, base):
            if ref not in stage_codes:
                out.append((where, f"阶段 {ref!r} 未定义（应为 stages 中的代码）"))
            elif ref == s.code:
                out.append((where, "不能相对于本阶段自身计算日期"))
        out.extend(_window_order(s, base))

    if p.assessment is not None:
        out.extend(_check_assessment(p, unit_codes, levels))
        check_who("assessment.subjects", p.assessment.subjects)
    if p.quotas is not None:
        for ai, action in enumerate(p.quotas.actions):
            for code in action.per_unit:
                if code not in unit_codes:
                    out.append((f"quotas.actions[{ai}].per_unit.{code}", f"单位 {code!r} 未定义"))
            total = sum(action.per_unit.values())
            if total < action.goal:
                out.append((f"quotas.actions[{ai}].per_unit",
                            f"各单位任务数之和 {total} 小于目标 {action.goal}（应不小于目标）"))
        if p.quotas.progress_stage not in stage_codes:
            out.append(("quotas.progress_stage", f"阶段 {p.quotas.progress_stage!r} 未定义"))

    # Everyone who will be written to must be reachable.
    for code in sorted(_receivers(p)):
        if code in unit_codes and not p.unit(code).channels:
            ui = next(i for i, u in enumerate(p.units) if u.code == code)
            out.append((f"units[{ui}].channels",
                        f"单位 {code}（{p.unit(code).name}）将收到通知，但没有配置任何渠道（应至少一个）"))
    return out


def _channel(p: Programme, name: str) -> str | None:
    return next((c.kind for c in p.channels if c.name == name), None)


def _cycles(p: Programme) -> list[tuple[str, str]]:
    parent = {u.code: u.parent for u in p.units}
    out = []
    for ui, u in enumerate(p.units):
        seen, code = {u.code}, u.parent
        while code is not None and code in parent:
            if code in seen:
                out.append((f"units[{ui}].parent", f"单位 {u.code} 的上级关系成环（应为树形）"))
                break
            seen.add(code)
            code = parent[code]
    return out


def _relative_refs(s, base: str) -> list[tuple[str, str]]:
    refs = []
    if s.after is not None:
        refs.append((f"{base}.after.stage", s.after.stage))
    if s.opens_after is not None:
        refs.append((f"{base}.opens_after.stage", s.opens_after.stage))
    if s.deadline is not None and s.deadline.after is not None:
        refs.append((f"{base}.deadline.after.stage", s.deadline.after.stage))
    for pi, period in enumerate(s.periods):
        if period.deadline.after is not None:
            refs.append((f"{base}.periods[{pi}].deadline.after.stage", period.deadline.after.stage))
    for code, o in s.per_category.items():
        if o.deadline is not None and o.deadline.after is not None:
            refs.append((f"{base}.per_category.{code}.deadline.after.stage", o.deadline.after.stage))
    return refs


def _window_order(s, base: str) -> list[tuple[str, str]]:
    out = []

    def check(path: str, opens: dt.date | None, deadline) -> None:
        if opens is not None and deadline is not None and deadline.date is not None \
                and deadline.date < opens:
                out.append((f"{path}.deadline.date",
                            f"截止日期 {deadline.date} 早于开始日期 {opens}（截止应不早于开始）"))

    check(base, s.opens, s.deadline)
    for pi, period in enumerate(s.periods):
        check(f"{base}.periods[{pi}]", period.opens or s.opens, period.deadline)
    for code, o in s.per_category.items():
        check(f"{base}.per_category.{code}", o.opens or s.opens, o.deadline or s.deadline)
    return out


def _check_assessment(p: Programme, unit_codes: set, levels: set) -> list[tuple[str, str]]:
    a = p.assessment
    assert a is not None
    out = []
    weights = [c.weight for c in a.components if c.weight is not None]
    caps = [c.max_points for c in a.components if c.max_points is not None]
    if weights and caps:
        out.append(("assessment.components", "同一考核方案不能混用 weight 和 max_points"))
    elif weights and abs(sum(weights) - 1) > 1e-6:
        out.append(("assessment.components",
                    f"各部分权重之和应为 1，实际为 {sum(weights):g}"))
    elif caps and abs(sum(caps) - a.scale) > 1e-6:
        out.append(("assessment.components",
                    f"各部分分值上限之和应为满分 {a.scale:g}，实际为 {sum(caps):g}"))
    if any(c.source == "indicators" for c in a.components) and not a.indicators:
        out.append(("assessment.indicators", "有按指标计分的部分，但未定义 indicators"))
    if any(c.source == "quotas" for c in a.components) and p.quotas is None:
        out.append(("quotas", "有按任务数计分的部分，但未定义 quotas"))
    dup = _duplicates([c.code for c in a.components])
    for code in dup:
        out.append(("assessment.components", f"考核部分代码 {code!r} 重复"))
    return out


def _potential(p: Programme, who: Who) -> set[str]:
    """Units a selector may reach: its hierarchy part, narrowed to units that can take part in
    the round when it depends on what happens (applicants, takers, graded units)."""
    allowed = {u.code for u in p.units_matching(who)}
    if not who.dynamic:
        return allowed
    takers_part: set[str] = set()
    for s in p.stages:
        if s.owed_by is not None and not s.owed_by.dynamic:
            takers_part |= {u.code for u in p.units_matching(s.owed_by)}
    if p.assessment is not None and not p.assessment.subjects.dynamic:
        takers_part |= {u.code for u in p.units_matching(p.assessment.subjects)}
    return allowed & takers_part


def _receivers(p: Programme) -> set[str]:
    """Units that the timetable will write to: owers, the notified, the assessed and ops."""
    codes = {p.round.issuer}
    selectors = [s.owed_by for s in p.stages] + [s.notify for s in p.stages]
    if p.assessment is not None:
        selectors.append(p.assessment.subjects)
    for who in selectors:
        if who is not None:
            codes |= _potential(p, who)
    for s in p.stages:
        if s.kind is StageKind.decision:
            codes.add(p.round.issuer)
        # Escalations write to the overdue unit's parent, or to a named unit.
        policy = p.reminder_policies.get(s.reminders) if s.reminders else None
        if policy is None or policy.escalate_after_workdays is None or s.owed_by is None or s.voluntary:
            continue
        if policy.escalate_to != "parent":
            codes.add(policy.escalate_to)
            continue
        codes |= {p.unit(c).parent or p.round.issuer for c in _potential(p, s.owed_by)}
    return codes
