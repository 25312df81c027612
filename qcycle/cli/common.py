"""What every command module of ``qcycle`` shares: the typer :data:`app` they register on, the
consoles :data:`out` and :data:`err`, the ``FILE`` argument, :func:`fail` (an error to its exit
code) and :func:`open_round`.

Imports no command module: each of them imports this one, and :mod:`qcycle.cli` imports them all.

Errors. Every :class:`~qcycle.errors.QcycleError` a command lets through is caught once, at the
top (:class:`_Commands`), and goes through :func:`fail`: one line ``错误：…`` on stderr (a
:class:`~qcycle.errors.ConfigError` lists each of its problems), no traceback, and the exit code
that :func:`exit_code` gives its class — the one table of them, :data:`EXIT_CODES`:

    ===  =============================================================================
    2    fix what was asked: ConfigError, UsageError (NotFoundError, DecisionError),
         CalendarError, TimetableError; and any other QcycleError (as every error
         exited before the table: e.g. the Prefect server a command starts not starting)
    1    it failed while running, or is refused now: StateError, IntakeError,
         DeliveryError, AssessmentError
    2-6  ``qcycle pull``: SourceFailed by its kind (:data:`SOURCE_EXIT_CODES`):
         2 refused, 3 unavailable/unreadable/not to its end, 4 deadline, 5 too large, 6 redirect
    ===  =============================================================================

Typer's own usage errors (a missing argument, a bad option value) exit 2 as well. One command
chooses its code itself: ``qcycle validate`` exits 1 for every problem it finds, since finding
them is its answer (as a linter's). Commands that catch ``QcycleError`` themselves (to show a
partial result first, as ``pull`` does) end in :func:`fail` too.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar

import click
import typer
from rich.console import Console
from typer._click.core import Context as TyperContext  # typer vendors click
from typer._click.exceptions import UsageError as CommandLineError
from typer._click.formatting import HelpFormatter
from typer.core import TyperGroup

from qcycle.errors import (
    AssessmentError,
    CalendarError,
    ConfigError,
    DeliveryError,
    IntakeError,
    NotFoundError,
    QcycleError,
    SourceFailed,
    StateError,
    TimetableError,
    UsageError,
)

__all__ = ["EXIT_CODES", "SOURCE_EXIT_CODES", "FileArg", "app", "err", "exit_code", "fail", "open_round", "out",
           "warn"]

# The exit code of each class of the tree; the first that matches wins. Anything else: 2.
EXIT_CODES: tuple[tuple[type[QcycleError], int], ...] = (
    (ConfigError, 2),
    (UsageError, 2),  # NotFoundError, DecisionError
    (CalendarError, 2),
    (TimetableError, 2),
    (StateError, 1),
    (IntakeError, 1),  # SourceFailed: SOURCE_EXIT_CODES
    (DeliveryError, 1),
    (AssessmentError, 1),
)
# ``qcycle pull`` (documented in its help): scripts tell "retry later" (3, 4) from "fix it" (2, 5, 6).
SOURCE_EXIT_CODES = {"refused": 2, "unavailable": 3, "unreadable": 3, "deadline": 4,
                     "too_large": 5, "redirect": 6}  # fmt: skip


def exit_code(exc: QcycleError) -> int:
    """The exit code of an error of the tree (see the module docstring for the table)."""
    if isinstance(exc, SourceFailed):
        return SOURCE_EXIT_CODES.get(exc.kind, 3)
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), 2)


class _Commands(TyperGroup):
    """The root group: a :class:`QcycleError` that a command does not handle ends in
    :func:`fail` here, whichever command (or sub-command) raised it."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except CommandLineError as exc:  # qcycle's own options (``qcycle --hoem``)
            raise _mistyped(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QcycleError as exc:
            raise fail(exc) from None
        except CommandLineError as exc:
            raise _mistyped(exc) from None


def _mistyped(exc: CommandLineError) -> typer.Exit:
    """A mistyped command line, said in Chinese (the parser's own words are English); exit 2."""
    err.print(f"错误：{usage_error_zh(exc.format_message())}", markup=False)
    err.print(f"查看帮助：{exc.ctx.command_path if exc.ctx else 'qcycle'} --help", markup=False)
    return typer.Exit(exc.exit_code)


# The command-line parser's messages (typer's click), in the ops team's words; a message not
# listed is shown as it is.
_USAGE_ZH = [
    (r"Invalid value for (.+?): (?:Value error, )?(.*)", "{0} 的值无效：{1}"),
    (r"Invalid value: (.*)", "值无效：{0}"),
    (r"Missing option (.+?)\.?", "缺少选项 {0}"),
    (r"Missing argument (.+?)\.?", "缺少参数 {0}"),
    (r"No such command (.+?)\.?", "没有命令 {0}"),
    (r"No such option: (\S+?)\.? Did you mean (\S+?)\?", "没有选项 {0}（是否为 {1}？）"),
    (r"No such option: (\S+?)\.? \(Possible options: (.+)\)", "没有选项 {0}（可选：{1}）"),
    (r"No such option: (\S+?)\.?", "没有选项 {0}"),
    (r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", "多余的参数：{0}"),
    (r"Option (.+?) requires an argument\.", "选项 {0} 需要一个值"),
    (r"Option (.+?) does not take a value\.", "选项 {0} 不接受值"),
]
_VALUE_ZH = [
    (r"(.+?) does not match the formats? (.+?)\.?", "{0} 不符合格式 {1}"),
    (r"Input should be a valid integer.*", "应为整数"),
    (r"Input should be a valid number.*", "应为数字"),
    (r"(.+?) is not one of (.+?)\.?", "{0} 不是可选值之一（{1}）"),
    (r"Value (.+?) is not a valid (.+?)\.", "{0} 不是有效的 {1}"),
]


def _zh(text: str, table: list[tuple[str, str]]) -> str:
    for pattern, words in table:
        found = re.fullmatch(pattern, text.strip(), flags=re.DOTALL)
        if found:
            return words.format(*found.groups())
    return text


def usage_error_zh(message: str) -> str:
    """A command-line parsing error in Chinese: ``Invalid value for '--from': '2023-13-01' does
    not match the formats '%Y-%m-%d'.`` → ``'--from' 的值无效：'2023-13-01' 不符合格式 '%Y-%m-%d'``."""
    said = _zh(message, _USAGE_ZH)
    head, sep, value = said.partition(" 的值无效：")
    return f"{head}{sep}{_zh(value, _VALUE_ZH)}" if sep else said


class _HelpFormatter(HelpFormatter):
    """``--help`` in the ops team's words: typer writes its headings and notes in English."""

    _WORDS: ClassVar[dict[str, str]] = {"Options": "选项", "Arguments": "参数", "Commands": "命令"}
    _NOTES: ClassVar[tuple[tuple[re.Pattern[str], str], ...]] = (
        (re.compile(r"\[default: (.*?)\]"), r"[默认：\1]"), (re.compile(r"\[required\]"), "[必填]"),
        (re.compile(r"; x>=(\d+)\]"), r"；不小于\1]"), (re.compile(r"\[x>=(\d+)\]"), r"[不小于\1]"),
        (re.compile(r"Show this message and exit\."), "显示本帮助并退出。"))
    # What a value is, as typer names its type ("--round <str>", "{file}", "<%Y-%m-%d>").
    _KINDS: ClassVar[dict[str, str]] = {
        "str": "文本", "list[str]": "文本", "int": "整数", "int range": "整数", "float": "数值", "path": "路径",
        "list[Path]": "路径", "file": "文件", "files": "文件", "stage": "阶段", "message": "消息编号", "%Y-%m-%d": "日期YYYY-MM-DD"}
    _KIND = re.compile(r"<([^<>]+)>|\{([a-z_]+)\}")

    @classmethod
    def _kind(cls, term: str) -> str:
        def named(m: re.Match[str]) -> str:
            word = cls._KINDS.get(m.group(1) or m.group(2))
            return f"<{word}>" if word else m.group(0)

        return cls._KIND.sub(named, term)

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = args.replace("[OPTIONS]", "[选项]").replace("COMMAND [ARGS]...", "命令 [参数]...")
        super().write_usage(prog, self._kind(args), "用法：" if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{self._WORDS.get(heading, heading)}：\n")

    def write_dl(self, rows: Any, *args: Any, **kwargs: Any) -> None:
        super().write_dl([(self._kind(term), self._said(text)) for term, text in rows], *args, **kwargs)

    @classmethod
    def _said(cls, text: str) -> str:
        for pattern, words in cls._NOTES:
            text = pattern.sub(words, text)
        return text


# Every context of this process formats help with it (typer's commands make plain contexts of
# the click it vendors; the qcycle command is the only CLI this process runs).
TyperContext.formatter_class = _HelpFormatter

app = typer.Typer(
    cls=_Commands,
    name="qcycle",
    help="qcycle：质量工作年度周期（榜单发布、揭榜申报、中期检查、评价确认、考核、通知）。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

out = Console(width=160, soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FileArg = Annotated[Path, typer.Argument(help="方案文件，如 config/programmes/sc-jbgs-2023.yaml")]


_home: Path | None = None  # this invocation's --home: the commands it suggests carry it too


def again(*parts: object) -> str:
    """A qcycle command to suggest, as it must be typed in this shell: with this invocation's
    --home (without it, the suggestion would run against another folder's database)."""
    home = ["--home", str(_home)] if _home is not None else []
    return " ".join(_shell_word(str(x)) for x in ["qcycle", *home, *parts])


def _shell_word(text: str) -> str:
    """``text`` as one shell word: quoted only when the shell would split or expand it
    (shlex.quote also quotes Chinese, and "--by '姓名'" reads as if the quotes were typed)."""
    import re
    import shlex

    return shlex.quote(text) if not text or re.search(r"[\s'\"\\$`!*?&;|<>(){}\[\]#~]", text) else text


def _with_home(text: str) -> str:
    """A message from the core that names a qcycle command, with this invocation's --home."""
    if _home is None:
        return text
    import re

    return re.sub(r"\bqcycle (?=[a-z])", f"qcycle --home {_shell_word(str(_home))} ", text)


@app.callback()
def _root(
    home: Annotated[Path | None, typer.Option(help="工作目录（QCYCLE_HOME）：数据库与本地收件箱")] = None,
) -> None:
    """qcycle：质量工作年度周期。"""
    global _home
    _home = home
    _calendar_warnings_as_warnings()
    if home is not None:
        import os

        from qcycle.settings import get_settings

        os.environ["QCYCLE_HOME"] = str(home)
        get_settings.cache_clear()


def open_round(file: Path, *, read_only: bool = False, as_registered: bool = False):
    """Load a programme file and find its round in the database; returns (loaded, round_id).

    Writing commands migrate the database and register the round if needed; ``read_only``
    ones never create or change anything and say what to run when the round is not there.
    ``as_registered``: the file must be the version the round runs on (an ops decision does not
    amend the round on the way: a refused ``decide`` with a changed file had recorded a change,
    as found by a run, with nobody's reason)."""
    from qcycle import crud, db
    from qcycle.lifecycle import sync_round
    from qcycle.loader import load_programme

    loaded = load_programme(file)
    code = loaded.programme.round.code
    if read_only:
        db.require_current()
        with db.session_scope(read_only=True) as session:
            row = crud.get_round(session=session, code=code)
        if row is None:
            raise NotFoundError(f"数据库中还没有周期 {code}：它尚未运行过"
                                f"（运行 {again('reconcile', file)} 开始，或检查 --home）")
        if row.config_sha256 != loaded.sha256:  # read as the file says, which the round has not run on yet
            warn([(f"方案文件 {file} 与周期 {code} 上次运行的版本不同：以下按此文件读出；用 "
                   f"{again('plan', file, '--diff')} 查看差异，{again('amend', file, '--reason', '原因')} 登记")])
        return loaded, row.id
    db.upgrade()
    with db.session_scope() as session:
        row = crud.get_round(session=session, code=code) if as_registered else None
        if row is not None and row.config_sha256 != loaded.sha256:  # raised before anything is written
            registered = f"，如 {row.config_path}" if row.config_path and Path(row.config_path) != file else ""
            raise UsageError(
                f"方案文件 {file} 与周期 {code} 登记的版本不同（登记 {row.config_sha256[:8]}，"
                f"此文件 {loaded.sha256[:8]}）：请用登记的文件{registered}；文件确已修改的，先用 "
                f"{again('plan', file, '--diff')} 查看、{again('amend', file, '--reason', '原因')} 登记，再作决定")
        return loaded, sync_round(session, loaded).id


def fail(exc: QcycleError, code: int | None = None) -> typer.Exit:
    """Print the error (every problem of a :class:`ConfigError`) on stderr; the exit to raise,
    with the code :func:`exit_code` gives (``code`` only for ``qcycle validate``)."""
    if isinstance(exc, ConfigError):
        err.print(f"[bold red]配置有误[/]（{len(exc.problems)} 处）：")
        for p in exc.problems:
            err.print(f"  {p}", markup=False)
    else:
        err.print(f"错误：{_with_home(str(exc))}", markup=False)
    return typer.Exit(exit_code(exc) if code is None else code)


_warned: set[str] = set()


def warn(warnings: list[str]) -> None:
    """Print each warning on stderr, once a command."""
    for w in warnings:
        if w not in _warned:
            _warned.add(w)
            err.print(f"[yellow]警告：[/]{w}")


class _Warnings(logging.Handler):
    """The calendar's logged warnings (a year without the official arrangement) as the command's
    own 警告 lines: logged, and again among the timetable's warnings, a plan printed it twice;
    commands that print no timetable (serve, deploy) still say it."""

    def emit(self, record: logging.LogRecord) -> None:
        warn([record.getMessage()])


_handler = _Warnings(logging.WARNING)


def _calendar_warnings_as_warnings() -> None:
    _warned.clear()  # a command's own: CliRunner runs several in one process
    calendar_log = logging.getLogger("qcycle.workcal")
    if _handler not in calendar_log.handlers:  # with a handler, logging's last resort no longer prints it
        calendar_log.addHandler(_handler)
