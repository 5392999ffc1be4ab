"""Token buckets: per sender in process, and the traffic limiter on memory and on Redis."""

import asyncio
import os
import uuid

import pytest

from kefu.config import ConfigError, load_shop_config
from kefu.ratelimit import (
    MemoryLimitStore,
    Rate,
    RateLimiter,
    RedisLimitStore,
    TrafficLimiter,
    TrafficLimits,
    limit_scale,
    limit_store,
    traffic_limits,
)


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


# ---- rates, stores and the traffic limiter ----------------------------------------------------


def test_a_rate_scales_and_knows_when_a_bucket_is_full_again():
    rate = Rate.per_minute(30, 60)
    assert rate.per_second == 1.0 and rate.refill_seconds == 30
    assert rate.scaled(10) == Rate(300.0, 10.0)
    assert Rate.per_hour(20, 60).refill_seconds == 1200
    with pytest.raises(ValueError):
        Rate(0, 1)


def test_the_limit_scale_comes_from_the_environment():
    assert limit_scale({}) == 1.0
    assert limit_scale({"KEFU_LIMIT_SCALE": "1000"}) == 1000.0
    for bad in ("0", "-2", "lots", "inf"):
        with pytest.raises(ValueError, match="KEFU_LIMIT_SCALE"):
            limit_scale({"KEFU_LIMIT_SCALE": bad})


def test_the_store_is_redis_only_when_configured():
    assert isinstance(limit_store({}), MemoryLimitStore)
    assert isinstance(limit_store({"KEFU_REDIS_URL": "redis://127.0.0.1:1/0"}), RedisLimitStore)


def traffic(store, **overrides) -> TrafficLimiter:
    rates = dict(
        per_sender=Rate.per_minute(3, 1),
        per_address=Rate.per_minute(5, 1),
        new_conversations=Rate.per_hour(2, 1),
        per_channel=Rate.per_minute(100, 1),
        overall=Rate.per_minute(100, 1),
    )
    return TrafficLimiter(TrafficLimits(**{**rates, **overrides}), store)


async def check_traffic_limiter(store) -> None:
    limiter = traffic(store)
    # a conversation's own limit
    assert [await limiter.admit("rest", "rest:a", "203.0.113.1") for _ in range(4)] == [
        None,
        None,
        None,
        "sender",
    ]
    # rotating senders from one address: two new conversations, then the address runs dry
    assert await limiter.admit("rest", "rest:b", "203.0.113.1") is None
    assert await limiter.admit("rest", "rest:c", "203.0.113.1") == "new_conversation"
    assert await limiter.admit("rest", "rest:c", "203.0.113.1") == "address"
    # another address and a platform channel (no address) are not affected
    assert await limiter.admit("rest", "rest:c", "198.51.100.2") is None
    assert await limiter.admit("telegram", "telegram:1", None) is None
    # the channel and the global limit
    tight = traffic(store, per_channel=Rate.per_minute(1, 1))
    assert await tight.admit("slack", "slack:1", None) is None
    assert await tight.admit("slack", "slack:2", None) == "channel"
    everything = traffic(store, overall=Rate.per_minute(1, 1))
    assert await everything.admit("facebook", "facebook:1", None) is None
    assert await everything.admit("wechat", "wechat:1", None) == "global"
    # a limited conversation is told at most once per window
    assert await limiter.notice_due("rest:a", 10) is True
    assert await limiter.notice_due("rest:a", 10) is False


async def test_the_traffic_limiter_in_memory():
    await check_traffic_limiter(MemoryLimitStore())


async def test_memory_store_sightings_expire_and_tables_are_bounded():
    clock = Clock()
    store = MemoryLimitStore(max_keys=10, clock=clock)
    assert await store.first_seen("c", 60) is True
    assert await store.first_seen("c", 60) is False
    clock.now += 61
    assert await store.first_seen("c", 60) is True
    await store.forget("c")
    assert await store.first_seen("c", 60) is True
    for n in range(100):
        await store.first_seen(f"k{n}", 60)
        await store.notice_due(f"k{n}", 10)
    assert len(store._seen) == 10 and len(store._notices) == 10


REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_store():
    from redis import asyncio as redis_asyncio

    client = redis_asyncio.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as error:  # no Redis on this machine
        await client.close()
        pytest.skip(f"no Redis at {REDIS_URL} ({type(error).__name__})")
    prefix = f"kefu:test:{uuid.uuid4().hex}"
    store = RedisLimitStore(REDIS_URL, prefix=prefix, client=client)
    yield store, client, prefix
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()


async def test_the_traffic_limiter_in_redis(redis_store):
    store, _, _ = redis_store
    await check_traffic_limiter(store)


async def test_redis_keys_expire_and_hold_no_ids_in_clear(redis_store):
    store, client, prefix = redis_store
    rate = Rate.per_minute(2, 60)  # full again after 2 s
    assert await store.take("sender:rest:customer-42", rate)
    assert await store.first_seen("conversation:rest:customer-42", 30)
    assert await store.notice_due("notice:rest:customer-42", 10)
    keys = [key.decode() async for key in client.scan_iter(f"{prefix}:*")]
    assert len(keys) == 3 and not any("customer-42" in key for key in keys)
    ttls = {key.split(":")[-2]: await client.pttl(key) for key in keys}
    assert 0 < ttls["bucket"] <= 3000
    assert 0 < ttls["seen"] <= 30_000 and 0 < ttls["notice"] <= 10_000


async def test_redis_buckets_refill_and_are_shared_between_stores(redis_store):
    store, client, prefix = redis_store
    other = RedisLimitStore(REDIS_URL, prefix=prefix, client=client)  # a second worker
    rate = Rate(2, 5)  # 2 at once, then 5 per second
    assert [await store.take("k", rate), await other.take("k", rate)] == [True, True]
    assert await store.take("k", rate) is False
    await asyncio.sleep(0.25)
    assert await other.take("k", rate) is True


async def test_an_unreachable_redis_lets_messages_through(caplog):
    store = RedisLimitStore("redis://127.0.0.1:1/0")
    try:
        assert await store.take("k", Rate(1, 1)) is True
        assert await store.take("k", Rate(1, 1)) is True
        assert await store.first_seen("c", 60) is False
        assert await store.notice_due("n", 10) is False
    finally:
        await store.close()
    assert caplog.text.count("Redis is unavailable") == 1


# ---- the settings in shop.yml ------------------------------------------------------------------

MINIMAL_SHOP = """
shop: {name: {zh: 店, en: Shop}}
customer_service: {hotline: "1", email: a@b.c, hours: {zh: 全天, en: all day}}
storefront: {how_to_buy: {zh: [买], en: [buy]}}
"""


def test_the_projects_limits_and_payloads_load():
    channels = load_shop_config().channels
    limits = traffic_limits(channels)
    assert limits.per_sender == Rate.per_minute(channels.burst, channels.per_minute)
    assert limits.new_conversations.per_second == channels.new_conversations_per_hour / 3600
    assert traffic_limits(channels, 1000).per_sender == limits.per_sender  # never scaled
    assert traffic_limits(channels, 1000).overall.burst == channels.global_burst * 1000
    assert channels.button_payloads["inform"] == (
        "order_id",
        "position",
        "product_category",
        "return_reason",
    )
    assert "restart" not in channels.button_payloads and "back" not in channels.button_payloads


@pytest.mark.parametrize(
    "channels, problem",
    [
        ("{address_burst: 0}", "address_burst"),
        ("{global_per_minute: lots}", "global_per_minute"),
        ("{trusted_proxies: [not-an-ip]}", "trusted_proxies"),
        ("{button_payloads: {'/restart': []}}", "button_payloads"),
        ("{button_payloads: {inform: position}}", "button_payloads"),
    ],
)
def test_wrong_channel_settings_are_reported(tmp_path, channels, problem):
    path = tmp_path / "shop.yml"
    path.write_text(MINIMAL_SHOP + f"channels: {channels}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_shop_config(path)
