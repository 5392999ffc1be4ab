"""Order tasks on SQLite and PostgreSQL: answers, previews that change nothing, confirmed
changes that run once."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kefu.db import session_scope
from kefu.models import Invoice, Order, OrderRequest, Payment, Refund
from kefu.order_tasks import (
    ORDER_TASKS,
    PendingChange,
    apply_change,
    details_needed,
    order_items,
    outcome_replies,
    run_order_task,
)
from tests.shop.order_shop import NOW, TAX_ID, Shop

LANGUAGES = ("zh", "en")


def run(shop: Shop, name: str, task: str, language: str = "zh", **details):
    with session_scope(shop.factory) as session:
        order = session.get(Order, shop.orders[name])
        return run_order_task(session, order, task, language, now=NOW, **details)


def confirm(shop: Shop, name: str, pending: PendingChange):
    with session_scope(shop.factory) as session:
        return apply_change(session, session.get(Order, shop.orders[name]), pending, NOW)


def texts(result) -> str:
    return "\n".join(r.text or r.response or "" for r in result.replies)


def rows(shop: Shop, model) -> int:
    with session_scope(shop.factory) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("language", LANGUAGES)
def test_tracking_lists_the_parcel_events_newest_first(shop, language):
    result = run(shop, "shipped", "track_order", language)
    text = texts(result)
    assert "SF1234567890" in text
    hub = "到达深圳转运中心" if language == "zh" else "Arrived at the Shenzhen hub"
    picked = "快递员已揽件" if language == "zh" else "Picked up"
    assert text.index(hub) < text.index(picked)
    assert result.pending is None


def test_an_unshipped_order_says_so(shop):
    assert "还没有发货" in texts(run(shop, "paid", "track_order"))


def test_cancel_preview_changes_nothing_until_confirmed(shop):
    before = rows(shop, Refund)
    result = run(shop, "paid", "cancel_order")
    assert result.pending is not None and result.pending.kind == "cancel"
    with session_scope(shop.factory) as session:
        assert session.get(Order, shop.orders["paid"]).status == "paid"
    assert rows(shop, Refund) == before

    outcome = confirm(shop, "paid", result.pending)
    assert outcome.done and not outcome.repeated
    with session_scope(shop.factory) as session:
        assert session.get(Order, shop.orders["paid"]).status == "cancelled"
    assert rows(shop, Refund) == before + 1


def test_a_double_confirmation_changes_once_and_says_it_was_done(shop):
    pending = run(shop, "paid", "cancel_order").pending
    first = confirm(shop, "paid", pending)
    again = confirm(shop, "paid", pending)
    assert again.repeated and again.code == first.code
    assert rows(shop, OrderRequest) == 1
    replies = outcome_replies(again, "zh")
    assert replies[0].response == "utter_change_repeated"


def test_a_shipped_order_cannot_be_cancelled_and_nothing_is_pending(shop):
    result = run(shop, "shipped", "cancel_order")
    assert result.pending is None
    assert "发货" in texts(result)


@pytest.mark.parametrize("language", LANGUAGES)
def test_address_change_preview_and_apply(shop, language):
    address = {
        "recipient": "李四",
        "phone": "13900002222",
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "detail": "文三路100号",
    }
    result = run(shop, "paid", "change_shipping_address", language, address=address)
    assert result.pending is not None
    assert "文三路" not in texts(result)  # the preview masks the street
    outcome = confirm(shop, "paid", result.pending)
    assert outcome.done
    with session_scope(shop.factory) as session:
        assert session.get(Order, shop.orders["paid"]).shipping_address["detail"] == "文三路100号"


def test_return_needs_an_item_of_the_order(shop):
    with pytest.raises(ValueError):
        run(shop, "delivered", "request_return", return_reason="defect")  # two items, none picked


def test_return_preview_and_apply_for_a_picked_item(shop):
    item = shop.items["delivered/PH-XM-15"]
    result = run(shop, "delivered", "request_return", item_id=item, return_reason="defect")
    assert result.pending is not None and result.pending.params == {
        "item_id": item,
        "reason": "defect",
    }
    assert confirm(shop, "delivered", result.pending).done


def test_excluded_category_is_refused_without_a_pending_change(shop):
    item = shop.items["delivered/FD-NUTS"]
    result = run(shop, "delivered", "request_return", item_id=item, return_reason="no_reason")
    assert result.pending is None


def test_refund_for_a_cancelled_unrefunded_order(shop):
    result = run(shop, "cancelled", "get_refund")
    assert result.pending is not None
    assert confirm(shop, "cancelled", result.pending).done
    assert "退款" in texts(run(shop, "cancelled", "track_refund"))


def test_track_refund_without_refunds(shop):
    assert "没有退款记录" in texts(run(shop, "shipped", "track_refund"))
    assert "no refund on record" in texts(run(shop, "shipped", "track_refund", "en"))


def test_invoice_request_and_check(shop):
    assert "还没有开发票" in texts(run(shop, "delivered", "check_invoice"))
    title = {"title": "杭州云栖科技有限公司", "tax_id": TAX_ID, "kind": "electronic"}
    result = run(shop, "delivered", "get_invoice", invoice_title=title)
    assert result.pending is not None
    assert confirm(shop, "delivered", result.pending).done
    assert rows(shop, Invoice) == 1
    checked = run(shop, "delivered", "check_invoice")
    assert "电子普通发票" in texts(checked)
    assert checked.replies[-1].response == "utter_invoice_correction"


def test_invoice_with_a_bad_tax_id_is_refused(shop):
    title = {"title": "某某公司", "tax_id": "123", "kind": "electronic"}
    assert run(shop, "delivered", "get_invoice", invoice_title=title).pending is None


def test_payment_issue_shows_the_payments_and_flags_a_double_charge(shop):
    assert "付款已成功" in texts(run(shop, "paid", "payment_issue"))
    with session_scope(shop.factory) as session:
        order = session.get(Order, shop.orders["paid"])
        session.add(
            Payment(
                order_id=order.id,
                method="alipay",
                amount=order.total,
                status="succeeded",
                created_at=NOW - timedelta(hours=1),
            )
        )
    result = run(shop, "paid", "payment_issue", "en")
    assert "2 successful charges" in texts(result)
    assert result.replies[-1].response == "utter_contact_service"


def test_change_order_suggests_cancelling_only_while_possible(shop):
    assert run(shop, "paid", "change_order").replies[0].response == (
        "utter_change_order_cancel_instead"
    )
    assert run(shop, "shipped", "change_order").replies[0].response == "utter_change_order_late"
    assert run(shop, "cancelled", "change_order").replies[0].response == (
        "utter_change_order_cancelled"
    )


def test_details_needed_and_item_order(shop):
    assert details_needed("request_return") == ("return_item", "return_reason")
    assert details_needed("track_order") == ()
    with session_scope(shop.factory) as session:
        items = order_items(session, session.get(Order, shop.orders["delivered"]))
        assert [i.id for i in items] == sorted(i.id for i in items)


def test_unknown_task_is_an_error(shop):
    with pytest.raises(ValueError):
        run(shop, "paid", "fly_to_the_moon")
    assert "track_order" in ORDER_TASKS


def test_pending_change_round_trip_and_rejects_junk():
    pending = PendingChange("cancel", "k1", "2603020900000004", 7, {"a": 1})
    assert PendingChange.from_dict(pending.to_dict()) == pending
    assert PendingChange.from_dict(None) is None
    assert PendingChange.from_dict({"kind": "cancel"}) is None
    assert PendingChange.from_dict("cancel") is None
