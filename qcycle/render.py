"""Rendering messages from the Chinese Jinja2 templates in ``config/templates/``.

A template defines two blocks, ``subject`` and ``body``; :func:`render_message` renders both.
A programme may bring its own folder of templates, searched first. Variables are strict: a
variable the caller did not supply is a :class:`~qcycle.errors.ConfigError` naming the template
(file and line) and the variable, never an empty gap in a message sent to 3,000 units.

Filters: ``cn_date`` (2023年4月20日), ``cn_datetime`` (2023年4月20日 17:30), ``weekday_cn``
(星期四), ``cn_deadline``, ``quoted``, ``category_label``, ``work_arrangement`` (…工作安排).
Every template also sees ``today`` (from :mod:`qcycle.clock`) unless given one. Letters that differ
in nothing but the addressee are rendered once for all of them (:class:`Letters`).
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
from jinja2 import nodes

from qcycle import clock
from qcycle.errors import ConfigError, Problem
from qcycle.schema.who import category_label
from qcycle.settings import Settings, get_settings

__all__ = [
    "SYSTEM_SENDER",
    "TEMPLATE_NAMES",
    "Letters",
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


# -- letters alike but for their addressee ---------------------------------------------------

ADDRESSEE = ("unit_name", "unit_code")
# Stand-ins for the addressee while a family's letter is rendered: private-use characters, in no
# unit's name.
_NAME, _CODE = "\ue000收件单位\ue001", "\ue000单位代码\ue001"
_STAND_INS = {"unit_name": _NAME, "unit_code": _CODE}
# An addressee put back by text replacement reads as the template would have written it only if
# rendering and tidying cannot change it: no spaces, no line breaks, no stand-in characters.
_PLAIN_NAME = re.compile(r"[^\s\ue000\ue001]+\Z")
_MISSING = object()
_SCALARS = (str, int, bool, type(None), dt.date)


class Letters:
    """The letters of one queuing pass. A national fan-out writes the same letter to thousands of units,
    differing in the greeting alone (51,759 letters of a national year, 15,788 distinct after it): a
    draft that says what its context was made from (``alike``, shared by the drafts of one
    :func:`qcycle.lifecycle.drafting.draft_letters` call) is rendered once per family (same template,
    same values but the addressee's) with stand-ins for ``unit_name`` and ``unit_code``, which are
    then replaced by each unit's. Only for templates that print the addressee as it is and do
    nothing else with it (:func:`addressee_printed_only`); anything else is rendered whole."""

    def __init__(self, override_dir: str | Path | None = None) -> None:
        self.override_dir = override_dir
        # Family → (subject, body, the ``alike`` it was rendered from: kept, so no other can take its id).
        self.kept: dict[tuple, tuple[str, str, Mapping[str, Any]]] = {}
        self.printed_only: dict[str, bool] = {}  # each template's verdict, asked once a pass

    def render(self, template_name: str, context: Mapping[str, Any],
               alike: Mapping[str, Any] | None = None) -> tuple[str, str]:
        """``(subject, body)`` as :func:`render_message` gives them. ``alike`` must not change while
        the letters made from it are rendered."""
        key = None if alike is None else self._family(template_name, context, alike)
        if key is None or alike is None:
            return render_message(template_name, context, self.override_dir)
        found = self.kept.get(key)
        if found is None:
            subject, body = render_message(template_name, {**context, **_STAND_INS}, self.override_dir)
            found = self.kept[key] = (subject, body, alike)
        name, code = context["unit_name"], context["unit_code"]
        return (found[0].replace(_NAME, name).replace(_CODE, code),
                found[1].replace(_NAME, name).replace(_CODE, code))

    def _family(self, template_name: str, context: Mapping[str, Any], alike: Mapping[str, Any]) -> tuple | None:
        """What a letter is rendered from but its addressee, as a key (None: render it whole)."""
        name, code = context.get("unit_name"), context.get("unit_code")
        if not (type(name) is str and type(code) is str and _PLAIN_NAME.match(name) and _PLAIN_NAME.match(code)):
            return None
        printed_only = self.printed_only.get(template_name)
        if printed_only is None:
            try:
                printed_only = self.printed_only[template_name] = addressee_printed_only(
                    get_environment(self.override_dir), template_name)
            except jinja2.TemplateError:  # missing or broken: rendering it whole says so, as a ConfigError
                return None
        # A context without one of ``alike``'s keys is rendered whole (no drafting makes one).
        if not printed_only or not alike.keys() <= context.keys():
            return None
        # What the draft's context shares with ``alike`` (the same objects) by identity; what it has of
        # its own (a few values), by value.
        own = [k for k, v in context.items() if alike.get(k, _MISSING) is not v]
        try:
            values = tuple((k, _frozen(context[k])) for k in own if k not in ADDRESSEE)
        except TypeError:
            return None
        return template_name, id(alike), clock.today(), values


def _frozen(value: Any) -> Any:
    """``value`` as a key, told apart as it would print: by type (1, 1.0 and True), a float by its text (0.0 and
    -0.0), a time by its text and zone (two of one instant, or of one offset in two zones, may print apart);
    TypeError for values of other types."""
    kind = type(value)
    if kind in _SCALARS:
        return kind, value
    if kind is float:
        return kind, repr(value)
    if kind is dt.datetime:
        return kind, value.isoformat(), str(value.tzinfo)
    if kind is list or kind is tuple:
        return kind, tuple(_frozen(v) for v in value)
    if kind is dict:
        return kind, tuple((_frozen(k), _frozen(v)) for k, v in value.items())
    raise TypeError(kind.__name__)


# Each template's verdict, by the template object, with the templates it reads as they were (kept in the
# value, so no other can take their ids): an edit of any of them is read again.
_PRINTED_ONLY: dict[int, tuple[jinja2.Template, bool, tuple[tuple[str, jinja2.Template], ...]]] = {}


def addressee_printed_only(env: jinja2.Environment, template_name: str) -> bool:
    """Whether the template, and every template it extends, includes or imports, uses ``unit_name`` and
    ``unit_code`` only as ``{{ unit_name }}`` (no filter, test, condition, assignment or argument), and no
    filter, test or global of qcycle's reads the context: then its text for one addressee is its text for
    any other with the name replaced."""
    template = _template(env, template_name)
    found = _PRINTED_ONLY.get(id(template))
    if found is not None and found[0] is template and _as_read(env, found[2]):
        return found[1]
    seen: set[str] = set()
    verdict = not _reads_context(env) and _printed_only(env, template_name, seen)
    read = []
    for name in sorted(seen - {template_name}):
        try:
            read.append((name, _template(env, name)))
        except jinja2.TemplateError:  # one that cannot be read said no already
            pass
    if len(_PRINTED_ONLY) > 256:
        _PRINTED_ONLY.clear()
    _PRINTED_ONLY[id(template)] = (template, verdict, tuple(read))
    return verdict


def _as_read(env: jinja2.Environment, read: tuple[tuple[str, jinja2.Template], ...]) -> bool:
    """Whether the templates a verdict read are still as they were."""
    try:
        return all(_template(env, name) is template for name, template in read)
    except jinja2.TemplateError:
        return False


def _reads_context(env: jinja2.Environment) -> bool:
    builtin = {**jinja2.defaults.DEFAULT_FILTERS, **jinja2.defaults.DEFAULT_TESTS, **jinja2.defaults.DEFAULT_NAMESPACE}
    return any(getattr(getattr(f, "jinja_pass_arg", None), "name", None) == "context" and builtin.get(k) is not f
               for table in (env.filters, env.tests, env.globals) for k, f in table.items())


def _printed_only(env: jinja2.Environment, template_name: str, seen: set[str]) -> bool:
    if template_name in seen:
        return True
    seen.add(template_name)
    try:
        source, _, _ = env.loader.get_source(env, template_name)  # type: ignore[union-attr]
        tree = env.parse(source, template_name)
    except jinja2.TemplateError:
        return False
    for node, parent, wrapped in _walk(tree, None, False):
        if isinstance(node, (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)) and (
                not isinstance(node.template, nodes.Const) or not _printed_only(env, str(node.template.value), seen)):
            return False
        # A template's own text taken as a value (``self.body()|length``, ``super()``, a recursive loop's
        # ``loop(…)``) or another's macros seeing the context (``import … with context``) may be cut or measured.
        if (isinstance(node, nodes.Name) and node.name in ("self", "super")
                or isinstance(node, nodes.For) and node.recursive
                or isinstance(node, (nodes.Import, nodes.FromImport)) and node.with_context):
            return False
        if wrapped and isinstance(node, (nodes.Include, nodes.Block)):  # its text may be filtered, kept or measured
            return False
        if isinstance(node, nodes.Name) and node.name in ADDRESSEE and (
                wrapped or node.ctx != "load" or not isinstance(parent, nodes.Output)):
            return False
    return True


# What takes its contents' text as a value (a filter block, ``{% set x %}…{% endset %}``, a macro or a call
# block, whose caller may do anything with it) or renders it otherwise (autoescape).
_WRAPPING = (nodes.FilterBlock, nodes.AssignBlock, nodes.Macro, nodes.CallBlock, nodes.EvalContextModifier)


def _walk(node: nodes.Node, parent: nodes.Node | None, wrapped: bool) -> Any:
    yield node, parent, wrapped
    wrapped = wrapped or isinstance(node, _WRAPPING)
    for child in node.iter_child_nodes():
        yield from _walk(child, node, wrapped)
