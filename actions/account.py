"""Account questions: steps and links from shop.yml where the bot cannot act in chat; for a
logged-in customer, newsletter opt-in/out and an account-erasure request, confirmed first; for
anyone, the erasure of the conversation itself, confirmed with a yes."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    latest_intent,
    reply_language,
    send_replies,
    shop_session,
    verification_state,
)
from actions.confirmation import confirmation_context, pending_events
from kefu.account import preview_erasure, preview_newsletter
from kefu.config import shop_config
from kefu.confirmation import ask_to_confirm
from kefu.customer_input import parse_newsletter_choice
from kefu.order_tasks import PendingChange, new_request_key
from kefu.privacy.own_conversation import conversation_erasure, preview_conversation_erasure


def account_help_text(intent: str | None, language: str) -> str | None:
    """The configured steps for ``intent`` in ``language``, or None."""
    helps = shop_config().account_help
    return helps[intent].text(language) if intent in helps else None


class ActionAccountHelp(Action):
    """Steps and the link for an account question (register, password, profile, ...)."""

    def name(self) -> str:
        return "action_account_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = account_help_text(latest_intent(tracker), reply_language(tracker))
        dispatcher.utter_message(text=text) if text else dispatcher.utter_message(
            response="utter_contact_service"
        )
        return []


class ActionAccountChange(Action):
    """Newsletter opt-in/out or account erasure for the logged-in customer: say what will
    happen and ask for a yes (for erasure, the code sent to the phone or e-mail on file).
    Without a login, the steps to do it in the shop."""

    def name(self) -> str:
        return "action_account_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        intent = latest_intent(tracker)
        customer = verification_state(tracker).customer_id
        choice = (
            parse_newsletter_choice(tracker.latest_message.get("text") or "")
            if intent == "newsletter_subscription"
            else None
        )
        if customer is None or (intent == "newsletter_subscription" and choice is None):
            anonymous_erasure = customer is None and intent == "delete_account"
            if anonymous_erasure:
                dispatcher.utter_message(response="utter_login_required")
            dispatcher.utter_message(text=account_help_text(intent, language))
            if anonymous_erasure:  # what needs no login: erasing this conversation
                dispatcher.utter_message(response="utter_conversation_erasure_offer")
            return []
        with shop_session() as session:
            if intent == "delete_account":
                kind, params = "erasure", {}
                preview = preview_erasure(session, customer, language)
            else:
                kind, params = "newsletter", {"subscribe": choice == "subscribe"}
                preview = preview_newsletter(session, customer, choice == "subscribe", language)
            dispatcher.utter_message(text=preview.summary)
            if not preview.allowed:
                return []
            asked = ask_to_confirm(
                session,
                PendingChange(kind, new_request_key(), None, customer, params),
                **confirmation_context(tracker, language),
            )
            session.commit()
        send_replies(dispatcher, asked.replies, language)
        return pending_events(asked.pending)


class ActionConversationErasure(Action):
    """The customer asks to erase this conversation: say what goes and ask for a yes
    (``action_apply_change`` erases it)."""

    def name(self) -> str:
        return "action_conversation_erasure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        send_replies(dispatcher, preview_conversation_erasure(), language)
        with shop_session() as session:
            asked = ask_to_confirm(
                session,
                conversation_erasure(new_request_key()),
                **confirmation_context(tracker, language),
            )
        send_replies(dispatcher, asked.replies, language)
        return pending_events(asked.pending)
