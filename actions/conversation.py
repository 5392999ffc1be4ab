"""Actions for the conversation intents: help (the way to a person is in actions/service.py)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import contact_details, reply_language


class ActionHelp(Action):
    """Say what kefu can do, with the shop's real contact details."""

    def name(self) -> str:
        return "action_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_help", **contact_details(reply_language(tracker)))
        return []
