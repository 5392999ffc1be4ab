"""Account requests on SQLite and PostgreSQL: newsletter, erasure and the migration behind them."""

import json
import threading
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from kefu import migrate
from kefu.account import (
    ERASED_NAME,
    erase_customer,
    preview_erasure,
    preview_newsletter,
    process_due_erasures,
    request_erasure,
    set_newsletter,
)
from kefu.csat import record_rating
from kefu.db import make_engine, session_scope
from kefu.handoff import add_message, open_ticket, ticket
from kefu.models import Address, Base, CsatRating, Customer, Order, OrderRequest, Payment, Refund
from kefu.orders import ChangeOutcome, outcome_text
from kefu.policies import DEFAULT_POLICIES_PATH, load_policies

NOW = datetime(2026, 3, 1, 2, 0)  # 10:00 on 1 March, Beijing time
DUE = date(2026, 3, 8)  # 7 grace days (policies.yml): erased once 8 March has ended
LAST_MOMENT = datetime(2026, 3, 8, 15, 59)  # 23:59 on 8 March, Beijing time
AFTER_DUE = datetime(2026, 3, 8, 16, 0)  # 00:00 on 9 March, Beijing time
NAME, PHONE, EMAIL = "张三丰", "13812346093", "zhang@example.com"
DETAIL = "科技园路1号"
ADDRESS = {
    "recipient": NAME,
    "phone": PHONE,
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": DETAIL,
}
SECRETS = (NAME, PHONE, EMAIL, DETAIL)
LANGUAGES = ("zh", "en")


@dataclass
class Shop:
    factory: object
    zhang: int  # the customer who asks
    li: int  # another customer, never touched
    orders: list[int]  # Zhang's


def _order(customer: Customer, order_no: str, address: dict, paid: bool) -> Order:
    order = Order(
        order_no=order_no,
        customer=customer,
        status="cancelled" if paid else "pending_payment",
        items_total=Decimal("99.00"),
        total=Decimal("99.00"),
        shipping_address=dict(address),
        created_at=NOW - timedelta(days=10),
    )
    if paid:
        order.payments.append(
            Payment(method="alipay", amount=order.total, status="succeeded", created_at=NOW)
        )
    return order


@pytest.fixture
def shop(factory) -> Shop:
    """Zhang with two saved addresses and two orders (one paid, cancelled and refunded), and Li
    with an address and an order."""
    with session_scope(factory) as session:
        zhang = Customer(name=NAME, phone=PHONE, email=EMAIL)
        zhang.addresses = [
            Address(**ADDRESS, is_default=True),
            Address(**{**ADDRESS, "city": "广州市", "detail": "天河路2号"}),
        ]
        li_address = {**ADDRESS, "recipient": "李四", "phone": "13987651234"}
        li = Customer(name="李四", phone="13987651234", email="li@example.com")
        li.addresses = [Address(**li_address)]
        paid = _order(zhang, "2602190900000001", ADDRESS, paid=True)
        unpaid = _order(zhang, "2602190900000002", {**ADDRESS, "district": ""}, paid=False)
        session.add_all([paid, unpaid, _order(li, "2602190900000003", li_address, paid=True)])
        session.flush()
        session.add(
            Refund(
                order_id=paid.id,
                amount=paid.total,
                method="alipay",
                status="succeeded",
                created_at=NOW,
            )
        )
        return Shop(factory, zhang.id, li.id, [paid.id, unpaid.id])


def call(shop: Shop, change, *args, customer: int | None = None, **kwargs):
    """``change(session, customer id, *args)`` in one transaction (Zhang unless ``customer``)."""
    with session_scope(shop.factory) as session:
        return change(session, customer or shop.zhang, *args, **kwargs)


def customer_row(shop: Shop, customer_id: int) -> dict:
    with session_scope(shop.factory) as session:
        customer = session.get(Customer, customer_id)
        return {c.key: getattr(customer, c.key) for c in inspect(Customer).column_attrs}


def count(shop: Shop, model, *where) -> int:
    with session_scope(shop.factory) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def requests(shop: Shop) -> list[OrderRequest]:
    with session_scope(shop.factory) as session:
        return list(session.scalars(select(OrderRequest).order_by(OrderRequest.id)))


def state(shop: Shop) -> tuple:
    """Everything an account change can touch."""
    with session_scope(shop.factory) as session:
        orders = [
            (o.id, o.status, o.shipping_address)
            for o in session.scalars(select(Order).order_by(Order.id))
        ]
        addresses = [a.id for a in session.scalars(select(Address).order_by(Address.id))]
    customers = (customer_row(shop, shop.zhang), customer_row(shop, shop.li))
    money = tuple(count(shop, model) for model in (Payment, Refund, OrderRequest))
    return customers, orders, addresses, money


def texts_of(outcome: ChangeOutcome) -> list[str]:
    rendered = [outcome_text(outcome, language) for language in LANGUAGES]
    for text_ in rendered:
        assert text_ and "{" not in text_
    assert rendered[0] != rendered[1]
    return rendered


def assert_private(*texts: str) -> None:
    for text_ in texts:
        for secret in SECRETS:
            assert secret not in text_


# ----------------------------------------------------------------------------- newsletter


def test_subscribe_unsubscribe_and_unchanged(shop):
    assert customer_row(shop, shop.zhang)["newsletter_opt_in"] is False
    with session_scope(shop.factory) as session:
        preview = preview_newsletter(session, shop.zhang, True, "en")
    assert preview.allowed and preview.decision.code == "newsletter_subscribe_ok"
    assert "unsubscribe at any time" in preview.summary

    subscribed = call(shop, set_newsletter, True, "conv-1/newsletter", NOW)
    assert subscribed == ChangeOutcome(True, "newsletter_subscribed", {"subscribed": True})
    assert "订阅" in texts_of(subscribed)[0]
    assert customer_row(shop, shop.zhang)["newsletter_opt_in"] is True

    with session_scope(shop.factory) as session:
        already = preview_newsletter(session, shop.zhang, True, "zh")
        leave = preview_newsletter(session, shop.zhang, False, "en")
    assert not already.allowed and already.decision.code == "newsletter_unchanged"
    assert "已经订阅了优惠资讯" in already.summary
    assert leave.allowed and leave.decision.code == "newsletter_unsubscribe_ok"

    unchanged = call(shop, set_newsletter, True, "conv-2/newsletter", NOW)
    assert unchanged.done and unchanged.code == "newsletter_unchanged"
    assert texts_of(unchanged)[1] == (
        "You are already subscribed to our newsletter, so nothing needs to change."
    )
    unsubscribed = call(shop, set_newsletter, False, "conv-3/newsletter", NOW)
    assert unsubscribed.done and unsubscribed.code == "newsletter_unsubscribed"
    assert "unsubscribed" in texts_of(unsubscribed)[1]
    assert customer_row(shop, shop.zhang)["newsletter_opt_in"] is False
    again = call(shop, set_newsletter, False, "conv-4/newsletter", NOW)
    assert again.code == "newsletter_unchanged"
    assert "unsubscribed from our newsletter" in outcome_text(again, "en")

    rows = requests(shop)
    assert [(r.kind, r.status, r.order_id, r.customer_id) for r in rows] == [
        ("newsletter", "done", None, shop.zhang)
    ] * 4
    assert [r.detail["code"] for r in rows] == [
        "newsletter_subscribed",
        "newsletter_unchanged",
        "newsletter_unsubscribed",
        "newsletter_unchanged",
    ]
    assert all(set(r.detail) == {"code", "params"} for r in rows)
    assert customer_row(shop, shop.li)["newsletter_opt_in"] is False


CHANGES = {
    "newsletter": lambda s, c, key: set_newsletter(s, c, True, key, NOW),
    "erasure": lambda s, c, key: request_erasure(s, c, key, NOW),
}


@pytest.mark.parametrize("kind", CHANGES)
def test_the_same_key_twice_changes_once(shop, kind):
    change = CHANGES[kind]
    first = call(shop, change, "conv-1/intent")
    assert first.done and not first.repeated
    after_first = state(shop)
    second = call(shop, change, "conv-1/intent")
    assert second == replace(first, repeated=True)
    assert outcome_text(second, "zh") == outcome_text(first, "zh")
    assert state(shop) == after_first
    assert count(shop, OrderRequest) == 1
    other = call(shop, change, "conv-2/intent")
    assert not other.repeated and other.code != first.code
    assert_private(*(json.dumps(r.detail, ensure_ascii=False) for r in requests(shop)))


def test_a_key_used_for_another_request_is_an_error(shop):
    call(shop, set_newsletter, True, "k", NOW)
    with pytest.raises(ValueError, match="another request"):
        call(shop, request_erasure, "k", NOW)
    with pytest.raises(ValueError, match="another request"):
        call(shop, set_newsletter, True, "k", NOW, customer=shop.li)
    with pytest.raises(ValueError, match="request key"):
        call(shop, set_newsletter, True, " ", NOW)
    with pytest.raises(ValueError, match="no customers row"):
        call(shop, set_newsletter, True, "k2", NOW, customer=shop.li + 100)
    with pytest.raises(ValueError, match="no customer"), session_scope(shop.factory) as session:
        preview_erasure(session, shop.li + 100, "zh")
    assert count(shop, OrderRequest) == 1


def test_the_change_is_part_of_the_callers_transaction(shop):
    before = state(shop)
    with pytest.raises(RuntimeError), session_scope(shop.factory) as session:
        assert set_newsletter(session, shop.zhang, True, "k", NOW).done
        raise RuntimeError("a later step of the same unit of work failed")
    assert state(shop) == before


# ----------------------------------------------------------------------------- erasure


def test_request_erasure_then_a_second_request_is_pending(shop):
    with session_scope(shop.factory) as session:
        preview = preview_erasure(session, shop.zhang, "en", NOW)
    assert preview.allowed and preview.decision.params == {"due": DUE}
    assert "after 2026-03-08" in preview.summary

    requested = call(shop, request_erasure, "conv-1/erase", NOW)
    assert requested == ChangeOutcome(True, "erasure_requested", {"due": DUE})
    zh, en = texts_of(requested)
    assert "2026-03-08" in zh and "after 2026-03-08" in en
    assert customer_row(shop, shop.zhang)["name"] == NAME  # nothing is erased yet

    later = NOW + timedelta(days=2)
    pending = call(shop, request_erasure, "conv-2/erase", later)
    assert pending == ChangeOutcome(False, "erasure_pending", {"due": DUE})
    assert "no need to ask again" in outcome_text(pending, "en")
    with session_scope(shop.factory) as session:
        again = preview_erasure(session, shop.zhang, "zh", later)
    assert not again.allowed and again.decision.code == "erasure_pending"

    rows = requests(shop)
    assert [(r.kind, r.status, r.order_id, r.detail["code"]) for r in rows] == [
        ("erasure", "done", None, "erasure_requested"),
        ("erasure", "refused", None, "erasure_pending"),
    ]
    assert rows[0].detail["params"] == {"due": {"date": "2026-03-08"}}


def test_requests_with_different_keys_at_once_make_one_pending_erasure(shop):
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def ask(key: str) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(call(shop, request_erasure, key, NOW))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(f"conversation-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(o.code for o in outcomes) == ["erasure_pending", "erasure_requested"]


def test_due_erasures_wait_for_the_due_date_then_anonymise(shop):
    call(shop, request_erasure, "conv-1/erase", NOW)
    call(shop, set_newsletter, True, "conv-1/newsletter", NOW)
    before = state(shop)
    for moment in (NOW, LAST_MOMENT):
        with session_scope(shop.factory) as session:
            assert process_due_erasures(session, moment) == []
    assert state(shop) == before

    with session_scope(shop.factory) as session:
        assert process_due_erasures(session, AFTER_DUE) == [shop.zhang]
    zhang = customer_row(shop, shop.zhang)
    assert zhang["name"] == ERASED_NAME
    assert (zhang["phone"], zhang["email"]) == ("", None)
    assert zhang["erased_at"] == AFTER_DUE and zhang["newsletter_opt_in"] is False
    assert count(shop, Address, Address.customer_id == shop.zhang) == 0
    with session_scope(shop.factory) as session:
        addresses = [session.get(Order, order_id).shipping_address for order_id in shop.orders]
        payments = session.scalars(select(Payment).where(Payment.order_id == shop.orders[0]))
        assert [(p.amount, p.status) for p in payments] == [(Decimal("99.00"), "succeeded")]
    assert addresses == [{"province": "广东省", "city": "深圳市"}] * 2
    assert count(shop, Refund) == 1 and count(shop, Payment) == 2 and count(shop, Order) == 3
    customers, orders, _, _ = state(shop)
    zhangs = [order for order in orders if order[0] in shop.orders]
    assert_private(json.dumps([customers[0], zhangs], ensure_ascii=False, default=str))

    # Li is untouched; a second run erases no one
    assert customers[1] == before[0][1]
    assert count(shop, Address, Address.customer_id == shop.li) == 1
    after = state(shop)
    with session_scope(shop.factory) as session:
        assert process_due_erasures(session, AFTER_DUE + timedelta(days=30)) == []
    assert state(shop) == after


def test_an_erased_customer_cannot_ask_again(shop):
    call(shop, request_erasure, "conv-1/erase", NOW)
    with session_scope(shop.factory) as session:
        process_due_erasures(session, AFTER_DUE)
    erased = call(shop, request_erasure, "conv-2/erase", AFTER_DUE)
    assert erased == ChangeOutcome(False, "erasure_done", {})
    assert "already been erased" in texts_of(erased)[1]
    newsletter = call(shop, set_newsletter, True, "conv-2/newsletter", AFTER_DUE)
    assert not newsletter.done and newsletter.code == "erasure_done"
    with session_scope(shop.factory) as session:
        assert preview_erasure(session, shop.zhang, "zh").decision.code == "erasure_done"
        assert not preview_newsletter(session, shop.zhang, True, "zh").allowed
    assert customer_row(shop, shop.zhang)["newsletter_opt_in"] is False
    assert [r.status for r in requests(shop)] == ["done", "refused", "refused"]


def test_erase_customer_is_all_or_nothing_and_can_run_again(shop):
    with session_scope(shop.factory) as session:
        erase_customer(session, shop.li, NOW)
    with session_scope(shop.factory) as session:
        erase_customer(session, shop.li, AFTER_DUE)
    li = customer_row(shop, shop.li)
    assert li["erased_at"] == NOW and li["name"] == ERASED_NAME
    assert customer_row(shop, shop.zhang)["name"] == NAME
    assert count(shop, OrderRequest) == 0  # the erasure itself is not a customer's request

    before = state(shop)
    with pytest.raises(RuntimeError), session_scope(shop.factory) as session:
        erase_customer(session, shop.zhang, NOW)
        raise RuntimeError("a later step of the same unit of work failed")
    assert state(shop) == before


def test_erasure_clears_what_the_customer_wrote_in_chats(shop):
    def chat(session, customer_id: int, name: str) -> tuple[int, int]:
        opened = open_ticket(
            session,
            conversation_id=f"conv-{customer_id}",
            channel="webchat",
            language="zh",
            reason="requested",
            transcript=[{"who": "customer", "text": f"我是{name}，住{DETAIL}", "at": ""}],
            intents=["request_return"],
            entities={"order_id": "2602190900000001", "product": name},
            sentiment=-0.2,
            customer_id=customer_id,
            now=NOW,
        )
        add_message(session, opened.id, "customer", f"{name}，{DETAIL}")
        rating = record_rating(
            session,
            conversation_id=f"conv-{customer_id}",
            rating=2,
            comment=f"{name}：{DETAIL}",
            intents=["request_return"],
            language="zh",
            channel="webchat",
            human_involved=True,
            customer_id=customer_id,
            now=NOW,
        )
        return opened.id, rating.id

    with session_scope(shop.factory) as session:
        zhang = chat(session, shop.zhang, NAME)
        li = chat(session, shop.li, "李四")
    with session_scope(shop.factory) as session:
        erase_customer(session, shop.zhang, AFTER_DUE)
    with session_scope(shop.factory) as session:
        erased, kept = ticket(session, zhang[0]), ticket(session, li[0])
        comments = [session.get(CsatRating, rating_id).comment for rating_id in (zhang[1], li[1])]
        rating = session.get(CsatRating, zhang[1]).rating
    assert (erased.transcript, erased.entities, erased.summary, erased.messages) == ((), {}, "", ())
    assert (erased.reason, erased.intents, erased.sentiment) == (
        "requested",
        ("request_return",),
        -0.2,
    )
    assert comments[0] is None and rating == 2
    assert_private(json.dumps([erased.__dict__, comments[0]], ensure_ascii=False, default=str))
    assert kept.transcript and kept.messages and comments[1] == f"李四：{DETAIL}"


def test_the_grace_period_comes_from_the_policies(shop, tmp_path):
    policies_file = tmp_path / "policies.yml"
    project = DEFAULT_POLICIES_PATH.read_text(encoding="utf-8")
    policies_file.write_text(project.replace("erasure_grace_days: 7", "erasure_grace_days: 0"))
    p = load_policies(policies_file)
    assert call(shop, request_erasure, "k", NOW, p=p).params == {"due": date(2026, 3, 1)}
    with session_scope(shop.factory) as session:
        assert process_due_erasures(session, datetime(2026, 3, 1, 15, 59), p=p) == []
        assert process_due_erasures(session, datetime(2026, 3, 1, 16, 0), p=p) == [shop.zhang]


# ----------------------------------------------------------------------------- migration


def test_the_migration_adds_the_columns_as_the_model_defines_them(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            columns = {c["name"]: c for c in inspect(connection).get_columns("customers")}
    finally:
        engine.dispose()
    assert [d for d in diffs if "customers" in repr(d)] == []
    assert set(columns) == {c.name for c in Customer.__table__.columns}
    assert not columns["newsletter_opt_in"]["nullable"] and columns["erased_at"]["nullable"]


def test_the_migration_downgrades_and_upgrades_keeping_the_data(shop, database_url):
    engine = make_engine(database_url)
    try:
        migrate.downgrade(database_url, "0003")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("customers")}
            addresses = connection.scalar(text("SELECT count(*) FROM addresses"))
        assert "erased_at" not in columns and "newsletter_opt_in" not in columns
        assert addresses == 3  # dropping the columns must not drop the customers
    finally:
        migrate.upgrade(database_url)
        engine.dispose()
    row = customer_row(shop, shop.zhang)
    assert (row["name"], row["newsletter_opt_in"], row["erased_at"]) == (NAME, False, None)
    assert count(shop, Address) == 3 and count(shop, Order) == 3
