"""What the confirmation of a previewed change needs from the conversation: the customer's turn
count, what they said since the preview, the notifier and the key for recipient pseudonyms."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from kefu.notify import Notifier, notifier_from_env
from kefu.order_tasks import PendingChange
from kefu.step_up import code_secret

PENDING_SLOT = "pending_change"
AWAITING_SLOT = "awaiting_confirmation"


def now_seconds() -> int:
    """Unix seconds (timezone-free)."""
    return int(time.time())


def user_turn(tracker: Tracker) -> int:
    """How many messages the customer has sent in this conversation (the latest included)."""
    return sum(1 for event in tracker.events if event.get("event") == "user")


def intents_since(tracker: Tracker, turn: int | None) -> list[str | None]:
    """Intents of the customer's messages after message number ``turn``, the latest excluded."""
    intents = [
        (event.get("parse_data") or {}).get("intent", {}).get("name")
        for event in tracker.events
        if event.get("event") == "user"
    ]
    return intents[(turn or 0) : -1]


@lru_cache(maxsize=1)
def notifier() -> Notifier:
    return notifier_from_env()


def pending_events(pending: PendingChange | None) -> list[dict[str, Any]]:
    """Slot events that keep ``pending`` waiting, or forget any previewed change."""
    if pending is None:
        return [SlotSet(PENDING_SLOT, None), SlotSet(AWAITING_SLOT, False)]
    return [SlotSet(PENDING_SLOT, pending.to_dict()), SlotSet(AWAITING_SLOT, True)]


def secret() -> str:
    return code_secret()


def confirmation_context(tracker: Tracker, language: str) -> dict[str, Any]:
    """What :func:`kefu.confirmation.ask_to_confirm` and ``answer_confirmation`` need from the
    conversation and the environment: language, notifier, code key, time and turn."""
    return {
        "language": language,
        "notifier": notifier(),
        "secret": secret(),
        "now": now_seconds(),
        "turn": user_turn(tracker),
    }
