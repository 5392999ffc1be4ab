"""A customer erases their own conversation through the bot, logged in or not, on any channel.

The customer asks ("删除这段聊天记录", "delete this chat"), the bot says what will go and asks for a
plain yes (the person in the conversation already holds it: no code is sent, and none could be
for a customer the shop does not know).  On the yes, :func:`erase_own_conversation` clears the
conversation's traces in the shop database and the analytics facts, and the reply says it is
done; the conversation store then deletes the conversation instead of saving the turn, when it
sees :data:`ERASE_SLOT` set (``kefu_rasa.tracker_store``), so nothing of it is written again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kefu.order_tasks import PendingChange, Reply
from kefu.privacy.erasure import erase_analytics, erase_conversation_records

CONVERSATION_ERASURE = "conversation_erasure"  # a PendingChange kind, never an OrderRequest
ERASE_SLOT = "erase_conversation"  # set by the confirming action; obeyed by the tracker store


def conversation_erasure(request_key: str) -> PendingChange:
    """The change to confirm: erasing the conversation it is confirmed in."""
    return PendingChange(CONVERSATION_ERASURE, request_key)


def preview_conversation_erasure() -> list[Reply]:
    """What erasing the conversation removes, said before the yes is asked for."""
    return [Reply(response="utter_conversation_erasure_preview")]


def erase_own_conversation(session: Session, conversation_id: str, now: datetime) -> list[Reply]:
    """Clear the conversation in the shop database (hand-off tickets, ratings, the console's
    audit) and the analytics facts; the conversation store follows when the turn is saved."""
    if not conversation_id:
        raise ValueError("erasing a conversation needs its id")
    erase_conversation_records(session, [conversation_id], now)
    erase_analytics([conversation_id])
    return [Reply(response="utter_conversation_erased")]
