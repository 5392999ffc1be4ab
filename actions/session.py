"""The start of a conversation session (Rasa's ``action_session_start``, run on the first
message and after ``session_expiration_time`` minutes of silence).

Besides what Rasa's own session start does (``session_started``, the slots carried over, a turn
boundary), it ends what belonged to the old session: a hand-off ticket the customer walked away
from is abandoned, so agents no longer see them waiting and cannot answer into a conversation
that has moved on, and the satisfaction question may be asked again.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import shop_session
from actions.service import CSAT_ASKED_SLOT, HANDOFF_SLOT

logger = logging.getLogger(__name__)

PER_SESSION_SLOTS = (HANDOFF_SLOT, CSAT_ASKED_SLOT)  # never carried into a new session


def carried_slots(tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
    """``SlotSet`` events for the slots a new session keeps, as Rasa's own session start does
    when ``carry_over_slots_to_new_session`` is on (the default)."""
    config = domain.get("session_config") or {}
    if not config.get("carry_over_slots_to_new_session", True):
        return []
    return [
        SlotSet(name, value)
        for name, value in tracker.current_slot_values().items()
        if value is not None and name not in PER_SESSION_SLOTS
    ]


def abandon_left_ticket(conversation_id: str) -> int | None:
    """Abandon the conversation's active hand-off ticket; its id, or None when there was none.
    A database failure is logged and does not stop the new session."""
    from kefu.handoff import abandon_conversation

    try:
        with shop_session() as session:
            left = abandon_conversation(session, conversation_id)
            session.commit()
    except SQLAlchemyError:
        logger.exception("session start: could not abandon the hand-off ticket")
        return None
    return left.id if left else None


class ActionSessionStart(Action):
    """Start a new session; the customer has left whatever hand-off the old one had."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        left = abandon_left_ticket(tracker.sender_id)
        if left is not None:
            logger.info("session start: hand-off ticket %s abandoned, the customer left", left)
        return [SessionStarted(), *carried_slots(tracker, domain), ActionExecuted("action_listen")]
