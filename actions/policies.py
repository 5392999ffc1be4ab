"""Policy questions (returns, refunds, cancellation fees, delivery, warranty, payment methods),
answered from policies.yml so that a merchant changes policy without touching code."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_intent, reply_language, shop_session, verification_state
from kefu.identity import accessible_order
from kefu.orders import order_details, tracking_text
from kefu.policies import TOPICS, answer, policies

ORDER_AWARE_TOPICS = ("delivery_period",)  # "when will it arrive" also tracks a proven order


class ActionAnswerPolicy(Action):
    """Answer the policy question the intent names; for delivery times, also the tracking of
    an order already proven in this conversation, or an offer to check one."""

    def name(self) -> str:
        return "action_answer_policy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        topic = latest_intent(tracker)
        if topic not in TOPICS:
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(text=answer(policies(), topic, language))
        if topic in ORDER_AWARE_TOPICS and tracker.active_loop_name is None:
            order_no = tracker.get_slot("order_no")
            with shop_session() as session:
                order = (
                    accessible_order(session, verification_state(tracker), order_no)
                    if order_no
                    else None
                )
                tracking = (
                    tracking_text(order_details(session, order, language), language)
                    if order
                    else None
                )
            if tracking:
                dispatcher.utter_message(text=tracking)
            else:
                dispatcher.utter_message(response="utter_offer_tracking")
        return []
