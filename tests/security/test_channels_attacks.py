"""Attacks on conversations and channels, tried against the real servers (scripts/run.sh with
the trained model, every channel on, the platforms played by local fakes): each must fail.

* cross-channel sender reuse: a REST caller using a Telegram chat id or a web-chat session id
  as its ``sender`` reaches a conversation of its own (``rest:<id>``);
* room joining: a socket.io client that knows a session id, but not its secret, gets a fresh
  session and none of the victim's messages;
* forged events: a ``role: user`` JWT cannot post events to its conversation (403), the admin
  JWT can;
* "/restart" and "/back" typed on REST and socket.io are not executed (no restart, no rewind);
* 500 KB of metadata is not stored, a top-level ``input_channel`` is not believed;
* no secret on the Rasa server's command line.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import jwt
import pytest
import requests

from tests.channels.socketio_client import Client

pytestmark = pytest.mark.model

ORDER_TEXT = "帮我查一下订单 2611300015557882，手机尾号 1870"


def user_texts(tracker: dict) -> list[str]:
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def event_kinds(tracker: dict) -> list[str]:
    return [e["event"] for e in tracker["events"]]


def intents(tracker: dict) -> list[str]:
    return [
        (e.get("parse_data") or {}).get("intent", {}).get("name")
        for e in tracker["events"]
        if e["event"] == "user"
    ]


def telegram(bot, chat_id: int, text: str) -> None:
    update = {
        "update_id": chat_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Li"},
            "text": text,
        },
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": os.environ["TELEGRAM_SECRET_TOKEN"]}
    response = requests.post(
        f"{bot.url}/webhooks/telegram/webhook", json=update, headers=headers, timeout=60
    )
    assert (response.status_code, response.text) == (200, "success")


async def web_chat(bot) -> Client:
    client = Client()
    await client.connect(bot.url, origin=bot.stack.shop_url)
    await client.request_session()
    return client


async def say(client: Client, text: str) -> list[dict]:
    """Send ``text``; the bot's messages until its turn ends."""
    await client.emit("user_uttered", {"message": text})
    said = []
    while True:
        event, data = await asyncio.wait_for(client.events.get(), 60)
        if event == "bot_uttered":
            said.append(data)
        elif event == "bot_typing" and data == {"on": False}:
            return said


def test_rest_cannot_reach_a_telegram_conversation_by_its_chat_id(bot):
    chat_id = 880_000_000 + uuid.uuid4().int % 1_000_000
    telegram(bot, chat_id, ORDER_TEXT)
    replies = bot.say("我刚才那个订单怎么样了？", str(chat_id), metadata=None)
    assert "2611300015557882" not in str(replies)
    assert user_texts(bot.tracker(f"telegram:{chat_id}")) == [ORDER_TEXT]
    assert user_texts(bot.tracker(f"rest:{chat_id}")) == ["我刚才那个订单怎么样了？"]
    assert user_texts(bot.tracker(str(chat_id))) == []  # no unscoped conversation either
    # the reply to Telegram went to the chat id the platform knows
    sent = [c for c in bot.platforms.wait_for("/sendMessage") if c.data["chat_id"] == str(chat_id)]
    assert sent


async def test_rest_and_a_second_socket_cannot_reach_a_web_chat_conversation(bot):
    customer = await web_chat(bot)
    try:
        session_id = customer.session_id
        await say(customer, ORDER_TEXT)
        replies = bot.say("我刚才说了什么订单？", session_id)
        assert "2611300015557882" not in str(replies)
        assert user_texts(bot.tracker(f"webchat:{session_id}")) == [ORDER_TEXT]
        assert user_texts(bot.tracker(f"rest:{session_id}")) == ["我刚才说了什么订单？"]

        attacker = Client()
        await attacker.connect(bot.url, origin=bot.stack.shop_url)
        try:
            assert await attacker.request_session(session_id) != session_id
            assert await attacker.request_session(session_id, "9" * 10 + ".x") != session_id
            assert await say(customer, "你好")
            with pytest.raises(asyncio.TimeoutError):
                while True:  # nothing of the victim's conversation reaches the attacker
                    event, _ = await asyncio.wait_for(attacker.events.get(), 2)
                    assert event != "bot_uttered"
        finally:
            await attacker.close()
        assert user_texts(bot.tracker(f"webchat:{session_id}")) == [ORDER_TEXT, "你好"]
    finally:
        await customer.close()


def jwt_header(role: str, username: str) -> dict[str, str]:
    claims = {"user": {"username": username, "role": role}}
    return {"Authorization": "Bearer " + jwt.encode(claims, os.environ["KEFU_JWT_SECRET"], "HS256")}


def test_a_user_jwt_cannot_forge_events_and_the_admin_can(bot):
    sender = uuid.uuid4().hex
    bot.say("你好", sender)
    conversation = bot.conversation_id(sender)
    events = bot.api_url(conversation, "/tracker/events")
    forged = [{"event": "slot", "name": "customer_id", "value": 1}]
    refused = requests.post(
        events, json=forged, headers=jwt_header("user", conversation), timeout=30
    )
    assert refused.status_code == 403
    for path, body in (("/execute", {"name": "action_restart"}), ("/messages", {"text": "hi"})):
        other = requests.post(
            bot.api_url(conversation, path),
            json={**body, "sender": "user"},
            headers=jwt_header("user", conversation),
            timeout=30,
        )
        assert other.status_code == 403
    tracker = bot.tracker(conversation)
    assert tracker["slots"].get("customer_id") is None
    own = requests.get(
        bot.api_url(conversation), headers=jwt_header("user", conversation), timeout=30
    )
    assert own.status_code == 200  # reading its own conversation stays allowed
    note = [{"event": "bot", "text": "ops note", "metadata": {"agent": "ops"}}]
    allowed = requests.post(events, json=note, headers=jwt_header("admin", "ops"), timeout=30)
    assert allowed.status_code == 200
    assert "ops note" in [e.get("text") for e in bot.tracker(conversation)["events"]]


@pytest.mark.parametrize("command", ["/restart", "/back"])
def test_typed_restart_and_back_are_not_executed_on_rest(bot, command):
    sender = uuid.uuid4().hex
    bot.say("有什么新款手机推荐？", sender)
    bot.say(command, sender)
    tracker = bot.tracker(bot.conversation_id(sender))
    assert "restart" not in event_kinds(tracker) and "rewind" not in event_kinds(tracker)
    assert user_texts(tracker)[-1] == command.lstrip("/")
    assert intents(tracker)[-1] not in ("restart", "back", "session_start")


@pytest.mark.parametrize("command", ["/restart", "/back"])
async def test_typed_restart_and_back_are_not_executed_on_socket_io(bot, command):
    client = await web_chat(bot)
    try:
        await say(client, "有什么新款手机推荐？")
        await say(client, command)
        tracker = bot.tracker(f"webchat:{client.session_id}")
    finally:
        await client.close()
    assert "restart" not in event_kinds(tracker) and "rewind" not in event_kinds(tracker)
    assert user_texts(tracker)[-1] == command.lstrip("/")


def test_the_bots_buttons_still_work(bot):
    sender = uuid.uuid4().hex
    bot.say('/switch_language{"language": "en"}', sender)
    tracker = bot.tracker(bot.conversation_id(sender))
    assert intents(tracker)[-1] == "switch_language"


def test_half_a_megabyte_of_metadata_is_not_stored_and_input_channel_not_believed(bot):
    sender = uuid.uuid4().hex
    body = {
        "sender": sender,
        "message": "你好",
        "input_channel": "telegram",
        "metadata": {"customer_token": "x" * 500_000, "notes": "y" * 1000},
    }
    response = requests.post(f"{bot.url}/webhooks/rest/webhook", json=body, timeout=60)
    assert response.status_code == 200
    tracker = bot.tracker(bot.conversation_id(sender))
    (user,) = [e for e in tracker["events"] if e["event"] == "user"]
    # Rasa adds its own model and assistant ids; nothing of the request's metadata is kept
    assert not {"customer_token", "notes"} & set(user.get("metadata") or {})
    assert user["input_channel"] == "rest"
    assert len(str(tracker)) < 100_000


def test_no_secret_on_the_rasa_servers_command_line(bot):
    pid = bot.stack.rasa_pid()
    assert pid is not None
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    for secret in (bot.token, os.environ["KEFU_JWT_SECRET"], bot.stack.action_secret):
        assert secret not in cmdline
