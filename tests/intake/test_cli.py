"""qcycle import / pull / quarantine through the real CLI, on the default database of QCYCLE_HOME."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from qcycle.cli import app
from tests.intake.conftest import P1, TOKEN, TOKEN_ENV

runner = CliRunner()

CSV = (
    "材料种类,单位代码,项目代码,提交时间,编号\r\n"
    "揭榜书,510100,zlcx-01,2023/4/18 10:00,A1\r\n"
    "揭榜书,999999,zlcx-01,2023/4/18 10:00,A9\r\n"
    "揭榜书,510300,cxyl-02\r\n"
    "揭榜书,510400,zlcx-03,2023/4/21 09:00,A3\r\n"
)


def test_an_import_prints_the_first_reasons_and_says_where_to_read_the_rest(qcycle_home, tmp_path, monkeypatch):
    """A file of thousands of bad rows printed thousands of reasons, and its report held every one
    in memory. The first 20 are printed, the rest counted with the command that lists them; the
    report lists at most LISTED_ASIDE; every row is in the quarantine."""
    from qcycle.intake import report as report_mod

    monkeypatch.setattr(report_mod, "LISTED_ASIDE", 30)
    path = tmp_path / "申报.csv"
    path.write_text("材料种类,单位代码,项目代码,提交时间,编号\n"
                    + "".join(f"揭榜书,9{n:05d},zlcx-01,2023-04-18 10:00,A{n}\n" for n in range(45)), "utf-8")
    result = runner.invoke(app, ["import", str(path), "--round", str(P1)])
    assert result.exit_code == 0, result.output
    assert "隔离 45" in result.stdout
    shown = re.findall(r"第 \d+ 行：提交单位", result.stdout)
    assert len(shown) == 20 and "第 21 行：" in result.stdout and "第 22 行：" not in result.stdout
    assert "……另有 25 条（本次共隔离 45 条），全部原因：qcycle quarantine --round sc-jbgs-2023" in result.stdout
    listed = runner.invoke(app, ["quarantine", "--round", "sc-jbgs-2023"])
    assert listed.stdout.count("不在本周期的单位名单中") == 45
    from qcycle.intake.files import import_file_in_batches

    again = import_file_in_batches(path=path, programme=P1)  # the same rows, set aside again
    assert again.counts["quarantined"] == again.aside == 45 and len(again.quarantined) == 30


def test_import_prints_counts_and_reasons_and_exits_0_with_quarantined_rows(qcycle_home, tmp_path):
    path = tmp_path / "申报.csv"
    path.write_bytes(CSV.encode("gb18030"))
    result = runner.invoke(app, ["import", str(path), "--round", str(P1)])
    assert result.exit_code == 0, result.output
    assert "按时受理 1，逾期已受理 0，逾期不予受理 1，重复 0，修改重报 0，冲突隔离 0，隔离 2" in result.stdout
    assert "下一次对账运行会向提交单位发出【不予受理】告知" in result.stdout
    assert "第 3 行：提交单位 '999999' 不在本周期的单位名单中" in result.stdout
    assert "第 4 行：有 3 列，表头有 5 列" in result.stdout
    assert (qcycle_home / "qcycle.db").exists()
    again = runner.invoke(app, ["import", str(path), "--round", str(P1)])
    assert "重复 2" in again.stdout and "注意" not in again.stdout
    # The programme file edited since the round last ran: the import records it as an amendment (decide
    # refuses instead) and says so, where it had said only its counts.
    edited = tmp_path / "sc-jbgs-2023.yaml"
    edited.write_text(P1.read_text("utf-8").replace("name: 发布揭榜名单", "name: 公布揭榜名单", 1), "utf-8")
    changed = runner.invoke(app, ["import", str(path), "--round", str(edited)])
    assert changed.exit_code == 0 and "方案文件与本周期上次运行的版本不同，已按修改后的方案登记为一次修改" in changed.stdout
    # A read-only command given a file the round has not run on reads it, and says so.
    other = tmp_path / "另一版" / "sc-jbgs-2023.yaml"
    other.parent.mkdir()
    other.write_text(edited.read_text("utf-8").replace("name: 公布揭榜名单", "name: 印发揭榜名单", 1), "utf-8")
    shown = runner.invoke(app, ["status", str(other)])
    assert shown.exit_code == 0 and "与周期 sc-jbgs-2023 上次运行的版本不同" in shown.stderr, shown.output
    assert "上次运行的版本不同" not in runner.invoke(app, ["status", str(edited)]).stderr  # the version it ran on


def test_import_fails_when_the_file_cannot_be_read(qcycle_home, tmp_path):
    result = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--round", str(P1)])
    assert result.exit_code != 0 and "无法读取文件" in result.output
    (tmp_path / "x.csv").write_text("kind,unit\n", "utf-8")
    result = runner.invoke(
        app, ["import", str(tmp_path / "x.csv"), "--round", str(P1), "--kind", "愿望"]
    )
    assert result.exit_code == 2 and "不是已知的材料种类" in result.output


def test_quarantine_lists_and_resolves(qcycle_home, tmp_path):
    path = tmp_path / "申报.csv"
    path.write_text(CSV, "utf-8")
    runner.invoke(app, ["import", str(path), "--round", str(P1)])
    listed = runner.invoke(app, ["quarantine", "--round", "sc-jbgs-2023"])
    assert listed.exit_code == 0, listed.output
    assert "共 2 条" in listed.stdout and "原始：揭榜书,510300,cxyl-02" in listed.stdout
    assert "999999" in listed.stdout and f"import:{path.resolve()}" in listed.stdout
    # each with the row it was on, a readable row refused by the rules as an unreadable one
    assert "原因：第 3 行：提交单位 '999999' 不在本周期的单位名单中" in listed.stdout, listed.stdout
    assert "原因：第 4 行：有 3 列，表头有 5 列" in listed.stdout
    assert listed.stdout.rstrip().endswith("处理后：qcycle quarantine --resolve ID --by 姓名")
    ids = re.findall(r"^\[([0-9a-f]{8})\]", listed.stdout, flags=re.MULTILINE)
    assert len(ids) == 2
    assert runner.invoke(app, ["quarantine", "--resolve", ids[0]]).exit_code == 2  # --by missing
    resolved = runner.invoke(app, ["quarantine", "--resolve", ids[0], "--by", "张三"])
    assert resolved.exit_code == 0 and "已标记为已处理" in resolved.stdout
    assert "共 1 条" in runner.invoke(app, ["quarantine", "--round", str(P1)]).stdout
    everything = runner.invoke(app, ["quarantine", "--all"])
    assert "共 2 条" in everything.stdout and "已处理（张三" in everything.stdout
    assert runner.invoke(app, ["quarantine", "--round", "no-such-round"]).exit_code == 2


def test_pull_takes_a_source_and_fails_clearly_without_the_token(
    qcycle_home, source_server, monkeypatch
):
    url = source_server.url("/good")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    result = runner.invoke(app, ["pull", "--round", str(P1), "--url", url, "--token-env", TOKEN_ENV,
                                 "--page-size", "3"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "按时受理 5，逾期已受理 1，逾期不予受理 1，重复 0，修改重报 0，冲突隔离 0，隔离 0（3 页）" in result.stdout
    # Stopped at its page limit with pages left: not "done"
    cut = runner.invoke(app, ["pull", "--round", str(P1), "--url", url, "--token-env", TOKEN_ENV,
                              "--page-size", "3", "--max-pages", "1"])
    assert cut.exit_code == 3 and "错误：已达 1 页上限，停止：可能还有未拉取的页" in cut.output, cut.output
    monkeypatch.setenv(TOKEN_ENV, "a-wrong-token")
    refused = runner.invoke(
        app, ["pull", "--round", str(P1), "--url", url, "--token-env", TOKEN_ENV]
    )
    assert refused.exit_code != 0 and "HTTP 401" in refused.output and TOKEN_ENV in refused.output
    pasted = runner.invoke(app, ["pull", "--round", str(P1), "--url", url, "--token-env", TOKEN])
    assert pasted.exit_code == 2 and TOKEN not in pasted.output and "环境变量名" in pasted.output


def test_the_run_artifact_lists_fifty_reasons_and_counts_the_rest():
    """A pull that set aside thousands lists the first fifty in its artifact, as an import lists
    twenty in a terminal, and says how many more and where all of them are."""
    from qcycle.flows.intake import summary_markdown

    from qcycle.intake.report import ImportReport

    report = ImportReport(source="http://127.0.0.1/x", round_code="sc-jbgs-2023")
    for n in range(1, 61):
        report.count_aside(where=f"第 1 页第 {n} 条", raw="{}", reason="提交单位 'X' 不在本周期的单位名单中",
                           record_id=None)
    text = summary_markdown(report)
    assert "- 第 1 页第 50 条：" in text and "第 1 页第 51 条" not in text
    assert text.endswith("- ……另有 10 条（本次共隔离 60 条），全部原因：qcycle quarantine --round sc-jbgs-2023")


def test_prefect_task_and_flow_wrap_the_same_pull(qcycle_home, source_server, token_env):
    from qcycle.flows.intake import intake, summary_markdown
    from qcycle.tasks.intake import pull_http_source

    from qcycle import db

    db.upgrade()  # as the flow does before its task
    report = pull_http_source.fn(str(P1), source_server.url("/mixed"), token_env, page_size=10,
                                 timeout=2, retries=0)  # fmt: skip
    assert report.counts["quarantined"] == 5
    assert "| 隔离 | 5 |" in summary_markdown(report) and "第 1 页第 4 条" in summary_markdown(
        report
    )
    # The task retries outages, not a refused token or a wrong address.
    from prefect.states import Failed
    from qcycle.tasks.retrying import worth_retrying

    from qcycle.errors import ConfigError, IntakeError, StateError
    from qcycle.intake import SourceFailed

    for retryable in (True, False):
        failed = Failed(data=SourceFailed("x", url="u", retryable=retryable))
        assert worth_retrying(pull_http_source, None, failed) is retryable
    # Nor does any task retry a wrong file or a refused change; a locked database, it does.
    assert not worth_retrying(None, None, Failed(data=ConfigError([])))
    assert not worth_retrying(None, None, Failed(data=StateError("截止时间改到了已过的时间")))
    assert worth_retrying(None, None, Failed(data=OSError("database is locked")))
    busy = IntakeError("与同时进行的导入冲突，请重试")
    busy.retryable = True  # as ingest_many raises it
    assert worth_retrying(None, None, Failed(data=busy))
    assert intake.name == "qcycle-intake"
    assert set(intake.parameters.properties) == {
        "programme_file", "url", "token_env", "page_size", "timeout", "retries",
        "deadline", "max_page_bytes", "allow_redirects_to"}  # fmt: skip
