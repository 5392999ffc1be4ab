"""The guard every channel puts in front of the bot: message length and per-sender rate.

``guarded(on_new_message, "webchat")`` returns a drop-in replacement for Rasa's message handler.
A message that is too long, or that comes from a sender over the rate limit, never reaches the
NLU pipeline: the sender gets a polite reply in their language (for a flood, at most one every
ten seconds) and the event is logged with a pseudonym, never the sender id or the text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from rasa.core.channels.channel import UserMessage

from kefu.config import ChannelLimits, shop_config
from kefu.language import detect_language
from kefu.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

Handler = Callable[[UserMessage], Awaitable[Any]]


def pseudonym(sender_id: object) -> str:
    """A short, stable stand-in for a sender id in logs."""
    return hashlib.sha256(str(sender_id).encode("utf-8")).hexdigest()[:12]


@lru_cache(maxsize=1)
def shared_limiter() -> RateLimiter:
    """One limiter per process, shared by every channel."""
    limits = shop_config().channels
    return RateLimiter(limits.burst, limits.per_minute)


def _language(text: str) -> str:
    return "en" if detect_language(text) == "en" else "zh"


def guarded(
    on_new_message: Handler,
    channel: str,
    limits: ChannelLimits | None = None,
    limiter: RateLimiter | None = None,
) -> Handler:
    """``on_new_message`` behind the length check and the per-sender rate limit."""
    limits = shop_config().channels if limits is None else limits
    limiter = shared_limiter() if limiter is None else limiter  # an empty limiter is falsy

    async def handle(message: UserMessage) -> Any:
        text = message.text or ""
        key = f"{channel}:{message.sender_id}"
        who = pseudonym(key)
        if not limiter.allow(key):
            logger.warning("%s: sender %s is over the rate limit", channel, who)
            if limiter.should_notify(key):
                reply = limits.too_fast.get(_language(text))
                await message.output_channel.send_text_message(message.sender_id, reply)
            return None
        if len(text) > limits.max_message_chars:
            logger.warning("%s: sender %s sent %d characters", channel, who, len(text))
            reply = limits.too_long.get(_language(text)).format(limit=limits.max_message_chars)
            await message.output_channel.send_text_message(message.sender_id, reply)
            return None
        return await on_new_message(message)

    return handle
