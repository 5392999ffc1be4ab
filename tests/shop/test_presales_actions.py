"""Pre-sales actions against a real shop database (SQLite and PostgreSQL): the exact events
they return and the messages they send."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import update

import actions.common
import actions.products
from actions.common import identified_customer
from actions.product_search_form import ValidateProductSearchForm
from actions.products import (
    STATE_SLOTS,
    ActionCheckStock,
    ActionProductInfo,
    ActionRecommendProducts,
    ActionStartProductSearch,
)
from kefu.catalog import refresh_stock_totals
from kefu.db import session_scope
from kefu.identity import issue_token
from kefu.models import Customer, CustomerEvent, ProductVariant
from kefu.products import find_product_ids


@pytest.fixture
def shop(mini_shop, monkeypatch):
    """The actions use the mini shop's database."""
    monkeypatch.setattr(actions.common, "_sessions", mini_shop)
    return mini_shop


def tracker(
    slots=None, intent="recommend_product", entities=(), text="", channel="rest", metadata=None
):
    latest = {
        "text": text,
        "intent": {"name": intent},
        "entities": list(entities),
        "metadata": metadata or {},
    }
    return Tracker(
        sender_id="test",
        slots={"language": "zh", **(slots or {})},
        latest_message=latest,
        events=[{"event": "user", "text": text, "input_channel": channel, "parse_data": latest}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def entity(kind, value):
    return {"entity": kind, "value": value, "start": 0, "end": 1}


async def run(action, tracker_):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker_, {})
    return dispatcher.messages, events


def skus_to_ids(factory, *skus):
    with session_scope(factory) as session:
        return find_product_ids(session, skus)


async def test_new_category_starts_a_fresh_search(shop):
    latest = tracker(
        entities=[entity("product_category", "phones"), entity("refinement", "newest")]
    )
    _, events = await run(ActionStartProductSearch(), latest)
    expected = [SlotSet(s, None) for s in STATE_SLOTS] + [
        SlotSet(s, None) for s in ("brand", "budget", "color", "size", "storage")
    ]
    assert events == [*expected, SlotSet("sort_preference", "newest")]


async def test_refining_without_a_category_keeps_the_search(shop):
    _, events = await run(
        ActionStartProductSearch(), tracker(entities=[entity("price", "-3000 CNY")])
    )
    assert events == [SlotSet(s, None) for s in STATE_SLOTS]


async def test_budget_question_is_skipped_when_the_request_is_specific(shop):
    form = ValidateProductSearchForm()
    slots = ["product_category", "budget"]
    specific = tracker({"product_category": "phones", "sort_preference": "newest"})
    vague = tracker({"product_category": "phones"})
    assert await form.required_slots(slots, CollectingDispatcher(), specific, {}) == [
        "product_category"
    ]
    assert await form.required_slots(slots, CollectingDispatcher(), vague, {}) == slots


async def test_category_synonyms_resolve_and_unsold_categories_are_declined(shop):
    form = ValidateProductSearchForm()
    dispatcher = CollectingDispatcher()
    assert await form.validate_product_category("笔记本", dispatcher, tracker(), {}) == {
        "product_category": "laptops"
    }
    assert await form.validate_product_category("汽车", dispatcher, tracker(), {}) == {
        "product_category": None
    }
    assert dispatcher.messages[-1]["response"] == "utter_category_not_sold"


@pytest.mark.parametrize(
    ("value", "response"),
    [
        ("5000-1000 CNY contradictory", "utter_budget_contradictory"),
        ("-0 CNY not_positive", "utter_budget_not_positive"),
    ],
)
async def test_impossible_budgets_are_explained(shop, value, response):
    dispatcher = CollectingDispatcher()
    result = await ValidateProductSearchForm().validate_budget(value, dispatcher, tracker(), {})
    assert result == {"budget": None}
    assert dispatcher.messages[-1]["response"] == response


async def test_newest_phones_as_cards_with_exact_events(shop):
    newest = skus_to_ids(shop, "PH-HW-M80", "PH-AP-18", "PH-XM-15")
    slots = {"product_category": "phones", "sort_preference": "newest"}
    messages, events = await run(ActionRecommendProducts(), tracker(slots))
    assert messages[0]["response"] == "utter_recommendations"
    cards = messages[1]["custom"]["cards"]
    assert [c["sku"] for c in cards] == ["PH-HW-M80", "PH-AP-18", "PH-XM-15"]
    assert events == [
        SlotSet("shown_products", newest),
        SlotSet("seen_products", newest),
        SlotSet("excluded_brands", []),
        SlotSet("sort_preference", "newest"),
        SlotSet("brand", None),
        SlotSet("budget", None),
        SlotSet("focus_product", None),
        SlotSet("customer_id", None),
    ]


async def test_text_channels_get_numbered_plain_text(shop):
    slots = {"product_category": "phones", "sort_preference": "newest"}
    messages, _ = await run(ActionRecommendProducts(), tracker(slots, channel="telegram"))
    assert messages[1]["text"].startswith("1. 华为 Mate 80 Pro")
    assert "custom" not in messages[1] or not messages[1]["custom"]


async def test_unknown_brand_is_said_and_the_category_still_shown(shop):
    slots = {"product_category": "phones", "brand": "诺基亚"}
    messages, events = await run(ActionRecommendProducts(), tracker(slots))
    assert messages[0] == {**messages[0], "response": "utter_brand_not_sold", "brand": "诺基亚"}
    assert len(messages[2]["custom"]["cards"]) == 3
    assert SlotSet("brand", None) in events


def set_stock(factory, sku, stock):
    with session_scope(factory) as session:
        (product_id,) = find_product_ids(session, [sku])
        session.execute(
            update(ProductVariant)
            .where(ProductVariant.product_id == product_id)
            .values(stock=stock)
        )
        refresh_stock_totals(session, [product_id])


async def test_cheaper_follow_up_stays_below_the_cheapest_shown(shop):
    set_stock(shop, "PH-XM-15", 5)
    shown = skus_to_ids(shop, "PH-HW-M80", "PH-AP-18")
    slots = {"product_category": "phones", "shown_products": shown}
    latest = tracker(slots, intent="refine_results", entities=[entity("refinement", "cheaper")])
    messages, _ = await run(ActionRecommendProducts(), latest)
    assert [c["sku"] for c in messages[-1]["custom"]["cards"]] == ["PH-XM-15"]


async def test_nothing_cheaper_is_said_honestly(shop):
    shown = skus_to_ids(shop, "PH-XM-15")
    slots = {"product_category": "phones", "shown_products": shown}
    latest = tracker(slots, intent="refine_results", entities=[entity("refinement", "cheaper")])
    messages, events = await run(ActionRecommendProducts(), latest)
    assert [m["response"] for m in messages] == ["utter_no_refined_products"]
    assert SlotSet("shown_products", []) in events


async def test_nothing_within_budget_offers_the_nearest(shop):
    slots = {"product_category": "phones", "budget": "-100 CNY"}
    messages, _ = await run(ActionRecommendProducts(), tracker(slots))
    assert messages[0]["response"] == "utter_nearest_budget"
    assert messages[1]["custom"]["cards"]


async def test_details_of_the_second_product_shown(shop):
    shown = skus_to_ids(shop, "PH-HW-M80", "PH-AP-18")
    latest = tracker({"shown_products": shown}, "product_info", [entity("position", "2")])
    messages, events = await run(ActionProductInfo(), latest)
    assert messages[0]["text"].startswith("Apple iPhone 18 手机 — ¥5,999")
    assert events == [SlotSet("focus_product", shown[1])]


async def test_stock_in_a_colour_the_product_lacks(shop):
    (phone,) = skus_to_ids(shop, "PH-XM-15")
    latest = tracker({"focus_product": phone}, "check_stock", [entity("color", "黑色")])
    messages, events = await run(ActionCheckStock(), latest)
    assert messages[0]["response"] == "utter_option_not_offered"
    assert events == [SlotSet("focus_product", phone)]


async def test_no_product_in_view_asks_which(shop):
    messages, events = await run(ActionProductInfo(), tracker(intent="product_info"))
    assert messages[0]["response"] == "utter_ask_which_product" and events == []


async def test_identified_customer_gets_personal_picks(shop, monkeypatch):
    monkeypatch.setenv("KEFU_IDENTITY_SECRET", SECRET)
    monkeypatch.setattr(actions.products, "_similarity", None)
    phone, shoe = skus_to_ids(shop, "PH-HW-M80", "SH-NK-AF1")
    set_stock(shop, "SH-NK-AF1", 5)
    with session_scope(shop) as session:
        people = [Customer(name=f"c{i}", phone=f"1380000000{i}") for i in range(4)]
        session.add_all(people)
        session.flush()
        at = datetime(2026, 11, 1)
        for person in people[:3]:
            session.add(
                CustomerEvent(customer_id=person.id, product_id=phone, kind="purchase", at=at)
            )
            session.add(
                CustomerEvent(customer_id=person.id, product_id=shoe, kind="purchase", at=at)
            )
        session.add(
            CustomerEvent(customer_id=people[3].id, product_id=phone, kind="purchase", at=at)
        )
        me = people[3].id
    token = {"customer_token": issue_token(me, SECRET)}
    messages, _ = await run(
        ActionRecommendProducts(), tracker({"product_category": "any"}, metadata=token)
    )
    cards = messages[-1]["custom"]["cards"]
    assert cards[0]["sku"] == "SH-NK-AF1"
    assert any("华为 Mate 80 Pro" in reason for reason in cards[0]["reasons"])


async def test_an_impossible_budget_is_asked_again_even_for_specific_requests(shop):
    form = ValidateProductSearchForm()
    slots = {"product_category": "phones", "color": "黑色", "budget": "0-0 CNY not_positive"}
    required = await form.required_slots(
        ["product_category", "budget"], CollectingDispatcher(), tracker(slots), {}
    )
    assert required == ["product_category", "budget"]


SECRET = "s" * 40


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (lambda: issue_token(7, SECRET), 7),
        (lambda: issue_token(7, "x" * 40), None),  # forged: another secret
        (lambda: issue_token(7, SECRET, ttl_seconds=60, now=int(time.time()) - 3600), None),
        (lambda: "not-a-token", None),
    ],
)
def test_customer_from_the_signed_token_in_metadata(monkeypatch, token, expected):
    monkeypatch.setenv("KEFU_IDENTITY_SECRET", SECRET)
    latest = tracker(metadata={"customer_token": token()})
    assert identified_customer(latest) == expected


def test_without_a_token_nobody_is_identified_even_after_a_login(monkeypatch):
    # the front end sends the token with every message: none means logged out
    monkeypatch.setenv("KEFU_IDENTITY_SECRET", SECRET)
    assert identified_customer(tracker({"customer_id": 9})) is None
    assert identified_customer(tracker()) is None


async def test_a_category_with_nothing_in_stock_is_said_honestly(shop):
    for sku in ("PH-HW-M80", "PH-AP-18", "PH-XM-15"):
        set_stock(shop, sku, 0)
    messages, events = await run(ActionRecommendProducts(), tracker({"product_category": "phones"}))
    assert messages[0]["response"] == "utter_nearest_stock"
    cards = messages[1]["custom"]["cards"]
    assert cards and not any(card["in_stock"] for card in cards)
    assert SlotSet("shown_products", [c["id"] for c in cards]) in events


async def test_budget_in_dollars_is_converted_at_the_configured_rate(shop):
    set_stock(shop, "SH-NK-AF1", 5)
    slots = {"product_category": "shoes", "budget": "-300 USD"}
    messages, _ = await run(ActionRecommendProducts(), tracker(slots))
    assert [c["sku"] for c in messages[-1]["custom"]["cards"]] == ["SH-NK-AF1"]  # ¥749 ≤ $300
