"""The order form: which order (typed, "my last order", or picked), proof that the customer may
see it, then what the task needs (item and reason for a return, the new address, the invoice
title).

Privacy: an order is opened only for the logged-in customer who owns it (signed token) or after
its number and the last 4 phone digits match (:func:`kefu.identity.verify_order_access`).  An
unknown number, someone else's order and wrong digits all get the same answer, and failed
attempts are limited per order and per customer in the shop database (every channel, sender and
process shares the count) as well as per conversation.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    VERIFICATION_SLOT,
    first_latest_entity,
    latest_intent,
    reply_language,
    shop_session,
    verification_state,
)
from kefu.address import parse_address
from kefu.config import shop_config
from kefu.customer_input import (
    mentions_last_order,
    parse_invoice_kind,
    parse_invoice_title,
    parse_return_reason,
)
from kefu.general_question import ANSWERED_QUESTION
from kefu.identity import (
    VerificationStatus,
    accessible_order,
    parse_order_number,
    parse_phone_last4,
    verify_order_access,
)
from kefu.order_tasks import details_needed, order_items
from kefu.orders import latest_order, recent_orders

RETURN_REASONS = ("no_reason", "defect")
ADDRESS_FIELD_NAMES = {
    "recipient": ("收件人", "recipient"),
    "phone": ("手机号", "phone number"),
    "province": ("省份", "province"),
    "city": ("城市", "city"),
    "detail": ("详细地址", "street address"),
}
_DIGITS = re.compile(r"\d")


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _proven_order(session, tracker: Tracker):
    """The order in the ``order_no`` slot if this conversation may see it, else None."""
    return accessible_order(
        session, verification_state(tracker), tracker.get_slot("order_no") or ""
    )


def _asked(tracker: Tracker, slot: str) -> bool:
    return tracker.get_slot("requested_slot") == slot


class ValidateOrderForm(FormValidationAction):
    """Order number, phone proof and the task's details; see the module docstring."""

    def name(self) -> str:
        return "validate_order_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Nothing once locked; the phone only for an order not yet proven; then the details
        the task needs (a return's item only when the order has several)."""
        if tracker.get_slot("order_task") == ANSWERED_QUESTION:
            return []  # a general question, answered without an order
        state = verification_state(tracker)
        if state.is_locked(time.time()):
            return []
        order_no = tracker.get_slot("order_no")
        if not order_no:
            return ["order_no", "phone_last4"]
        with shop_session() as session:
            order = accessible_order(session, state, order_no)
            if order is None:
                return ["order_no", "phone_last4"]
            needed = list(details_needed(tracker.get_slot("order_task")))
            if "return_item" in needed and len(order_items(session, order)) == 1:
                needed.remove("return_item")
        return ["order_no", *needed]

    async def extract_order_no(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A number typed in any format, "my last order" (logged in), or digits to reject."""
        if not _asked(tracker, "order_no"):
            return {}
        text = _text(tracker)
        number = parse_order_number(text)
        if number:
            return {"order_no": number}
        if mentions_last_order(text):
            state = verification_state(tracker)
            if state.customer_id is None:
                dispatcher.utter_message(response="utter_last_order_needs_login")
                return {"order_no": None}
            with shop_session() as session:
                order = latest_order(session, state.customer_id)
                return {"order_no": order.order_no if order else None}
        if _DIGITS.search(text) and latest_intent(tracker) == "inform":
            return {"order_no": text.strip()[:40]}  # validated below: "not an order number"
        return {}

    async def validate_order_no(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """16 digits with a real date; a new order has to be proven again."""
        number = parse_order_number(str(value or ""))
        if number is None:
            dispatcher.utter_message(response="utter_order_no_invalid", order_no=str(value)[:40])
            return {"order_no": None}
        with shop_session() as session:
            visible = accessible_order(session, verification_state(tracker), number) is not None
        return {"order_no": number} if visible else {"order_no": number, "phone_last4": None}

    async def extract_phone_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not _asked(tracker, "phone_last4"):
            return {}
        last4 = parse_phone_last4(_text(tracker))
        if last4:
            return {"phone_last4": last4}
        # other digits ("123") are no proof and no attempt: the question is asked again
        return {"phone_last4": None} if _DIGITS.search(_text(tracker)) else {}

    async def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the digits against the order; a failure forgets the number and counts."""
        order_no = tracker.get_slot("order_no")
        if not value or not order_no:
            return {"phone_last4": None}
        limits = shop_config().identity
        with shop_session() as session:
            result, state = verify_order_access(
                session,
                verification_state(tracker),
                order_no,
                str(value),
                now=time.time(),
                max_attempts=limits.max_attempts,
                lock_minutes=limits.lock_minutes,
                window_minutes=limits.window_minutes,
                verified_minutes=limits.verified_minutes,
            )
            session.commit()  # the shared failure count
        slots: dict[str, Any] = {VERIFICATION_SLOT: state.to_dict()}
        if result.status is VerificationStatus.VERIFIED:
            return {**slots, "phone_last4": str(value)}
        if result.status is VerificationStatus.FAILED:
            dispatcher.utter_message(
                response="utter_verification_failed", attempts_left=result.attempts_left
            )
        # locked: the form ends and action_order_task says so
        return {**slots, "phone_last4": None, "order_no": None}

    async def extract_return_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The item picked by its number in the list ("第二个", a button)."""
        position = first_latest_entity(tracker, "position")
        if not _asked(tracker, "return_item") or not position:
            return {}
        try:
            index = int(str(position).split(",")[0])
        except ValueError:
            return {"return_item": None}
        with shop_session() as session:
            order = _proven_order(session, tracker)
            items = order_items(session, order) if order else []
        if index < 0:
            index = len(items) + 1 + index  # "最后一个" → -1
        if not 1 <= index <= len(items):
            return {"return_item": None}
        return {"return_item": items[index - 1].id}

    async def extract_return_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not _asked(tracker, "return_reason"):
            return {}
        reason = parse_return_reason(_text(tracker))
        return {"return_reason": reason} if reason else {}

    async def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"return_reason": value if value in RETURN_REASONS else None}

    async def extract_new_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The whole new address; recipient and phone default to the order's."""
        if not _asked(tracker, "new_address"):
            return {}
        language = reply_language(tracker)
        with shop_session() as session:
            order = _proven_order(session, tracker)
            current = dict(order.shipping_address or {}) if order else {}
        parsed = parse_address(_text(tracker), fallback=current)
        place = ("province", "city", "detail")
        if all(name in parsed.missing for name in place):
            return {}  # not an address: a question or something else
        if parsed.missing:
            names = [ADDRESS_FIELD_NAMES[m][language == "en"] for m in parsed.missing]
            separator = ", " if language == "en" else "、"
            dispatcher.utter_message(
                response="utter_address_incomplete", missing=separator.join(names)
            )
            return {"new_address": None}
        return {"new_address": dict(parsed.fields)}

    async def extract_invoice_title(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """ "个人" / a company name with its tax ID; the kind (paper VAT) from the same text."""
        if not _asked(tracker, "invoice_title"):
            return {}
        text = _text(tracker)
        title = parse_invoice_title(text)
        if title is None:
            if latest_intent(tracker) == "inform":
                dispatcher.utter_message(response="utter_invoice_title_invalid")
                return {"invoice_title": None}
            return {}
        kind = parse_invoice_kind(text)
        return {"invoice_title": {"title": title.title, "tax_id": title.tax_id, "kind": kind}}


class ActionAskOrderNo(Action):
    """Ask for the order: a logged-in customer picks from recent orders (buttons)."""

    def name(self) -> str:
        return "action_ask_order_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        state = verification_state(tracker)
        if state.customer_id is None:
            dispatcher.utter_message(response="utter_ask_order_no")
            return []
        language = reply_language(tracker)
        with shop_session() as session:
            orders = recent_orders(session, state.customer_id, language=language)
        buttons = [
            {
                "title": f"{o.order_no} · {o.items_text} · {o.status_text}",
                "payload": f'/inform{{"order_id": "{o.order_no}"}}',
            }
            for o in orders
        ]
        dispatcher.utter_message(response="utter_ask_order_no_pick", buttons=buttons)
        return []


class ActionAskReturnItem(Action):
    """Ask which item of the order to return, one button per item."""

    def name(self) -> str:
        return "action_ask_return_item"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        with shop_session() as session:
            order = _proven_order(session, tracker)
            items = order_items(session, order) if order else []
            titles = [item.title_en if language == "en" else item.title_zh for item in items]
        buttons = [
            {"title": f"{n}. {title}", "payload": f'/inform{{"position": "{n}"}}'}
            for n, title in enumerate(titles, 1)
        ]
        dispatcher.utter_message(response="utter_ask_return_item", buttons=buttons)
        return []
