"""Tasks that queue messages in the outbox and deliver them, batched (not one task per message)."""

from __future__ import annotations

import datetime as dt
import uuid

from prefect import task
from prefect.cache_policies import NONE

from qcycle import db
from qcycle.lifecycle import Draft
from qcycle.loader import LoadedProgramme
from qcycle.notify.outbox import DeliveryReport, deliver_due, queue_drafts

__all__ = ["deliver_messages", "queue_messages"]


@task(name="消息入队", cache_policy=NONE, retries=2, retry_delay_seconds=2)
def queue_messages(loaded: LoadedProgramme, round_id: uuid.UUID, drafts: list[Draft]) -> int:
    """Render drafts and write them to the outbox once each (idempotency key per unit and channel)."""
    if not drafts:
        return 0
    with db.session_scope() as session:
        return queue_drafts(session=session, programme=loaded.programme, round_id=round_id,
                            drafts=drafts, template_dir=loaded.path.parent / "templates" / loaded.programme.round.code)


@task(name="投递消息", cache_policy=NONE, retries=1, retry_delay_seconds=5)
def deliver_messages(loaded: LoadedProgramme | str, round_id: uuid.UUID, as_of: dt.datetime,
                     channel_override: str | None = None) -> DeliveryReport:
    """Deliver every message that is due, over a bounded pool; failures are retried later.

    ``loaded`` may be the programme file's name (cheaper for Prefect to record as an input).
    """
    if isinstance(loaded, str):
        from tasks.rounds import cached_programme

        loaded = cached_programme(loaded)
    return deliver_due(programme=loaded.programme, round_id=round_id, now=as_of,
                       channel_override=channel_override,
                       template_dir=loaded.path.parent / "templates" / loaded.programme.round.code)
