"""Order and account actions against a real shop database (SQLite and PostgreSQL): the exact
events they return, the messages they send, and what they refuse to reveal or change."""

from __future__ import annotations

import json
import re
import secrets
import time

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

import actions.common
import actions.confirmation
from actions.account import ActionAccountChange, ActionAccountHelp, ActionConversationErasure
from actions.order_form import ActionAskOrderNo, ValidateOrderForm
from actions.orders import ActionApplyChange, ActionOrderTask, ActionStartOrderTask
from kefu.db import session_scope
from kefu.identity import issue_token
from kefu.models import Customer, Order, OrderRequest

PAID = "2603020900000004"  # Zhang's paid, unshipped order (tests/shop/order_shop.py)
DELIVERED = "2603010900000003"
RIGHT, WRONG = "6093", "0000"
SECRET = secrets.token_hex(32)


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    """Codes and notices go to a local outbox file (kefu.notify), read back by the tests."""
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("KEFU_OUTBOX", str(path))
    monkeypatch.setenv("KEFU_ACTION_SECRET", SECRET)
    actions.confirmation.notifier.cache_clear()
    yield path
    actions.confirmation.notifier.cache_clear()


@pytest.fixture
def bot_shop(shop, monkeypatch, outbox):
    """The actions use the order shop's database, a token secret and a local outbox."""
    monkeypatch.setattr(actions.common, "_sessions", shop.factory)
    monkeypatch.setenv("KEFU_IDENTITY_SECRET", SECRET)
    return shop


def sent(outbox) -> list[dict]:
    """What went to customers' phones and e-mails (recipients pseudonymised)."""
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]


def last_code(outbox) -> str:
    codes = [m["text"] for m in sent(outbox) if m["tag"].startswith("code:")]
    return re.search(r"\d{6}", codes[-1]).group()


def tracker(
    slots=None,
    intent="inform",
    text="",
    entities=(),
    metadata=None,
    requested=None,
    earlier=(),
):
    """A tracker whose latest message is ``text``; ``earlier`` are the intents of the
    customer's messages before it."""
    latest = {
        "text": text,
        "intent": {"name": intent},
        "entities": list(entities),
        "metadata": metadata or {},
    }
    events = [
        {"event": "user", "parse_data": {"intent": {"name": name}}} for name in [*earlier, intent]
    ]
    return Tracker(
        sender_id="test",
        slots={"language": "zh", "requested_slot": requested, **(slots or {})},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def logged_in(customer_id: int) -> dict:
    return {"customer_token": issue_token(customer_id, SECRET)}


async def run(action, tracker_):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker_, {})
    return dispatcher.messages, events


async def check_digits(order_no: str, digits: str, verification=None):
    dispatcher = CollectingDispatcher()
    slots = {"order_no": order_no, "verification": verification}
    result = await ValidateOrderForm().validate_phone_last4(
        digits, dispatcher, tracker(slots, requested="phone_last4"), {}
    )
    return dispatcher.messages, result


async def test_right_digits_prove_the_order(bot_shop):
    before = int(time.time())
    messages, result = await check_digits(PAID, RIGHT)
    assert messages == []
    until = result["verification"].pop("verified_until")
    assert before + 30 * 60 <= until <= int(time.time()) + 30 * 60  # open for verified_minutes
    assert result == {
        "verification": {
            "attempts": 0,
            "locked_until": None,
            "customer_id": None,
            "verified_orders": [PAID],
        },
        "phone_last4": RIGHT,
    }


async def test_a_new_conversation_cannot_reset_the_lock(bot_shop):
    """Three wrong tries from three fresh conversations (new senders, /restart, /back all
    start from an empty state) lock the order for everyone."""
    for _ in range(3):
        _, result = await check_digits(PAID, WRONG, None)
    _, result = await check_digits(PAID, RIGHT, None)
    assert result["phone_last4"] is None and result["verification"]["locked_until"]


async def test_wrong_digits_and_unknown_orders_get_the_same_answer(bot_shop):
    wrong, wrong_result = await check_digits(PAID, WRONG)
    unknown, unknown_result = await check_digits("2601011200999999", WRONG)
    assert wrong == unknown
    assert wrong[0]["response"] == "utter_verification_failed"
    assert wrong[0]["attempts_left"] == 2
    assert wrong_result == unknown_result
    assert wrong_result["order_no"] is None and wrong_result["phone_last4"] is None


async def test_the_third_failure_locks_and_the_form_stops(bot_shop):
    state = None
    for _ in range(3):
        messages, result = await check_digits(PAID, WRONG, state)
        state = result["verification"]
    assert messages == []  # the lock is told once, by action_order_task
    assert state["locked_until"] is not None
    _, result = await check_digits(PAID, RIGHT, state)
    assert result["phone_last4"] is None  # even the right digits are refused now
    required = await ValidateOrderForm().required_slots(
        ["order_no", "phone_last4"],
        CollectingDispatcher(),
        tracker({"order_no": PAID, "verification": state}),
        {},
    )
    assert required == []
    messages, events = await run(
        ActionOrderTask(), tracker({"order_no": PAID, "verification": state})
    )
    assert messages[0]["response"] == "utter_verification_locked"
    assert events == [SlotSet("order_no", None), SlotSet("phone_last4", None)]


async def test_required_slots_follow_identity_and_task(bot_shop):
    form = ValidateOrderForm()
    domain_slots = ["order_no", "phone_last4", "return_item", "return_reason"]

    async def required(slots, metadata=None):
        return await form.required_slots(
            domain_slots, CollectingDispatcher(), tracker(slots, metadata=metadata), {}
        )

    assert await required({}) == ["order_no", "phone_last4"]
    assert await required({"order_no": PAID}) == ["order_no", "phone_last4"]
    owner = logged_in(bot_shop.customer_id)
    assert await required({"order_no": PAID, "order_task": "track_order"}, owner) == ["order_no"]
    assert await required({"order_no": PAID, "order_task": "request_return"}, owner) == [
        "order_no",
        "return_item",
        "return_reason",
    ]


async def test_malformed_order_numbers_are_explained(bot_shop):
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderForm().validate_order_no("12345", dispatcher, tracker(), {})
    assert result == {"order_no": None}
    assert dispatcher.messages[0]["response"] == "utter_order_no_invalid"


async def test_logged_in_customer_gets_own_orders_as_buttons(bot_shop):
    messages, _ = await run(ActionAskOrderNo(), tracker(metadata=logged_in(bot_shop.customer_id)))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert len(payloads) == 5 and all('"order_id"' in p for p in payloads)
    assert PAID in payloads[1]  # newest first: the unpaid order, then this one


async def test_anonymous_customer_is_asked_to_type_the_number(bot_shop):
    messages, _ = await run(ActionAskOrderNo(), tracker())
    assert messages[0]["response"] == "utter_ask_order_no" and not messages[0]["buttons"]


async def test_start_keeps_a_defect_said_with_the_request(bot_shop):
    _, events = await run(
        ActionStartOrderTask(), tracker(intent="request_return", text="屏幕碎了，我要退货")
    )
    assert events == [
        SlotSet("order_task", "request_return"),
        SlotSet("phone_last4", None),
        SlotSet("return_item", None),
        SlotSet("return_reason", None),
        SlotSet("new_address", None),
        SlotSet("invoice_title", None),
        SlotSet("pending_change", None),
        SlotSet("awaiting_confirmation", False),
        SlotSet("return_reason", "defect"),
    ]


def proven(order_no: str) -> dict:
    return {
        "attempts": 0,
        "locked_until": None,
        "customer_id": None,
        "verified_orders": [order_no],
        "verified_until": 2**40,
    }


def order_status(shop, order_no: str) -> str:
    with session_scope(shop.factory) as session:
        return session.scalar(select(Order.status).where(Order.order_no == order_no))


CANCEL = {"order_no": PAID, "verification": proven(PAID), "order_task": "cancel_order"}


async def preview_cancel() -> dict:
    """Preview the cancellation of PAID: the code goes to the phone on file."""
    messages, events = await run(ActionOrderTask(), tracker(CANCEL, earlier=["cancel_order"]))
    assert [m.get("response") for m in messages] == [None, "utter_confirm_with_code"]
    assert messages[1]["change"] == "取消订单" and PAID in messages[1]["subject"]
    pending = events[0]["value"]
    assert events == [SlotSet("pending_change", pending), SlotSet("awaiting_confirmation", True)]
    assert pending["kind"] == "cancel" and pending["order_no"] == PAID
    return pending


def answer(pending: dict, text: str, earlier=("cancel_order", "inform")):
    return tracker({**CANCEL, "pending_change": pending}, "affirm", text, earlier=earlier)


async def test_cancel_preview_then_code_then_double_click(bot_shop, outbox):
    pending = await preview_cancel()
    assert order_status(bot_shop, PAID) == "paid"  # the preview changed nothing
    assert [m["tag"] for m in sent(outbox)] == ["code:cancel"]
    assert all("1380013" not in m["to"] for m in sent(outbox))  # no phone number in clear

    confirmed = answer(pending, f"验证码 {last_code(outbox)}")
    messages, events = await run(ActionApplyChange(), confirmed)
    assert events == [SlotSet("pending_change", None), SlotSet("awaiting_confirmation", False)]
    assert "已取消" in messages[0]["text"]
    assert order_status(bot_shop, PAID) == "cancelled"
    assert [m["tag"] for m in sent(outbox)] == ["code:cancel", "done:cancel"]

    messages, _ = await run(ActionApplyChange(), confirmed)  # the same confirmation again
    assert messages[0]["response"] == "utter_change_repeated"
    with session_scope(bot_shop.factory) as session:
        assert session.scalar(select(func.count()).select_from(OrderRequest)) == 1


async def test_a_plain_yes_is_not_enough_for_a_change(bot_shop, outbox):
    pending = await preview_cancel()
    messages, events = await run(ActionApplyChange(), answer(pending, "好的"))
    assert messages[0]["response"] == "utter_code_needed"
    assert events[1] == SlotSet("awaiting_confirmation", True)
    assert order_status(bot_shop, PAID) == "paid"
    # the code typed next still confirms (a yes and a code are not moving on)
    later = answer(events[0]["value"], last_code(outbox), ("cancel_order", "inform", "affirm"))
    messages, _ = await run(ActionApplyChange(), later)
    assert order_status(bot_shop, PAID) == "cancelled"


async def test_wrong_codes_burn_the_code_and_change_nothing(bot_shop, outbox):
    pending = await preview_cancel()
    right = last_code(outbox)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    responses = []
    for _ in range(3):
        messages, events = await run(ActionApplyChange(), answer(pending, wrong))
        responses.append(messages[0]["response"])
        pending = events[0]["value"] or pending
    assert responses == ["utter_code_wrong", "utter_code_wrong", "utter_code_spent"]
    messages, _ = await run(ActionApplyChange(), answer(pending, right))
    assert messages[0]["response"] == "utter_code_spent"  # burnt: the right code is too late
    assert order_status(bot_shop, PAID) == "paid"


async def test_consent_lapses_when_the_talk_moves_on(bot_shop, outbox):
    """A preview, then "有什么新款手机推荐？", then the code: nothing is cancelled."""
    pending = await preview_cancel()
    moved_on = ("cancel_order", "inform", "ask_recommendation")
    messages, events = await run(ActionApplyChange(), answer(pending, last_code(outbox), moved_on))
    assert messages[0]["response"] == "utter_confirmation_lapsed"
    assert events == [SlotSet("pending_change", None), SlotSet("awaiting_confirmation", False)]
    assert order_status(bot_shop, PAID) == "paid"


async def test_consent_lapses_after_some_minutes(bot_shop, outbox, monkeypatch):
    pending = await preview_cancel()
    later = pending["previewed_at"] + 10 * 60
    monkeypatch.setattr(actions.confirmation, "now_seconds", lambda: later)
    messages, _ = await run(ActionApplyChange(), answer(pending, last_code(outbox)))
    assert messages[0]["response"] == "utter_confirmation_lapsed"
    assert order_status(bot_shop, PAID) == "paid"


async def test_a_question_about_an_order_never_becomes_a_change(bot_shop):
    """ "这个订单买了什么，寄到哪里？" read as cancel_order shows the order instead."""
    asked = tracker(intent="cancel_order", text="这个订单买了什么，寄到哪里？")
    _, events = await run(ActionStartOrderTask(), asked)
    assert events[0] == SlotSet("order_task", "track_order")
    meant = tracker(intent="cancel_order", text="这单不要了，帮我取消")
    _, events = await run(ActionStartOrderTask(), meant)
    assert events[0] == SlotSet("order_task", "cancel_order")


async def test_a_pending_change_for_an_unproven_order_is_not_applied(bot_shop):
    pending = {"kind": "cancel", "request_key": "k-1", "order_no": PAID, "params": {}}
    pending.update(previewed_at=int(time.time()), turn=0)
    slots = {"pending_change": pending, "verification": proven(DELIVERED)}
    messages, events = await run(ActionApplyChange(), tracker(slots, intent="affirm"))
    assert messages[0]["response"] == "utter_nothing_to_confirm"
    assert events == [SlotSet("pending_change", None), SlotSet("awaiting_confirmation", False)]
    assert order_status(bot_shop, PAID) == "paid"


async def test_erasure_needs_a_login(bot_shop):
    messages, events = await run(
        ActionAccountChange(), tracker(intent="delete_account", text="注销我的账号")
    )
    assert messages[0]["response"] == "utter_login_required"
    assert "https://" in messages[1]["text"]
    assert messages[2]["response"] == "utter_conversation_erasure_offer"  # no login needed
    assert events == []


async def test_anyone_may_erase_the_conversation_after_a_plain_yes(bot_shop):
    messages, events = await run(
        ActionConversationErasure(), tracker(intent="delete_conversation", text="删掉这段聊天")
    )
    assert [m["response"] for m in messages] == [
        "utter_conversation_erasure_preview",
        "utter_confirm_change",
    ]
    pending = events[0]["value"]
    assert pending["kind"] == "conversation_erasure" and pending["customer_id"] is None
    assert events[1] == SlotSet("awaiting_confirmation", True)
    yes = tracker({"pending_change": pending}, intent="affirm", text="好")
    messages, events = await run(ActionApplyChange(), yes)
    assert [m["response"] for m in messages] == ["utter_conversation_erased"]
    assert SlotSet("erase_conversation", True) in events
    assert SlotSet("awaiting_confirmation", False) in events


async def test_logged_in_newsletter_opt_out_is_previewed_then_done(bot_shop):
    with session_scope(bot_shop.factory) as session:
        session.get(Customer, bot_shop.customer_id).newsletter_opt_in = True
    owner = logged_in(bot_shop.customer_id)
    asked = tracker(intent="newsletter_subscription", text="别再给我发促销邮件了", metadata=owner)
    messages, events = await run(ActionAccountChange(), asked)
    assert messages[-1]["response"] == "utter_confirm_change"  # no code for a newsletter choice
    pending = events[0]["value"]
    assert pending["kind"] == "newsletter" and pending["params"] == {"subscribe": False}
    assert events[1] == SlotSet("awaiting_confirmation", True)
    yes = tracker({"pending_change": pending}, intent="affirm", metadata=owner)
    await run(ActionApplyChange(), yes)
    with session_scope(bot_shop.factory) as session:
        assert session.get(Customer, bot_shop.customer_id).newsletter_opt_in is False
    # someone else cannot apply it, even holding the pending change
    stranger = tracker({"pending_change": pending}, intent="affirm")
    messages, _ = await run(ActionApplyChange(), stranger)
    assert messages[0]["response"] == "utter_login_required"


async def test_account_help_uses_the_configured_steps(bot_shop):
    messages, _ = await run(ActionAccountHelp(), tracker(intent="recover_password"))
    assert "https://shop.example.com/password/reset" in messages[0]["text"]
