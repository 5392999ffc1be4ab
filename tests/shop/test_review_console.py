"""The review screen of the agent console (kefu.console.review) over HTTP, on SQLite and
PostgreSQL: only for signed-in agents, forms with CSRF tokens, intents from the domain,
entities checked against the message."""

from __future__ import annotations

import html

from kefu.db import session_scope
from kefu.review import queue
from tests.shop.test_agent_console import console_for, rasa  # noqa: F401  (fixtures)
from tests.shop.test_review_queue import add, all_items, turn


async def test_an_agent_corrects_the_intent_and_entities_and_gets_the_next_message(
    factory,
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    add(
        factory,
        turn("iPhone 17 订单2602260900000001 到哪了", at=100, intent="product_info"),
        turn("asdf qwer", at=50, language="en"),
    )
    console = await console_for(factory, rasa.url)
    stranger = await console.agent()
    assert (await stranger.get("/review", follow=False)).location == "/login"

    alice = await console.agent("alice")
    listing = await alice.get("/review")
    assert listing.status == 200 and 'data-console="review-link"' in listing.text
    assert "iPhone 17 订单&lt;order_no&gt; 到哪了" in listing.text
    assert "2602260900000001" not in listing.text
    assert "待复核 · pending (2)" in listing.text
    first = all_items(factory)["iPhone 17 订单<order_no> 到哪了"]

    page = await alice.get(f"/review/{first.id}")
    assert page.status == 200
    assert '<option value="track_order">track_order · 订单物流</option>' in page.text
    assert '<option value="product_info" selected>' in page.text  # the bot's guess first

    # no CSRF token: refused, nothing stored
    assert (await alice.post(f"/review/{first.id}", {"intent": "x"}, csrf="guess")).status == 403
    # an entity that is not words of the message: the form again, with the choices kept
    refused = await alice.post(
        f"/review/{first.id}",
        {"intent": "track_order", "entity": "product", "words": "Galaxy S30"},
    )
    assert refused.status == 400 and "未保存 · Not saved" in refused.text
    assert '<option value="track_order" selected>' in refused.text
    assert all_items(factory)["iPhone 17 订单<order_no> 到哪了"].status == "pending"

    saved = await alice.post(
        f"/review/{first.id}",
        {"intent": "track_order", "entity": ["product", ""], "words": ["iPhone 17", ""]},
    )
    assert saved.status == 303
    second = all_items(factory)["asdf qwer"]
    assert saved.location == f"/review/{second.id}?saved={first.id}"
    item = all_items(factory)["iPhone 17 订单<order_no> 到哪了"]
    assert (item.status, item.intent, item.annotated_by) == ("annotated", "track_order", "alice")
    assert item.entities == [{"entity": "product", "text": "iPhone 17"}]

    shown = await alice.get(saved.location)
    assert f"已保存 #{first.id}" in shown.text and "asdf qwer" in shown.text
    gone = await alice.post(f"/review/{second.id}/discard")
    assert gone.status == 303 and gone.location == f"/review?saved={second.id}"
    assert all_items(factory)["asdf qwer"].status == "discarded"

    done = await alice.get("/review?status=annotated")
    assert "track_order · 订单物流" in html.unescape(done.text)
    assert "这里没有消息" in (await alice.get("/review")).text
    assert (await alice.get("/review/999999")).status == 404
    assert (await alice.post("/review/999999", {"intent": "greet"})).status == 404


async def test_an_unknown_intent_is_refused(factory, rasa, console_for):  # noqa: F811
    add(factory, turn("随便说说"))
    console = await console_for(factory, rasa.url)
    bob = await console.agent("bob")
    (item,) = all_items(factory).values()
    page = await bob.post(f"/review/{item.id}", {"intent": "drop_tables"})
    assert page.status == 400 and "unknown intent" in page.text
    with session_scope(factory) as session:
        assert queue.counts(session)["annotated"] == 0
