"""The web chat channel on a real Sanic server, talked to by a real socket.io client."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import websockets
from rasa.core.channels.channel import UserMessage

from kefu.config import shop_config
from kefu_rasa.channels.guard import pseudonym, shared_limiter
from kefu_rasa.channels.webchat import (
    SessionKeys,
    WebChatInput,
    allowed_metadata,
    checked_session_id,
    parse_origins,
)
from tests.channels.serving import serving
from tests.channels.socketio_client import SHOP, Client

LIMITS = shop_config().channels


class Bot:
    """Stands in for Rasa: records messages and answers through the channel's output."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        out = message.output_channel
        await out.send_text_message(message.sender_id, f"echo: {message.text}")
        if message.text == "cards":
            await out.send_text_with_buttons(
                message.sender_id,
                "pick one",
                [{"title": "详情", "payload": "/product_info"}, {"title": "Buy", "url": "/b"}],
            )
            await out.send_custom_json(message.sender_id, {"type": "product_cards", "cards": []})


@pytest.fixture(autouse=True)
def fresh_limiter():
    shared_limiter.cache_clear()
    yield
    shared_limiter.cache_clear()


@pytest.fixture
async def server():
    bot = Bot()
    channel = WebChatInput(cors_allowed_origins=[SHOP])
    async with serving(channel.blueprint(bot), "/webhooks/webchat") as url:
        yield url, bot


@pytest.fixture
async def client():
    c = Client()
    yield c
    await c.close()


async def test_a_conversation_gets_a_session_typing_and_replies(server, client):
    url, bot = server
    session_id = await client.start(url)
    assert checked_session_id({"session_id": session_id}) == session_id
    assert client.secret and session_id not in client.secret
    await client.emit(
        "user_uttered",
        {"message": "你好", "metadata": {"customer_token": "abc.def.ghi", "admin": True}},
    )
    assert await client.next("bot_typing") == {"on": True}
    assert await client.next("bot_uttered") == {"text": "echo: 你好"}
    assert await client.next("bot_typing") == {"on": False}
    (message,) = bot.messages
    assert message.sender_id == f"webchat:{session_id}"  # the tracker key carries the channel
    assert message.input_channel == "webchat"
    client = pseudonym("client:127.0.0.1")  # the guard's pseudonym of the client's address
    assert message.metadata == {"customer_token": "abc.def.ghi", "client": client}


async def test_buttons_and_cards_have_the_widgets_shapes(server, client):
    url, _ = server
    await client.start(url)
    await client.emit("user_uttered", {"message": "cards"})
    assert await client.next("bot_uttered") == {"text": "echo: cards"}
    assert await client.next("bot_uttered") == {
        "text": "pick one",
        "quick_replies": [
            {"title": "详情", "payload": "/product_info"},
            {"title": "Buy", "url": "/b"},
        ],
    }
    assert await client.next("bot_uttered") == {"custom": {"type": "product_cards", "cards": []}}


async def test_a_reload_with_the_secret_keeps_the_session_and_a_forged_id_gets_a_new_one(
    server, client
):
    url, _ = server
    first = await client.start(url)
    await client.close()
    async with Client() as reloaded:
        assert await reloaded.start(url, first, client.secret) == first
    async with Client() as other:
        fresh = await other.start(url, "../../etc/passwd")
        assert fresh != "../../etc/passwd" and len(fresh) == 32


async def test_a_known_session_id_without_its_secret_gets_a_fresh_session_and_nothing_else(
    server, client
):
    url, _ = server
    victim = await client.start(url)
    async with Client() as attacker:
        assert await attacker.start(url, victim) != victim
        for secret in ("", "1.abc", f"{2**40}.{'A' * 43}", client.secret + "x", ["x"]):
            assert await attacker.request_session(victim, secret) != victim
        await client.emit("user_uttered", {"message": "我的订单"})
        assert await client.next("bot_uttered") == {"text": "echo: 我的订单"}
        with pytest.raises(asyncio.TimeoutError):
            await attacker.next("bot_uttered", timeout=0.5)
        # the secret of another session does not open this one either
        assert await attacker.request_session(victim, attacker.secret) != victim


def test_session_secrets_expire_and_belong_to_one_session():
    now = [1_000_000.0]
    keys = SessionKeys(b"k" * 32, ttl_seconds=60, clock=lambda: now[0])
    secret = keys.issue("a" * 32)
    assert keys.verify("a" * 32, secret)
    assert not keys.verify("b" * 32, secret)
    assert not SessionKeys(b"x" * 32, clock=lambda: now[0]).verify("a" * 32, secret)
    now[0] += 61
    assert not keys.verify("a" * 32, secret)
    assert checked_session_id({"session_id": "a" * 32, "session_secret": secret}, keys) != "a" * 32


async def test_a_new_session_request_leaves_the_old_conversation(server, client):
    url, _ = server
    first = await client.start(url)
    async with Client() as listener:
        await listener.start(url, first, client.secret)
        await listener.emit("session_request", {"session_id": None})
        await listener.next("session_confirm")
        await client.emit("user_uttered", {"message": "only for the first"})
        assert await client.next("bot_uttered") == {"text": "echo: only for the first"}
        with pytest.raises(asyncio.TimeoutError):
            await listener.next("bot_uttered", timeout=0.5)


async def test_a_message_cannot_speak_for_another_conversation(server, client):
    url, bot = server
    mine = await client.start(url)
    await client.emit("user_uttered", {"message": "hi", "session_id": "f" * 32})
    await client.next("bot_uttered")
    assert bot.messages[0].sender_id == f"webchat:{mine}"


async def test_every_socket_of_a_conversation_sees_the_replies(server, client):
    url, _ = server
    session_id = await client.start(url)
    async with Client() as second_tab:
        await second_tab.start(url, session_id, client.secret)
        await client.emit("user_uttered", {"message": "两个标签页"})
        assert await second_tab.next("bot_uttered") == {"text": "echo: 两个标签页"}


async def test_malformed_events_are_dropped_and_the_socket_still_works(server, client):
    url, bot = server
    await client.start(url)
    for bad in ("just a string", ["a", "list"], {"message": 42}, {"message": "   "}, None):
        await client.emit("user_uttered", bad)
    await client.emit("user_uttered", {"message": "still here", "metadata": "{not json"})
    assert await client.next("bot_uttered") == {"text": "echo: still here"}
    assert [m.text for m in bot.messages] == ["still here"]
    assert bot.messages[0].metadata == {"client": pseudonym("client:127.0.0.1")}


async def test_a_message_before_the_session_request_is_dropped(server):
    url, bot = server
    async with Client() as c:
        await c.connect(url)
        await c.emit("user_uttered", {"message": "who am I"})
        await asyncio.sleep(0.3)
        assert bot.messages == []


async def test_garbage_frames_do_not_take_the_server_down(server, client):
    url, bot = server
    ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    for frames in (["4{bad json"], ['42["user_uttered", {'], ["\x00\xff"], ["40", "42[1,2,3]"]):
        # the server closes the connection or ignores the frames: no reply either way
        with pytest.raises((websockets.ConnectionClosed, asyncio.TimeoutError)):
            async with websockets.connect(ws_url, extra_headers={"Origin": SHOP}) as ws:
                await ws.recv()  # the open packet
                for frame in frames:
                    await ws.send(frame)
                await asyncio.wait_for(ws.recv(), 2)
                await asyncio.wait_for(ws.recv(), 2)
    assert bot.messages == []
    await client.start(url)
    await client.emit("user_uttered", {"message": "ok"})
    assert await client.next("bot_uttered") == {"text": "echo: ok"}


async def test_an_oversized_frame_closes_only_that_connection(server, client):
    url, _ = server
    await client.start(url)
    async with Client() as big:
        await big.start(url)
        await big.emit("user_uttered", {"message": "x" * 100_000})
        await asyncio.sleep(0.5)
        assert not big.connected
    await client.emit("user_uttered", {"message": "small"})
    assert await client.next("bot_uttered") == {"text": "echo: small"}


async def test_other_origins_cannot_connect(server):
    url, _ = server
    with pytest.raises(websockets.InvalidStatusCode):
        await Client().connect(url, origin="https://evil.example")


async def test_a_flood_from_one_sender_is_slowed_politely(server, client):
    url, bot = server
    await client.start(url)
    for n in range(LIMITS.burst + 3):
        await client.emit("user_uttered", {"message": f"spam {n}"})
    replies = [await client.next("bot_uttered") for _ in range(LIMITS.burst + 1)]
    assert len(bot.messages) == LIMITS.burst
    assert {"text": LIMITS.too_fast.get("en")} in replies
    async with Client() as other:  # another customer is served as usual
        await other.start(url)
        await other.emit("user_uttered", {"message": "我也在"})
        assert await other.next("bot_uttered") == {"text": "echo: 我也在"}


async def test_a_too_long_message_gets_a_polite_answer_in_its_language(server, client):
    url, bot = server
    await client.start(url)
    await client.emit("user_uttered", {"message": "太长" * LIMITS.max_message_chars})
    reply = await client.next("bot_uttered")
    assert reply == {"text": LIMITS.too_long.zh.format(limit=LIMITS.max_message_chars)}
    assert bot.messages == []


async def test_the_widget_files_and_nothing_else_are_served(server):
    url, _ = server
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/webhooks/webchat/socket.io.min.js") as ok:
            assert ok.status == 200
            assert ok.headers["Content-Type"].startswith("application/javascript")
        for name in ("credentials.yml", "..%2F..%2Fendpoints.yml", "widget.js.map"):
            async with http.get(f"{url}/webhooks/webchat/{name}") as missing:
                assert missing.status == 404


def test_origins_are_exact_and_wildcards_are_refused():
    assert parse_origins("https://a.example, http://127.0.0.1:8000/") == [
        "https://a.example",
        "http://127.0.0.1:8000",
    ]
    for bad in ("*", "shop.example.com", "https://a.example/path"):
        with pytest.raises(ValueError, match="allowed origin"):
            parse_origins(bad)


def test_metadata_keeps_only_the_customer_token():
    assert allowed_metadata(json.dumps({"customer_token": "t", "x": 1})) == {"customer_token": "t"}
    assert allowed_metadata({"customer_token": 5}) == {}
    assert allowed_metadata(["customer_token"]) == {}
