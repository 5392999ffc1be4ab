"""Per-sender rate limiting: a token bucket for every sender, in bounded memory.

A sender may send ``burst`` messages at once; after that one more every ``60 / per_minute``
seconds.  Buckets of senders that have been quiet long enough to be full again carry no
information and are the first to go when the table reaches ``max_senders``, so a flood of new
sender ids cannot exhaust memory (it can only make the oldest idle senders start afresh).

The limiter is per process.  Behind several Rasa workers each worker limits on its own, which
is still a per-sender bound (``workers ×`` the configured rate).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float
    last_notice: float = float("-inf")


class RateLimiter:
    """Token buckets keyed by sender."""

    def __init__(
        self,
        burst: int,
        per_minute: int,
        max_senders: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_minute < 1 or max_senders < 1:
            raise ValueError("burst, per_minute and max_senders must be positive")
        self.burst = burst
        self.rate = per_minute / 60.0  # tokens per second
        self.max_senders = max_senders
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, sender: str, now: float) -> _Bucket:
        bucket = self._buckets.get(sender)
        if bucket is None:
            if len(self._buckets) >= self.max_senders:
                self._buckets.popitem(last=False)  # least recently active sender
            bucket = self._buckets[sender] = _Bucket(float(self.burst), now)
        else:
            self._buckets.move_to_end(sender)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        return bucket

    def allow(self, sender: str) -> bool:
        """Take one token for ``sender``; False when the sender is over the limit."""
        now = self._clock()
        bucket = self._bucket(sender, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def should_notify(self, sender: str, every_seconds: float = 10.0) -> bool:
        """Whether to tell a limited sender so now (at most once per ``every_seconds``)."""
        now = self._clock()
        bucket = self._bucket(sender, now)
        if now - bucket.last_notice >= every_seconds:
            bucket.last_notice = now
            return True
        return False

    def retry_after(self, sender: str) -> float:
        """Seconds until ``sender`` may send again (0 when allowed now)."""
        bucket = self._bucket(sender, self._clock())
        return max(0.0, (1.0 - bucket.tokens) / self.rate)
