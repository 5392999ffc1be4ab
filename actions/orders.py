"""Order tasks: start one (which task, fresh details), answer it once the order form has proven
the order, and apply or drop a previewed change when the customer confirms (with the code sent
to the phone on file) or says no."""

from __future__ import annotations

import time
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
from actions.confirmation import confirmation_context, intents_since, pending_events
from actions.knowledge import knowledge_answer, say_knowledge_answer
from kefu.asks import split_asks
from kefu.change_request import asks_for_change
from kefu.clock import to_db, utc_now
from kefu.config import shop_config
from kefu.confirmation import answer_confirmation, ask_to_confirm
from kefu.customer_input import parse_return_reason
from kefu.general_question import ANSWERED_QUESTION, POLICY_TOPICS, is_general_question
from kefu.identity import accessible_order
from kefu.knowledge.answer import ANSWER
from kefu.order_tasks import ORDER_TASKS, PendingChange, run_order_task
from kefu.policies import answer, policies
from kefu.privacy.own_conversation import ERASE_SLOT

# a new task asks for them again; "phone_last4" too, or the form would check the digits given
# for an earlier order against this one (proven orders stay proven in the verification state)
TASK_DETAIL_SLOTS = ("phone_last4", "return_item", "return_reason", "new_address", "invoice_title")


async def answer_other_asks(
    dispatcher: CollectingDispatcher, asks: list[str], language: str
) -> None:
    """General questions asked beside the order task ("帮我查下物流，再问下能开发票吗") are
    answered from the shop's facts before the task goes on (:mod:`kefu.asks`)."""
    if len(asks) < 2:
        return
    for ask in asks:
        if is_general_question(ask):
            result = await knowledge_answer(ask, language)
            if result is not None and result.kind == ANSWER:
                say_knowledge_answer(dispatcher, result)


class ActionStartOrderTask(Action):
    """Remember which order task the customer wants and clear the previous task's details.

    A change is taken only when the message asks for one (:func:`kefu.change_request.
    asks_for_change`); a question about an order that the classifier read as a change shows
    the order instead.  A return's reason said in the same message is kept ("屏幕坏了，要退货"
    is a defect).  A bare order number (a correction: "不对，是另一个订单 …") keeps the task.
    A general question about the rules ("企业能开增值税发票吗", :mod:`kefu.general_question`)
    is answered from the shop's facts, and the order form then asks for nothing.
    """

    def name(self) -> str:
        return "action_start_order_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = latest_intent(tracker)
        task = intent if intent in ORDER_TASKS else tracker.get_slot("order_task")
        text = tracker.latest_message.get("text") or ""
        asks = split_asks(text)
        if intent in ORDER_TASKS and len(asks) == 1 and is_general_question(text):
            # "企业能开增值税发票吗": the shop's rules answer it, no order needed
            language = reply_language(tracker)
            if intent in POLICY_TOPICS:
                dispatcher.utter_message(text=answer(policies(), POLICY_TOPICS[intent], language))
                return [SlotSet("order_task", ANSWERED_QUESTION)]
            result = await knowledge_answer(text, language)
            if result is not None and result.kind == ANSWER:
                say_knowledge_answer(dispatcher, result)
                return [SlotSet("order_task", ANSWERED_QUESTION)]
        if intent in ORDER_TASKS and not asks_for_change(intent, text):
            task = "track_order"
        await answer_other_asks(dispatcher, asks, reply_language(tracker))
        events = [SlotSet("order_task", task or "track_order")]
        events += [SlotSet(slot, None) for slot in TASK_DETAIL_SLOTS]
        events += pending_events(None)
        if task == "request_return":
            events.append(SlotSet("return_reason", parse_return_reason(text)))
        return events


class ActionOrderTask(Action):
    """Answer the task for the proven order, or preview the change and ask to confirm it."""

    def name(self) -> str:
        return "action_order_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("order_task") == ANSWERED_QUESTION:
            return [SlotSet("order_task", None)]  # answered when the task started
        language = reply_language(tracker)
        state = verification_state(tracker)
        if state.is_locked(time.time()):
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
                now=to_db(utc_now()),
            )
            send_replies(dispatcher, result.replies, language)
            if result.pending is None:
                return pending_events(None)
            asked = ask_to_confirm(
                session,
                result.pending,
                **confirmation_context(tracker, language),
            )
            session.commit()
        send_replies(dispatcher, asked.replies, language)
        return pending_events(asked.pending)


class ActionApplyChange(Action):
    """The customer confirmed (a code, or a yes where no code is needed): check that the
    consent still holds and the code is right, run the change once and say what happened."""

    def name(self) -> str:
        return "action_apply_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        pending = PendingChange.from_dict(tracker.get_slot("pending_change"))
        with shop_session() as session:
            answer = answer_confirmation(
                session,
                pending,
                text=tracker.latest_message.get("text") or "",
                later_intents=intents_since(tracker, pending.turn if pending else None),
                state=verification_state(tracker),
                conversation_id=tracker.sender_id,
                **confirmation_context(tracker, language),
            )
            session.commit()
        send_replies(dispatcher, answer.replies, language)
        erase = [SlotSet(ERASE_SLOT, True)] if answer.erase_conversation else []
        return pending_events(answer.pending) + erase


class ActionDiscardChange(Action):
    """The customer said no to a previewed change: nothing is done."""

    def name(self) -> str:
        return "action_discard_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_change_discarded")
        return pending_events(None)
