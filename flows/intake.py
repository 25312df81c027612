"""The intake flow: pull a round's submissions from an HTTP source, on a schedule.

Parameters name things (programme file, URL, the environment variable holding the token);
they never carry the token, since Prefect shows parameters in plain text. Run it every
working hour, e.g. ``python -m flows.intake config/programmes/sc-jbgs-2023.yaml URL ENV``
serves it with a cron schedule in Asia/Shanghai.
"""

from __future__ import annotations

import sys
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from qcycle.tasks.intake import pull_http_source
from qcycle.tasks.runlog import run_log, run_name

from qcycle import db
from qcycle.intake.report import STATUS_LABELS, STATUSES, ImportReport

__all__ = ["intake", "serve", "summary_markdown"]

# Every 30 minutes in office hours on weekdays (ingest is idempotent: pulling again is free).
DEFAULT_CRON = "*/30 8-18 * * 1-5"


def summary_markdown(report: ImportReport) -> str:
    """Counts and quarantined rows of one pull, for the run's artifact."""
    lines = [f"## 收取材料：{report.source}", "", "| 结果 | 条数 |", "|---|---|"]
    lines += [f"| {STATUS_LABELS[s]} | {report.counts.get(s, 0)} |" for s in STATUSES]
    if report.quarantined:
        lines += ["", "### 隔离记录", ""]
        lines += [f"- {line}" for line in report.aside_reasons(50)]
    return "\n".join(lines)


@flow(name="qcycle-intake", description="收取材料：从 HTTP 接口分页拉取申报、进展报告、评分等，逐条受理或隔离",
      validate_parameters=True, flow_run_name=run_name("收取材料", flow=True))  # fmt: skip
def intake(
    programme_file: str,
    url: str,
    token_env: str | None = None,
    page_size: int = 100,
    timeout: float = 10,
    retries: int = 4,
    deadline: float | None = None,
    max_page_bytes: int | None = None,
    allow_redirects_to: list[str] | None = None,
) -> dict[str, Any]:
    """Pull one source into the round of ``programme_file``; returns the report as a dict.

    Args:
        timeout: 每个请求的总时限（秒：连接、响应头与全部内容）
        deadline: 整次拉取的总时限（秒）；留空为 1800
        max_page_bytes: 单页响应的上限（字节）；超过则隔离该页并停止；留空为 20 MiB
        allow_redirects_to: 除本地址的来源外，允许重定向去的来源（如 https://files.example.cn）
    """
    logger = run_log()
    db.upgrade()  # idempotent; a scheduled run may be the first to touch this database
    report = pull_http_source(programme_file, url, token_env, page_size, timeout, retries,
                              deadline, max_page_bytes, allow_redirects_to)
    logger.info("%s：%s（%d 页）", report.source, report.summary(), report.pages)
    for q in report.quarantined[:20]:
        logger.warning("隔离 %s：%s", q.where, q.reason)
    slug = "".join(
        ch if ch.isascii() and ch.isalnum() else "-" for ch in report.round_code.lower()
    ).strip("-")
    create_markdown_artifact(summary_markdown(report), key=f"{slug}-intake",
                             description=report.summary())  # fmt: skip
    return report.as_dict()


def serve(programme_file: str, url: str, token_env: str | None, cron: str = DEFAULT_CRON) -> None:
    """Serve the intake flow on a cron schedule (Asia/Shanghai) until interrupted."""
    from prefect.schedules import Cron

    intake.serve(
        name="qcycle-intake",
        schedule=Cron(cron, timezone="Asia/Shanghai"),
        parameters={"programme_file": programme_file, "url": url, "token_env": token_env},
        pause_on_shutdown=False,
    )


if __name__ == "__main__":
    serve(*sys.argv[1:4])
