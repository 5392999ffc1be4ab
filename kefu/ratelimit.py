"""Rate limits on what customers send: token buckets, in this process or shared in Redis.

A limit is a token bucket (:class:`Rate`): ``burst`` messages at once, then ``per_second``.
:class:`TrafficLimiter` checks one message against every limit kefu has, in this order, and
names the first one it is over:

``sender``            the conversation (channel + sender id), as before;
``address``           the client's address (REST and web chat, where customers connect
                      themselves; behind a trusted proxy the address it forwarded), so rotating
                      sender ids from one machine does not multiply its rate;
``new_conversation``  conversations started per address (per hour);
``channel``           everything arriving on one channel;
``global``            everything the bot receives.

Where the buckets live is pluggable (:class:`LimitStore`): :class:`MemoryLimitStore` keeps them
in this process in bounded memory (the embedded default: one Rasa process); with
``KEFU_REDIS_URL`` set, :class:`RedisLimitStore` keeps them in Redis with keys that expire, so
every worker and host shares one count.  A Redis that cannot be reached lets messages through
(logged): limits protect the service, they must not take it down.

:class:`RateLimiter` is the plain in-process token bucket table underneath.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kefu.config import ChannelLimits

logger = logging.getLogger(__name__)

REDIS_URL_ENV = "KEFU_REDIS_URL"
SCALE_ENV = "KEFU_LIMIT_SCALE"


@dataclass
class _Bucket:
    tokens: float
    updated: float
    last_notice: float = float("-inf")


class RateLimiter:
    """Token buckets keyed by sender (or any key), in bounded memory.

    A key may use ``burst`` tokens at once; after that one more every ``60 / per_minute``
    seconds.  Buckets of keys that have been quiet long enough to be full again carry no
    information and are the first to go when the table reaches ``max_senders``, so a flood of
    new keys cannot exhaust memory (it can only make the oldest idle keys start afresh).
    """

    def __init__(
        self,
        burst: float,
        per_minute: float,
        max_senders: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_minute <= 0 or max_senders < 1:
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


@dataclass(frozen=True)
class Rate:
    """A token bucket: ``burst`` at once, then ``per_second`` (refilled continuously)."""

    burst: float
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0:
            raise ValueError("a rate needs a burst of at least 1 and a positive refill")

    @classmethod
    def per_minute(cls, burst: float, count: float) -> Rate:
        return cls(float(burst), count / 60.0)

    @classmethod
    def per_hour(cls, burst: float, count: float) -> Rate:
        return cls(float(burst), count / 3600.0)

    def scaled(self, factor: float) -> Rate:
        """This rate with burst and refill multiplied by ``factor``."""
        return Rate(max(1.0, self.burst * factor), self.per_second * factor)

    @property
    def refill_seconds(self) -> int:
        """Seconds an empty bucket takes to be full again (after which it carries nothing)."""
        return max(1, math.ceil(self.burst / self.per_second))


class LimitStore(ABC):
    """Where buckets, notices and first sightings are kept."""

    @abstractmethod
    async def take(self, key: str, rate: Rate) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty."""

    @abstractmethod
    async def notice_due(self, key: str, every_seconds: float) -> bool:
        """True at most once per ``every_seconds`` per key (to tell a limited customer)."""

    @abstractmethod
    async def first_seen(self, key: str, ttl_seconds: float) -> bool:
        """True the first time ``key`` is seen within ``ttl_seconds`` of its last sighting."""

    @abstractmethod
    async def forget(self, key: str) -> None:
        """Forget a sighting (a conversation that was refused did not start)."""

    async def close(self) -> None:  # noqa: B027 - most stores hold no connection
        """Release connections."""


class MemoryLimitStore(LimitStore):
    """Buckets in this process, each table bounded to ``max_keys`` (least recent go first)."""

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.max_keys = max_keys
        self._clock = clock
        self._limiters: dict[Rate, RateLimiter] = {}
        self._notices: OrderedDict[str, float] = OrderedDict()
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def take(self, key: str, rate: Rate) -> bool:
        limiter = self._limiters.get(rate)
        if limiter is None:
            limiter = self._limiters[rate] = RateLimiter(
                rate.burst, rate.per_second * 60.0, self.max_keys, self._clock
            )
        return limiter.allow(key)

    def _touch(self, table: OrderedDict[str, float], key: str, value: float) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_keys:
            table.popitem(last=False)

    async def notice_due(self, key: str, every_seconds: float) -> bool:
        now = self._clock()
        last = self._notices.get(key)
        if last is not None and now - last < every_seconds:
            return False
        self._touch(self._notices, key, now)
        return True

    async def first_seen(self, key: str, ttl_seconds: float) -> bool:
        now = self._clock()
        last = self._seen.get(key)
        self._touch(self._seen, key, now)
        return last is None or now - last >= ttl_seconds

    async def forget(self, key: str) -> None:
        self._seen.pop(key, None)


# KEYS[1] the bucket; ARGV: burst, tokens per second, seconds until a full bucket expires.
# The clock is the Redis server's, so workers on hosts with different clocks agree.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return allowed
"""


class RedisLimitStore(LimitStore):
    """Buckets in Redis (shared by every worker and host), keys expiring once they carry
    nothing.  Keys are ``<prefix>:<kind>:<sha256 of the key>``: no sender id or address is
    written to Redis in clear."""

    def __init__(self, url: str, prefix: str = "kefu:limits", client: Any = None) -> None:
        from redis import asyncio as redis_asyncio

        self.url = url
        self.prefix = prefix
        self._redis = client or redis_asyncio.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._take = self._redis.register_script(_TAKE)
        self._last_error_log = float("-inf")

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}:{kind}:{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}"

    def _unavailable(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= 60:
            self._last_error_log = now
            logger.error(
                "rate limits: Redis is unavailable (%s); messages pass unlimited meanwhile",
                type(error).__name__,
            )

    async def take(self, key: str, rate: Rate) -> bool:
        from redis.exceptions import RedisError

        try:
            allowed = await self._take(
                keys=[self._key("bucket", key)],
                args=[repr(rate.burst), repr(rate.per_second), rate.refill_seconds + 1],
            )
        except (RedisError, OSError) as error:
            self._unavailable(error)
            return True
        return bool(int(allowed))

    async def notice_due(self, key: str, every_seconds: float) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(
                await self._redis.set(
                    self._key("notice", key), b"1", nx=True, px=max(1, int(every_seconds * 1000))
                )
            )
        except (RedisError, OSError) as error:
            self._unavailable(error)
            return False

    async def first_seen(self, key: str, ttl_seconds: float) -> bool:
        from redis.exceptions import RedisError

        name = self._key("seen", key)
        ttl = max(1, int(ttl_seconds * 1000))
        try:
            if await self._redis.set(name, b"1", nx=True, px=ttl):
                return True
            await self._redis.pexpire(name, ttl)  # seen again: the window slides
            return False
        except (RedisError, OSError) as error:
            self._unavailable(error)
            return False

    async def forget(self, key: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.delete(self._key("seen", key))
        except (RedisError, OSError) as error:
            self._unavailable(error)

    async def close(self) -> None:
        await self._redis.close()


def limit_store(environ: Mapping[str, str] | None = None) -> LimitStore:
    """Redis when ``KEFU_REDIS_URL`` is set, else this process's memory."""
    environ = os.environ if environ is None else environ
    url = (environ.get(REDIS_URL_ENV) or "").strip()
    if url:
        return RedisLimitStore(url)
    return MemoryLimitStore()


def limit_scale(environ: Mapping[str, str] | None = None) -> float:
    """``KEFU_LIMIT_SCALE``: a factor for the address, conversation, channel and global limits
    (the benchmark and the integration tests raise it; the per-sender limit stays)."""
    environ = os.environ if environ is None else environ
    value = (environ.get(SCALE_ENV) or "").strip()
    if not value:
        return 1.0
    try:
        scale = float(value)
    except ValueError:
        raise ValueError(f"{SCALE_ENV} must be a positive number, not {value!r}") from None
    if not scale > 0 or math.isinf(scale):
        raise ValueError(f"{SCALE_ENV} must be a positive number, not {value!r}")
    return scale


@dataclass(frozen=True)
class TrafficLimits:
    """Every limit a message is checked against (see the module documentation)."""

    per_sender: Rate
    per_address: Rate
    new_conversations: Rate  # per address
    per_channel: Rate
    overall: Rate
    conversation_seconds: float = 3600.0  # a conversation silent this long starts anew

    def scaled(self, factor: float) -> TrafficLimits:
        """Everything but the per-sender limit multiplied by ``factor``."""
        if factor == 1:
            return self
        return TrafficLimits(
            per_sender=self.per_sender,
            per_address=self.per_address.scaled(factor),
            new_conversations=self.new_conversations.scaled(factor),
            per_channel=self.per_channel.scaled(factor),
            overall=self.overall.scaled(factor),
            conversation_seconds=self.conversation_seconds,
        )


def traffic_limits(limits: ChannelLimits, scale: float = 1.0) -> TrafficLimits:
    """The rates of ``channels`` in shop.yml, all but the per-conversation one times ``scale``."""
    return TrafficLimits(
        per_sender=Rate.per_minute(limits.burst, limits.per_minute),
        per_address=Rate.per_minute(limits.address_burst, limits.address_per_minute),
        new_conversations=Rate.per_hour(
            limits.new_conversations_burst, limits.new_conversations_per_hour
        ),
        per_channel=Rate.per_minute(limits.channel_burst, limits.channel_per_minute),
        overall=Rate.per_minute(limits.global_burst, limits.global_per_minute),
    ).scaled(scale)


SENDER, ADDRESS, NEW_CONVERSATION, CHANNEL, GLOBAL = (
    "sender",
    "address",
    "new_conversation",
    "channel",
    "global",
)


class TrafficLimiter:
    """Checks each message against :class:`TrafficLimits` in a :class:`LimitStore`."""

    def __init__(self, limits: TrafficLimits, store: LimitStore | None = None) -> None:
        self.limits = limits
        self.store = store or MemoryLimitStore()

    async def admit(self, channel: str, conversation_id: str, address: str | None) -> str | None:
        """None when the message may pass; else the limit it is over (``SENDER`` …).

        ``address`` is the client's address where it means something (customers connecting
        themselves), None where it does not (a platform's servers relaying many customers)."""
        limits, store = self.limits, self.store
        if not await store.take(f"sender:{conversation_id}", limits.per_sender):
            return SENDER
        if address is not None:
            if not await store.take(f"address:{address}", limits.per_address):
                return ADDRESS
            conversation = f"conversation:{conversation_id}"
            started = await store.first_seen(conversation, limits.conversation_seconds)
            if started and not await store.take(f"new:{address}", limits.new_conversations):
                await store.forget(conversation)  # refused: it has not started
                return NEW_CONVERSATION
        if not await store.take(f"channel:{channel}", limits.per_channel):
            return CHANNEL
        if not await store.take("global", limits.overall):
            return GLOBAL
        return None

    async def notice_due(self, conversation_id: str, every_seconds: float = 10.0) -> bool:
        """Whether to tell this conversation it is limited now (at most once per 10 s)."""
        return await self.store.notice_due(f"notice:{conversation_id}", every_seconds)
