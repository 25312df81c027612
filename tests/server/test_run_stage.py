"""A stage the programme does not have is a NotFoundError of the tree: ``qcycle run`` says so in
one line and exits 2 before any flow run starts, and the reconcile flow (run from the UI or a
deployment with ``only_stage``) raises the same error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcycle.cli import app
from qcycle.errors import NotFoundError

pytestmark = [pytest.mark.server, pytest.mark.slow]

MINI = Path(__file__).resolve().parent.parent / "data" / "mini.yaml"


def test_an_unknown_stage_is_not_found_at_the_command_line_and_in_the_flow(qcycle_home):
    result = CliRunner().invoke(app, ["run", "no_such_stage", str(MINI), "--as-of", "2023-04-06"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("错误：阶段 'no_such_stage' 不存在（可选：") and "application" in line

    from qcycle.flows.lifecycle import reconcile

    with pytest.raises(NotFoundError, match="阶段 'no_such_stage' 不存在"):
        reconcile(programme_file=str(MINI), only_stage="no_such_stage", channel_override="sink")
