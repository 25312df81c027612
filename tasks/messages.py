"""The task that delivers queued messages, batched (not one task per message)."""

from __future__ import annotations

import datetime as dt
import uuid

from prefect import task
from prefect.cache_policies import NONE
from qcycle.tasks.rounds import cached_programme
from qcycle.tasks.runlog import run_log, run_name

from qcycle.notify.outbox import STATUS_LABELS, DeliveryReport, deliver_due

__all__ = ["deliver_messages"]


@task(name="投递消息", cache_policy=NONE, retries=1, retry_delay_seconds=5, task_run_name=run_name("投递消息"))
def deliver_messages(programme_file: str, round_id: uuid.UUID, as_of: dt.datetime,
                     channel_override: str | None = None) -> DeliveryReport:
    """Deliver every message that is due, over a bounded pool; failures are retried later.

    The programme travels as its file name: cheaper for Prefect to record as an input.
    """
    loaded = cached_programme(programme_file)
    report = deliver_due(programme=loaded.programme, round_id=round_id, now=as_of,
                         channel_override=channel_override, template_dir=loaded.template_dir)
    log = run_log()
    log.info("投递（截至 %s）：%s", f"{as_of:%Y-%m-%d %H:%M}", report.summary())
    for channel, counts in sorted(report.by_channel.items()):
        log.info("渠道 %s：%s", channel, "，".join(f"{STATUS_WORDS.get(k, k)} {n}" for k, n in sorted(counts.items())))
    for holder, n in sorted(report.reclaimed.items()):
        log.warning("收回中断的投递 %d 条（原投递进程 %s 已退出或租约已超时）", n, holder)
    for failure in report.failures:
        log.warning("%s：%s → %s（第 %d 次）：%s", STATUS_WORDS.get(failure["status"], failure["status"]),
                    failure["subject"], failure["unit"], failure["attempts"], failure["error"] or "无错误信息")
    return report


# How a channel's counts read: the statuses, and "held by the endpoint, queued again".
STATUS_WORDS = {**STATUS_LABELS, "requeued": "改期重发"}
