"""What was per process is shared through the real Redis when KEFU_REDIS_URL is set: WeChat's
nonces, retries and access token (kefu/wechat_state.py) and the web chat's socket.io rooms."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis import asyncio as redis_asyncio

from kefu.wechat import ReplayedRequest
from kefu.wechat_state import (
    LocalNonces,
    LocalRetries,
    RedisNonces,
    RedisRetries,
    RedisTokens,
    wechat_state,
)
from kefu_rasa.channels.guard import shared_limiter
from kefu_rasa.channels.webchat import WebChatInput, WebChatOutput, client_manager
from tests.channels.serving import serving
from tests.channels.socketio_client import SHOP, Client


@pytest.fixture
async def redis(redis_url):
    client = redis_asyncio.from_url(redis_url)
    prefix = f"kefu:test:{uuid.uuid4().hex}"
    yield client, prefix
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.close()


class TokenServer:
    """WeChat's token endpoint: counts fetches, a new token each time."""

    def __init__(self, delay: float = 0.2) -> None:
        self.fetches = 0
        self.delay = delay

    async def fetch(self) -> tuple[str, float]:
        self.fetches += 1
        await asyncio.sleep(self.delay)
        return f"token-{self.fetches}", 7200.0


async def test_a_replayed_request_is_refused_by_another_instance(redis):
    client, prefix = redis
    first, second = RedisNonces(client, prefix), RedisNonces(client, prefix)
    await first.check("1700000000", "n1", "sig", body=b"<xml/>")
    with pytest.raises(ReplayedRequest) as same:
        await second.check("1700000000", "n1", "SIG", body=b"<xml/>")
    assert same.value.same_body
    with pytest.raises(ReplayedRequest) as other:
        await second.check("1700000000", "n1", "sig", body=b"<xml>forged</xml>")
    assert not other.value.same_body
    await second.check("1700000000", "n2", "sig", body=b"<xml/>")  # another nonce passes
    keys = [key.decode() async for key in client.scan_iter(f"{prefix}:nonce:*")]
    assert len(keys) == 2
    assert all(0 < ttl <= 300_000 for ttl in [await client.pttl(key) for key in keys])


async def test_a_retry_reaching_another_instance_is_recognised(redis):
    client, prefix = redis
    first, second = RedisRetries(client, prefix), RedisRetries(client, prefix)
    assert await first.first_time("oOpenId123:1700000000")
    assert not await second.first_time("oOpenId123:1700000000")
    assert await second.first_time("oOpenId123:1700000005")
    keys = [key.decode() async for key in client.scan_iter(f"{prefix}:msg:*")]
    assert len(keys) == 2 and not any("oOpenId123" in key for key in keys)
    assert all(0 < ttl <= 60_000 for ttl in [await client.pttl(key) for key in keys])


async def test_instances_share_one_access_token_fetched_once(redis):
    client, prefix = redis
    wechat = TokenServer()
    instances = [RedisTokens(client, prefix, wechat.fetch) for _ in range(4)]
    tokens = await asyncio.gather(*(each.get() for _ in range(3) for each in instances))
    assert set(tokens) == {"token-1"} and wechat.fetches == 1
    ttl = await client.pttl(f"{prefix}:access_token")
    assert 7200_000 - 300_000 - 5_000 < ttl <= 7200_000 - 300_000  # refreshed 5 min early

    await instances[0].invalidate("token-1")  # WeChat rejected it
    assert await instances[1].get() == "token-2" and wechat.fetches == 2
    await instances[2].invalidate("token-1")  # a stale rejection keeps the newer token
    assert await instances[3].get() == "token-2" and wechat.fetches == 2
    assert not await client.exists(f"{prefix}:access_token:refresh")


async def test_an_unreachable_redis_falls_back_to_this_process():
    state = wechat_state("wxapp", TokenServer(0).fetch, {"KEFU_REDIS_URL": "redis://127.0.0.1:1/0"})
    await state.nonces.check("1700000000", "n1", "sig", body=b"")
    with pytest.raises(ReplayedRequest):
        await state.nonces.check("1700000000", "n1", "sig", body=b"")
    assert await state.retries.first_time("m1") and not await state.retries.first_time("m1")
    assert await state.tokens.get() == "token-1"


def test_without_redis_the_state_stays_in_this_process():
    state = wechat_state("wxapp", None, {})
    assert isinstance(state.nonces, LocalNonces) and isinstance(state.retries, LocalRetries)
    assert state.tokens is None
    assert client_manager({}) is None


async def _echo(message) -> None:
    await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


async def test_a_message_sent_on_one_instance_reaches_a_customer_on_another(redis_url, monkeypatch):
    monkeypatch.setenv("KEFU_REDIS_URL", redis_url)
    shared_limiter.cache_clear()
    instance_a = WebChatInput(cors_allowed_origins=[SHOP])
    instance_b = WebChatInput(cors_allowed_origins=[SHOP], session_keys=instance_a.session_keys)
    async with (
        serving(instance_a.blueprint(_echo), "/webhooks/webchat"),
        serving(instance_b.blueprint(_echo), "/webhooks/webchat") as url_b,
        Client() as customer,
    ):
        session = await customer.start(url_b)
        await customer.emit("user_uttered", {"message": "你好"})
        assert (await customer.next("bot_uttered"))["text"] == "echo: 你好"
        # an agent's reply goes out through instance A (Rasa's HTTP API on that instance)
        output = WebChatOutput(instance_a.sio)
        await output.send_text_message(session, "人工客服小李为您服务")
        assert (await customer.next("bot_uttered", timeout=10))["text"] == "人工客服小李为您服务"
    shared_limiter.cache_clear()
