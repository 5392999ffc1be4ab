"""Per-sender token buckets."""

import pytest

from kefu.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_the_rate_applies():
    clock = Clock()
    limiter = RateLimiter(burst=3, per_minute=6, clock=clock)  # one message per 10 s
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("a") == pytest.approx(10.0)
    clock.now += 9.9
    assert not limiter.allow("a")
    clock.now += 0.2
    assert limiter.allow("a")


def test_senders_do_not_share_a_bucket():
    limiter = RateLimiter(burst=1, per_minute=1, clock=Clock())
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")


def test_a_quiet_sender_refills_only_up_to_the_burst():
    clock = Clock()
    limiter = RateLimiter(burst=2, per_minute=60, clock=clock)
    limiter.allow("a")
    clock.now += 3600
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]


def test_the_notice_is_sent_at_most_once_per_window():
    clock = Clock()
    limiter = RateLimiter(burst=1, per_minute=1, clock=clock)
    assert limiter.should_notify("a", every_seconds=10)
    clock.now += 5
    assert not limiter.should_notify("a", every_seconds=10)
    clock.now += 5
    assert limiter.should_notify("a", every_seconds=10)


def test_memory_is_bounded_by_evicting_the_least_recently_active():
    limiter = RateLimiter(burst=1, per_minute=1, max_senders=100, clock=Clock())
    limiter.allow("flooded")
    for n in range(1000):
        limiter.allow(f"fake-{n}")
    assert len(limiter) == 100
    assert limiter.allow("flooded")  # forgotten: starts afresh, memory stays bounded


@pytest.mark.parametrize("args", [(0, 1), (1, 0), (-1, 5)])
def test_limits_must_be_positive(args):
    with pytest.raises(ValueError):
        RateLimiter(*args)
