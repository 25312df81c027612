"""Rendering messages from the Chinese Jinja2 templates in ``config/templates/``.

A template defines two blocks, ``subject`` and ``body``; :func:`render_message` renders both.
A programme may bring its own folder of templates, searched first. Variables are strict: a
variable the caller did not supply is a :class:`~qcycle.errors.ConfigError` naming the template
(file and line) and the variable, never an empty gap in a message sent to 3,000 units.

Filters: ``cn_date`` (2023年4月20日), ``cn_datetime`` (2023年4月20日 17:30), ``weekday_cn``
(星期四), ``cn_deadline``, ``quoted``, ``category_label``, ``work_arrangement`` (…工作安排).
Every template also sees ``today`` (from :mod:`qcycle.clock`) unless given one.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import traceback
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from qcycle import clock
from qcycle.errors import ConfigError, Problem
from qcycle.schema.who import category_label
from qcycle.settings import Settings, get_settings

__all__ = [
    "SYSTEM_SENDER",
    "TEMPLATE_NAMES",
    "cn_date",
    "cn_datetime",
    "cn_deadline",
    "get_environment",
    "quoted",
    "render_message",
    "weekday_cn",
    "work_arrangement",
]

# Who signs what qcycle writes to an office's own staff (decision requests, failure digests).
SYSTEM_SENDER = "质量工作周期系统（自动提醒）"

# The templates qcycle itself renders (config/templates/ must provide each).
TEMPLATE_NAMES = (
    "reminder.j2",
    "overdue.j2",
    "escalation.j2",
    "merged_reminder.j2",
    "result.j2",
    "step_result.j2",
    "objection_reply.j2",
    "praise.j2",
    "award.j2",
    "summons.j2",
    "notice.j2",
    "publication.j2",
    "event_notice.j2",
    "window_open.j2",
    "deadline_moved.j2",
    "rectification.j2",
    "report_due.j2",
    "ops_digest.j2",
    "decision_pending.j2",
    "review_request.j2",
    "withdrawal.j2",
    "item_added.j2",
    "refused_late.j2",
    "extension_granted.j2",
    "report.j2",
    "circular.j2",
)

_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def _local(value: dt.datetime) -> dt.datetime:
    return clock.to_local(value)


def _defined(value: Any) -> None:
    # A filter given a missing variable must fail as "undefined", not as a type error.
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the variable
        raise TypeError("a date filter was given an undefined value")


def cn_date(value: dt.date | dt.datetime) -> str:
    """``2023年4月20日`` (a datetime is first taken to Asia/Shanghai)."""
    _defined(value)
    if not isinstance(value, dt.date):
        raise TypeError(f"cn_date needs a date, got {type(value).__name__}")
    return _date_text(value)


def cn_datetime(value: dt.date | dt.datetime) -> str:
    """``2023年4月20日 17:30``; a plain date (no time of day) renders as the date alone. No
    seconds: lateness is judged to the minute, so a refused hand-in's minute is after the deadline's."""
    _defined(value)
    if not isinstance(value, dt.datetime):
        return cn_date(value)
    return _datetime_text(value)


def cn_deadline(value: dt.date | dt.datetime, note: str | None = None) -> str:
    """A deadline as an office writes it, the weekday after the date and the time last:
    ``2023年4月20日（星期四）17:30``; ``note`` follows it in its own brackets
    (``2024年6月11日（星期二）17:30（原定6月10日，遇节假日顺延）``: inside the weekday's it split the
    date from its time). A plain date renders without a time."""
    _defined(value)
    if not isinstance(value, dt.date):
        raise TypeError(f"cn_date needs a date, got {type(value).__name__}")
    return _deadline_text(value, note)


# The texts of dates, remembered: a national year's letters say a few hundred dates ~230,000 times
# (cProfile, 2026-12-07). Keyed by the instant (Asia/Shanghai has no folds); ``typed`` keeps dates
# and datetimes apart. A note is a text or None.
@lru_cache(maxsize=4096, typed=True)
def _date_text(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = _local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


@lru_cache(maxsize=4096)
def _datetime_text(value: dt.datetime) -> str:
    return f"{_date_text(local := _local(value))} {local:%H:%M}"


@lru_cache(maxsize=4096, typed=True)
def _deadline_text(value: dt.date, note: str | None) -> str:
    after = f"（{note}）" if note else ""
    if not isinstance(value, dt.datetime):
        return f"{_date_text(value)}（{weekday_cn(value)}）{after}"
    local = _local(value)
    return f"{_date_text(local)}（{weekday_cn(value)}）{local:%H:%M}{after}"


def weekday_cn(value: dt.date | dt.datetime) -> str:
    """``星期四``."""
    _defined(value)
    if isinstance(value, dt.datetime):
        value = _local(value).date()
    return _WEEKDAYS[value.weekday()]


def quoted(text: str) -> str:
    """A name in quotation marks, its own quotation marks turned single (引号里面还要用引号时，
    里面一层用单引号): 质量基础设施“一站式”…地方 → “质量基础设施‘一站式’…地方”."""
    _defined(text)
    return "“" + str(text).replace("“", "‘").replace("”", "’") + "”"


def work_arrangement(name: str) -> str:
    """``…工作安排`` after a round's name; a name that ends in 工作 is not followed by 工作 again
    (“…不合格后处理工作工作安排” had been sent)."""
    _defined(name)
    return f"{name}安排" if str(name).endswith("工作") else f"{name}工作安排"


def of_round(name: str, item: str) -> str:
    """``item`` of a round, as "…的{item}"; where the name ends with the item's first words, once (镇江市2026年“质量月”
    活动 + 活动安排 had read "…活动的活动安排")."""
    _defined(name)
    _defined(item)
    name, item = str(name), str(item)
    shared = next((k for k in range(min(len(name), len(item) - 1), 1, -1) if name.endswith(item[:k])), 0)
    return name + item[shared:] if shared else f"{name}的{item}"


@lru_cache(maxsize=32)
def _environment(search_path: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search_path), encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        # Plain text for bots and text/plain mail: nothing to escape.
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, cn_deadline=cn_deadline, weekday_cn=weekday_cn,
                       quoted=quoted, category_label=category_label, work_arrangement=work_arrangement,
                       of_round=of_round)
    return env


def get_environment(override_dir: str | Path | None = None) -> jinja2.Environment:
    """The environment for the default templates, with ``override_dir`` searched first."""
    return _environment(_search_path(override_dir, get_settings()))


# The search path of each (override folder, settings object): asked once per letter rendered,
# and building it from the settings' paths each time was a tenth of a render. Each entry keeps
# its settings object alive, so no other object can take that id while the entry stands.
_SEARCH_PATHS: dict[tuple[str | Path | None, int], tuple[Settings, tuple[str, ...]]] = {}


def _search_path(override_dir: str | Path | None, settings: Settings) -> tuple[str, ...]:
    found = _SEARCH_PATHS.get((override_dir, id(settings)))
    if found is None:  # a new folder, or settings loaded again (a test, another home)
        if len(_SEARCH_PATHS) > 64:
            _SEARCH_PATHS.clear()
        paths = [str(Path(override_dir))] if override_dir else []
        paths.extend(str(folder) for folder in settings.template_dirs)
        found = _SEARCH_PATHS[override_dir, id(settings)] = (settings, tuple(paths))
    return found[1]


# Templates looked up in the last moment, by (environment, name): Jinja checks a template's
# file time at every lookup (a stat per letter, ~2 % of a national year), where a burst of
# letters needs it once; an edited template is still picked up a moment later.
_RECENT: dict[tuple[int, str], tuple[float, jinja2.Environment, jinja2.Template]] = {}
RECHECK_SECONDS = 0.5


def _template(env: jinja2.Environment, name: str) -> jinja2.Template:
    now = time.monotonic()
    found = _RECENT.get((id(env), name))
    if found is not None and now - found[0] < RECHECK_SECONDS and found[1] is env:
        return found[2]
    template = env.get_template(name)
    if len(_RECENT) > 256:
        _RECENT.clear()
    _RECENT[id(env), name] = (now, env, template)
    return template


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    # Jinja rewrites tracebacks so a frame points at the template file and line.
    if not filename:
        return None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == filename:
            return frame.lineno
    return None


def _problem(
    template_name: str, filename: str | None, path: str, message: str, line: int | None
) -> ConfigError:
    return ConfigError(
        [Problem(file=filename or template_name, path=path, message=message, line=line)]
    )


def _render_block(template: jinja2.Template, name: str, context: jinja2.runtime.Context) -> str:
    block = template.blocks.get(name)
    if block is None:
        raise _problem(
            template.name or "?",
            template.filename,
            name,
            f"模板 {template.name} 缺少 {{% block {name} %}}",
            None,
        )
    return "".join(block(context))


def _tidy_body(text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    # At most one blank line in a row (conditional sections leave gaps).
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def render_message(
    template_name: str,
    context: Mapping[str, Any],
    override_dir: str | Path | None = None,
) -> tuple[str, str]:
    """Render ``template_name`` into ``(subject, body)``.

    :class:`ConfigError` if the template is missing, invalid, lacks a block, or uses a variable
    ``context`` does not supply (the problem names the template file, line and variable).
    """
    env = get_environment(override_dir)
    try:
        template = _template(env, template_name)
    except jinja2.TemplateNotFound:
        searched = ", ".join(str(p) for p in env.loader.searchpath)  # type: ignore[union-attr]
        raise _problem(
            template_name, None, "", f"找不到函件模板（已查找：{searched}）", None
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise _problem(
            template_name, exc.filename, "", f"模板语法错误：{exc.message}", exc.lineno
        ) from exc

    # One context for both blocks: building a Jinja context costs as much as rendering a block.
    ctx = template.new_context({"today": clock.today(), **context})
    try:
        subject = _render_block(template, "subject", ctx)
        body = _render_block(template, "body", ctx)
    except jinja2.UndefinedError as exc:
        missing = re.search(r"'([^']+)' is undefined", str(exc))
        variable = missing.group(1) if missing else ""
        raise _problem(
            template_name,
            template.filename,
            variable,
            f"模板 {template_name} 用到了本类函件没有的变量 {variable or (exc.message or exc)}"
            "（可用的变量见该模板开头的说明）",
            _template_line(exc, template.filename),
        ) from exc
    except (TypeError, ValueError, AttributeError, jinja2.TemplateError) as exc:
        raise _problem(
            template_name,
            template.filename,
            "",
            f"模板 {template_name} 渲染出错：{type(exc).__name__}: {exc}",
            _template_line(exc, template.filename),
        ) from exc
    # A subject is one line, whatever the template's layout.
    subject = " ".join(subject.split())
    return subject, _tidy_body(body)
