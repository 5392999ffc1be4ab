"""Agent assist (kefu.assist) on the mini shop: the summary and suggested replies for hand-off
tickets are grounded in the conversation, Zhang's orders, the products and the shop's policies
and FAQ; nothing ungrounded is suggested, and another customer's order is never shown."""

from __future__ import annotations

import re
from datetime import datetime

from kefu import handoff
from kefu.assist import MAX_SUGGESTIONS, assist, customer_messages, is_question
from kefu.db import session_scope
from tests.shop.order_shop import DETAIL, PHONE, shop  # noqa: F401  (fixture)

SHIPPED = "2602280900000002"


def _ticket(factory, said, *, intents=(), entities=None, customer_id=None, language="zh"):
    transcript = []
    for text in said:
        transcript += [{"who": "customer", "text": text}, {"who": "bot", "text": "……"}]
    with session_scope(factory) as session:
        return handoff.open_ticket(
            session,
            conversation_id=f"conv-{abs(hash((tuple(said), customer_id, language)))}",
            channel="webchat",
            language=language,
            reason="requested",
            transcript=transcript,
            intents=list(intents),
            entities=entities or {},
            sentiment=-0.2,
            customer_id=customer_id,
            now=datetime(2026, 3, 3, 2, 0),
        )


def _assist(factory, view, kb, live=()):
    with session_scope(factory) as session:
        return assist(session, view, live, kb)


def test_an_order_question_gets_the_orders_state_and_the_delivery_policy(shop, kb):  # noqa: F811
    view = _ticket(
        shop.factory,
        [f"我的订单 {SHIPPED} 到哪了", "转人工"],
        intents=["track_order", "contact_human_agent"],
        customer_id=shop.customer_id,
    )
    result = _assist(shop.factory, view, kb)
    summary = "\n".join(line.text for line in result.summary)
    assert "客户想要：订单物流" in summary
    assert f"订单 {SHIPPED}：已发货" in summary
    first = result.suggestions[0]
    assert first.kind == "order" and SHIPPED in first.text
    assert "顺丰速运 SF1234567890：运输中" in first.text and "到达深圳转运中心" in first.text
    assert 1 <= len(result.suggestions) <= MAX_SUGGESTIONS
    assert not result.declined
    everything = summary + "".join(s.text for s in result.suggestions)
    assert PHONE not in everything and PHONE[-4:] not in everything and DETAIL not in everything


def test_an_english_ticket_is_summarised_and_answered_in_english(shop, kb):  # noqa: F811
    view = _ticket(
        shop.factory,
        ["do you ship to Hong Kong?", "human please"],
        intents=["contact_human_agent"],
        language="en",
    )
    result = _assist(shop.factory, view, kb)
    assert result.language == "en"
    assert result.summary[0].text == "The customer wants: (not clear)"
    assert any('"do you ship to Hong Kong?"' in line.text for line in result.summary)
    reply = result.suggestions[0]
    assert reply.kind == "knowledge" and "SF Express" in reply.text
    assert reply.sources and reply.sources[0].startswith("FAQ")
    assert not any("\u4e00" <= c <= "\u9fff" for s in result.suggestions for c in s.text)


def test_a_product_named_in_the_live_chat_is_summarised_with_its_price(shop, kb):  # noqa: F811
    view = _ticket(shop.factory, ["转人工"], intents=["contact_human_agent"])
    live = [{"who": "customer", "text": "小米 15 屏幕多大"}]
    result = _assist(shop.factory, view, kb, live)
    products = [line.text for line in result.summary if line.kind == "product"]
    assert products and products[0].startswith("商品：小米 15 手机") and "售价" in products[0]
    assert re.search(r"库存 \d+ 件|缺货", products[0])  # stock from the database, now
    assert any("屏幕：6.36英寸" in s.text for s in result.suggestions)


def test_nothing_grounded_means_no_suggestion_and_says_so(shop, kb):  # noqa: F811
    view = _ticket(
        shop.factory,
        ["明天深圳会下雨吗", "转人工"],
        intents=["nlu_fallback", "contact_human_agent"],
    )
    result = _assist(shop.factory, view, kb)
    assert result.suggestions == []
    assert "没有建议回复" in result.declined
    assert any(
        line.kind == "unanswered" and "明天深圳会下雨吗" in line.text for line in result.summary
    )


def test_an_order_of_someone_else_or_of_an_anonymous_customer_is_not_shown(shop, kb):  # noqa: F811
    view = _ticket(
        shop.factory, [f"订单 {SHIPPED} 到哪了"], intents=["track_order"], customer_id=None
    )
    result = _assist(shop.factory, view, kb)
    summary = "\n".join(line.text for line in result.summary)
    assert "需先核实身份" in summary
    assert "已发货" not in summary
    assert all(s.kind != "order" for s in result.suggestions)
    assert not any("SF1234567890" in s.text for s in result.suggestions)


def test_without_an_order_number_the_latest_order_is_offered_for_confirmation(shop, kb):  # noqa: F811
    view = _ticket(
        shop.factory,
        ["我要退货", "转人工"],
        intents=["request_return"],
        customer_id=shop.customer_id,
    )
    result = _assist(shop.factory, view, kb)
    kinds = [s.kind for s in result.suggestions]
    assert kinds[0] == "order" and "请问您咨询的是这笔订单吗" in result.suggestions[0].text
    assert "2603030900000005" in result.suggestions[0].text  # Zhang's newest order
    assert "policy" in kinds or any("退货" in s.text for s in result.suggestions[1:])


def test_greetings_and_requests_for_a_person_are_not_questions():
    assert not is_question("转人工")
    assert not is_question("在吗？")
    assert not is_question("hello, anyone there?")
    assert not is_question("/contact_human_agent")
    assert is_question("可以礼品包装吗")
    assert is_question("do you ship to Hong Kong?")


def test_customer_messages_come_from_the_transcript_and_the_live_chat_masked(shop):  # noqa: F811
    view = _ticket(shop.factory, ["我要退货"], intents=["request_return"])
    live = [
        {"who": "customer", "text": f"电话 {PHONE}"},
        {"who": "agent", "text": "您好"},
        {"who": "customer", "text": f"电话 {PHONE}"},
    ]
    said = customer_messages(view, live)
    assert said[0] == "我要退货" and len(said) == 2
    assert PHONE[-4:] not in said[1]
