"""The guard in front of every channel: scoped conversation ids, limits, length, commands and
metadata, with polite replies."""

import json

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from kefu.config import DEFAULT_BUTTON_PAYLOADS, Bilingual, ChannelLimits
from kefu.ratelimit import MemoryLimitStore, Rate, TrafficLimiter, TrafficLimits
from kefu_rasa.channels.guard import (
    CLIENT_ADDRESS,
    ScopedOutput,
    bounded_metadata,
    conversation_id,
    customer_text,
    guarded,
    pseudonym,
    split_conversation_id,
    system_message,
)

LIMITS = ChannelLimits(
    max_message_chars=40,
    too_long=Bilingual("太长了（{limit}）", "too long ({limit})"),
    too_fast=Bilingual("慢一点", "slow down"),
    too_busy=Bilingual("人太多", "busy"),
)
PLENTY = Rate(1000, 1000)


def limiter(
    burst: int = 2,
    address: Rate = PLENTY,
    new: Rate = PLENTY,
    per_channel: Rate = PLENTY,
    overall: Rate = PLENTY,
) -> TrafficLimiter:
    limits = TrafficLimits(Rate.per_minute(burst, 1), address, new, per_channel, overall)
    return TrafficLimiter(limits, MemoryLimitStore())


def make(burst: int = 2, channel: str = "test", **rates):
    seen: list[UserMessage] = []

    async def bot(message: UserMessage) -> None:
        seen.append(message)
        await message.output_channel.send_text_message(message.sender_id, "ok")

    handler = guarded(bot, channel, LIMITS, limiter(burst, **rates))
    return handler, seen


def message(text: str, sender: str = "s1", **kwargs) -> UserMessage:
    return UserMessage(text, CollectingOutputChannel(), sender, input_channel="test", **kwargs)


async def test_messages_within_the_limits_reach_the_bot_under_a_scoped_id():
    handler, seen = make()
    m = message("你好")
    await handler(m)
    assert [x.text for x in seen] == ["你好"]
    assert seen[0].sender_id == "test:s1" and seen[0].input_channel == "test"
    # the reply is addressed to the sender as the platform knows it
    assert [(x["recipient_id"], x["text"]) for x in m.output_channel.messages] == [("s1", "ok")]


def test_conversation_ids_carry_the_channel():
    assert conversation_id("telegram", 12345) == "telegram:12345"
    assert split_conversation_id("rest:telegram:12345") == ("rest", "telegram:12345")
    assert split_conversation_id("legacy-id") == (None, "legacy-id")


async def test_the_same_sender_on_two_channels_is_two_conversations():
    rest, rest_seen = make(channel="rest")
    telegram, telegram_seen = make(channel="telegram")
    await rest(message("hi", "12345"))
    await telegram(message("hi", "12345"))
    assert rest_seen[0].sender_id != telegram_seen[0].sender_id


async def test_scoped_output_strips_only_its_own_prefix():
    inner = CollectingOutputChannel()
    out = ScopedOutput(inner, "webchat")
    await out.send_text_message("webchat:abc", "1")
    buttons = [{"title": "t", "payload": "/x"}]
    await out.send_response("webchat:abc", {"text": "2", "buttons": buttons})
    await out.send_text_message("rest:abc", "3")
    assert [m["recipient_id"] for m in inner.messages] == ["abc", "abc", "rest:abc"]
    assert out.name() == "collector" and out.messages is inner.messages


async def test_a_long_message_is_answered_in_its_language_without_the_bot():
    handler, seen = make()
    zh, en = message("太" * 41), message("x " * 21)
    await handler(zh)
    await handler(en)
    assert seen == []
    assert zh.output_channel.messages[0]["text"] == "太长了（40）"
    assert en.output_channel.messages[0]["text"] == "too long (40)"


async def test_a_flood_is_slowed_and_told_once(caplog):
    handler, seen = make(burst=2)
    messages = [message(f"hi {n}") for n in range(5)]
    for m in messages:
        await handler(m)
    assert [x.text for x in seen] == ["hi 0", "hi 1"]
    notices = [x["text"] for m in messages[2:] for x in m.output_channel.messages]
    assert notices == ["slow down"]  # one notice, not one per message
    assert "s1" not in caplog.text and pseudonym("test:s1") in caplog.text


async def test_another_sender_is_unaffected_by_a_flood():
    handler, seen = make(burst=1)
    await handler(message("a", "flooder"))
    await handler(message("b", "flooder"))
    await handler(message("c", "customer"))
    assert [x.text for x in seen] == ["a", "c"]


async def test_rotating_senders_from_one_address_hit_the_address_limit():
    handler, seen = make(burst=5, address=Rate.per_minute(3, 1))
    for n in range(6):
        await handler(message("hi", f"rotating-{n}"), client="203.0.113.9")
    assert len(seen) == 3
    await handler(message("hi", "neighbour"), client="198.51.100.7")  # another address
    assert len(seen) == 4


async def test_new_conversations_per_address_are_limited_but_going_ones_continue():
    handler, seen = make(burst=5, new=Rate.per_hour(2, 1))
    messages = [message("hi", f"conv-{n}") for n in range(4)]
    for m in messages:
        await handler(m, client="203.0.113.9")
    assert [m.sender_id for m in seen] == ["test:conv-0", "test:conv-1"]
    assert messages[3].output_channel.messages[0]["text"] == "busy"
    await handler(message("more", "conv-0"), client="203.0.113.9")  # an ongoing conversation
    assert seen[-1].text == "more"


async def test_channel_and_global_limits():
    handler, seen = make(burst=5, per_channel=Rate.per_minute(2, 1))
    for n in range(3):
        await handler(message("hi", f"s{n}"))
    assert len(seen) == 2
    handler, seen = make(burst=5, overall=Rate.per_minute(1, 1))
    refused = message("hi", "s2")
    await handler(message("hi", "s1"))
    await handler(refused)
    assert len(seen) == 1 and refused.output_channel.messages[0]["text"] == "busy"


async def test_the_request_address_counts_only_where_the_channel_says_so():
    seen: list[UserMessage] = []

    async def bot(m: UserMessage) -> None:
        seen.append(m)

    shared = limiter(burst=5, address=Rate.per_minute(1, 1))
    rest = guarded(bot, "rest", LIMITS, shared, request_address=True)
    telegram = guarded(bot, "telegram", LIMITS, shared)
    token = CLIENT_ADDRESS.set("203.0.113.9")
    try:
        await rest(message("a", "1"))
        await rest(message("b", "2"))  # same address: over its limit
        await telegram(message("c", "3"))  # the platform's address means nothing
        await telegram(message("d", "4"))
    finally:
        CLIENT_ADDRESS.reset(token)
    assert [m.text for m in seen] == ["a", "c", "d"]


@pytest.mark.parametrize(
    "typed, passed",
    [
        ("/restart", "restart"),
        ("/back", "back"),
        ("  //session_start", "session_start"),
        ("/ /restart", "restart"),
        ("/nlu_fallback", "nlu_fallback"),
        ("/cancel_order", "cancel_order"),
        ("/affirm@0.99", "affirm@0.99"),
        ('/inform{"phone": "1234"}', 'inform{"phone": "1234"}'),
        ('/inform{"order_id": ["1", "2"]}', 'inform{"order_id": ["1", "2"]}'),
        ('/inform{"order_id": "1"} trailing', 'inform{"order_id": "1"} trailing'),
        ("/", ""),
        ("//", ""),
        ("/affirm", "/affirm"),
        ("/deny", "/deny"),
        ('/switch_language{"language": "en"}', '/switch_language{"language": "en"}'),
        ('/inform{"order_id": "2611300015557882"}', '/inform{"order_id": "2611300015557882"}'),
        ('/product_info{"position": "2"}', '/product_info{"position": "2"}'),
        ('/rate_satisfaction{"rating": "5"}', '/rate_satisfaction{"rating": "5"}'),
        ("查订单 /restart", "查订单 /restart"),
        ("1/2", "1/2"),
    ],
)
def test_customers_cannot_type_commands(typed, passed):
    assert customer_text(typed, DEFAULT_BUTTON_PAYLOADS) == passed


async def test_a_typed_restart_reaches_the_bot_as_text_and_buttons_still_work():
    handler, seen = make(burst=5)
    await handler(message("/restart"))
    await handler(message('/product_info{"position": "2"}'))
    assert [m.text for m in seen] == ["restart", '/product_info{"position": "2"}']


async def test_a_message_the_channel_made_keeps_its_payload():
    handler, seen = make(burst=5)
    await handler(system_message(message("/greet")))
    await handler(message("/greet"))
    assert [m.text for m in seen] == ["/greet", "greet"]


def test_metadata_keeps_only_a_bounded_customer_token():
    assert bounded_metadata({"customer_token": "t", "admin": True}, 10) == {"customer_token": "t"}
    assert bounded_metadata({"customer_token": "x" * 11}, 10) == {}
    assert bounded_metadata(json.dumps({"customer_token": "t"}), 10) == {"customer_token": "t"}
    assert bounded_metadata({"customer_token": 5}, 10) == {}
    assert bounded_metadata(None, 10) == {} and bounded_metadata(["x"], 10) == {}


async def test_metadata_is_bounded_and_the_input_channel_is_the_channels():
    handler, seen = make(burst=5, channel="rest")
    junk = {"customer_token": "abc", "blob": "x" * 500_000, "input_channel": "telegram"}
    await handler(
        UserMessage("hi", CollectingOutputChannel(), "s", input_channel="telegram", metadata=junk)
    )
    await handler(message("hi", "t", metadata={"customer_token": "x" * 500_000}))
    assert seen[0].metadata == {"customer_token": "abc"}
    assert seen[0].input_channel == "rest"
    assert seen[1].metadata == {}
