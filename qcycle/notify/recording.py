"""Recording a delivery pass's results on its outbox rows, as :func:`qcycle.notify.deliver.deliver_batch`
reports them (:class:`Recorder`, its ``on_result``; :class:`Starter`, its ``on_start``).

Rows sent under a lease are recorded each in a small transaction of its own, committed at once and
guarded (a row no longer ``sending`` was cancelled by ops meanwhile, and stays so). The rows of a
pass whose every channel is the local sink are claimed, written and recorded in the claim's own
transaction instead (:class:`InClaim`): nothing is in flight there, so they need no lease, and
leasing each row only to record it sent a moment later rewrote every row once more (3–4 % of a
national year's floor).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from qcycle import clock, crud, db
from qcycle.notify.channels import SendResult
from qcycle.notify.ratelimit import backoff
from qcycle.notify.redact import LOGGER_NAME
from qcycle.notify.report import DeliveryReport
from qcycle.settings import Settings

__all__ = ["Claimed", "InClaim", "Recorder", "Starter", "connection_for", "retry_wait"]

log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class Claimed:
    """A row claimed for sending, as the claim read it (``attempts``: counting this send)."""

    id: uuid.UUID
    channel: str
    unit: str
    subject: str
    body: str
    tag: str | None
    attempts: int
    digest: bool
    action: str  # its timetable action: a group post of an invitation names nobody (groups.py)
    # A long bot message's posts that arrived in an earlier try, and how far into its text they reach.
    parts_sent: int = 0
    sent_chars: int = 0


@dataclass(frozen=True)
class InClaim:
    """Results recorded inside the claim's transaction, still open on ``connection``, on rows it
    claimed without leasing them: each written with what ``lease`` would have written."""

    connection: Connection
    lease: crud.Lease


@contextlib.contextmanager
def connection_for(in_claim: InClaim | None) -> Iterator[Connection]:
    """Where a result is written: the claim's own open transaction, or one of its own committed at once."""
    if in_claim is not None:
        yield in_claim.connection
        return
    with db.get_engine().begin() as conn:  # a Core connection: no ORM session per result
        yield conn


def retry_wait(attempts: int, settings: Settings, retry_after: float | None) -> float:
    """Exponential backoff with "equal jitter": never less than half the step, so a retry is
    never due again within the same run."""
    ceiling = backoff(attempts - 1, settings.notify_backoff_base_seconds,
                      settings.notify_backoff_cap_seconds, jitter=False)
    wait = ceiling / 2 + random.uniform(0.0, ceiling / 2)
    return max(retry_after or 0.0, wait)


class Recorder:
    """``on_result`` for :func:`deliver_batch`: one small committed transaction per result, or
    every result in the claim's transaction (``in_claim``)."""

    def __init__(self, claimed: Mapping[str, Claimed], now: dt.datetime, settings: Settings,
                 report: DeliveryReport, posts: Mapping[str, list[str]], in_claim: InClaim | None = None,
                 holder: str | None = None) -> None:
        self.claimed = claimed  # by the id its message carries (str(row.id))
        self.posts = posts
        self.now = now
        self.settings = settings
        self.report = report
        self.in_claim = in_claim
        self.unleased = in_claim.lease if in_claim else None  # what a result is written with in the claim
        # Leased rows: written only while still leased to this pass (another run may take a stale lease over).
        self.holder = None if in_claim else holder
        self.sent_locally: list[str] = []
        self.answered: set[str] = set()  # the rows a result has come for

    def __call__(self, message_id: str, result: SendResult) -> None:
        # A post to a group carries several rows (``posts``): each gets the post's result.
        ids = self.posts.get(message_id, [message_id])
        self.answered.update(ids)
        if result.ok and result.local:
            # A local write (the sink) has nothing in flight to be unsure about: its sends are
            # recorded a few hundred per statement (a crash before that rewrites them).
            self.sent_locally.extend(ids)
            if len(self.sent_locally) >= 500:
                self.flush()
            return
        lead = self.claimed[message_id]
        if result.ok:
            values, outcome = {"status": "sent", "sent_at": clock.now(), "last_error": None}, "sent"
        elif not result.attempted:
            # Nothing went out (the endpoint is held longer than we wait): not an attempt.
            wait = result.retry_after if result.retry_after else self.settings.notify_backoff_base_seconds
            values = {"status": "queued", "last_error": result.error,
                      "next_attempt_at": self.now + dt.timedelta(seconds=wait)}
            outcome = "requeued"
        elif result.retryable and lead.attempts < self.settings.notify_max_attempts:
            # One wait for the whole post, so its rows are due again together and go out as one.
            wait = retry_wait(lead.attempts, self.settings, result.retry_after)
            values = {"status": "failed", "last_error": result.error,
                      "next_attempt_at": self.now + dt.timedelta(seconds=wait)}
            outcome = "failed"
        else:
            values, outcome = {"status": "dead", "last_error": result.error}, "dead"
        # One statement per row, a post's rows committed together at once (leased: guarded, so a cancel
        # from the CLI meanwhile wins): recorded before the next send to the same endpoint starts.
        settled = []
        with connection_for(self.in_claim) as conn:
            for row_id in ids:
                c = self.claimed[row_id]
                own = {**values, "attempts": max(0, c.attempts - 1)} if outcome == "requeued" else values
                if crud.settle_message(connection=conn, message_id=c.id, values=own, unleased=self.unleased,
                                       holder=self.holder):
                    settled.append(c)
        for c in settled:
            self._count(c, outcome, result.error)

    def _count(self, c: Claimed, outcome: str, error: str | None) -> None:
        report = self.report
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.by_channel.setdefault(c.channel, Counter())[outcome] += 1
        if outcome in ("failed", "dead"):
            report.failures.append({"id": str(c.id), "unit": c.unit, "channel": c.channel,
                                    "subject": c.subject, "status": outcome, "attempts": c.attempts,
                                    "error": error, "digest": c.digest})

    def flush(self) -> None:
        """Record the local sends held back, in one statement (leased: guarded)."""
        rows, self.sent_locally = [self.claimed[m] for m in self.sent_locally], []
        if not rows:
            return
        with connection_for(self.in_claim) as conn:
            done = set(crud.mark_messages_sent(connection=conn, ids=[c.id for c in rows], at=clock.now(),
                                               unleased=self.unleased, holder=self.holder))
        channels = Counter(c.channel for c in {c.id: c for c in rows if c.id in done}.values())  # each row once
        self.report.sent += sum(channels.values())
        for channel, count in channels.items():
            self.report.by_channel.setdefault(channel, Counter())["sent"] += count


class Starter:
    """``on_start`` for :func:`deliver_batch`: stamp ``started_at`` before the request leaves
    (on every row a group post carries: after a crash, each of them may have arrived), with, for a
    post of a long message, how far it reaches and a renewed lease; ``arrived`` its ``on_arrived``:
    how far a long message has come once a post but its last has arrived. Only on rows still leased to
    ``holder``: a row another run took over (its lease stale: a paced lane can take longer than that)
    is that run's to send, and this one leaves it (``__call__`` returns False).

    ``renew_every`` (seconds of real time, from ``leased_at``): at the first send's start once that long has
    passed since the lease was taken or last renewed, the lease of every row of the pass still waiting is
    renewed, in a transaction of its own. A paced lane (20 posts a minute) can outlast the stale-lease rule:
    another run would take its waiting rows over and post them alongside it, at twice the rate the bot allows.
    Best effort: a renewal that fails (a lock, a lost connection) is logged and tried at the next send, and
    the send goes on. Renewals come with sends: a lane of one send in several minutes (a URL's own
    ``rate=1/600``) can still lose its waiting rows, and those of a stuck lane are kept while others send."""

    def __init__(self, claimed: Mapping[str, Claimed], posts: Mapping[str, list[str]], holder: str,
                 leased_at: dt.datetime | None = None, renew_every: float | None = None) -> None:
        self.claimed = claimed
        self.posts = posts
        self.holder = holder
        self.renewed_at = leased_at
        self.renew_every = None if renew_every is None else dt.timedelta(seconds=renew_every)

    def _ids(self, message_id: str) -> list[uuid.UUID]:
        return [self.claimed[i].id for i in self.posts.get(message_id, [message_id])]

    def _renew(self) -> None:
        if self.renew_every is None or self.renewed_at is None:
            return
        if (wall := clock.wall_now()) - self.renewed_at < self.renew_every:
            return
        try:
            with connection_for(None) as conn:
                crud.renew_leases(connection=conn, ids=[c.id for c in self.claimed.values()], at=wall,
                                  holder=self.holder)
        except DBAPIError as e:
            log.warning("续租发送中的消息失败（下一次发送时再试）：%s", e)
            return
        self.renewed_at = wall

    def __call__(self, message_id: str, upto: int | None = None) -> bool:
        self._renew()
        ids = self._ids(message_id)
        with connection_for(None) as conn:
            stamped = crud.stamp_started(connection=conn, ids=ids, at=clock.now(), sending_chars=upto,
                                         leased_at=None if upto is None else clock.wall_now(), holder=self.holder)
            if stamped == len(ids):
                return True
            # Some row of the post is another run's now: stamped ones go back to unstarted, none is sent here.
            crud.stamp_started(connection=conn, ids=ids, at=None, holder=self.holder)
        return False

    def arrived(self, message_id: str, posts: int, upto: int) -> None:
        with connection_for(None) as conn:
            crud.record_posts_arrived(connection=conn, ids=self._ids(message_id), parts_sent=posts, sent_chars=upto,
                                      holder=self.holder)
