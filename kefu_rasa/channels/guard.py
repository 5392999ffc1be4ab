"""The guard every channel puts in front of the bot.

``guarded(on_new_message, "webchat")`` returns a drop-in replacement for Rasa's message handler
that, for every customer message:

* scopes the conversation to the channel: the tracker key is ``"<channel>:<sender id>"``
  (:func:`conversation_id`), so a REST caller who sends a Telegram chat id or a web-chat
  session id as its ``sender`` reaches a conversation of its own (``rest:<that id>``), never
  the other channel's.  Replies still reach the sender: the output channel is wrapped
  (:class:`ScopedOutput`) to take the prefix off again;
* checks the rate limits (``kefu.ratelimit``: per conversation, per client address where the
  channel has one, new conversations per address, per channel, in all) and the length; over a
  limit the customer gets a polite reply in their language (at most one per ten seconds) and
  the bot is not called;
* takes Rasa's commands out of customers' hands: a text starting with "/" passes only when it
  is one of the bot's own button payloads (``channels.button_payloads`` in shop.yml: the
  intent and its entity keys); anything else (/restart, /back, /session_start, other
  intents) reaches the bot without the slash, as ordinary text;
* keeps only the known metadata (``customer_token``, at most ``max_metadata_chars``), adds
  ``client`` (a pseudonym of the client's address, where the channel has one) and sets the
  input channel to the channel's own name, whatever the request said.

Events are logged with a pseudonym, never the sender id, the address or the text.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import os
import re
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

from kefu.config import ChannelLimits, shop_config
from kefu.console.clients import Network, bucket, client_address, parse_networks, split_list
from kefu.language import detect_language
from kefu.ratelimit import SENDER, TrafficLimiter, limit_scale, limit_store, traffic_limits

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]

METADATA_KEYS = ("customer_token",)  # what a customer's message may tell the bot
# set by the guard (never by the customer) where the channel knows the client's address: a
# pseudonym of it, for limits further on (hand-off tickets per client)
CLIENT_METADATA_KEY = "client"
TRUSTED_PROXIES_ENV = "KEFU_TRUSTED_PROXIES"
SEPARATOR = ":"
MAX_ENTITY_CHARS = 64
NOTICE_SECONDS = 10.0

# The client address of the request being handled (REST), set by the channel; None where the
# channel has none that means anything (messaging platforms relay many customers).
CLIENT_ADDRESS: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kefu_client_address", default=None
)

_system_messages: weakref.WeakSet[UserMessage] = weakref.WeakSet()


def pseudonym(sender_id: object) -> str:
    """A short, stable stand-in for a sender id in logs."""
    return hashlib.sha256(str(sender_id).encode("utf-8")).hexdigest()[:12]


# ---- conversation ids -------------------------------------------------------------------------


def conversation_id(channel: str, sender_id: object) -> str:
    """The tracker key of ``sender_id`` on ``channel``: ``"<channel>:<sender id>"``."""
    return f"{channel}{SEPARATOR}{sender_id}"


def split_conversation_id(value: str) -> tuple[str | None, str]:
    """``(channel, sender id)`` of a conversation id; ``(None, value)`` for an unscoped one."""
    channel, separator, sender = value.partition(SEPARATOR)
    if not separator or not channel:
        return None, value
    return channel, sender


class ScopedOutput(OutputChannel):
    """An output channel that takes the channel prefix off recipients ("telegram:42" → "42").

    Rasa addresses replies to the tracker's sender id, which is the scoped conversation id;
    the platform needs the id it knows.  Everything else is the wrapped channel's."""

    def __init__(self, inner: OutputChannel, channel: str) -> None:
        self.inner = inner
        self.channel = channel
        self._prefix = channel + SEPARATOR

    def name(self) -> str:  # type: ignore[override]  # an instance's name: the inner one's
        return self.inner.name()

    def recipient(self, recipient_id: str) -> str:
        text = str(recipient_id)
        return text[len(self._prefix) :] if text.startswith(self._prefix) else text

    def __getattr__(self, attribute: str) -> Any:  # e.g. a collector's ``messages``
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.inner.send_response(self.recipient(recipient_id), message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.inner.send_text_message(self.recipient(recipient_id), text, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.inner.send_image_url(self.recipient(recipient_id), image, **kwargs)

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self.inner.send_attachment(self.recipient(recipient_id), attachment, **kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.inner.send_text_with_buttons(
            self.recipient(recipient_id), text, buttons, **kwargs
        )

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.inner.send_quick_replies(
            self.recipient(recipient_id), text, quick_replies, **kwargs
        )

    async def send_elements(
        self, recipient_id: str, elements: Sequence[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.inner.send_elements(self.recipient(recipient_id), elements, **kwargs)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self.inner.send_custom_json(self.recipient(recipient_id), json_message, **kwargs)


def scoped_output(output: OutputChannel | None, channel: str) -> OutputChannel | None:
    """``output`` wrapped in a :class:`ScopedOutput` for ``channel`` (once)."""
    if output is None or isinstance(output, ScopedOutput):
        return output
    return ScopedOutput(output, channel)


# ---- what customers may send ------------------------------------------------------------------

_PAYLOAD = re.compile(r"/(?P<intent>[A-Za-z_][A-Za-z0-9_]{0,63})(?P<entities>\{.*\})?", re.DOTALL)
_LEADING_COMMAND = re.compile(r"^[\s/]+")
_ENTITY_VALUE = re.compile(r"[^\x00-\x1f{}@\\]+")


def _entities_allowed(raw: str | None, keys: Sequence[str]) -> bool:
    if raw is None:
        return True
    try:
        entities = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(entities, dict) or not entities:
        return False
    for key, value in entities.items():
        if key not in keys:
            return False
        if isinstance(value, bool) or not isinstance(value, str | int):
            return False
        text = str(value)
        if len(text) > MAX_ENTITY_CHARS or not _ENTITY_VALUE.fullmatch(text):
            return False
    return True


def is_button_payload(text: str, allowed: Mapping[str, Sequence[str]]) -> bool:
    """Whether ``text`` is exactly a payload of an allowed intent with allowed entities."""
    match = _PAYLOAD.fullmatch(text)
    if match is None or match["intent"] not in allowed:
        return False
    return _entities_allowed(match["entities"], allowed[match["intent"]])


def customer_text(text: str, allowed: Mapping[str, Sequence[str]]) -> str:
    """What a customer's ``text`` may say to Rasa: itself, unless it starts with "/" and is not
    an allowed button payload; then the text without its leading slashes."""
    stripped = text.strip()
    if not stripped.startswith("/") or is_button_payload(stripped, allowed):
        return text
    return _LEADING_COMMAND.sub("", stripped)


def bounded_metadata(raw: object, max_chars: int) -> dict[str, str]:
    """The known metadata keys with non-empty string values up to ``max_chars``; nothing else."""
    if isinstance(raw, str):
        if len(raw) > 2 * max_chars + 1024:  # not worth parsing
            return {}
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, dict):
        return {}
    return {
        key: raw[key]
        for key in METADATA_KEYS
        if isinstance(raw.get(key), str) and 0 < len(raw[key]) <= max_chars
    }


def system_message(message: UserMessage) -> UserMessage:
    """Mark a message the channel itself made (WeChat's follow event sends "/greet"): its
    payload passes unchanged.  Customers cannot create these."""
    _system_messages.add(message)
    return message


# ---- who is sending ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def trusted_proxies() -> tuple[Network, ...]:
    """The reverse proxies whose X-Forwarded-For is believed: ``KEFU_TRUSTED_PROXIES`` (IPs
    or CIDRs, comma or space separated), else ``channels.trusted_proxies`` in shop.yml."""
    configured = os.environ.get(TRUSTED_PROXIES_ENV)
    if configured is not None:
        return parse_networks(split_list(configured))
    return parse_networks(shop_config().channels.trusted_proxies)


def client_of(peer: str | None, forwarded_for: Sequence[str]) -> str:
    """The key a client's limits count under: its address (an IPv6 client by its /64), taken
    from X-Forwarded-For only when ``peer`` is a trusted proxy (the right-most address that is
    not one); "unknown" when nothing usable is known."""
    return bucket(client_address(peer, forwarded_for, trusted_proxies()))


# ---- limits -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def shared_limiter() -> TrafficLimiter:
    """One limiter per process, shared by every channel (its counts in Redis with
    ``KEFU_REDIS_URL``, so also shared by every worker)."""
    return TrafficLimiter(traffic_limits(shop_config().channels, limit_scale()), limit_store())


def _language(text: str) -> str:
    return "en" if detect_language(text) == "en" else "zh"


def guarded(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    channel: str,
    limits: ChannelLimits | None = None,
    limiter: TrafficLimiter | None = None,
    request_address: bool = False,
) -> Handler:
    """``on_new_message`` behind the guard (see the module documentation).

    The returned handler takes the channel's ``UserMessage`` (its ``sender_id`` as the platform
    knows it) and ``client``, the client's address where the channel has one.  With
    ``request_address`` the default is the ``CLIENT_ADDRESS`` the channel set for the request
    (REST); otherwise no address: on messaging platforms the peer is the platform."""
    limits = shop_config().channels if limits is None else limits
    allowed = limits.button_payloads

    async def handle(message: UserMessage, client: str | None = None) -> Any:
        text = message.text or ""
        sender = str(message.sender_id)
        scoped_id = conversation_id(channel, sender)
        who = pseudonym(scoped_id)
        address = client
        if address is None and request_address:
            address = CLIENT_ADDRESS.get()
        current = shared_limiter() if limiter is None else limiter
        refused = await current.admit(channel, scoped_id, address)
        if refused is not None:
            logger.warning("%s: conversation %s is over the %s limit", channel, who, refused)
            if await current.notice_due(scoped_id, NOTICE_SECONDS):
                reply = (limits.too_fast if refused == SENDER else limits.too_busy).get(
                    _language(text)
                )
                await message.output_channel.send_text_message(sender, reply)
            return None
        if len(text) > limits.max_message_chars:
            logger.warning("%s: conversation %s sent %d characters", channel, who, len(text))
            reply = limits.too_long.get(_language(text)).format(limit=limits.max_message_chars)
            await message.output_channel.send_text_message(sender, reply)
            return None
        if message not in _system_messages:
            said = customer_text(text, allowed)
            if said != text:
                logger.info("%s: conversation %s typed a command; passed as text", channel, who)
                text = said
        metadata = bounded_metadata(message.metadata, limits.max_metadata_chars)
        if address is not None:
            metadata[CLIENT_METADATA_KEY] = pseudonym(f"client:{address}")
        scoped = UserMessage(
            text,
            scoped_output(message.output_channel, channel),
            scoped_id,
            input_channel=channel,
            message_id=message.message_id,
            metadata=metadata,
        )
        return await on_new_message(scoped)

    return handle
