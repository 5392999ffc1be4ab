"""Agent assist in the browser: a customer asks something the shop's FAQ answers, then for a
person; in the agents' console the ticket shows a summary and a suggested reply citing the FAQ,
which the agent inserts, edits and sends, and which reaches the customer only then."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from kefu.agent_console import BOT_IS_BACK
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_handoff import (  # noqa: F401  (fixtures)
    LIVE_TIMEOUT_MS,
    TICKET_TIMEOUT_S,
    active_ticket,
    agent_page,
    console_server,
)

pytestmark = pytest.mark.model

QUESTION = "可以礼品包装吗？"
FAQ_ANSWER = "礼品包装"  # the FAQ entry's answer says gift wrapping is free
ADDED = "祝您购物愉快！"
ASSIST_TIMEOUT_MS = 60_000  # the console may still be building its knowledge index


def test_the_agent_inserts_a_grounded_suggestion_edits_it_and_sends_it(
    chat,
    agent_page,  # noqa: F811
    console_server,  # noqa: F811
    active_ticket,  # noqa: F811
):
    chat.visit()
    chat.open()
    chat.ask(QUESTION)
    chat.ask("转人工")
    conversation_id = "webchat:" + chat.stored()["sessionId"]
    deadline = time.monotonic() + TICKET_TIMEOUT_S
    while (ticket := active_ticket(conversation_id)) is None:
        if time.monotonic() > deadline:
            pytest.fail("no hand-off ticket for the conversation")
        time.sleep(0.5)

    agent = agent_page
    agent.goto(console_server.url + f"/tickets/{ticket.id}")
    expect(agent).to_have_url(re.compile(r"/login"))
    agent.fill('input[name="name"]', console_server.name)
    agent.fill('input[name="password"]', console_server.password)
    agent.locator('[data-console="login"]').click()
    agent.goto(console_server.url + f"/tickets/{ticket.id}")

    # the summary quotes the customer; a suggestion answers from the FAQ and cites it
    panel = agent.locator('[data-console="assist"]')
    summary = panel.locator('[data-console="assist-summary"]')
    expect(summary).to_contain_text(QUESTION.rstrip("？"), timeout=ASSIST_TIMEOUT_MS)
    suggestion = panel.locator('[data-console="suggestion"]').filter(has_text=FAQ_ANSWER).first
    expect(suggestion).to_be_visible()
    expect(suggestion).to_contain_text("来源：常见问题")
    agent.screenshot(path=str(SCREENSHOTS / "agent_assist_suggestions.png"), full_page=True)

    # inserting fills the reply box only: nothing reaches the customer yet
    before = chat.mark()
    suggestion.locator('[data-console="suggestion-insert"]').click()
    box = agent.locator('[data-console="reply-text"]')
    expect(box).to_have_value(re.compile(FAQ_ANSWER))
    agent.wait_for_timeout(3000)
    assert chat.mark() == before, "a suggestion reached the customer without being sent"

    # the agent edits it and sends it
    box.fill(box.input_value() + ADDED)
    sent = box.input_value()
    agent.locator('[data-console="send"]').click()
    expect(agent.locator('[data-console="notice"]')).to_be_visible()
    expect(chat.bot_rows.filter(has_text=ADDED)).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    assert FAQ_ANSWER in sent and sent.endswith(ADDED)

    agent.locator('[data-console="close"]').click()
    expect(chat.bot_rows.filter(has_text=BOT_IS_BACK["zh"])).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS
    )
