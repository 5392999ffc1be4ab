"""The WeChat channel served by a real Sanic server, talking to a fake WeChat API over HTTP.

Requests are built the way WeChat builds them (signatures with ``hashlib.sha1`` over the sorted
strings, safe-mode payloads with the reference framing in ``test_wechat_protocol``), so these
tests do not trust the code under test to make their inputs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from kefu_rasa.channels.wechat import GREET_PAYLOAD, TEXT_ONLY_REPLY, WeChatInput
from tests.unit.test_wechat_protocol import APP_ID, ref_decrypt, ref_encrypt

Sanic.test_mode = True

TOKEN = "kefuToken2024"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_SECRET = "s3cr3t-app-secret"
ACCOUNT = "gh_kefu_account"


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signed_query(timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or uuid.uuid4().hex[:10]
    return {"timestamp": ts, "nonce": nonce, "signature": sha1_signature(TOKEN, ts, nonce)}


def new_openid() -> str:
    return "o" + uuid.uuid4().hex[:27]  # fresh per test: the guard's rate limit is per sender


def text_body(openid: str, content: str, msg_id: str | None = None) -> bytes:
    msg_id = msg_id or str(uuid.uuid4().int % 10**16)
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def event_body(openid: str, event: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[]]></EventKey></xml>"
    ).encode()


def image_body(openid: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        "<PicUrl><![CDATA[http://mmbiz.example/pic.jpg]]></PicUrl>"
        "<MediaId><![CDATA[media_id]]></MediaId><MsgId>9988776655</MsgId></xml>"
    ).encode()


def voice_body(openid: str, recognition: str | None) -> bytes:
    heard = "" if recognition is None else f"<Recognition><![CDATA[{recognition}]]></Recognition>"
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
        f"<MediaId><![CDATA[media_id]]></MediaId><Format><![CDATA[amr]]></Format>{heard}"
        f"<MsgId>{secrets.randbelow(10**12)}</MsgId></xml>"
    ).encode()


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


# --- the fake WeChat API ---------------------------------------------------------------------


@dataclass
class FakeWeChatAPI:
    """``/cgi-bin/token`` and ``/cgi-bin/message/custom/send``, recording every call."""

    token_requests: list[dict[str, str]] = field(default_factory=list)
    sends: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reject_sends_with: list[int] = field(default_factory=list)  # errcodes for the next sends
    base_url: str = ""

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests.append(dict(request.query))
        if request.query.get("appid") != APP_ID or request.query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        number = len(self.token_requests)
        return web.json_response({"access_token": f"ACCESS_TOKEN_{number}", "expires_in": 7200})

    async def custom_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.sends.append((request.query.get("access_token", ""), body))
        if self.reject_sends_with:
            errcode = self.reject_sends_with.pop(0)
            return web.json_response({"errcode": errcode, "errmsg": "access_token expired"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def delivered(self) -> list[tuple[str, dict[str, Any]]]:
        """Sends WeChat accepted (with the token that was accepted)."""
        issued = {f"ACCESS_TOKEN_{n}" for n in range(1, len(self.token_requests) + 1)}
        return [(token, body) for token, body in self.sends if token in issued]

    async def wait_for_sends(self, count: int, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.sends) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} sends, got {len(self.sends)}")
            await asyncio.sleep(0.01)


@pytest.fixture
async def wechat_api() -> AsyncIterator[FakeWeChatAPI]:
    api = FakeWeChatAPI()
    app = web.Application()
    app.router.add_get("/cgi-bin/token", api.token)
    app.router.add_post("/cgi-bin/message/custom/send", api.custom_send)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = free_socket()
    site = web.SockSite(runner, sock)
    await site.start()
    api.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield api
    await runner.cleanup()


# --- the bot and the channel's server --------------------------------------------------------


class Bot:
    """Stands in for Rasa's agent: records messages and answers through the output channel."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []
        self.delay = 0.0
        self.answer: Callable[[UserMessage], Awaitable[None]] = self.echo
        self.finished = asyncio.Event()

    async def echo(self, message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, f"收到：{message.text}")

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        await self.answer(message)
        self.finished.set()

    @property
    def texts(self) -> list[str | None]:
        return [message.text for message in self.messages]


@dataclass
class Served:
    channel: WeChatInput
    bot: Bot
    url: str
    http: aiohttp.ClientSession

    async def get(self, query: dict[str, str]) -> tuple[int, str]:
        async with self.http.get(self.url, params=query) as resp:
            return resp.status, await resp.text()

    async def post(self, body: Any, query: dict[str, str] | None = None) -> tuple[int, str]:
        params = signed_query() if query is None else query
        async with self.http.post(self.url, params=params, data=body) as resp:
            return resp.status, await resp.text()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    servers: list[Any] = []
    served: list[Served] = []
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def start(api: FakeWeChatAPI | None = None, **credentials: Any) -> Served:
        settings: dict[str, Any] = {"token": TOKEN, "reply_timeout": 2.0}
        if api is not None:
            settings.update(app_id=APP_ID, app_secret=APP_SECRET, api_base=api.base_url)
        settings.update(credentials)
        channel = WeChatInput.from_credentials(settings)
        bot = Bot()
        app = Sanic(f"wechat_test_{uuid.uuid4().hex}")
        app.ctx.agent = SimpleNamespace(handle_message=bot)
        register([channel], app, route="/webhooks/")  # as `rasa run` mounts channels
        sock = free_socket()
        server = await app.create_server(sock=sock, return_asyncio_server=True)
        await server.startup()  # create_server has started listening already
        servers.append(server)
        port = sock.getsockname()[1]
        result = Served(channel, bot, f"http://127.0.0.1:{port}/webhooks/wechat/webhook", http)
        served.append(result)
        return result

    yield start
    for item in served:
        await item.channel.drain(5)
    await http.close()
    for server in servers:
        server.close()
        await server.wait_closed()


def reply_fields(xml: str) -> dict[str, str]:
    root = ET.fromstring(xml)
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


# --- handshake -------------------------------------------------------------------------------


async def test_url_verification_echoes_echostr(serve):
    served = await serve()
    query = {**signed_query(), "echostr": "2718281828459045"}
    assert await served.get(query) == (200, "2718281828459045")


async def test_url_verification_with_forged_or_stale_signature_is_refused(serve):
    served = await serve()
    forged = {**signed_query(), "echostr": "1"}
    forged["signature"] = sha1_signature("wrongToken", forged["timestamp"], forged["nonce"])
    stale = {**signed_query(timestamp=int(time.time()) - 3600), "echostr": "1"}
    for query in (forged, stale, {"echostr": "1"}):
        status, text = await served.get(query)
        assert status == 403
        assert "1" not in text


# --- text messages ---------------------------------------------------------------------------


async def test_text_message_gets_a_passive_reply(serve):
    served = await serve()
    openid = new_openid()
    status, text = await served.post(text_body(openid, "我的订单到哪了？", msg_id="5001"))
    assert status == 200
    reply = reply_fields(text)
    assert reply["ToUserName"] == openid  # swapped: back to the customer
    assert reply["FromUserName"] == ACCOUNT
    assert reply["MsgType"] == "text"
    assert reply["Content"] == "收到：我的订单到哪了？"
    assert abs(int(reply["CreateTime"]) - time.time()) < 10
    [message] = served.bot.messages
    assert message.text == "我的订单到哪了？"
    assert message.sender_id == f"wechat:{openid}"  # the tracker key carries the channel
    assert message.input_channel == "wechat"
    assert message.metadata == {}  # only the customer token passes, and WeChat has none


async def test_all_bot_messages_join_into_one_passive_reply(serve):
    served = await serve()

    async def answer(message: UserMessage) -> None:
        out, who = message.output_channel, message.sender_id
        await out.send_text_message(who, "您好！")
        await out.send_response(
            who,
            {
                "text": "请选择：",
                "buttons": [
                    {"title": "查订单", "payload": "/order_status"},
                    {"title": "退货 ]]> 退款", "payload": "/return"},
                ],
            },
        )
        await out.send_custom_json(who, {"text": "卡片摘要", "products": [1, 2]})
        await out.send_custom_json(who, {"products": [3]})  # nothing to read: skipped

    served.bot.answer = answer
    status, text = await served.post(text_body(new_openid(), "hi"))
    assert status == 200
    assert reply_fields(text)["Content"] == (
        "您好！\n\n请选择：\n1. 查订单\n2. 退货 ]]> 退款\n\n卡片摘要"
    )


async def test_bot_that_says_nothing_gets_success(serve):
    served = await serve()

    async def silent(message: UserMessage) -> None:
        return None

    served.bot.answer = silent
    assert await served.post(text_body(new_openid(), "hi")) == (200, "success")
    assert len(served.bot.messages) == 1


async def test_slow_bot_answers_through_the_customer_service_api(serve, wechat_api):
    served = await serve(wechat_api, reply_timeout=0.3)
    served.bot.delay = 0.8
    openid = new_openid()
    started = time.monotonic()
    status, text = await served.post(text_body(openid, "帮我推荐一款手机"))
    assert (status, text) == (200, "success")
    assert time.monotonic() - started < 0.75  # answered at the deadline, not when the bot is done
    assert wechat_api.sends == []

    await wechat_api.wait_for_sends(1)
    [(access_token, payload)] = wechat_api.sends
    assert access_token == "ACCESS_TOKEN_1"
    assert payload == {
        "touser": openid,
        "msgtype": "text",
        "text": {"content": "收到：帮我推荐一款手机"},
    }
    [token_request] = wechat_api.token_requests
    assert token_request == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": APP_SECRET,
    }


async def test_late_messages_after_an_early_one_all_arrive_in_order(serve, wechat_api):
    served = await serve(wechat_api, reply_timeout=0.3)

    async def answer(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "正在查询…")
        await asyncio.sleep(0.6)
        await message.output_channel.send_text_message(message.sender_id, "查到了：已发货")

    served.bot.answer = answer
    assert await served.post(text_body(new_openid(), "订单")) == (200, "success")
    await wechat_api.wait_for_sends(2)
    contents = [body["text"]["content"] for _, body in wechat_api.sends]
    assert contents == ["正在查询…", "查到了：已发货"]
    assert len(wechat_api.token_requests) == 1  # the second send reused the cached token


async def test_long_reply_goes_partly_passive_and_the_rest_through_the_api(serve, wechat_api):
    served = await serve(wechat_api)
    lines = [f"第{n}款：某品牌手机，6.7 英寸屏幕，5000 mAh 电池" for n in range(1, 81)]

    async def answer(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "\n".join(lines))

    served.bot.answer = answer
    status, text = await served.post(text_body(new_openid(), "所有手机"))
    assert status == 200
    first = reply_fields(text)["Content"]
    assert len(first.encode("utf-8")) <= 2048
    await wechat_api.wait_for_sends(2)
    await served.channel.drain(5)
    rest = [body["text"]["content"] for _, body in wechat_api.sends]
    assert len(rest) == 2
    assert all(len(part.encode("utf-8")) <= 2048 for part in rest)
    assert "\n".join([first, *rest]) == "\n".join(lines)


async def test_retry_with_the_same_msgid_reaches_the_bot_once(serve):
    served = await serve()
    openid = new_openid()
    body = text_body(openid, "在吗", msg_id="7777")
    first = await served.post(body)
    assert reply_fields(first[1])["Content"] == "收到：在吗"
    assert await served.post(body) == (200, "success")  # WeChat's retry: new nonce, same MsgId
    query = signed_query()
    assert (await served.post(body, query))[0] == 200
    assert await served.post(body, query) == (200, "success")  # the same request resent as is
    assert served.bot.texts == ["在吗"]


async def test_subscribe_event_greets(serve):
    served = await serve()
    openid = new_openid()
    status, text = await served.post(event_body(openid, "subscribe"))
    assert status == 200
    assert served.bot.texts == [GREET_PAYLOAD]
    assert served.bot.messages[0].sender_id == f"wechat:{openid}"
    assert reply_fields(text)["Content"] == "收到：/greet"
    assert await served.post(event_body(openid, "unsubscribe")) == (200, "success")
    assert served.bot.texts == [GREET_PAYLOAD]


async def test_commands_typed_by_a_customer_reach_the_bot_as_text(serve):
    served = await serve()
    openid = new_openid()
    for n, typed in enumerate(("/greet", "/restart", "/back")):
        await served.post(text_body(openid, typed, msg_id=str(7000 + n)))
    assert served.bot.texts == ["greet", "restart", "back"]


async def test_image_message_gets_a_polite_text_only_reply(serve):
    served = await serve()
    openid = new_openid()
    status, text = await served.post(image_body(openid))
    assert status == 200
    reply = reply_fields(text)
    assert reply["Content"] == TEXT_ONLY_REPLY
    assert "文字" in reply["Content"] and "text" in reply["Content"]
    assert reply["ToUserName"] == openid
    assert served.bot.messages == []


async def test_voice_message_is_understood_through_wechat_speech_recognition(serve):
    served = await serve()
    openid = new_openid()
    status, text = await served.post(voice_body(openid, "我的快递到哪里了"))
    assert status == 200
    assert reply_fields(text)["Content"] == "收到：我的快递到哪里了"
    assert served.bot.texts == ["我的快递到哪里了"]


@pytest.mark.parametrize("recognition", [None, "", "   "])
async def test_voice_message_nobody_could_hear_gets_a_polite_text_only_reply(serve, recognition):
    served = await serve()
    status, text = await served.post(voice_body(new_openid(), recognition))
    assert status == 200
    assert reply_fields(text)["Content"] == TEXT_ONLY_REPLY
    assert served.bot.messages == []


# --- refused requests ------------------------------------------------------------------------


async def test_forged_stale_and_replayed_requests_are_refused(serve):
    served = await serve()
    openid = new_openid()
    forged = signed_query()
    forged["signature"] = sha1_signature("guessedToken", forged["timestamp"], forged["nonce"])
    stale = signed_query(timestamp=int(time.time()) - 301)
    future = signed_query(timestamp=int(time.time()) + 3600)
    for query in (forged, stale, future, {}):
        status, _ = await served.post(text_body(openid, "转账给我"), query)
        assert status == 403

    captured = signed_query()
    assert (await served.post(text_body(openid, "正常消息"), captured))[0] == 200
    # the same signed query with another body: plain mode does not sign the body
    status, _ = await served.post(text_body(openid, "伪造的消息"), captured)
    assert status == 403
    assert served.bot.texts == ["正常消息"]


async def test_oversized_body_is_refused_with_413(serve):
    served = await serve(max_body_bytes=4096)
    openid = new_openid()
    big = text_body(openid, "长" * 2000)  # over 4096 bytes
    assert (await served.post(big))[0] == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(10):
            yield b"<xml>" + b"x" * 1000

    assert (await served.post(chunked()))[0] == 413
    assert served.bot.messages == []
    assert (await served.post(text_body(openid, "短")))[0] == 200


async def test_billion_laughs_is_refused_and_the_server_keeps_answering(serve):
    from tests.unit.test_wechat_protocol import BILLION_LAUGHS

    served = await serve()
    started = time.monotonic()
    status, _ = await served.post(BILLION_LAUGHS)
    assert status == 400
    assert time.monotonic() - started < 2
    for bad in (b"<xml><ToUserName>", b"<xml><MsgType>text</MsgType></xml>"):
        assert (await served.post(bad))[0] == 400
    assert served.bot.messages == []
    status, text = await served.post(text_body(new_openid(), "还在吗"))
    assert status == 200
    assert reply_fields(text)["Content"] == "收到：还在吗"


async def test_refusals_do_not_log_openids_or_texts(serve, caplog):
    served = await serve(reply_timeout=0.2)
    openid = new_openid()
    served.bot.delay = 0.5
    caplog.set_level("DEBUG", logger="kefu_rasa.channels.wechat")
    bad = signed_query()
    bad["signature"] = "0" * 40
    await served.post(text_body(openid, "秘密内容"), bad)
    await served.post(b"<xml><FromUserName>" + openid.encode() + b"</FromUserName></xml>")
    await served.post(text_body(openid, "秘密内容"))  # late: logged as going through the API
    await served.channel.drain(2)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused" in logged
    assert hashlib.sha256(openid.encode()).hexdigest()[:12] in logged
    assert openid not in logged
    assert "秘密内容" not in logged
    assert TOKEN not in logged


# --- safe mode -------------------------------------------------------------------------------


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def encrypted_request(inner: bytes, openid: str = "") -> tuple[dict[str, str], bytes]:
    encrypt = ref_encrypt(inner)
    query = signed_query()
    query.update(
        encrypt_type="aes",
        msg_signature=sha1_signature(TOKEN, query["timestamp"], query["nonce"], encrypt),
        openid=openid,  # WeChat adds it to the URL; the channel reads it from the message
    )
    envelope = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    ).encode()
    return query, envelope


async def test_safe_mode_round_trip(serve):
    served = await serve(app_id=APP_ID, app_secret=APP_SECRET, encoding_aes_key=AES_KEY)
    assert served.channel.safe_mode
    openid = new_openid()
    query, envelope = encrypted_request(text_body(openid, "加密通道你好"), openid)
    access_log = RecordingHandler()
    logging.getLogger("sanic.access").addHandler(access_log)
    try:
        status, text = await served.post(envelope, query)
    finally:
        logging.getLogger("sanic.access").removeHandler(access_log)
    [record] = access_log.records
    assert "openid=" in record.request and openid not in record.request
    assert status == 200
    reply = reply_fields(text)
    assert set(reply) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert reply["MsgSignature"] == sha1_signature(
        TOKEN, reply["TimeStamp"], reply["Nonce"], reply["Encrypt"]
    )
    _, inner, app_id = ref_decrypt(reply["Encrypt"])
    assert app_id == APP_ID.encode()
    decrypted = reply_fields(inner.decode("utf-8"))
    assert decrypted["ToUserName"] == openid
    assert decrypted["FromUserName"] == ACCOUNT
    assert decrypted["Content"] == "收到：加密通道你好"
    assert served.bot.texts == ["加密通道你好"]


async def test_safe_mode_refuses_unencrypted_and_badly_signed_requests(serve):
    served = await serve(app_id=APP_ID, app_secret=APP_SECRET, encoding_aes_key=AES_KEY)
    openid = new_openid()
    assert (await served.post(text_body(openid, "明文")))[0] == 403

    query, envelope = encrypted_request(text_body(openid, "篡改"))
    query["msg_signature"] = sha1_signature(TOKEN, query["timestamp"], query["nonce"])
    assert (await served.post(envelope, query))[0] == 403

    other_app = ref_encrypt(text_body(openid, "别的公众号"), app_id="wxffffffffffffffff")
    query = signed_query()
    query.update(
        encrypt_type="aes",
        msg_signature=sha1_signature(TOKEN, query["timestamp"], query["nonce"], other_app),
    )
    envelope = f"<xml><Encrypt><![CDATA[{other_app}]]></Encrypt></xml>".encode()
    assert (await served.post(envelope, query))[0] == 400
    assert served.bot.messages == []


# --- access token ----------------------------------------------------------------------------


async def test_expired_access_token_is_fetched_anew_and_the_message_resent(serve, wechat_api):
    served = await serve(wechat_api, reply_timeout=0.2)
    served.bot.delay = 0.4
    openid = new_openid()
    wechat_api.reject_sends_with = [40001]
    assert await served.post(text_body(openid, "慢一点的问题")) == (200, "success")
    await wechat_api.wait_for_sends(2)
    await served.channel.drain(2)
    assert [token for token, _ in wechat_api.sends] == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    assert len(wechat_api.token_requests) == 2
    assert [body["text"]["content"] for _, body in wechat_api.sends] == ["收到：慢一点的问题"] * 2


async def test_other_api_errors_are_not_retried(serve, wechat_api):
    served = await serve(wechat_api, reply_timeout=0.2)
    served.bot.delay = 0.4
    wechat_api.reject_sends_with = [45015]  # user silent for more than 48 h
    assert await served.post(text_body(new_openid(), "hi")) == (200, "success")
    await wechat_api.wait_for_sends(1)
    await served.channel.drain(2)
    assert len(wechat_api.sends) == 1
    assert len(wechat_api.token_requests) == 1


async def test_concurrent_late_replies_share_one_access_token(serve, wechat_api):
    served = await serve(wechat_api, reply_timeout=0.2)
    served.bot.delay = 0.4
    results = await asyncio.gather(
        *(served.post(text_body(new_openid(), f"问题{n}")) for n in range(5))
    )
    assert results == [(200, "success")] * 5
    await wechat_api.wait_for_sends(5)
    assert len(wechat_api.token_requests) == 1
    assert {token for token, _ in wechat_api.sends} == {"ACCESS_TOKEN_1"}


async def test_output_channel_for_messages_rasa_sends_on_its_own(wechat_api):
    channel = WeChatInput.from_credentials(
        {
            "token": TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "api_base": wechat_api.base_url,
        }
    )
    output = channel.get_output_channel()
    assert output is not None and output.name() == "wechat"
    openid = new_openid()
    await output.send_text_with_buttons(openid, "您的订单已发货", [{"title": "查看物流"}])
    assert wechat_api.sends == [
        (
            "ACCESS_TOKEN_1",
            {
                "touser": openid,
                "msgtype": "text",
                "text": {"content": "您的订单已发货\n1. 查看物流"},
            },
        )
    ]


# --- credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "key"),
    [
        (None, "token"),
        ({}, "token"),
        ({"token": ""}, "token"),
        ({"token": 12345}, "token"),
        ({"token": "has spaces!"}, "token"),
        ({"token": TOKEN, "app_id": APP_ID}, "app_secret"),
        ({"token": TOKEN, "app_secret": APP_SECRET}, "app_id"),
        ({"token": TOKEN, "encoding_aes_key": AES_KEY}, "app_id"),
        (
            {"token": TOKEN, "app_id": APP_ID, "app_secret": "x", "encoding_aes_key": "short"},
            "encoding_aes_key",
        ),
        ({"token": TOKEN, "reply_timeout": 5}, "reply_timeout"),
        ({"token": TOKEN, "reply_timeout": "fast"}, "reply_timeout"),
        ({"token": TOKEN, "max_body_bytes": 10}, "max_body_bytes"),
        ({"token": TOKEN, "max_body_bytes": "65536.5"}, "max_body_bytes"),
        ({"token": TOKEN, "api_base": "api.weixin.qq.com"}, "api_base"),
    ],
)
def test_missing_or_invalid_credentials_name_the_key(credentials, key):
    with pytest.raises(ValueError, match=f"'{key}'"):
        WeChatInput.from_credentials(credentials)


def test_credentials_defaults():
    channel = WeChatInput.from_credentials({"token": TOKEN})
    assert WeChatInput.name() == "wechat"
    assert channel.url_prefix() == "wechat"
    assert channel.api_base == "https://api.weixin.qq.com"
    assert channel.reply_timeout == 4.5
    assert channel.max_body_bytes == 65536
    assert not channel.safe_mode
    assert channel.get_output_channel() is None  # no app_id/app_secret: no API
    full = WeChatInput.from_credentials(
        {"token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET, "api_base": "http://x/"}
    )
    assert full.api_base == "http://x"
    assert full.get_output_channel() is not None
    from_env = WeChatInput.from_credentials(  # ${VAR} substitution yields strings
        {"token": TOKEN, "reply_timeout": "3.5", "max_body_bytes": "8192"}
    )
    assert (from_env.reply_timeout, from_env.max_body_bytes) == (3.5, 8192)
