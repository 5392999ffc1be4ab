"""Agent assist in the console (``/tickets/{id}/assist.json``) on the mini shop and Zhang's
orders, against the console tests' fake Rasa: summary and suggestions are grounded, reach only
an agent who may see the ticket, and nothing is ever sent to the customer by them."""

from __future__ import annotations

import pytest

from kefu import handoff
from kefu.db import session_scope
from kefu.knowledge.index import KnowledgeBase
from tests.shop.order_shop import PHONE, shop  # noqa: F401  (fixture)
from tests.shop.test_agent_console import (  # noqa: F401  (fixtures)
    Console,
    console_for,
    conversation_events,
    open_ticket,
    rasa,
    stored_messages,
)


@pytest.fixture
def console_with(console_for):  # noqa: F811 (the imported fixture)
    """Starts the console on a shop's session factory with the knowledge base ``kb``."""

    async def start(factory, rasa_url: str, kb: KnowledgeBase) -> Console:
        return await console_for(factory, rasa_url, knowledge=kb)

    return start


async def test_the_assist_summarises_and_suggests_without_sending_anything(
    shop,  # noqa: F811
    rasa,  # noqa: F811
    console_with,
    kb,
):
    ticket = open_ticket(
        shop.factory, customer_id=shop.customer_id, last_words="可以礼品包装吗？转人工"
    )
    rasa.conversation(ticket.conversation_id, conversation_events(ticket))
    console = await console_with(shop.factory, rasa.url, kb)
    alice = await console.agent("alice")

    page = await alice.get(f"/tickets/{ticket.id}")
    assert f'data-assist="/tickets/{ticket.id}/assist.json"' in page.text
    assert 'data-can-insert="yes"' in page.text

    status, body = await alice.json(f"/tickets/{ticket.id}/assist.json")
    assert status == 200, body
    summary = [line["text"] for line in body["summary"]]
    assert summary[0] == "客户想要：退货"
    assert any(line.startswith("订单 2602260900000001：") for line in summary)  # Zhang's
    kinds = [s["kind"] for s in body["suggestions"]]
    assert kinds[0] == "order" and "2602260900000001" in body["suggestions"][0]["text"]
    assert any("礼品包装" in s["text"] and s["kind"] == "knowledge" for s in body["suggestions"])
    assert 1 <= len(kinds) <= 3 and body["declined"] == ""
    text = str(body)
    assert PHONE not in text and PHONE[-4:] not in text
    # nothing went to the customer, nothing was stored, the ticket is still open
    assert rasa.posts() == [] and stored_messages(shop.factory) == []
    with session_scope(shop.factory) as session:
        assert handoff.ticket(session, ticket.id).status == "open"


async def test_an_anonymous_customers_order_is_not_shown(shop, rasa, console_with, kb):  # noqa: F811
    ticket = open_ticket(shop.factory, last_words="明天深圳会下雨吗", language="en")
    console = await console_with(shop.factory, rasa.url, kb)
    alice = await console.agent("alice")
    status, body = await alice.json(f"/tickets/{ticket.id}/assist.json")
    assert status == 200
    # an anonymous customer's order number gets no order details
    assert any("verify their identity" in line["text"] for line in body["summary"])
    assert all(s["kind"] != "order" for s in body["suggestions"])


async def test_another_agents_ticket_gets_no_assist(shop, rasa, console_with, kb):  # noqa: F811
    ticket = open_ticket(shop.factory)
    with session_scope(shop.factory) as session:
        handoff.claim(session, ticket.id, "bob")
    console = await console_with(shop.factory, rasa.url, kb)
    alice = await console.agent("alice")
    status, body = await alice.json(f"/tickets/{ticket.id}/assist.json")
    assert status == 403 and body["error"] == "forbidden"
    anonymous = await console.agent()
    async with anonymous.http.get(
        f"{console.url}/tickets/{ticket.id}/assist.json", allow_redirects=False
    ) as response:
        assert response.status in (302, 303, 401)


class BrokenKnowledge(KnowledgeBase):
    def index(self):
        raise RuntimeError("the shop's knowledge cannot be read")


async def test_without_the_knowledge_the_console_says_so_and_works_on(
    shop,  # noqa: F811
    rasa,  # noqa: F811
    console_with,
):
    ticket = open_ticket(shop.factory)
    console = await console_with(shop.factory, rasa.url, BrokenKnowledge(shop.factory))
    alice = await console.agent("alice")
    status, body = await alice.json(f"/tickets/{ticket.id}/assist.json")
    assert status == 503 and "not available" in body["message"]
    page = await alice.get(f"/tickets/{ticket.id}")
    assert page.status == 200 and 'data-console="reply-form"' in page.text
