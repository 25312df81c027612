"""What every command module of ``qcycle`` shares: the typer :data:`app` they register on, the
consoles :data:`out` and :data:`err`, the ``FILE`` argument, :func:`fail` (an error to its exit
code) and :func:`open_round`.

Imports no command module: each of them imports this one, and :mod:`qcycle.cli` imports them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from qcycle.errors import ConfigError, QcycleError

__all__ = ["FileArg", "app", "err", "fail", "open_round", "out", "warn"]

app = typer.Typer(
    name="qcycle",
    help="qcycle：质量工作年度周期（榜单发布、揭榜申报、中期检查、评价确认、考核、通知）。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

out = Console(width=160, soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FileArg = Annotated[Path, typer.Argument(help="programme file, e.g. config/programmes/sc-jbgs-2023.yaml")]


@app.callback()
def _root(
    home: Annotated[Path | None, typer.Option(help="working folder (QCYCLE_HOME): database and sink")] = None,
) -> None:
    """qcycle：质量工作年度周期。"""
    if home is not None:
        import os

        from qcycle.settings import get_settings

        os.environ["QCYCLE_HOME"] = str(home)
        get_settings.cache_clear()


def open_round(file: Path, *, read_only: bool = False):
    """Load a programme file and find its round in the database; returns (loaded, round_id).

    Writing commands migrate the database and register the round if needed; ``read_only``
    ones never create or change anything and say what to run when the round is not there."""
    from qcycle import crud, db
    from qcycle.lifecycle import sync_round
    from qcycle.loader import load_programme

    loaded = load_programme(file)
    if read_only:
        db.require_current()
        with db.session_scope(read_only=True) as session:
            row = crud.get_round(session=session, code=loaded.programme.round.code)
        if row is None:
            raise QcycleError(f"数据库中还没有周期 {loaded.programme.round.code}：它尚未运行过"
                              f"（运行 qcycle reconcile {file} 开始，或检查 --home）")
        return loaded, row.id
    db.upgrade()
    with db.session_scope() as session:
        return loaded, sync_round(session, loaded).id


def fail(exc: QcycleError, code: int = 2) -> typer.Exit:
    """Print the error (every problem of a :class:`ConfigError`) on stderr; the exit to raise."""
    if isinstance(exc, ConfigError):
        err.print(f"[bold red]配置有误[/]（{len(exc.problems)} 处）：")
        for p in exc.problems:
            err.print(f"  {p}", markup=False)
    else:
        err.print(f"错误：{exc}", markup=False)
    return typer.Exit(code)


def warn(warnings: list[str]) -> None:
    """Print each warning on stderr."""
    for w in warnings:
        err.print(f"[yellow]警告：[/]{w}")
