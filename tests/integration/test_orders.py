"""Orders and after-sales over the real REST channel, against the shop database the running
servers use: what an unverified customer learns (nothing), verification, the lock, logged-in
customers, and confirmed changes that happen once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from kefu.db import make_engine, make_session_factory
from kefu.identity import issue_token
from kefu.models import Customer, Order, OrderRequest, Shipment
from tests.integration.conftest import IDENTITY_SECRET
from tests.outbox import latest_code, notices

pytestmark = pytest.mark.model

UNKNOWN_ORDER = "2601011200999999"  # well formed, not in the demo shop


@pytest.fixture(scope="module")
def sessions():
    """Fresh sessions on the shop database the bot uses (changes made by the bot are seen)."""
    engine = make_engine()
    yield make_session_factory(engine)
    engine.dispose()


def phone_last4(order: Order) -> str:
    phone = (order.shipping_address or {}).get("phone") or order.customer.phone
    return "".join(c for c in phone if c.isdigit())[-4:]


def wrong_last4(order: Order) -> str:
    right = phone_last4(order)
    return "0000" if right != "0000" else "1111"


def texts_of(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages if m.get("text"))


def buttons_of(messages: list[dict]) -> list[dict]:
    return [b for m in messages for b in m.get("buttons") or []]


def private_facts(session, order: Order) -> list[str]:
    """Things about the order that only someone allowed to see it may learn."""
    facts = [item.title_zh for item in order.items] + [item.title_en for item in order.items]
    facts += [s.tracking_no for s in order.shipments]
    address = order.shipping_address or {}
    facts += [address.get("detail", ""), address.get("recipient", ""), str(order.total)]
    return [f for f in facts if f]


def shipped_order(session) -> Order:
    return session.scalars(
        select(Order).join(Shipment).where(Order.status == "shipped").order_by(Order.id)
    ).first()


def cancellable_order(session) -> Order:
    """A paid order that has not shipped (the demo shop has some; the tests cancel them)."""
    return session.scalars(
        select(Order).where(Order.status == "paid", Order.shipped_at.is_(None)).order_by(Order.id)
    ).first()


class Chat:
    def __init__(self, bot, metadata: dict | None = None) -> None:
        self.bot, self.sender, self.metadata = bot, uuid.uuid4().hex, metadata

    def say(self, text: str) -> list[dict]:
        return self.bot.say(text, self.sender, self.metadata)


def test_an_unverified_customer_learns_nothing_about_an_order(bot, sessions):
    with sessions() as session:
        order = shipped_order(session)
        secret = private_facts(session, order)
        chat = Chat(bot)
        said = [chat.say(f"帮我查下订单 {order.order_no} 到哪了")]
        said.append(chat.say(wrong_last4(order)))
        unknown = Chat(bot)
        unknown.say(f"帮我查下订单 {UNKNOWN_ORDER} 到哪了")
        unknown_reply = unknown.say("0000")
    everything = "\n".join(texts_of(m) for m in said)
    assert "后 4 位" in texts_of(said[0])
    for fact in secret:
        assert fact not in everything, f"leaked {fact!r}"
    # someone else's / an existing order with wrong digits reads exactly like an unknown one
    assert texts_of(said[1]) == texts_of(unknown_reply)
    assert "对不上" in texts_of(said[1])


def test_verified_customer_sees_the_tracking_timeline(bot, sessions):
    with sessions() as session:
        order = shipped_order(session)
        chat = Chat(bot)
        chat.say(f"where is my order {order.order_no}")
        reply = texts_of(chat.say(f"last 4 digits are {phone_last4(order)}"))
        assert order.shipments[0].tracking_no in reply
        # the proof holds for the rest of the conversation: no second question
        again = texts_of(chat.say("when will it arrive?"))
        assert order.shipments[0].tracking_no in again


def test_a_second_order_in_the_same_conversation_is_asked_for_its_own_digits(bot, sessions):
    with sessions() as session:
        first = shipped_order(session)
        second = cancellable_order(session)
        first_digits, second_digits = phone_last4(first), phone_last4(second)
        first_no, tracking_no, second_no = (
            first.order_no,
            first.shipments[0].tracking_no,
            second.order_no,
        )
    chat = Chat(bot)
    chat.say(f"查一下订单 {first_no}")
    assert tracking_no in texts_of(chat.say(first_digits))
    asked = texts_of(chat.say(f"还有订单 {second_no} 到哪了"))
    assert "后 4 位" in asked and "对不上" not in asked  # the first order's digits are not reused
    assert "还没有发货" in texts_of(chat.say(second_digits))


def test_three_failures_lock_even_the_right_digits(bot, sessions):
    # failures are counted per order in the database: an order no other test has tried
    with sessions() as session:
        order = (
            session.scalars(
                select(Order).join(Shipment).where(Order.status == "shipped").order_by(Order.id)
            )
            .unique()
            .all()[7]
        )
        right, wrong = phone_last4(order), wrong_last4(order)
        secret = private_facts(session, order)
    chat = Chat(bot)
    chat.say(f"查订单 {order.order_no}")
    chat.say(wrong)
    for _ in range(2):
        chat.say(order.order_no)
        last = chat.say(wrong)
    assert "分钟内不能再" in texts_of(last)
    after = texts_of(chat.say(f"查订单 {order.order_no}")) + texts_of(chat.say(right))
    assert all(fact not in after for fact in secret)


def test_a_logged_in_customer_picks_from_own_orders_and_cannot_open_others(bot, sessions):
    with sessions() as session:
        customer = session.scalars(
            select(Customer).join(Order).group_by(Customer.id).having(func.count(Order.id) >= 2)
        ).first()
        own = {o.order_no for o in customer.orders}
        other = session.scalars(
            select(Order).where(Order.customer_id != customer.id).order_by(Order.id)
        ).first()
        other_secret = private_facts(session, other)
        other_digits = phone_last4(other)
    token = issue_token(customer.id, IDENTITY_SECRET, ttl_seconds=600)
    chat = Chat(bot, {"customer_token": token})
    asked = chat.say("我想查一下我的订单")
    picks = [b["payload"] for b in buttons_of(asked)]
    assert picks and all(any(no in p for no in own) for p in picks)
    shown = texts_of(chat.say(picks[0]))
    assert "后 4 位" not in shown  # the token proves the customer: no phone question
    # another customer's order, even with that order's own phone digits: nothing
    chat.say(f"查订单 {other.order_no}")
    refused = texts_of(chat.say(other_digits))
    assert "对不上" in refused
    assert all(fact not in refused for fact in other_secret)


def test_cancel_is_previewed_confirmed_and_done_once(bot, sessions):
    with sessions() as session:
        order = cancellable_order(session)
        number, digits = order.order_no, phone_last4(order)
    chat = Chat(bot)
    chat.say(f"订单 {number} 不想要了，帮我取消")
    preview = chat.say(digits)
    assert [b["payload"] for b in buttons_of(preview)] == ["/deny"]
    assert "验证码" in texts_of(preview) and number in texts_of(preview)
    with sessions() as session:
        assert session.scalar(select(Order.status).where(Order.order_no == number)) == "paid"
    asked = texts_of(chat.say("/affirm"))  # a yes is not enough: the code is
    assert "验证码" in asked
    code = latest_code(bot.stack.outbox, number)
    done = texts_of(chat.say(code))
    assert number in done and "已取消" in done
    chat.say(code)  # a double send
    assert len(notices(bot.stack.outbox, number)) == 1  # the phone on file was told once
    with sessions() as session:
        order_id = session.scalar(select(Order.id).where(Order.order_no == number))
        assert session.scalar(select(Order.status).where(Order.id == order_id)) == "cancelled"
        requests = session.scalar(
            select(func.count())
            .select_from(OrderRequest)
            .where(OrderRequest.order_id == order_id, OrderRequest.kind == "cancel")
        )
        assert requests == 1


def test_never_mind_at_the_confirmation_changes_nothing(bot, sessions):
    with sessions() as session:
        order = cancellable_order(session)
        number, digits = order.order_no, phone_last4(order)
    chat = Chat(bot)
    chat.say(f"cancel order {number} please")
    chat.say(digits)
    reply = texts_of(chat.say("/deny"))
    assert "nothing has changed" in reply
    with sessions() as session:
        assert session.scalar(select(Order.status).where(Order.order_no == number)) == "paid"


def test_a_shipped_order_cannot_be_cancelled(bot, sessions):
    with sessions() as session:
        order = shipped_order(session)
        number, digits = order.order_no, phone_last4(order)
    chat = Chat(bot)
    chat.say(f"取消订单 {number}")
    reply = chat.say(digits)
    assert not buttons_of(reply)
    with sessions() as session:
        assert session.scalar(select(Order.status).where(Order.order_no == number)) == "shipped"


def test_policy_answers_come_from_the_policy_file(bot):
    from kefu.policies import answer, policies

    chat = Chat(bot)
    assert texts_of(chat.say("七天无理由退货怎么算")) == answer(
        policies(), "check_refund_policy", "zh"
    )


@pytest.mark.parametrize(
    "question, language, topic",
    [
        ("企业能开增值税专用发票吗", "zh", "get_invoice"),
        ("how long until a refund reaches my card?", "en", "check_refund_policy"),
    ],
)
def test_a_general_question_is_answered_without_asking_for_an_order(bot, question, language, topic):
    from kefu.policies import answer, policies

    chat = Chat(bot)
    said = texts_of(chat.say(question))
    # read as the policy question or as an order task: the policy answers it either way
    assert answer(policies(), topic, language) in said
    assert "订单号" not in said and "order number" not in said.lower()
    # and no order form is waiting for a number afterwards
    tracker = bot.tracker(bot.conversation_id(chat.sender))
    assert not (tracker.get("active_loop") or {}).get("name")
    assert texts_of(chat.say("好的谢谢" if language == "zh" else "ok thanks"))


def test_newsletter_needs_a_login_and_then_changes_the_account(bot, sessions):
    anonymous = texts_of(Chat(bot).say("please unsubscribe me from your promo emails"))
    assert "https://" in anonymous  # steps with the link, nothing changed
    with sessions() as session:
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        before = customer.newsletter_opt_in
    token = issue_token(customer.id, IDENTITY_SECRET, ttl_seconds=600)
    chat = Chat(bot, {"customer_token": token})
    wanted = "unsubscribe me from the newsletter" if before else "subscribe me to the newsletter"
    assert buttons_of(chat.say(wanted))
    chat.say("/affirm")  # a newsletter choice needs no code
    with sessions() as session:
        assert session.get(Customer, customer.id).newsletter_opt_in is (not before)


def test_address_change_is_applied_after_confirmation(bot, sessions):
    with sessions() as session:
        order = cancellable_order(session)
        number, digits = order.order_no, phone_last4(order)
        recipient = order.shipping_address["recipient"]
    chat = Chat(bot)
    chat.say(f"订单 {number} 的收货地址填错了，帮我改一下")
    asked = texts_of(chat.say(digits))
    assert "新的收货地址" in asked
    preview = chat.say("浙江省杭州市西湖区文三路100号5幢302")
    assert [b["payload"] for b in buttons_of(preview)] == ["/deny"]
    assert "文三路" not in texts_of(preview)  # the street is masked in what the bot says
    chat.say(f"验证码 {latest_code(bot.stack.outbox, number)}")
    with sessions() as session:
        address = session.scalar(select(Order).where(Order.order_no == number)).shipping_address
    assert (address["province"], address["city"], address["district"]) == (
        "浙江省",
        "杭州市",
        "西湖区",
    )
    assert address["detail"] == "文三路100号5幢302" and address["recipient"] == recipient


def test_invoice_request_in_english_creates_one_invoice(bot, sessions):
    from kefu.models import Invoice, Payment

    with sessions() as session:
        order = session.scalars(
            select(Order)
            .join(Payment)
            .where(
                Order.status.in_(("delivered", "completed")),
                ~select(Invoice.id).where(Invoice.order_id == Order.id).exists(),
            )
            .order_by(Order.id)
        ).first()
        number, digits, order_id = order.order_no, phone_last4(order), order.id
    chat = Chat(bot)
    chat.say(f"I need an invoice for order {number}")
    assert "invoice" in texts_of(chat.say(digits)).lower()
    preview = chat.say("personal")
    assert buttons_of(preview)
    code = latest_code(bot.stack.outbox, number)
    chat.say(code)
    chat.say(code)
    with sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.order_id == order_id)
        )
    assert count == 1
