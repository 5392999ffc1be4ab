"""Attacks on conversation scoping, against the real channels (REST and the web chat's socket.io
on one Sanic server, as Rasa serves them) with a stand-in for Rasa that keeps a transcript per
tracker key and reads it back: what one conversation said must never reach another.

* a REST caller who uses a web-chat session id (or a Telegram chat id) as its ``sender`` gets a
  conversation of its own;
* a socket.io client that knows a session id but not its secret gets a fresh session and none
  of the victim's messages;
* "/restart", "/back" and other commands typed on REST and socket.io reach Rasa as plain text;
* 500 KB of metadata is not passed on (so not stored);
* rotating session ids from one address hit the per-address limit, a forged X-Forwarded-For
  from an untrusted peer does not get around it.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage

from kefu.config import shop_config
from kefu_rasa.channels import guard
from kefu_rasa.channels.builtin import RestChannel
from kefu_rasa.channels.guard import shared_limiter
from kefu_rasa.channels.webchat import WebChatInput
from tests.channels.serving import serving
from tests.channels.socketio_client import SHOP, Client

LIMITS = shop_config().channels


class Rasa:
    """Stands in for Rasa: a transcript per tracker key; every answer is that transcript."""

    def __init__(self) -> None:
        self.trackers: dict[str, list[dict]] = {}

    async def __call__(self, message: UserMessage) -> None:
        tracker = self.trackers.setdefault(message.sender_id, [])
        tracker.append({"text": message.text, "metadata": message.metadata})
        said = [event["text"] for event in tracker]
        reply = json.dumps(said, ensure_ascii=False)
        await message.output_channel.send_text_message(message.sender_id, reply)


def transcript(*texts: str) -> str:
    """What the stand-in answers for a conversation that said ``texts``."""
    return json.dumps(list(texts), ensure_ascii=False)


@pytest.fixture(autouse=True)
def fresh_limits(monkeypatch):
    for name in ("KEFU_TRUSTED_PROXIES", "KEFU_LIMIT_SCALE", "KEFU_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    shared_limiter.cache_clear()
    guard.trusted_proxies.cache_clear()
    yield
    shared_limiter.cache_clear()
    guard.trusted_proxies.cache_clear()


@pytest.fixture
async def kefu():
    rasa = Rasa()
    channels = [
        (RestChannel().blueprint(rasa), "/webhooks/rest"),
        (WebChatInput(cors_allowed_origins=[SHOP]).blueprint(rasa), "/webhooks/webchat"),
    ]
    async with serving(channels) as url:
        yield url, rasa


async def rest(url: str, sender: str, text: str, **extra) -> list[dict]:
    body = {"sender": sender, "message": text, **extra}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/webhooks/rest/webhook", json=body) as response,
    ):
        assert response.status == 200
        return await response.json()


async def test_rest_cannot_read_a_web_chat_conversation_by_its_session_id(kefu):
    url, rasa = kefu
    async with Client() as customer:
        session_id = await customer.start(url)
        await customer.emit("user_uttered", {"message": "我的订单 2611300015557882 手机尾号 1870"})
        await customer.next("bot_uttered")
    replies = await rest(url, session_id, "我刚才说了什么？")
    assert replies == [
        {"recipient_id": session_id, "text": json.dumps(["我刚才说了什么？"], ensure_ascii=False)}
    ]
    assert set(rasa.trackers) == {f"webchat:{session_id}", f"rest:{session_id}"}
    assert len(rasa.trackers[f"webchat:{session_id}"]) == 1


async def test_rest_cannot_pose_as_another_channel_by_sender_or_input_channel(kefu):
    url, rasa = kefu
    rasa.trackers["telegram:777001"] = [{"text": "order 2611300015557882, digits 1870"}]
    for sender in ("777001", "telegram:777001"):
        replies = await rest(url, sender, "what did I say?", input_channel="telegram")
        assert "2611300015557882" not in replies[0]["text"]
    assert rasa.trackers["telegram:777001"] == [{"text": "order 2611300015557882, digits 1870"}]


async def test_a_known_session_id_without_its_secret_joins_nothing(kefu):
    url, _ = kefu
    async with Client() as customer, Client() as attacker:
        victim = await customer.start(url)
        assert await attacker.start(url, victim) != victim
        assert await attacker.request_session(victim, "9999999999.forged") != victim
        await customer.emit("user_uttered", {"message": "我的地址是北京市朝阳区…"})
        assert "北京" in (await customer.next("bot_uttered"))["text"]
        with pytest.raises(asyncio.TimeoutError):
            await attacker.next("bot_uttered", timeout=0.5)
        # and its own messages go to its own conversation
        await attacker.emit("user_uttered", {"message": "hi", "session_id": victim})
        assert (await attacker.next("bot_uttered"))["text"] == json.dumps(
            ["hi"], ensure_ascii=False
        )


@pytest.mark.parametrize(
    "command", ["/restart", "/back", "/session_start", '/inform{"phone": "1"}']
)
async def test_commands_typed_on_rest_and_socket_io_reach_rasa_as_text(kefu, command):
    url, rasa = kefu
    await rest(url, "typist", command)
    async with Client() as customer:
        session_id = await customer.start(url)
        await customer.emit("user_uttered", {"message": command})
        await customer.next("bot_uttered")
    said = [
        rasa.trackers["rest:typist"][0]["text"],
        rasa.trackers[f"webchat:{session_id}"][0]["text"],
    ]
    assert said == [command.lstrip("/")] * 2


async def test_the_bots_own_buttons_still_work(kefu):
    url, rasa = kefu
    payload = '/switch_language{"language": "en"}'
    await rest(url, "clicker", payload)
    async with Client() as customer:
        session_id = await customer.start(url)
        await customer.emit("user_uttered", {"message": '/product_info{"position": "2"}'})
        await customer.next("bot_uttered")
    assert rasa.trackers["rest:clicker"][0]["text"] == payload
    assert rasa.trackers[f"webchat:{session_id}"][0]["text"] == '/product_info{"position": "2"}'


async def test_half_a_megabyte_of_metadata_is_not_passed_on(kefu):
    url, rasa = kefu
    blob = "x" * 500_000
    await rest(url, "big", "hi", metadata={"customer_token": blob, "notes": blob})
    assert set(rasa.trackers["rest:big"][0]["metadata"]) == {"client"}  # the guard's own
    async with Client() as customer:  # socket.io frames are capped at 64 KiB anyway
        session_id = await customer.start(url)
        token = "t" * (LIMITS.max_metadata_chars + 1)
        await customer.emit(
            "user_uttered", {"message": "hi", "metadata": {"customer_token": token}}
        )
        await customer.next("bot_uttered")
    assert set(rasa.trackers[f"webchat:{session_id}"][0]["metadata"]) == {"client"}


async def new_sessions(url: str, count: int, headers=None) -> int:
    """Open ``count`` fresh web chat sessions, one message each; how many reached Rasa."""
    served = 0
    for n in range(count):
        async with Client() as client:
            await client.connect(url, headers=headers(n) if headers else None)
            await client.request_session()
            await client.emit("user_uttered", {"message": "hi"})
            reply = await client.next("bot_uttered")
            served += reply["text"] == transcript("hi")
    return served


async def test_rotating_web_chat_sessions_from_one_address_hit_its_limit(kefu):
    url, _ = kefu
    count = LIMITS.new_conversations_burst + 3
    assert await new_sessions(url, count) == LIMITS.new_conversations_burst


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(kefu):
    url, _ = kefu
    count = LIMITS.new_conversations_burst + 3
    forged = await new_sessions(url, count, lambda n: {"X-Forwarded-For": f"198.51.100.{n}"})
    assert forged == LIMITS.new_conversations_burst


async def test_behind_a_trusted_proxy_each_client_counts_alone(kefu, monkeypatch):
    url, _ = kefu
    monkeypatch.setenv("KEFU_TRUSTED_PROXIES", "127.0.0.1")
    guard.trusted_proxies.cache_clear()
    count = LIMITS.new_conversations_burst + 3
    served = await new_sessions(url, count, lambda n: {"X-Forwarded-For": f"198.51.100.{n}"})
    assert served == count
