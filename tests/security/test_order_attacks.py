"""Attacks on orders, tried against the real servers (REST channel, real model, real database):
each must fail to get in.  See the README's security section for the threat model."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from sqlalchemy import select

from kefu.db import make_engine, make_session_factory
from kefu.demo.site import login_customers
from kefu.models import Customer, Order
from tests.demo_orders import order_of_nth_customer
from tests.outbox import latest_code, messages

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def sessions():
    engine = make_engine()
    yield make_session_factory(engine)
    engine.dispose()


def digits_of(order: Order) -> str:
    phone = (order.shipping_address or {}).get("phone") or order.customer.phone
    return "".join(c for c in phone if c.isdigit())[-4:]


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies if r.get("text"))


def payloads(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def status_of(sessions, number: str) -> str:
    with sessions() as session:
        return session.scalar(select(Order.status).where(Order.order_no == number))


def unshipped_order(sessions, nth: int) -> tuple[str, str]:
    """The ``nth`` newest paid, unshipped order (number, digits); each test takes its own, and
    the integration tests take the oldest ones."""
    with sessions() as session:
        order = session.scalars(
            select(Order)
            .where(Order.status == "paid", Order.shipped_at.is_(None))
            .order_by(Order.id.desc())
            .offset(nth)
        ).first()
        return order.order_no, digits_of(order)


def shipped_order(sessions) -> tuple[str, str, list[str]]:
    with sessions() as session:
        order = order_of_nth_customer(session, 1)
        secrets_ = [i.title_zh for i in order.items] + [s.tracking_no for s in order.shipments]
        return order.order_no, digits_of(order), secrets_


class Attacker:
    """Talks over REST; ``fresh()`` is a new sender, as a brute-force script would use."""

    def __init__(self, bot) -> None:
        self.bot, self.sender = bot, uuid.uuid4().hex

    def fresh(self) -> Attacker:
        self.sender = uuid.uuid4().hex
        return self

    def say(self, text: str) -> list[dict]:
        return self.bot.say(text, self.sender)


def test_brute_force_across_new_senders_restart_and_back_is_locked(bot, sessions):
    number, right, private = shipped_order(sessions)
    wrong = [f"{n:04d}" for n in range(10) if f"{n:04d}" != right][:4]
    attacker = Attacker(bot)
    tricks = ["/restart", "/back", None, "/restart"]  # and a new sender every time
    for guess, trick in zip(wrong, tricks, strict=True):
        attacker.fresh()
        if trick:
            attacker.say(trick)
        attacker.say(f"查一下订单 {number} 的物流")
        attacker.say(guess)
    # the right digits now come too late, from any conversation
    attacker.fresh().say(f"查一下订单 {number} 的物流")
    answer = texts(attacker.say(right))
    assert "验证失败次数太多" in answer
    assert not any(fact in answer for fact in private)


def test_a_question_about_an_order_is_never_turned_into_a_change(bot, sessions):
    number, digits = unshipped_order(sessions, 1)
    attacker = Attacker(bot)
    attacker.say(f"这个订单 {number} 买了什么，寄到哪里？")
    shown = attacker.say(digits)
    assert "/deny" not in payloads(shown) and "验证码" not in texts(shown)
    attacker.say("好的")
    assert status_of(sessions, number) == "paid"


def test_consent_does_not_survive_a_change_of_topic(bot, sessions):
    """The attack seen live: a cancellation preview, then "有什么新款手机推荐？", then a yes
    (here even the right code) must not cancel the paid order."""
    number, digits = unshipped_order(sessions, 2)
    customer = Attacker(bot)
    customer.say(f"订单 {number} 帮我取消")
    preview = customer.say(digits)
    assert "/deny" in payloads(preview)
    customer.say("有什么新款手机推荐？")
    said = texts(customer.say("好的"))
    said += texts(customer.say(latest_code(bot.stack.outbox, number)))
    assert status_of(sessions, number) == "paid"
    assert "已经失效" in said  # the customer is told the earlier request lapsed


def test_a_yes_without_the_code_changes_nothing(bot, sessions):
    """Phone digits from a shipping label are not enough to change an order."""
    number, digits = unshipped_order(sessions, 3)
    attacker = Attacker(bot)
    attacker.say(f"cancel order {number} please")
    attacker.say(digits)
    for guess in ("yes", "/affirm", "123456", "000000", "999999"):
        attacker.say(guess)
    assert status_of(sessions, number) == "paid"
    sent = [m for m in messages(bot.stack.outbox) if number in m["text"]]
    assert sent and all(not re.search(r"1[3-9]\d{9}", m["to"]) for m in sent)


def test_the_demo_shop_does_not_log_in_an_unlisted_customer(bot, sessions):
    with sessions() as session:
        listed = {c["id"] for c in login_customers(session)}
        stranger = session.scalars(
            select(Customer.id).where(Customer.id.not_in(listed)).order_by(Customer.id.desc())
        ).first()
    web = requests.Session()
    form = web.get(f"{bot.stack.shop_url}/login", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = web.post(
        f"{bot.stack.shop_url}/login",
        data={"csrf": csrf, "customer_id": str(stranger)},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400
    assert (
        "kefu_shop_session" not in answer.cookies
        and "data-customer-token" not in web.get(bot.stack.shop_url, timeout=10).text
    )
