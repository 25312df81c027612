"""Delivering a batch of rendered messages: concurrent across endpoints, paced within each.

Messages are grouped into one lane per endpoint (one bot, one SMTP server, one sink folder).
A dispatcher in the calling thread starts a send whenever a worker is free, the lane has room
(bots: one send at a time, so a bot receives its messages in order) and the endpoint's rate
limit allows it; lanes that must wait are parked on a timer heap instead of holding a worker,
so one slow bot never starves the others.

Retryable failures are tried again within the call, up to ``attempts`` sends per message,
waiting the service's ``retry_after`` or an exponential backoff. When the wait would exceed
``max_wait`` the retryable result is returned as it is: retrying across runs, dead letters and
idempotency belong to the outbox, which calls this. A message that fails every attempt because its
endpoint is down (no reply, a server error) hands that endpoint's other messages back unsent.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from qcycle.errors import DeliveryError
from qcycle.notify.channels import Channel, SendResult, open_channel
from qcycle.notify.parts import Part
from qcycle.notify.ratelimit import DEFAULT_LIMITER, Rate, RateLimiter, backoff
from qcycle.notify.redact import LOGGER_NAME, redact

__all__ = ["BACKOFF_BASE_SECONDS", "BACKOFF_CAP_SECONDS", "Message", "deliver_batch", "writes_locally"]

# Within one call, a retryable failure is tried again after ~0.5 s (jittered), doubling up to 8 s.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0

log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class Message:
    """One rendered message for one destination.

    ``channel`` is a reference (``env:NAME``, ``secret:NAME`` or ``sink``), never a URL;
    ``recipient`` is the email address(es) for email channels (ignored by bots); ``parts_sent``,
    ``sent_chars``: how many posts of a long bot message, reaching how far into its text past the
    opening line, arrived in an earlier delivery (the rest is sent, not those again).
    """

    id: str
    channel: str
    subject: str
    body: str
    recipient: str | None = None
    tag: str | None = None
    parts_sent: int = 0
    sent_chars: int = 0


@dataclass
class _Job:
    index: int
    message: Message
    channel: Channel
    attempts: int = 0  # sends of its current post
    not_before: float = 0.0
    part: int = 0  # the one of its parts to send next

    @functools.cached_property
    def parts(self) -> list[Part]:
        """The posts the message takes (a long bot message: several, in order; after posts that arrived
        earlier, those of the rest). Worked out when first sent: the sink's lane writes whole messages."""
        m = self.message
        return self.channel.parts(m.subject, m.body, m.parts_sent, m.sent_chars)

    @property
    def several(self) -> bool:
        """Whether it goes in several posts (or goes on from an earlier try's)."""
        return len(self.parts) > 1 or self.message.parts_sent > 0

    def arrived(self) -> tuple[int, int]:
        """(posts, characters past the opening line) of the message that have arrived, in all."""
        if not self.part:
            return self.message.parts_sent, self.message.sent_chars
        return self.message.parts_sent + self.part, self.parts[self.part - 1].upto

    def result(self, result: SendResult) -> SendResult:
        """A final result that says how far a long message came: a failure is sent on from there,
        and ops read it."""
        parts, chars = self.arrived()
        if result.ok or not parts:
            return result
        total = self.message.parts_sent + len(self.parts)
        return dataclasses.replace(result, parts_sent=parts, sent_chars=chars, error=(
            f"长消息共{total}条，已送达前{parts}条，其余未发出：{result.error or ''}"))


@dataclass
class _Lane:
    endpoint: str
    channel: Channel
    queue: deque[_Job] = field(default_factory=deque)
    in_flight: int = 0
    parked: bool = False


def deliver_batch(
    messages: Iterable[Message],
    *,
    max_workers: int = 8,
    attempts: int = 3,
    max_wait: float = 10.0,
    backoff_base: float | None = None,
    backoff_cap: float | None = None,
    limiter: RateLimiter | None = None,
    time_budget: float | None = None,
    rates: Mapping[str, Rate] | None = None,
    on_result: Callable[[str, SendResult], None] | None = None,
    on_start: Callable[[str, int | None], bool] | None = None,
    on_arrived: Callable[[str, int, int], None] | None = None,
) -> list[tuple[str, SendResult]]:
    """Send every message; return ``(message.id, result)`` in the order given. Never raises
    for a delivery problem: a channel that cannot be opened fails its messages (not retryable).

    ``attempts``: sends per message within this call (per post of a long bot message, each
    post paced by the endpoint's rate like any send). ``max_wait``: the longest pause (service
    ``retry_after``, backoff or a rate-limit penalty) worth waiting for here instead of handing
    the retryable result back. ``backoff_base``, ``backoff_cap``: the backoff between those sends (default
    :data:`BACKOFF_BASE_SECONDS`, :data:`BACKOFF_CAP_SECONDS`). ``limiter``: shared per-endpoint limits (the process default).
    ``time_budget``: seconds after which no new send starts; messages not yet sent come back
    retryable (rate limits make a call long: 100 messages to one WeCom bot take ~6 minutes).
    ``rates``: per channel reference, a limit replacing the channel's own (a programme's
    ``rate_per_minute``). ``on_result(message.id, result)`` is called in the calling thread as
    soon as a message's final result is known, before the next message to the same endpoint is
    started: the outbox records each result there (or, for the sink, in the claim's transaction).
    ``on_start(message.id, upto)`` is called before each request leaves (``upto``: for a message in
    several posts, how far into its text past the opening line the one leaving reaches, else None);
    when it returns False the message is not sent (the outbox: its row is no longer this pass's) and
    comes back unsent, not an attempt. ``on_arrived(message.id, posts, upto)`` is called when a post of
    several but the last has arrived.
    """
    items = list(messages)
    limiter = limiter or DEFAULT_LIMITER
    attempts = max(1, attempts)
    results = _Results(items, on_result)

    channels: dict[str, Channel | SendResult] = {}
    for ref in dict.fromkeys(m.channel for m in items):
        try:
            channel = channels[ref] = open_channel(ref)
            if rates and ref in rates:
                channel.rate = rates[ref]
        except DeliveryError as exc:
            channels[ref] = SendResult.failure(f"渠道 {ref} 无法使用：{exc}", retryable=False)
        except Exception as exc:  # noqa: BLE001 - a bug, but no exception out of a delivery
            channels[ref] = SendResult.failure(
                f"渠道 {ref} 无法使用：{type(exc).__name__}: {exc}", retryable=False
            )

    lanes: dict[str, _Lane] = {}
    for index, message in enumerate(items):
        opened = channels[message.channel]
        if isinstance(opened, SendResult):
            results[index] = opened
            continue
        lane = lanes.get(opened.endpoint)
        if lane is None:
            lane = lanes[opened.endpoint] = _Lane(opened.endpoint, opened)
        job = _Job(index, message, opened)
        if message.parts_sent and not job.parts:  # every post arrived in an earlier try (blank lines left)
            results[index] = SendResult.success()
            continue
        lane.queue.append(job)

    for lane in lanes.values():
        if lane.channel.local and lane.channel.rate is None:
            _write_local(lane, results)
    lanes = {endpoint: lane for endpoint, lane in lanes.items() if lane.queue}
    if lanes:
        deadline = None if time_budget is None else time.monotonic() + time_budget
        try:
            _Dispatcher(
                lanes,
                results,
                max_workers,
                attempts,
                max_wait,
                BACKOFF_BASE_SECONDS if backoff_base is None else backoff_base,
                BACKOFF_CAP_SECONDS if backoff_cap is None else backoff_cap,
                limiter,
                deadline,
                on_start,
                on_arrived,
            ).run()
        finally:
            for opened in channels.values():
                if isinstance(opened, Channel):
                    opened.close()  # email: no kept SMTP connection outlives the batch

    sent = sum(1 for r in results.values() if r.ok)
    log.info("delivered %d of %d messages", sent, len(items))
    return [(message.id, results[index]) for index, message in enumerate(items)]


def writes_locally(refs: Iterable[str], rates: Mapping[str, Rate] | None = None) -> bool:
    """Whether :func:`deliver_batch` writes every message to these channel references in one go:
    each a local channel (the sink) without a rate limit, so no request is ever in flight. A
    ``secret:`` reference is taken as remote unread (reading it asks Prefect for the block)."""
    for ref in set(refs):
        if (rates and ref in rates) or ref.strip().startswith("secret:"):
            return False
        try:
            channel = open_channel(ref)
        except Exception:  # noqa: BLE001 - deliver_batch reports it; here it is just not local
            return False
        try:
            if not channel.local or channel.rate is not None:
                return False
        finally:
            channel.close()
    return True


class _Results(dict[int, SendResult]):
    """Final results by message index; reports each one to ``on_result`` as it is set."""

    def __init__(self, items: list[Message], on_result: Callable[[str, SendResult], None] | None):
        super().__init__()
        self.messages = items  # not ``items``: that is dict's own method
        self.on_result = on_result

    def __setitem__(self, index: int, result: SendResult) -> None:
        super().__setitem__(index, result)
        if self.on_result is not None:
            self.on_result(self.messages[index].id, result)


def _write_local(lane: _Lane, results: _Results) -> None:
    """A local lane without a rate limit (the sink) written in one call: no worker, timer or
    future per message. A message whose write failed stays queued for the dispatcher, which
    tries it again as any other (this first write is not counted as one of its attempts)."""
    jobs = list(lane.queue)
    lane.queue.clear()
    for job, result in zip(jobs, lane.channel.send_many([job.message for job in jobs]), strict=True):
        if result.ok or not result.retryable:
            results[job.index] = result
        else:
            lane.queue.append(job)


def _done_now(send: Callable[[], SendResult]) -> cf.Future[SendResult]:
    """Run ``send`` in this thread; its result as a finished future (for local channels)."""
    future: cf.Future[SendResult] = cf.Future()
    try:
        future.set_result(send())
    except Exception as exc:  # noqa: BLE001 - finish() turns it into a failed result
        future.set_exception(exc)
    return future


class _Dispatcher:
    def __init__(
        self,
        lanes: dict[str, _Lane],
        results: _Results,
        max_workers: int,
        attempts: int,
        max_wait: float,
        backoff_base: float,
        backoff_cap: float,
        limiter: RateLimiter,
        deadline: float | None,
        on_start: Callable[[str, int | None], bool] | None = None,
        on_arrived: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.on_start = on_start
        self.on_arrived = on_arrived
        self.lanes = lanes
        self.deadline = deadline
        self.results = results
        self.max_workers = max(1, max_workers)
        self.attempts = attempts
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.limiter = limiter
        self.heap: list[tuple[float, int, str]] = []
        self.seq = itertools.count()
        self.running: dict[cf.Future[SendResult], tuple[_Lane, _Job]] = {}
        self.last_result: dict[int, SendResult] = {}

    def park(self, lane: _Lane, at: float) -> None:
        if lane.parked or not lane.queue or lane.in_flight >= lane.channel.parallel:
            return
        if self.deadline is not None and at >= self.deadline:
            self.give_up(lane, "not sent within the time budget", retry_after=None)
            return
        lane.parked = True
        heapq.heappush(self.heap, (at, next(self.seq), lane.endpoint))

    def run(self) -> None:
        now = time.monotonic()
        for lane in self.lanes.values():
            self.park(lane, now)
        with cf.ThreadPoolExecutor(
            max_workers=self.max_workers, thread_name_prefix="qcycle-send"
        ) as pool:
            while self.heap or self.running:
                self.launch_ready(pool)
                timeout = None
                if self.heap and len(self.running) < self.max_workers:
                    timeout = max(0.0, self.heap[0][0] - time.monotonic())
                if not self.running:
                    time.sleep(timeout or 0.0)
                    continue
                done, _ = cf.wait(self.running, timeout=timeout, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    self.finish(future)

    def launch_ready(self, pool: cf.ThreadPoolExecutor) -> None:
        while self.heap and len(self.running) < self.max_workers:
            now = time.monotonic()
            if self.heap[0][0] > now:
                return
            _, _, endpoint = heapq.heappop(self.heap)
            lane = self.lanes[endpoint]
            lane.parked = False
            if not lane.queue or lane.in_flight >= lane.channel.parallel:
                continue
            job = lane.queue[0]
            if job.not_before > now:
                self.park(lane, job.not_before)
                continue
            held = self.limiter.penalty_remaining(endpoint)
            if held > self.max_wait:
                self.give_up(lane, f"not sent, endpoint rate-limited for {held:.0f}s more", held)
                continue
            wait = self.limiter.try_acquire(endpoint, lane.channel.rate)
            if wait > 0:
                self.park(lane, now + wait)
                continue
            lane.queue.popleft()
            message = job.message
            if self.on_start is not None and not job.channel.local and not self.on_start(
                    message.id, job.parts[job.part].upto if job.several else None):
                # Recorded before the request leaves, so a crash can tell "never sent" apart (a local
                # write leaves nothing in flight to tell apart), with how far a post of a long message
                # reaches. Refused: the row is another run's now (it took the stale lease over), which sends it.
                self.results[job.index] = job.result(SendResult.failure(
                    f"{lane.channel.kind}: not sent, its lease was taken over by another run", retryable=True,
                    attempted=job.part > 0))
                self.park(lane, now)
                continue
            lane.in_flight += 1
            job.attempts += 1
            part = job.parts[job.part]
            send = functools.partial(job.channel.send, part.title, part.text,
                                     recipient=message.recipient, tag=message.tag, message_id=message.id)
            if job.channel.local:
                future = _done_now(send)
            else:
                future = pool.submit(send)
            self.running[future] = (lane, job)
            self.park(lane, now)

    def finish(self, future: cf.Future[SendResult]) -> None:
        lane, job = self.running.pop(future)
        lane.in_flight -= 1
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - Channel.send does not raise; be sure anyway
            result = SendResult.failure(f"{type(exc).__name__}: {exc}", retryable=False)
        now = time.monotonic()
        if result.retry_after is not None and not result.ok:
            # The service said "too fast": hold the whole endpoint, not just this message.
            self.limiter.penalize(lane.endpoint, result.retry_after)
        if result.ok and job.part + 1 < len(job.parts):
            # The next post of a long message goes next (the lane's order), paced like any send; how
            # far it came is recorded first (a crash now resends nothing that arrived).
            job.part, job.attempts = job.part + 1, 0
            self.last_result.pop(job.index, None)
            if self.on_arrived is not None:
                self.on_arrived(job.message.id, *job.arrived())
            lane.queue.appendleft(job)
        elif result.ok or not result.retryable or job.attempts >= self.attempts:
            self.settle(lane, job, result)
        else:
            delay = result.retry_after
            if delay is None:
                delay = backoff(job.attempts - 1, self.backoff_base, self.backoff_cap)
            if delay > self.max_wait:
                self.settle(lane, job, result)
            else:
                self.last_result[job.index] = result
                log.info(
                    "retrying %s via %s in %.2fs (attempt %d of %d): %s",
                    job.message.id,
                    lane.endpoint,
                    delay,
                    job.attempts + 1,
                    self.attempts,
                    redact(result.error or ""),
                )
                job.not_before = now + delay
                lane.queue.appendleft(job)  # keeps the lane's order
        if lane.queue:
            self.park(lane, max(now, lane.queue[0].not_before))

    def settle(self, lane: _Lane, job: _Job, result: SendResult) -> None:
        """Set a message's final result. One that failed every attempt because the endpoint
        itself is down (no reply, or a server error) takes the lane's queue with it: the rest
        would fail the same way, each paying its attempts and its share of the rate limit (a
        dead bot held a reconcile for minutes). They fail unsent, as failed deliveries: the
        outbox retries them next run and gives them up with the first, and ops hear of all."""
        self.results[job.index] = job.result(result)
        if not result.ok and result.retryable and result.attempted and (
                result.status_code is None or result.status_code >= 500):
            error = (result.error or "").removeprefix(f"{lane.channel.kind}: ")
            self.give_up(lane, f"not sent, the endpoint failed the message before it ({error})",
                         retry_after=None, attempted=True)

    def give_up(self, lane: _Lane, why: str, retry_after: float | None, attempted: bool = False) -> None:
        """Hand the lane's queued messages back unsent (retryable): the endpoint is held longer
        than we wait here, or the time budget is spent (not attempts), or it is down
        (``attempted``: a failed delivery). A message retried in this call keeps its last real
        result."""
        while lane.queue:
            job = lane.queue.popleft()
            if job.index in self.last_result:
                self.results[job.index] = job.result(self.last_result[job.index])
                continue
            self.results[job.index] = job.result(SendResult.failure(
                f"{lane.channel.kind}: {why}", retryable=True, retry_after=retry_after,
                # Some of its posts went in this call: an attempt, whatever held the rest back.
                attempted=attempted or job.part > 0,
            ))
