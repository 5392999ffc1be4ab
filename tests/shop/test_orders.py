"""The order library on SQLite and PostgreSQL: views, changes, idempotency and transactions."""

import json
import re
import threading
import time
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, func, inspect, select

from kefu import migrate, orders
from kefu.db import make_engine, session_scope
from kefu.models import (
    INVOICE_STATUSES,
    REFUND_STATUSES,
    RETURN_STATUSES,
    SHIPMENT_STATUSES,
    Base,
    Invoice,
    Order,
    OrderRequest,
    Refund,
    ReturnRequest,
)
from kefu.orders import (
    ChangeOutcome,
    cancel_order,
    change_address,
    latest_order,
    order_details,
    outcome_text,
    preview_cancel,
    preview_change_address,
    preview_invoice,
    preview_refund,
    preview_return,
    recent_orders,
    recent_orders_text,
    request_invoice,
    request_refund,
    request_return,
    summary_text,
    tracking_text,
)
from kefu.policies import (
    DEFAULT_POLICIES_PATH,
    can_cancel,
    explain,
    load_policies,
    policies,
    refund_timeline,
)
from tests.shop.order_shop import (
    ADDRESS,
    AFTER_WINDOW,
    LANGUAGES,
    NEW_ADDRESS,
    NOW,
    SECRETS,
    TAX_ID,
    Shop,
)


def act(shop: Shop, name: str, change, *args, **kwargs):
    """Run ``change(session, order, *args)`` on order ``name`` in one transaction."""
    with session_scope(shop.factory) as session:
        return change(session, session.get(Order, shop.orders[name]), *args, **kwargs)


def count(shop: Shop, model, *where) -> int:
    with session_scope(shop.factory) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def order_row(shop: Shop, name: str) -> dict:
    with session_scope(shop.factory) as session:
        order = session.get(Order, shop.orders[name])
        return {c.key: getattr(order, c.key) for c in inspect(Order).column_attrs}


def state(shop: Shop) -> tuple:
    """Everything a change can touch: every order and the after-sales rows."""
    rows = tuple(order_row(shop, name) for name in sorted(shop.orders))
    counts = tuple(count(shop, m) for m in (Refund, ReturnRequest, Invoice, OrderRequest))
    return rows, counts


def assert_private(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def requests(shop: Shop) -> list[OrderRequest]:
    with session_scope(shop.factory) as session:
        return list(session.scalars(select(OrderRequest).order_by(OrderRequest.id)))


def texts_of(outcome: ChangeOutcome) -> list[str]:
    rendered = [outcome_text(outcome, language) for language in LANGUAGES]
    for text in rendered:
        assert text and "{" not in text
    return rendered


# ----------------------------------------------------------------------------- views


def test_recent_orders_newest_first_in_the_customers_language(shop):
    p = policies()
    with session_scope(shop.factory) as session:
        zh = recent_orders(session, shop.customer_id, limit=3)
        en = recent_orders(session, shop.customer_id, 3, "en")
        assert latest_order(session, shop.customer_id).id == shop.orders["unpaid"]
        assert latest_order(session, shop.customer_id + 1) is None
    assert [s.order_no for s in zh] == ["2603030900000005", "2603020900000004", "2603010900000003"]
    assert [s.status_text for s in zh] == [
        p.order_statuses[s].zh for s in ("pending_payment", "paid", "cancelled")
    ]
    assert en[1].status_text == "paid, not yet shipped"
    assert zh[1].items_text == "华为 Mate 80 Pro 5G 手机 等 2 件"
    assert en[1].items_text == "Huawei Mate 80 Pro 5G and 1 more"
    assert zh[0].items_text == "Apple iPhone 18 手机"
    assert zh[1].total == Decimal("8497.00") and str(zh[1].created) == "2026-03-02"
    listing = recent_orders_text(zh, "zh")
    assert listing.splitlines()[1] == (
        "· 2603020900000004（2026-03-02）华为 Mate 80 Pro 5G 手机 等 2 件，¥8,497，已付款待发货"
    )
    assert recent_orders_text([], "en") == "No orders found."


@pytest.mark.parametrize("language", LANGUAGES)
def test_details_tracking_newest_first_and_personal_data_masked(shop, language):
    with session_scope(shop.factory) as session:
        shipped = order_details(session, session.get(Order, shop.orders["shipped"]), language)
        paid = order_details(session, session.get(Order, shop.orders["paid"]), language)
    assert shipped.status == "shipped" and shipped.items[0].quantity == 1
    assert shipped.address == "广东省深圳市南山区****"
    assert (shipped.recipient, shipped.phone) == ("张**", "138****6093")
    (parcel,) = shipped.shipments
    assert parcel.carrier == {"zh": "顺丰速运", "en": "SF Express"}[language]
    assert parcel.tracking_no == "SF1234567890"
    assert [e.at for e in parcel.events] == sorted((e.at for e in parcel.events), reverse=True)
    assert parcel.events[0].at == datetime(2026, 3, 2, 22, 0)  # shop time (UTC+8)
    tracking = tracking_text(shipped, language)
    lines = tracking.splitlines()
    assert "SF1234567890" in lines[0]
    place = {"zh": "深圳", "en": "Shenzhen"}[language]  # English replies name places in English
    assert len(lines) == 4 and lines[1].startswith(f"· 2026-03-02 22:00 {place}")
    if language == "en":
        assert not re.search(r"[\u4e00-\u9fff]", tracking)
    first_update = {"zh": "到达深圳转运中心", "en": "Arrived at the Shenzhen hub"}[language]
    assert first_update in lines[1]
    assert (
        paid.payment_method
        == {"zh": "支付宝（含花呗）", "en": "Alipay (including Huabei)"}[language]
    )
    assert [i.subtotal for i in paid.items] == [Decimal("6999.00"), Decimal("1498.00")]
    not_shipped = tracking_text(paid, language)
    assert paid.status_text in not_shipped and paid.order_no in not_shipped
    summary = summary_text(shipped, language)
    assert "138****6093" in summary and "¥9,999" in summary
    assert_private(tracking, summary, not_shipped, summary_text(paid, language))


def test_every_status_has_a_name():
    for names, statuses in [
        (orders.SHIPMENT_STATUS_TEXT, SHIPMENT_STATUSES),
        (orders.RETURN_STATUS_TEXT, RETURN_STATUSES),
        (orders.REFUND_STATUS_TEXT, REFUND_STATUSES),
        (orders.INVOICE_STATUS_TEXT, INVOICE_STATUSES),
    ]:
        assert set(names) == set(statuses)


# ----------------------------------------------------------------------------- cancel


def test_cancel_a_paid_order_refunds_the_payment(shop):
    p = policies()
    preview = act(shop, "paid", preview_cancel, "zh", NOW)
    assert preview.allowed and preview.decision.code == "cancel_free_refund"
    timeline = refund_timeline(p, "alipay").text.zh
    assert preview.summary == explain(preview.decision, "zh") + "\n" + timeline

    outcome = act(shop, "paid", cancel_order, "不想要了，电话13812346093", "k-cancel", NOW)
    assert outcome.done and not outcome.repeated
    assert outcome.code == "order_cancelled_refund"
    assert outcome.params["amount"] == Decimal("8497.00")
    zh, en = texts_of(outcome)
    assert "¥8497" in zh and timeline in zh and "within 1–3 working days" in en
    row = order_row(shop, "paid")
    assert (row["status"], row["cancelled_at"]) == ("cancelled", NOW)
    assert row["cancel_reason"] == "不想要了，电话138****6093"
    with session_scope(shop.factory) as session:
        (refund,) = session.scalars(select(Refund).where(Refund.order_id == shop.orders["paid"]))
        assert (refund.amount, refund.method, refund.status) == (
            Decimal("8497.00"),
            "alipay",
            "pending",
        )
        assert refund.created_at == NOW and refund.return_id is None
        details = order_details(session, session.get(Order, shop.orders["paid"]), "en")
    assert details.refunds[0].timeline == refund_timeline(p, "alipay").text.en
    assert details.refunds[0].in_progress and "Refund: ¥8,497, pending" in summary_text(
        details, "en"
    )
    (recorded,) = requests(shop)
    assert (recorded.kind, recorded.status, recorded.order_id) == (
        "cancel",
        "done",
        shop.orders["paid"],
    )
    assert recorded.customer_id == shop.customer_id and recorded.created_at == NOW
    assert recorded.detail["code"] == "order_cancelled_refund"
    assert recorded.detail["params"]["amount"] == {"decimal": "8497.00"}


def test_a_cancellation_fee_is_kept_from_the_refund(shop, tmp_path):
    path = tmp_path / "policies.yml"
    text = DEFAULT_POLICIES_PATH.read_text(encoding="utf-8")
    path.write_text(text.replace("fees:\n    paid: 0", "fees:\n    paid: 10"), encoding="utf-8")
    p = load_policies(path)
    preview = act(shop, "paid", preview_cancel, "zh", NOW, p=p)
    assert preview.decision.code == "cancel_with_fee" and "¥10 手续费" in preview.summary
    outcome = act(shop, "paid", cancel_order, "", "k", NOW, p=p)
    assert outcome.code == "order_cancelled_refund_fee"
    assert outcome.params["amount"] == Decimal("8487.00")
    assert "扣除 ¥10 手续费后，¥8487 将原路退回" in outcome_text(outcome, "zh", p=p)


def test_cancel_an_unpaid_order_needs_no_refund(shop):
    assert act(shop, "unpaid", preview_cancel, "en", NOW).decision.code == "cancel_free"
    outcome = act(shop, "unpaid", cancel_order, "", "k-unpaid", NOW)
    assert (outcome.done, outcome.code) == (True, "order_cancelled")
    assert outcome_text(outcome, "en") == "Order 2603030900000005 has been cancelled."
    assert count(shop, Refund) == 0
    assert order_row(shop, "unpaid")["status"] == "cancelled"


def test_cancel_after_shipping_is_refused_with_the_policy_text(shop):
    before = order_row(shop, "shipped")
    preview = act(shop, "shipped", preview_cancel, "zh", NOW)
    assert not preview.allowed and preview.decision.code == "cancel_not_after_shipping"
    outcome = act(shop, "shipped", cancel_order, "", "k-shipped", NOW)
    assert (outcome.done, outcome.code) == (False, "cancel_not_after_shipping")
    expected = can_cancel(policies(), "shipped", before["paid_at"], before["shipped_at"], NOW)
    assert outcome_text(outcome, "en") == explain(expected, "en")
    assert order_row(shop, "shipped") == before and count(shop, Refund) == 0
    (recorded,) = requests(shop)
    assert recorded.status == "refused" and recorded.detail["code"] == "cancel_not_after_shipping"


# ----------------------------------------------------------------------------- address


def test_change_the_address_before_shipping(shop):
    preview = act(shop, "paid", preview_change_address, NEW_ADDRESS, "zh", NOW)
    assert (
        preview.allowed
        and preview.summary == "订单还没有发货，可以把收货地址改为：广东省深圳市福田区****。"
    )
    outcome = act(shop, "paid", change_address, NEW_ADDRESS, "k-address", NOW)
    assert outcome.done and outcome.code == "address_changed"
    assert outcome.params["changed"] == ["detail", "district", "phone"]
    assert order_row(shop, "paid")["shipping_address"] == NEW_ADDRESS
    (recorded,) = requests(shop)
    assert_private(
        preview.summary, *texts_of(outcome), json.dumps(recorded.detail, ensure_ascii=False)
    )


def test_an_incomplete_address_is_asked_again_under_the_same_key(shop):
    incomplete = {**NEW_ADDRESS, "phone": " ", "city": None}
    preview = act(shop, "paid", preview_change_address, incomplete, "en", NOW)
    assert not preview.allowed and preview.decision.params["missing"] == ["phone", "city"]
    outcome = act(shop, "paid", change_address, incomplete, "k-address", NOW)
    assert (outcome.done, outcome.code) == (False, "address_invalid")
    assert "full delivery address" in texts_of(outcome)[1]
    assert requests(shop) == [] and order_row(shop, "paid")["shipping_address"] == ADDRESS
    assert act(shop, "paid", change_address, NEW_ADDRESS, "k-address", NOW).done


@pytest.mark.parametrize("name", ["shipped", "delivered"])
def test_no_address_change_after_shipping(shop, name):
    before = order_row(shop, name)
    outcome = act(shop, name, change_address, NEW_ADDRESS, f"k-{name}", NOW)
    assert (outcome.done, outcome.code) == (False, "address_after_shipping")
    assert order_row(shop, name) == before


def test_no_address_change_for_a_cancelled_order(shop):
    outcome = act(shop, "cancelled", change_address, NEW_ADDRESS, "k", NOW)
    assert (outcome.done, outcome.code) == (False, "already_cancelled")


# ----------------------------------------------------------------------------- returns


def test_return_within_the_window(shop):
    item = shop.items["delivered/PH-XM-15"]
    preview = act(shop, "delivered", preview_return, item, "no_reason", "zh", NOW)
    assert preview.allowed and preview.decision.code == "return_no_reason_ok"
    assert "2026-03-08" in preview.summary
    outcome = act(shop, "delivered", request_return, item, "no_reason", "不喜欢", "k-ret", NOW)
    assert outcome.done and outcome.code == "return_requested"
    zh, en = texts_of(outcome)
    assert "小米 15 手机" in zh and "退货运费由您承担" in zh and "you pay the return shipping" in en
    with session_scope(shop.factory) as session:
        (ret,) = session.scalars(select(ReturnRequest))
        assert (ret.order_item_id, ret.kind, ret.status) == (item, "return", "requested")
        assert ret.reason == "no_reason: 不喜欢" and ret.id == outcome.params["return_id"]
        details = order_details(session, session.get(Order, shop.orders["delivered"]), "zh")
    assert details.returns[0].status_text == "已提交，等待审核" and details.returns[0].in_progress
    assert "退货：小米 15 手机，已提交，等待审核" in summary_text(details, "zh")


def test_return_after_the_window_and_excluded_categories_are_refused(shop):
    phone, snack = shop.items["delivered/PH-XM-15"], shop.items["delivered/FD-NUTS"]
    late = act(shop, "delivered", request_return, phone, "no_reason", "", "k-late", AFTER_WINDOW)
    assert (late.done, late.code) == (False, "return_window_passed")
    assert "2026-03-08" in texts_of(late)[0]
    food = act(shop, "delivered", request_return, snack, "no_reason", "", "k-food", NOW)
    assert (food.done, food.code) == (False, "return_category_excluded")
    assert food.params["category_key"] == "food"
    assert "do not apply to food" in texts_of(food)[1]
    assert count(shop, ReturnRequest) == 0
    defect = act(shop, "delivered", request_return, snack, "defect", "坏了", "k-defect", NOW)
    assert defect.done and "我们承担" in texts_of(defect)[0]


def test_no_second_return_for_an_item_while_one_is_open(shop):
    item = shop.items["delivered/PH-XM-15"]
    act(shop, "delivered", request_return, item, "no_reason", "", "k-1", NOW)
    preview = act(shop, "delivered", preview_return, item, "defect", "en", NOW)
    assert not preview.allowed and preview.decision.code == "return_in_progress"
    again = act(shop, "delivered", request_return, item, "defect", "", "k-2", NOW)
    assert (again.done, again.code) == (False, "return_in_progress")
    assert "requested, awaiting review" in texts_of(again)[1]
    assert count(shop, ReturnRequest) == 1
    with pytest.raises(ValueError, match="not part of order"):
        act(shop, "delivered", request_return, shop.items["paid/PH-HW-M80"], "defect", "", "k", NOW)


def test_return_of_an_undelivered_order_is_refused(shop):
    item = shop.items["shipped/LT-HW-XP"]
    outcome = act(shop, "shipped", request_return, item, "no_reason", "", "k", NOW)
    assert (outcome.done, outcome.code) == (False, "return_not_delivered")
    assert "「已发货」" in texts_of(outcome)[0]


# ----------------------------------------------------------------------------- refunds


def test_refund_a_cancelled_order_that_has_none(shop):
    preview = act(shop, "cancelled", preview_refund, "en")
    assert preview.allowed and preview.decision.params["amount"] == Decimal("749.00")
    outcome = act(shop, "cancelled", request_refund, "k-refund", NOW)
    assert outcome.done and outcome.code == "refund_requested"
    assert "A refund of ¥749 has been requested" in texts_of(outcome)[1]
    again = act(shop, "cancelled", request_refund, "k-refund-2", NOW)
    assert (again.done, again.code) == (False, "refund_exists")
    assert "¥749，待处理" in texts_of(again)[0]
    assert count(shop, Refund) == 1


def test_refund_of_a_return_waits_for_the_item_and_takes_its_share_of_the_discount(shop):
    item = shop.items["delivered/PH-XM-15"]
    assert act(shop, "delivered", request_refund, "k-0", NOW).code == "refund_not_applicable"
    act(shop, "delivered", request_return, item, "defect", "屏幕坏了", "k-ret", NOW)
    waiting = act(shop, "delivered", request_refund, "k-1", NOW)
    assert (waiting.done, waiting.code) == (False, "refund_after_inspection")
    assert "2个工作日内" in texts_of(waiting)[0]
    with session_scope(shop.factory) as session:
        session.scalars(select(ReturnRequest)).one().status = "received"
    outcome = act(shop, "delivered", request_refund, "k-2", NOW)
    # 3999 less its share of the 100 discount on 4099 of items
    assert outcome.done and outcome.params["amount"] == Decimal("3901.44")
    with session_scope(shop.factory) as session:
        refund = session.scalars(select(Refund)).one()
        assert (refund.method, refund.return_id) == ("wechat_pay", outcome.params["return_id"])
    assert act(shop, "delivered", request_refund, "k-3", NOW).code == "refund_exists"


def test_nothing_to_refund(shop):
    assert act(shop, "unpaid", request_refund, "k-1", NOW).code == "refund_nothing_paid"
    outcome = act(shop, "paid", request_refund, "k-2", NOW)
    assert (outcome.done, outcome.code) == (False, "refund_not_applicable")
    texts_of(outcome)
    assert count(shop, Refund) == 0


# ----------------------------------------------------------------------------- invoices


def test_invoice_once_per_order(shop):
    preview = act(shop, "paid", preview_invoice, "杭州云启科技有限公司", TAX_ID, "electronic", "zh")
    assert preview.allowed and "¥8497" in preview.summary
    tax_id = "9111 0108 ma01 abcd2x"
    outcome = act(
        shop,
        "paid",
        request_invoice,
        "杭州云启科技有限公司",
        tax_id,
        "electronic",
        None,
        "k-1",
        NOW,
    )
    assert outcome.done and outcome.code == "invoice_requested"
    assert outcome.params["email"] == "z***@example.com"
    texts_of(outcome)
    with session_scope(shop.factory) as session:
        invoice = session.scalars(select(Invoice)).one()
        assert (invoice.tax_id, invoice.email, invoice.status) == (
            TAX_ID,
            "zhang@example.com",
            "requested",
        )
        assert invoice.amount == Decimal("8497.00") and invoice.id == outcome.params["invoice_id"]
    twice = act(shop, "paid", request_invoice, "张三丰", None, "electronic", None, "k-2", NOW)
    assert (twice.done, twice.code) == (False, "invoice_exists")
    assert twice.params["invoice_id"] == invoice.id
    assert "开具中" in texts_of(twice)[0]
    assert count(shop, Invoice) == 1


def test_invoice_input_is_checked_and_not_recorded(shop):
    bad = act(shop, "paid", request_invoice, "公司", "12345", "electronic", None, "k", NOW)
    assert (bad.done, bad.code) == (False, "invoice_tax_id_invalid")
    assert "15 to 20" in texts_of(bad)[1]
    untitled = act(shop, "paid", request_invoice, " ", None, "electronic", None, "k", NOW)
    assert untitled.code == "invoice_title_required"
    unknown = act(shop, "paid", request_invoice, "公司", None, "gift_card", None, "k", NOW)
    assert unknown.code == "invoice_kind_unavailable"
    assert requests(shop) == [] and count(shop, Invoice) == 0
    assert act(shop, "paid", request_invoice, "公司", TAX_ID, "paper", None, "k", NOW).done
    assert act(
        shop, "unpaid", request_invoice, "张三丰", None, "electronic", None, "k2", NOW
    ).code == ("invoice_not_paid")


# ----------------------------------------------------------------------------- idempotency


def return_first_item(session, order, key):
    item = min(item.id for item in order.items)
    return request_return(session, order, item, "defect", "", key, NOW)


CHANGES = {
    "cancel": ("paid", lambda s, o, key: cancel_order(s, o, "", key, NOW), "already_cancelled"),
    "address": (
        "paid",
        lambda s, o, key: change_address(s, o, NEW_ADDRESS, key, NOW),
        "address_changed",  # a later change of address is a new change
    ),
    "return": ("delivered", return_first_item, "return_in_progress"),
    "refund": ("cancelled", lambda s, o, key: request_refund(s, o, key, NOW), "refund_exists"),
    "invoice": (
        "paid",
        lambda s, o, key: request_invoice(s, o, "张三丰", None, "electronic", None, key, NOW),
        "invoice_exists",
    ),
}


@pytest.mark.parametrize("kind", CHANGES)
def test_the_same_key_twice_changes_once(shop, kind):
    name, change, code_for_a_new_key = CHANGES[kind]
    first = act(shop, name, change, "conv-1/intent/order")
    assert first.done and not first.repeated
    after_first = state(shop)
    second = act(shop, name, change, "conv-1/intent/order")
    assert second == replace(first, repeated=True)
    assert outcome_text(second, "zh") == outcome_text(first, "zh")
    assert state(shop) == after_first
    other = act(shop, name, change, "conv-2/intent/order")
    assert other.code == code_for_a_new_key and not other.repeated
    assert_private(*(json.dumps(r.detail, ensure_ascii=False) for r in requests(shop)))


def test_a_key_used_for_another_request_is_an_error(shop):
    act(shop, "paid", cancel_order, "", "k", NOW)
    with pytest.raises(ValueError, match="another request"):
        act(shop, "unpaid", cancel_order, "", "k", NOW)
    with pytest.raises(ValueError, match="request key"):
        act(shop, "unpaid", cancel_order, "", " ", NOW)


def test_a_failure_after_the_change_rolls_everything_back(shop):
    before = state(shop)

    def fail(*_args):
        raise RuntimeError("the request could not be recorded")

    event.listen(OrderRequest, "before_insert", fail)
    try:
        with pytest.raises(RuntimeError):
            act(shop, "paid", cancel_order, "", "k", NOW)
    finally:
        event.remove(OrderRequest, "before_insert", fail)
    assert state(shop) == before
    assert act(shop, "paid", cancel_order, "", "k", NOW).done  # and the key is still free


def test_a_concurrent_request_with_the_same_key_wins_the_race(shop, monkeypatch):
    """Another transaction recorded the key between our check and our insert: the unique key
    rejects ours, our change is rolled back and the other outcome is returned."""
    with session_scope(shop.factory) as session:
        session.add(
            OrderRequest(
                request_key="k",
                order_id=shop.orders["paid"],
                customer_id=shop.customer_id,
                kind="cancel",
                status="done",
                detail={"code": "order_cancelled", "params": {"order_no": "2603020900000004"}},
                created_at=NOW,
            )
        )
    before = state(shop)
    lookups = []
    recorded = orders._recorded

    def not_yet(session, key):
        lookups.append(key)
        return None if len(lookups) == 1 else recorded(session, key)

    monkeypatch.setattr(orders, "_recorded", not_yet)
    outcome = act(shop, "paid", cancel_order, "", "k", NOW)
    assert outcome == ChangeOutcome(True, "order_cancelled", {"order_no": "2603020900000004"}, True)
    assert len(lookups) == 2 and state(shop) == before


def together(*calls) -> list:
    """Run ``calls`` in threads that start at the same moment; their results in any order."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return results


def test_simultaneous_requests_with_the_same_key_change_once(shop):
    def click():
        return act(shop, "paid", cancel_order, "", "k", NOW)

    outcomes = together(click, click)
    assert sorted(o.repeated for o in outcomes) == [False, True]
    assert count(shop, Refund) == 1 and len(requests(shop)) == 1


def test_the_order_lock_serialises_requests_with_different_keys(shop):
    """Two conversations ask for the same refund at once: the second sees the first's refund.
    (Writing a refund is slowed down, so that without the lock both would have checked first.)"""

    def slowly(*_args):
        time.sleep(0.5)

    event.listen(Refund, "before_insert", slowly)
    try:
        outcomes = together(
            lambda: act(shop, "cancelled", request_refund, "conversation-1", NOW),
            lambda: act(shop, "cancelled", request_refund, "conversation-2", NOW),
        )
    finally:
        event.remove(Refund, "before_insert", slowly)
    assert sorted(o.code for o in outcomes) == ["refund_exists", "refund_requested"]
    assert count(shop, Refund) == 1


def test_the_change_is_part_of_the_callers_transaction(shop):
    before = state(shop)
    with pytest.raises(RuntimeError), session_scope(shop.factory) as session:
        assert cancel_order(session, session.get(Order, shop.orders["paid"]), "", "k", NOW).done
        raise RuntimeError("a later step of the same unit of work failed")
    assert state(shop) == before


# ----------------------------------------------------------------------------- migration


def test_the_migration_creates_the_table_as_the_model_defines_it(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            columns = {c["name"] for c in inspect(connection).get_columns("order_requests")}
            unique = inspect(connection).get_unique_constraints("order_requests")
    finally:
        engine.dispose()
    assert [d for d in diffs if "order_requests" in repr(d)] == []
    assert columns == {c.name for c in OrderRequest.__table__.columns}
    assert [u["column_names"] for u in unique] == [["request_key"]]


def test_the_migration_downgrades_and_upgrades(database_url):
    engine = make_engine(database_url)
    try:
        migrate.downgrade(database_url, "0002")
        assert "order_requests" not in inspect(engine).get_table_names()
    finally:
        migrate.upgrade(database_url)
    assert "order_requests" in inspect(engine).get_table_names()
    engine.dispose()
