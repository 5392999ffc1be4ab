"""A REST message sent twice is answered once: the client's ``message_id`` as idempotency key.

A client (or the load balancer: HAProxy's ``retry-on empty-response``) re-sends a message when
the instance that took it died before answering; it may have stored the message and its replies
already.  A REST body may carry ``"message_id"`` (1–64 letters, digits, ``_ - . :``), kept as
the Rasa message id of the customer's event.  When the conversation already holds a message with
that id, it is not handled again: the replies the bot gave to it are sent back.  The check reads
the shared conversation store, so it holds across instances.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered

from kefu_rasa.channels.guard import pseudonym

logger = logging.getLogger(__name__)

MESSAGE_ID_KEY = "message_id"
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")

REQUEST_MESSAGE_ID: ContextVar[str | None] = ContextVar("kefu_rest_message_id", default=None)
REQUEST_AGENT: ContextVar[Any] = ContextVar("kefu_rest_agent", default=None)


def valid_message_id(value: Any) -> bool:
    """A message id a client may send (checked with one anchored match)."""
    return isinstance(value, str) and _MESSAGE_ID.fullmatch(value) is not None


def replies_to(events: list[Any], message_id: str) -> list[dict[str, Any]] | None:
    """The bot's replies to the customer message ``message_id`` in ``events`` (None when no
    such message is stored), as a collecting output channel holds them."""
    replies: list[dict[str, Any]] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif isinstance(event, BotUttered) and replies is not None:
            reply = {"text": event.text} if event.text else {}
            reply.update({k: v for k, v in (event.data or {}).items() if v})
            replies.append(reply)
    return replies


async def handled_before(message: UserMessage) -> bool:
    """Give ``message`` the request's message id; when the conversation already holds it, send
    back the replies it got and return True (the message must not be handled again)."""
    message_id = REQUEST_MESSAGE_ID.get()
    agent = REQUEST_AGENT.get()
    if not message_id:
        return False
    message.message_id = message_id
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return False
    tracker = await store.retrieve(message.sender_id)
    replies = replies_to(list(tracker.events), message_id) if tracker is not None else None
    if replies is None:
        return False
    who = pseudonym(message.sender_id)
    logger.info("rest: conversation %s re-sent a message; its replies sent again", who)
    for reply in replies:
        await message.output_channel.send_response(message.sender_id, reply)
    return True
