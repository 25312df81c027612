"""The task that delivers queued messages, batched (not one task per message)."""

from __future__ import annotations

import datetime as dt
import uuid

from prefect import task
from prefect.cache_policies import NONE

from qcycle.notify.outbox import DeliveryReport, deliver_due
from tasks.rounds import cached_programme

__all__ = ["deliver_messages"]


@task(name="投递消息", cache_policy=NONE, retries=1, retry_delay_seconds=5)
def deliver_messages(programme_file: str, round_id: uuid.UUID, as_of: dt.datetime,
                     channel_override: str | None = None) -> DeliveryReport:
    """Deliver every message that is due, over a bounded pool; failures are retried later.

    The programme travels as its file name: cheaper for Prefect to record as an input.
    """
    loaded = cached_programme(programme_file)
    return deliver_due(programme=loaded.programme, round_id=round_id, now=as_of,
                       channel_override=channel_override, template_dir=loaded.template_dir)
