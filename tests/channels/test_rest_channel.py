"""The REST channel on a real Sanic server: scoped conversations, the bearer token, the body's
``input_channel`` and metadata, and the limits per client address behind a trusted proxy."""

from __future__ import annotations

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered

from kefu.config import shop_config
from kefu_rasa.channels import guard
from kefu_rasa.channels.builtin import RestChannel, TelegramChannel
from kefu_rasa.channels.guard import ScopedOutput, pseudonym, shared_limiter
from tests.channels.serving import serving

LIMITS = shop_config().channels
TOKEN = "rest-token-0123456789abcdef"


class Bot:
    """Stands in for Rasa: records messages and answers through the channel's output."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


@pytest.fixture(autouse=True)
def fresh_limits(monkeypatch):
    monkeypatch.delenv("KEFU_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("KEFU_LIMIT_SCALE", raising=False)
    monkeypatch.delenv("KEFU_REDIS_URL", raising=False)
    shared_limiter.cache_clear()
    guard.trusted_proxies.cache_clear()
    yield
    shared_limiter.cache_clear()
    guard.trusted_proxies.cache_clear()


def serve(channel: RestChannel):
    bot = Bot()
    return bot, serving(channel.blueprint(bot), "/webhooks/rest")


async def post(url: str, body: object, headers: dict | None = None) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/webhooks/rest/webhook", json=body, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None)


async def test_the_conversation_is_scoped_and_the_reply_addressed_to_the_sender():
    bot, served = serve(RestChannel())
    async with served as url:
        status, replies = await post(url, {"sender": "12345", "message": "hi"})
    assert status == 200
    assert replies == [{"recipient_id": "12345", "text": "echo: hi"}]
    assert bot.messages[0].sender_id == "rest:12345"


async def test_a_sender_must_leave_room_for_the_channel_prefix():
    bot, served = serve(RestChannel())
    async with served as url:
        assert (await post(url, {"sender": "x" * 121, "message": "hi"}))[0] == 400
        assert (await post(url, {"sender": "x" * 120, "message": "hi"}))[0] == 200
    assert len(bot.messages[0].sender_id) <= 128


async def test_the_bodys_input_channel_and_unknown_metadata_are_ignored():
    bot, served = serve(RestChannel())
    body = {
        "sender": "s",
        "message": "hi",
        "input_channel": "telegram",
        "metadata": {"customer_token": "a.b.c", "blob": "x" * 500_000, "client": "forged"},
    }
    async with served as url:
        assert (await post(url, body))[0] == 200
        big_token = {**body, "metadata": {"customer_token": "x" * 500_000}}
        assert (await post(url, big_token))[0] == 200
    assert bot.messages[0].input_channel == "rest"
    # the guard adds a pseudonym of the client's address (for limits further on)
    client = pseudonym("client:127.0.0.1")
    assert bot.messages[0].metadata == {"customer_token": "a.b.c", "client": client}
    assert bot.messages[1].metadata == {"client": client}


async def test_with_a_token_every_request_needs_it():
    bot, served = serve(RestChannel.from_credentials({"token": TOKEN}))
    body = {"sender": "s", "message": "hi"}
    async with served as url:
        assert (await post(url, body))[0] == 401
        assert (await post(url, body, {"Authorization": "Bearer wrong"}))[0] == 401
        assert (await post(url, body, {"Authorization": TOKEN}))[0] == 401
        status, replies = await post(url, body, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and replies[0]["text"] == "echo: hi"
    assert len(bot.messages) == 1


def test_production_needs_a_token(monkeypatch):
    monkeypatch.setenv("KEFU_PROFILE", "production")
    with pytest.raises(ValueError, match="KEFU_REST_TOKEN"):
        RestChannel.from_credentials({})
    with pytest.raises(ValueError, match="at least 16"):
        RestChannel.from_credentials({"token": "short"})
    assert RestChannel.from_credentials({"token": TOKEN}).token == TOKEN
    monkeypatch.delenv("KEFU_PROFILE")
    assert RestChannel.from_credentials({}).token is None  # embedded default: open, on loopback


async def flood(url: str, count: int, forwarded_for=None, prefix: str = "rotating") -> list[str]:
    """``count`` messages from new senders; the texts of the replies."""
    texts = []
    for n in range(count):
        headers = {"X-Forwarded-For": forwarded_for(n)} if forwarded_for else None
        status, replies = await post(url, {"sender": f"{prefix}-{n}", "message": "hi"}, headers)
        assert status == 200
        texts.append(replies[0]["text"])
    return texts


async def test_rotating_senders_from_one_address_hit_the_limit():
    bot, served = serve(RestChannel())
    async with served as url:
        texts = await flood(url, LIMITS.new_conversations_burst + 3)
    assert len(bot.messages) == LIMITS.new_conversations_burst
    assert texts[-1] == LIMITS.too_busy.get("en")


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored():
    bot, served = serve(RestChannel())
    async with served as url:
        await flood(url, LIMITS.new_conversations_burst + 3, lambda n: f"198.51.100.{n}")
    assert len(bot.messages) == LIMITS.new_conversations_burst  # still one client: 127.0.0.1


async def test_behind_a_trusted_proxy_the_forwarded_client_counts(monkeypatch):
    monkeypatch.setenv("KEFU_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8")
    bot, served = serve(RestChannel())
    count = LIMITS.new_conversations_burst + 3
    async with served as url:
        # every customer behind the proxy is a client of their own
        await flood(url, count, lambda n: f"198.51.100.{n}")
        assert len(bot.messages) == count
        # what a client writes into the header left of the proxy's entry is not believed
        await flood(url, count, lambda n: f"192.0.2.{n}, 203.0.113.7, 10.1.2.3", "forged")
    assert len(bot.messages) == count + LIMITS.new_conversations_burst


def test_platform_output_channels_address_the_platforms_ids():
    telegram = TelegramChannel("123:abc", "kefu_bot", None, secret_token="s" * 16)
    output = telegram.get_output_channel()
    assert isinstance(output, ScopedOutput) and output.recipient("telegram:42") == "42"


class StoringBot(Bot):
    """Also keeps the conversation in a real (in-memory) tracker store, as Rasa does."""

    def __init__(self, store) -> None:
        super().__init__()
        self.tracker_store = store

    async def __call__(self, message: UserMessage) -> None:
        await super().__call__(message)
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, message_id=message.message_id))
        tracker.update(BotUttered(f"echo: {message.text}"))
        await self.tracker_store.save(tracker)


async def test_a_message_sent_again_with_its_id_is_answered_once():
    # a retry after an instance died (the client's, or HAProxy's retry-on empty-response)
    from sanic import Sanic

    from tests.channels.serving import serving_app

    bot = StoringBot(InMemoryTrackerStore(Domain.empty()))
    app = Sanic("kefu_test_rest_replay", configure_logging=False)
    app.ctx.agent = bot  # Rasa keeps its agent (and so the tracker store) here
    app.blueprint(RestChannel().blueprint(bot), url_prefix="/webhooks/rest")
    async with serving_app(app) as url:
        body = {"sender": "c1", "message": "hi", "message_id": "m-1"}
        first = await post(url, body)
        again = await post(url, body)
        other = await post(url, {**body, "message_id": "m-2"})
        refused = await post(url, {**body, "message_id": "no spaces or slashes/"})
    assert first == (200, [{"recipient_id": "c1", "text": "echo: hi"}])
    assert again == first
    assert other[0] == 200 and len(bot.messages) == 2  # "m-1" handled once, "m-2" once
    tracker = await bot.tracker_store.retrieve("rest:c1")
    assert [e.message_id for e in tracker.events if isinstance(e, UserUttered)] == ["m-1", "m-2"]
    assert refused[0] == 400 and len(bot.messages) == 2


async def test_without_an_id_every_message_is_handled():
    bot, served = serve(RestChannel())
    async with served as url:
        for _ in range(2):
            await post(url, {"sender": "c2", "message": "hi"})
    assert len(bot.messages) == 2


async def test_another_sender_cannot_read_replies_by_guessing_a_message_id():
    # the id is looked up only in the sender's own (channel-scoped) conversation
    from sanic import Sanic

    from tests.channels.serving import serving_app

    bot = StoringBot(InMemoryTrackerStore(Domain.empty()))
    app = Sanic("kefu_test_rest_replay_attack", configure_logging=False)
    app.ctx.agent = bot
    app.blueprint(RestChannel().blueprint(bot), url_prefix="/webhooks/rest")
    async with serving_app(app) as url:
        await post(url, {"sender": "victim", "message": "my secret", "message_id": "m-1"})
        status, replies = await post(
            url, {"sender": "attacker", "message": "hi", "message_id": "m-1"}
        )
    assert status == 200
    assert replies == [{"recipient_id": "attacker", "text": "echo: hi"}]
    assert len(bot.messages) == 2  # handled as the attacker's own new message
