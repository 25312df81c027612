"""The error tree at the command line: whichever command raises an error of the tree, it ends
as one line on stderr (``错误：…``; a ConfigError lists its problems), no traceback, and the
exit code of its class, from the one table in :mod:`qcycle.cli.common`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcycle import errors
from qcycle.cli import app
from qcycle.cli.common import exit_code
from qcycle.errors import QcycleError

MINI = Path(__file__).resolve().parent / "data" / "mini.yaml"
runner = CliRunner()

# Every class of the tree and its code: a new class must be placed here (and in the runbook).
EXPECTED = {
    "QcycleError": 2,
    "ConfigError": 2,
    "UsageError": 2,
    "NotFoundError": 2,
    "DecisionError": 2,
    "CalendarError": 2,
    "TimetableError": 2,
    "StateError": 1,
    "IntakeError": 1,
    "DeliveryError": 1,
    "AssessmentError": 1,
}


def _instance(cls: type[QcycleError]) -> QcycleError:
    return cls([]) if cls is errors.ConfigError else cls("x")


def test_every_class_of_the_tree_has_its_exit_code():
    tree = {name for name in errors.__all__
            if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), QcycleError)}
    assert tree == set(EXPECTED) | {"SourceFailed"}
    for name, code in EXPECTED.items():
        assert exit_code(_instance(getattr(errors, name))) == code, name


@pytest.mark.parametrize(("kind", "code"), [("refused", 2), ("unavailable", 3), ("unreadable", 3),
                                            ("deadline", 4), ("too_large", 5), ("redirect", 6)])
def test_a_failed_source_exits_with_the_code_of_its_kind(kind, code):
    assert exit_code(errors.SourceFailed("x", url="https://a.example", retryable=False, kind=kind)) == code


def _one_line(result, code: int, says: str) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：") and says in lines[0], result.stderr


def test_usage_and_not_found_exit_2(home):
    _one_line(runner.invoke(app, ["outbox", "retry"]), 2, "二者选一")  # UsageError
    _one_line(runner.invoke(app, ["outbox", "cancel", "0123abcd"]), 2, "没有编号为 0123abcd 的消息")
    _one_line(runner.invoke(app, ["outbox", "cancel", "0123"]), 2, "至少需要8位")
    _one_line(runner.invoke(app, ["outbox", "list", "--round", "no-such-round"]), 2, "没有周期 no-such-round")
    # The list's own words are taken as they are shown (已发送 was refused: "状态只能是 queued | …").
    _one_line(runner.invoke(app, ["outbox", "list", "--round", "no-such-round", "--status", "已发送"]), 2, "没有周期")
    _one_line(runner.invoke(app, ["outbox", "list", "--status", "发出"]), 2, "sent（已发送）")
    # A read-only command on a round that never ran: the round is not there.
    _one_line(runner.invoke(app, ["status", str(MINI)]), 2, "数据库中还没有周期 mini-2023")


def test_a_decisions_file_that_cannot_be_read_exits_2(home, tmp_path):
    missing = tmp_path / "决定.json"
    _one_line(runner.invoke(app, ["decide", str(MINI), "--file", str(missing)]), 2, "无法读取决定文件")
    missing.write_text('{"stage": "x"}', encoding="utf-8")  # an object, not a list of them
    _one_line(runner.invoke(app, ["decide", str(MINI), "--file", str(missing)]), 2, "应为对象的列表")
    missing.write_text('[{"stage": "x",\n "subject": }]', encoding="utf-8")  # json's English stays out
    _one_line(runner.invoke(app, ["decide", str(MINI), "--file", str(missing)]), 2, f"{missing}:2: 不是合法的 JSON（第 13 列）")


def test_a_refusal_in_the_current_state_exits_1(home, tmp_path):
    source = tmp_path / "mini-2023.yaml"
    shutil.copy(MINI, source)
    first = runner.invoke(app, ["new-round", str(source), "--year", "2024"])
    assert first.exit_code == 0, first.output
    _one_line(runner.invoke(app, ["new-round", str(source), "--year", "2024"]), 1, "已存在")  # StateError
    # Named with --out too: a next round's file edited by hand was overwritten without a word.
    written = next(p for p in tmp_path.glob("*.yaml") if p != source)
    written.write_text(written.read_text(encoding="utf-8") + "# 手工改动\n", encoding="utf-8")
    _one_line(runner.invoke(app, ["new-round", str(source), "--year", "2024", "--out", str(written)]), 1, "--force")
    assert written.read_text(encoding="utf-8").endswith("# 手工改动\n")
    assert runner.invoke(app, ["new-round", str(source), "--year", "2024", "--out", str(written), "--force"]).exit_code == 0
    assert not written.read_text(encoding="utf-8").endswith("# 手工改动\n")


def test_an_intake_source_that_fails_as_a_whole_exits_1(home, tmp_path):
    missing = tmp_path / "没有这个文件.csv"
    _one_line(runner.invoke(app, ["import", str(missing), "--round", str(MINI)]), 1, "无法读取文件")


def test_a_wrong_programme_file_exits_2_with_each_problem_and_validate_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 9\n", encoding="utf-8")
    planned = runner.invoke(app, ["plan", str(bad)])
    assert planned.exit_code == 2 and isinstance(planned.exception, SystemExit)
    assert "配置有误（1 处）" in planned.stderr and "不支持的版本" in planned.stderr
    validated = runner.invoke(app, ["validate", str(bad)])  # its answer: problems found
    assert validated.exit_code == 1 and "不支持的版本" in validated.stderr


P1 = Path(__file__).resolve().parent.parent / "config" / "programmes" / "sc-jbgs-2023.yaml"


@pytest.mark.parametrize(("args", "said", "help_of"), [
    (["backfill", str(P1), "--from", "2023-13-01", "--to", "2023-05-01"],
     "错误：'--from' 的值无效：'2023-13-01' 不符合格式 '%Y-%m-%d'", "qcycle backfill --help"),
    (["backfill", str(P1), "--to", "2023-05-01"], "错误：缺少选项 '--from'", "qcycle backfill --help"),
    (["extend"], "错误：缺少参数 'file'", "qcycle extend --help"),
    (["nosuch"], "错误：没有命令 'nosuch'", "qcycle --help"),
    (["plan", str(P1), "--jsn"], "错误：没有选项 --jsn（可选：--json, --png）", "qcycle plan --help"),
    (["plan", str(P1), "extra"], "错误：多余的参数：extra", "qcycle plan --help"),
    (["outbox", "list", "--limit", "abc"], "错误：'--limit' 的值无效：应为整数", "qcycle outbox list --help"),
    (["status", str(P1), "--as-of", "2023-13-01"], "错误：'--as-of' 的值无效：'2023-13-01' 不是日期时间", "qcycle status --help"),
    (["--hoem", "x", "plan", str(P1)], "错误：没有选项 --hoem", "qcycle --help"),
])
def test_a_mistyped_command_line_is_told_in_chinese_and_exits_2(args, said, help_of):
    result = runner.invoke(app, args, prog_name="qcycle")
    assert result.exit_code == 2, result.output
    assert said in result.output and f"查看帮助：{help_of}" in result.output, result.output
    assert "Error" not in result.output and "Usage" not in result.output


def test_a_run_failing_on_qcycle_s_own_error_is_logged_without_its_traceback():
    """A reconcile whose assessment had too few scores printed two Prefect tracebacks before its
    one line 错误：…; qcycle's own errors are logged by their message, any other keeps its traceback."""
    import io
    import logging
    import warnings

    from qcycle.errors import AssessmentError
    from tasks.runlog import PREFECT_RUN_LOGGERS, install

    install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(PREFECT_RUN_LOGGERS[0])
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Prefect's API handler: "no flow run id" (this is no run)
            for exc in (AssessmentError("单位 510100:zlcx-01 的“工作成效”只有 0 个评分"), KeyError("x")):
                try:
                    raise exc
                except Exception:
                    logger.exception("Task run failed with exception: %r", exc)  # as Prefect logs it, exc_info set
    finally:
        logger.removeHandler(handler)
    ours, other = stream.getvalue().split("Task run failed with exception: KeyError")
    assert "只有 0 个评分" in ours and "Traceback" not in ours
    assert "Traceback" in other
