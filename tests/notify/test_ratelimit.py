"""Token buckets and backoff, on a fake clock (no sleeping)."""

from __future__ import annotations

import random
import threading

import pytest

from qcycle.errors import DeliveryError
from qcycle.notify import Rate, RateLimiter, TokenBucket, backoff


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sent_times(rate: Rate, horizon: float, clock: FakeClock) -> list[float]:
    """When a sender that always has work gets to send, over ``horizon`` seconds."""
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    start = clock.now
    stamps = []
    while clock.now - start < horizon:
        limiter.acquire("bot", rate)
        stamps.append(clock.now - start)
    return stamps


@pytest.mark.parametrize("rate", [Rate(20, 60.0), Rate(100, 60.0, burst=5), Rate(4, 1.0, burst=1)])
def test_never_more_than_count_in_any_window(rate: Rate) -> None:
    stamps = sent_times(rate, horizon=rate.per * 5, clock=FakeClock())
    for i, start in enumerate(stamps):
        in_window = [t for t in stamps[i:] if t < start + rate.per - 1e-9]
        assert len(in_window) <= rate.count, (rate, start, len(in_window))
    # and the limit is used, not wasted: close to count per window over the long run
    assert len(stamps) >= rate.count * 3.5


def test_bursts_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(Rate(20, 60.0), clock)  # burst 5, then one every 4 s
    assert [bucket.reserve() for _ in range(5)] == [0.0] * 5
    assert bucket.reserve() == pytest.approx(4.0)
    clock.now += 4.0
    assert bucket.reserve() == 0.0


def test_penalty_holds_an_endpoint_and_only_that_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.penalize("wecom:a", 60.0)
    assert limiter.try_acquire("wecom:a", Rate(20, 60.0)) == pytest.approx(60.0)
    assert limiter.try_acquire("wecom:a", None) == pytest.approx(60.0)  # even without a rate
    assert limiter.try_acquire("wecom:b", Rate(20, 60.0)) == 0.0
    clock.now += 60.0
    assert limiter.try_acquire("wecom:a", Rate(20, 60.0)) == 0.0


def test_limiter_is_shared_safely_across_threads() -> None:
    limiter = RateLimiter()  # real clock; a big window so nothing refills during the test
    rate = Rate(1000, 3600.0, burst=50)
    granted = []

    def worker() -> None:
        for _ in range(20):
            if limiter.try_acquire("bot", rate) == 0.0:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 50


def test_rate_parse() -> None:
    assert Rate.parse("20/60") == Rate(20, 60.0)
    assert Rate.parse("100/60/5") == Rate(100, 60.0, 5)
    with pytest.raises(DeliveryError, match="COUNT/SECONDS"):
        Rate.parse("fast")
    with pytest.raises(DeliveryError, match="限速应为正的条数"):
        Rate(0, 60.0)


def test_backoff_full_jitter_within_bounds() -> None:
    rng = random.Random(7)
    for attempt in range(10):
        ceiling = min(30.0, 0.5 * 2**attempt)
        values = [backoff(attempt, base=0.5, cap=30.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= v <= ceiling for v in values)
        assert max(values) > ceiling * 0.8  # spread over the whole range
    assert backoff(3, base=1.0, cap=5.0, jitter=False) == 5.0
    assert backoff(2, base=1.0, cap=60.0, jitter=False) == 4.0
