"""Order tasks: start one (which task, fresh details), answer it once the order form has proven
the order, and apply or drop a previewed change when the customer says yes or no."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    contact_details,
    latest_intent,
    reply_language,
    send_replies,
    shop_session,
    verification_state,
)
from kefu.account import ACCOUNT_CHANGE_KINDS, apply_account_change
from kefu.config import shop_config
from kefu.customer_input import parse_return_reason
from kefu.identity import accessible_order
from kefu.order_tasks import (
    ORDER_TASKS,
    PendingChange,
    apply_change,
    outcome_replies,
    run_order_task,
)

# a new task asks for them again; "phone_last4" too, or the form would check the digits given
# for an earlier order against this one (proven orders stay proven in the verification state)
TASK_DETAIL_SLOTS = ("phone_last4", "return_item", "return_reason", "new_address", "invoice_title")


def no_pending_change() -> list[dict[str, Any]]:
    """Events that forget a previewed change."""
    return [SlotSet("pending_change", None), SlotSet("awaiting_confirmation", False)]


class ActionStartOrderTask(Action):
    """Remember which order task the customer wants and clear the previous task's details.

    A return's reason said in the same message is kept ("屏幕坏了，要退货" is a defect).  A
    bare order number (a correction: "不对，是另一个订单 …") keeps the task in hand.
    """

    def name(self) -> str:
        return "action_start_order_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = latest_intent(tracker)
        task = intent if intent in ORDER_TASKS else tracker.get_slot("order_task")
        text = tracker.latest_message.get("text") or ""
        events = [SlotSet("order_task", task or "track_order")]
        events += [SlotSet(slot, None) for slot in TASK_DETAIL_SLOTS]
        events += no_pending_change()
        if task == "request_return":
            events.append(SlotSet("return_reason", parse_return_reason(text)))
        return events


class ActionOrderTask(Action):
    """Answer the task for the proven order, or preview the change and ask for a yes."""

    def name(self) -> str:
        return "action_order_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        state = verification_state(tracker)
        now = datetime.utcnow()
        if state.is_locked(now.timestamp()):
            dispatcher.utter_message(
                response="utter_verification_locked",
                minutes=shop_config().identity.lock_minutes,
                **contact_details(language),
            )
            return [SlotSet("order_no", None), SlotSet("phone_last4", None)]
        task = tracker.get_slot("order_task") or "track_order"
        invoice = tracker.get_slot("invoice_title")
        with shop_session() as session:
            order = accessible_order(session, state, tracker.get_slot("order_no") or "")
            if order is None:  # the form proves the order first; say nothing about it
                dispatcher.utter_message(response="utter_ask_order_no")
                return [SlotSet("order_no", None)]
            result = run_order_task(
                session,
                order,
                task,
                language,
                item_id=tracker.get_slot("return_item"),
                return_reason=tracker.get_slot("return_reason"),
                address=tracker.get_slot("new_address"),
                invoice_title=invoice if isinstance(invoice, dict) else None,
                now=now,
            )
        send_replies(dispatcher, result.replies, language)
        if result.pending is None:
            return no_pending_change()
        dispatcher.utter_message(response="utter_confirm_change")
        return [
            SlotSet("pending_change", result.pending.to_dict()),
            SlotSet("awaiting_confirmation", True),
        ]


class ActionApplyChange(Action):
    """The customer said yes: run the previewed change once (its request key makes a repeat
    harmless) and say what happened."""

    def name(self) -> str:
        return "action_apply_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        pending = PendingChange.from_dict(tracker.get_slot("pending_change"))
        if pending is None:
            dispatcher.utter_message(response="utter_nothing_to_confirm")
            return no_pending_change()
        state = verification_state(tracker)
        now = datetime.utcnow()
        with shop_session() as session:
            if pending.kind in ACCOUNT_CHANGE_KINDS:
                if state.customer_id is None or state.customer_id != pending.customer_id:
                    dispatcher.utter_message(response="utter_login_required")
                    return no_pending_change()
                outcome = apply_account_change(session, pending, now)
            else:
                order = accessible_order(session, state, pending.order_no or "")
                if order is None:
                    dispatcher.utter_message(response="utter_nothing_to_confirm")
                    return no_pending_change()
                outcome = apply_change(session, order, pending, now)
            session.commit()
        send_replies(dispatcher, outcome_replies(outcome, language), language)
        return no_pending_change()


class ActionDiscardChange(Action):
    """The customer said no to a previewed change: nothing is done."""

    def name(self) -> str:
        return "action_discard_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_change_discarded")
        return no_pending_change()
