"""Per-endpoint rate limits and retry backoff.

Bot services limit each bot, not each caller: WeCom and DingTalk allow 20 messages a minute per
bot, Feishu 100 a minute and 5 a second. One :class:`RateLimiter` is shared by every thread of
a process so a fan-out across many bots runs concurrently while each bot stays within its limit.
(Limits are per process: two worker processes sending to one bot share nothing.)

Times here are real monotonic seconds, not :mod:`qcycle.clock` (which may be frozen or virtual):
a rate limit is about the service's wall clock.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from qcycle.errors import DeliveryError

__all__ = ["DEFAULT_LIMITER", "Rate", "RateLimiter", "TokenBucket", "backoff", "retry_after"]


@dataclass(frozen=True)
class Rate:
    """At most ``count`` messages in any window of ``per`` seconds, with bursts of ``burst``.

    The bucket holds ``burst`` tokens and refills at ``(count - burst) / per`` a second, so even
    a full bucket followed by a steady stream never exceeds ``count`` in any ``per`` window
    (a bucket refilled at ``count / per`` would allow ``burst + count`` in the first window).
    """

    count: int
    per: float
    burst: int | None = None

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0:
            raise DeliveryError(f"限速应为正的条数与正的秒数：{self}")
        if self.burst is not None and not 1 <= self.burst <= self.count:
            raise DeliveryError(f"突发条数应在 1 与总条数之间：{self}")

    @property
    def capacity(self) -> int:
        if self.burst is not None:
            return self.burst
        return max(1, self.count // 4)

    @property
    def refill_per_second(self) -> float:
        # count == burst == 1 still needs a refill: one message per window.
        return max(self.count - self.capacity, 1) / self.per

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"20/60"`` (20 per 60 s) or ``"20/60/5"`` (bursts of 5)."""
        parts = [p.strip() for p in text.split("/")]
        try:
            if len(parts) == 2:
                return cls(int(parts[0]), float(parts[1]))
            if len(parts) == 3:
                return cls(int(parts[0]), float(parts[1]), int(parts[2]))
        except ValueError as exc:
            raise DeliveryError(f"限速 {text!r} 应写作 条数/秒数[/突发条数]（COUNT/SECONDS[/BURST]）") from exc
        raise DeliveryError(f"限速 {text!r} 应写作 条数/秒数[/突发条数]（COUNT/SECONDS[/BURST]）")


class TokenBucket:
    """A thread-safe token bucket; :meth:`reserve` never sleeps."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(rate.capacity)
        self._stamp = clock()
        self._blocked_until = 0.0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(
            float(self.rate.capacity), self._tokens + elapsed * self.rate.refill_per_second
        )
        self._stamp = now

    def reserve(self) -> float:
        """Take a token now and return 0, or return the seconds until one is available."""
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                return self._blocked_until - now
            self._refill(now)
            # The epsilon absorbs float rounding: a wait too small to move a large clock
            # value would otherwise loop forever.
            if self._tokens >= 1.0 - 1e-9:
                self._tokens = max(0.0, self._tokens - 1.0)
                return 0.0
            return max((1.0 - self._tokens) / self.rate.refill_per_second, 1e-6)

    def penalize(self, seconds: float) -> None:
        """The service said "retry after ``seconds``": no token until then. The bucket is not
        emptied: the service's own figure is the better guide to when sending may resume."""
        with self._lock:
            now = self._clock()
            self._blocked_until = max(self._blocked_until, now + max(0.0, seconds))

    def penalty_remaining(self) -> float:
        with self._lock:
            return max(0.0, self._blocked_until - self._clock())


class RateLimiter:
    """Token buckets by endpoint id (e.g. ``"wecom:1a2b3c4d5e"``), shared across threads.

    A penalty (the service answered "too fast") holds an endpoint whatever its rate, even one
    without a configured rate.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._blocked_until: dict[str, float] = {}

    def _bucket(self, endpoint: str, rate: Rate) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(endpoint)
            if bucket is None or bucket.rate != rate:
                # A changed rate (new URL options) starts a fresh bucket.
                bucket = self._buckets[endpoint] = TokenBucket(rate, self._clock)
            return bucket

    def try_acquire(self, endpoint: str, rate: Rate | None) -> float:
        """0 when a message may go now (the token is taken), else seconds to wait."""
        held = self.penalty_remaining(endpoint)
        if held > 0:
            return held
        if rate is None:
            return 0.0
        return self._bucket(endpoint, rate).reserve()

    def acquire(self, endpoint: str, rate: Rate | None, timeout: float | None = None) -> bool:
        """Block until a message may go; False if that would take longer than ``timeout``."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            wait = self.try_acquire(endpoint, rate)
            if wait <= 0:
                return True
            if deadline is not None and self._clock() + wait > deadline:
                return False
            self._sleep(wait)

    def penalize(self, endpoint: str, seconds: float) -> None:
        """Hold ``endpoint`` for ``seconds`` (the service's ``retry_after``)."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._blocked_until[endpoint] = max(self._blocked_until.get(endpoint, 0.0), until)
            bucket = self._buckets.get(endpoint)
        if bucket is not None:
            bucket.penalize(seconds)

    def penalty_remaining(self, endpoint: str) -> float:
        with self._lock:
            until = self._blocked_until.get(endpoint)
            if until is None:
                return 0.0
            remaining = until - self._clock()
            if remaining <= 0:
                del self._blocked_until[endpoint]
                return 0.0
            return remaining


def backoff(
    attempt: int,
    base: float = 1.0,
    cap: float = 60.0,
    jitter: bool = True,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential, full jitter.

    Full jitter (uniform over ``[0, min(cap, base * 2**attempt)]``) spreads the retries of many
    senders that failed together instead of having them return in lockstep.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    if not jitter:
        return ceiling
    return (rng or random).uniform(0.0, ceiling)


# The process-wide limiter deliveries share unless given their own.
DEFAULT_LIMITER = RateLimiter()


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number, or an HTTP date), None without one.

    One reading for the bot channels and the HTTP intake."""
    raw = headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
