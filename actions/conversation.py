"""Actions for the conversation intents: help and the way to a human after failed fallbacks."""

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


class ActionOfferHuman(Action):
    """After the bot failed twice in a row, point the customer to a person."""

    def name(self) -> str:
        return "action_offer_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            response="utter_offer_human", **contact_details(reply_language(tracker))
        )
        return []
