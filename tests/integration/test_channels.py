"""Every channel and the HTTP surface, against the real servers started by scripts/run.sh.

The messaging platforms are played by tests/integration/fake_platforms.py; the bot, the action
server and the channels are the real ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import time
import uuid

import jwt
import pytest
import requests

from kefu.config import shop_config
from tests.channels.socketio_client import Client
from tests.integration.fake_platforms import TELEGRAM_BOT_NAME

pytestmark = pytest.mark.model
LIMITS = shop_config().channels
CJK = re.compile(r"[\u4e00-\u9fff]")


def wechat_query(token: str, **extra: str) -> dict[str, str]:
    """Query parameters WeChat would send, signed by its published algorithm."""
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}


def wechat_text(openid: str, text: str, msg_id: int) -> bytes:
    return (
        "<xml><ToUserName><![CDATA[gh_kefu]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


# ---- REST and the HTTP surface ------------------------------------------------------------


def test_rest_refuses_requests_without_a_sender(bot):
    url = f"{bot.url}/webhooks/rest/webhook"
    assert requests.post(url, json={"message": "hi"}, timeout=10).status_code == 400
    assert requests.post(url, data="not json", timeout=10).status_code == 400
    assert requests.post(url, json={"sender": "x", "message": 5}, timeout=10).status_code == 400


def test_a_request_over_the_size_limit_is_refused(bot):
    big = json.dumps({"sender": "big", "message": "x" * 2_000_000})
    response = requests.post(f"{bot.url}/webhooks/rest/webhook", data=big, timeout=30)
    assert response.status_code == 413


def test_a_too_long_message_gets_a_polite_reply(bot):
    replies = bot.texts("请问" * LIMITS.max_message_chars)
    assert replies == [LIMITS.too_long.zh.format(limit=LIMITS.max_message_chars)]


def test_a_flood_from_one_sender_is_slowed_and_others_are_served(bot):
    flooder = uuid.uuid4().hex
    replies = [bot.texts(f"hello {n}", flooder) for n in range(LIMITS.burst + 2)]
    assert [LIMITS.too_fast.en] in replies
    assert replies[0] and replies[0] != [LIMITS.too_fast.en]
    assert bot.texts("你好") != [LIMITS.too_fast.zh]


def test_the_http_api_needs_the_token_or_a_jwt(bot):
    parse = f"{bot.url}/model/parse"
    assert requests.post(parse, json={"text": "你好"}, timeout=10).status_code == 401
    bad = requests.post(parse, json={"text": "你好"}, params={"token": "wrong"}, timeout=10)
    assert bad.status_code == 401
    good = requests.post(parse, json={"text": "你好"}, params={"token": bot.token}, timeout=10)
    assert good.status_code == 200 and good.json()["intent"]["name"] == "greet"
    claims = {"user": {"username": "ops", "role": "admin"}}
    secret = os.environ["KEFU_JWT_SECRET"]
    signed = jwt.encode(claims, secret, algorithm="HS256")
    forged = jwt.encode(claims, "not-the-secret-" * 3, algorithm="HS256")
    for token, status in ((signed, 200), (forged, 401)):
        response = requests.post(
            parse, json={"text": "hi"}, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == status


def test_cors_allows_only_the_shop(bot):
    def preflight(origin: str) -> requests.Response:
        return requests.options(
            f"{bot.url}/webhooks/rest/webhook",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            timeout=10,
        )

    assert preflight(bot.stack.shop_url).headers.get("Access-Control-Allow-Origin") == (
        bot.stack.shop_url
    )
    assert "Access-Control-Allow-Origin" not in preflight("https://evil.example").headers


def test_the_action_server_refuses_calls_without_the_shared_secret(bot):
    actions = f"http://127.0.0.1:{bot.stack.actions_port}"
    assert requests.get(f"{actions}/health", timeout=10).status_code == 200
    call = {"next_action": "action_order_task", "tracker": {"sender_id": "x"}}
    wrong = {"Authorization": "Bearer " + "x" * 48}
    for headers in ({}, wrong):
        refused = requests.post(f"{actions}/webhook", json=call, headers=headers, timeout=10)
        assert refused.status_code == 401
    right = {"Authorization": f"Bearer {bot.stack.action_secret}"}
    listed = requests.get(f"{actions}/actions", headers=right, timeout=10)
    assert listed.status_code == 200
    assert "action_order_task" in {a["name"] for a in listed.json()}


def test_the_widget_is_served_by_the_bot(bot):
    response = requests.get(f"{bot.url}/webhooks/webchat/widget.js", timeout=10)
    assert response.status_code == 200
    assert "session_request" in response.text


# ---- WeChat ----------------------------------------------------------------------------------


def test_wechat_url_verification(bot):
    token = os.environ["WECHAT_TOKEN"]
    url = f"{bot.url}/webhooks/wechat/webhook"
    good = requests.get(url, params=wechat_query(token, echostr="e123"), timeout=10)
    assert (good.status_code, good.text) == (200, "e123")
    forged = wechat_query(token, echostr="e123") | {"signature": "0" * 40}
    assert requests.get(url, params=forged, timeout=10).status_code == 403


def test_wechat_text_gets_an_answer_from_the_bot(bot):
    token = os.environ["WECHAT_TOKEN"]
    url = f"{bot.url}/webhooks/wechat/webhook"
    openid = "o" + uuid.uuid4().hex[:27]
    body = wechat_text(openid, "你们支持七天无理由退货吗", 7_000_000_001)
    response = requests.post(url, params=wechat_query(token), data=body, timeout=15)
    assert response.status_code == 200
    if response.text != "success":  # answered passively within WeChat's 5 s
        assert f"<ToUserName><![CDATA[{openid}]]></ToUserName>" in response.text
        answer = response.text
    else:  # answered later through the customer-service API
        (call,) = bot.platforms.wait_for("/cgi-bin/message/custom/send")
        assert call.data["touser"] == openid
        answer = call.data["text"]["content"]
    assert "7" in answer and CJK.search(answer)
    replay = requests.post(url, params=wechat_query(token), data=body, timeout=15)
    assert (replay.status_code, replay.text) == (200, "success")  # WeChat's retry: no 2nd answer
    forged = wechat_query(token) | {"signature": "f" * 40}
    assert requests.post(url, params=forged, data=body, timeout=10).status_code == 403


# ---- Telegram, Slack, Facebook ---------------------------------------------------------------


def telegram_update(chat_id: int, text: str) -> dict:
    return {
        "update_id": chat_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Li"},
            "text": text,
        },
    }


def test_telegram_registered_its_webhook_with_the_secret(bot):
    (call,) = bot.platforms.wait_for("/setWebhook")[:1]
    assert call.data["secret_token"] == os.environ["TELEGRAM_SECRET_TOKEN"]
    assert call.data["url"] == os.environ["TELEGRAM_WEBHOOK_URL"]


def test_telegram_updates_need_the_secret_token_and_get_answers(bot):
    url = f"{bot.url}/webhooks/telegram/webhook"
    chat_id = random.randrange(10**8, 10**9)  # a new chat: the local tracker store outlives runs
    update = telegram_update(chat_id, "Do you have any laptops?")
    assert requests.post(url, json=update, timeout=10).status_code == 403
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "x" * 24}
    assert requests.post(url, json=update, headers=wrong, timeout=10).status_code == 403
    assert not [c for c in bot.platforms.calls if c.data.get("chat_id") == str(chat_id)]
    right = {"X-Telegram-Bot-Api-Secret-Token": os.environ["TELEGRAM_SECRET_TOKEN"]}
    response = requests.post(url, json=update, headers=right, timeout=30)
    assert (response.status_code, response.text) == (200, "success")
    sent = [c for c in bot.platforms.wait_for("/sendMessage") if c.data["chat_id"] == str(chat_id)]
    assert sent and re.search(r"[A-Za-z]{3}", sent[0].data["text"])
    assert "getMe" in " ".join(c.path for c in bot.platforms.calls)
    assert TELEGRAM_BOT_NAME  # the fake's getMe answers with the configured bot name


def test_telegram_webhook_cannot_be_reregistered_from_outside(bot):
    response = requests.get(f"{bot.url}/webhooks/telegram/set_webhook", timeout=10)
    assert response.status_code == 404


def test_slack_and_facebook_refuse_unsigned_requests(bot):
    event = {"type": "event_callback", "event": {"type": "message", "text": "hi", "user": "U1"}}
    slack = requests.post(f"{bot.url}/webhooks/slack/webhook", json=event, timeout=10)
    assert slack.status_code == 400
    body = json.dumps({"object": "page", "entry": []}).encode()
    wrong = "sha1=" + hmac.new(b"wrong", body, hashlib.sha1).hexdigest()
    facebook = requests.post(
        f"{bot.url}/webhooks/facebook/webhook",
        data=body,
        headers={"X-Hub-Signature": wrong, "Content-Type": "application/json"},
        timeout=10,
    )
    assert facebook.text == "not validated"


# ---- messages the bot sends on its own (an agent's reply through Rasa's HTTP API) -------------


def push(bot, conversation_id: str, text: str) -> requests.Response:
    """Append a bot message and send it on the conversation's latest channel, as the agent
    console does (the id percent-encoded, as it sends it)."""
    return requests.post(
        bot.api_url(conversation_id, "/tracker/events"),
        params={"token": bot.token, "output_channel": "latest", "execute_side_effects": "true"},
        json=[{"event": "bot", "text": text}],
        timeout=30,
    )


async def test_an_api_message_reaches_the_web_chat_customer(bot):
    client = Client()
    await client.connect(bot.url, origin=bot.stack.shop_url)
    try:
        session_id = await client.request_session()
        await client.emit("user_uttered", {"message": "你好"})
        await client.next("bot_uttered", timeout=60)
        assert push(bot, f"webchat:{session_id}", "客服小李：您好").status_code == 200
        agent = {"text": "客服小李：您好"}
        while await client.next("bot_uttered", timeout=30) != agent:
            pass  # the rest of the greeting turn
    finally:
        await client.close()


def test_an_api_message_reaches_the_telegram_chat(bot):
    chat_id = 990_000_000 + uuid.uuid4().int % 1_000_000
    url = f"{bot.url}/webhooks/telegram/webhook"
    right = {"X-Telegram-Bot-Api-Secret-Token": os.environ["TELEGRAM_SECRET_TOKEN"]}
    requests.post(url, json=telegram_update(chat_id, "hello"), headers=right, timeout=60)
    assert push(bot, f"telegram:{chat_id}", "Agent Li: hello").status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = [c.data.get("text") for c in bot.platforms.calls if c.path.endswith("/sendMessage")]
        if "Agent Li: hello" in sent:
            break
        time.sleep(0.2)
    calls = [c for c in bot.platforms.calls if c.data.get("text") == "Agent Li: hello"]
    assert calls and calls[0].data["chat_id"] == str(chat_id)
