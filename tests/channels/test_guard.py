"""The guard in front of every channel: length and rate, with polite replies."""

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from kefu.config import Bilingual, ChannelLimits
from kefu.ratelimit import RateLimiter
from kefu_rasa.channels.guard import guarded, pseudonym

LIMITS = ChannelLimits(
    max_message_chars=10,
    too_long=Bilingual("太长了（{limit}）", "too long ({limit})"),
    too_fast=Bilingual("慢一点", "slow down"),
)


def make(burst: int = 2):
    seen: list[str] = []

    async def bot(message: UserMessage) -> None:
        seen.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "ok")

    handler = guarded(bot, "test", LIMITS, RateLimiter(burst=burst, per_minute=1))
    return handler, seen


def message(text: str, sender: str = "s1") -> UserMessage:
    return UserMessage(text, CollectingOutputChannel(), sender, input_channel="test")


async def test_messages_within_the_limits_reach_the_bot():
    handler, seen = make()
    m = message("你好")
    await handler(m)
    assert seen == ["你好"]
    assert [x["text"] for x in m.output_channel.messages] == ["ok"]


async def test_a_long_message_is_answered_in_its_language_without_the_bot():
    handler, seen = make()
    zh, en = message("太" * 11), message("x " * 6)
    await handler(zh)
    await handler(en)
    assert seen == []
    assert zh.output_channel.messages[0]["text"] == "太长了（10）"
    assert en.output_channel.messages[0]["text"] == "too long (10)"


async def test_a_flood_is_slowed_and_told_once(caplog):
    handler, seen = make(burst=2)
    messages = [message(f"hi {n}") for n in range(5)]
    for m in messages:
        await handler(m)
    assert seen == ["hi 0", "hi 1"]
    notices = [x["text"] for m in messages[2:] for x in m.output_channel.messages]
    assert notices == ["slow down"]  # one notice, not one per message
    assert "s1" not in caplog.text and pseudonym("test:s1") in caplog.text


async def test_another_sender_is_unaffected_by_a_flood():
    handler, seen = make(burst=1)
    await handler(message("a", "flooder"))
    await handler(message("b", "flooder"))
    await handler(message("c", "customer"))
    assert seen == ["a", "c"]
