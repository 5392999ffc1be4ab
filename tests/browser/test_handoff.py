"""Hand-off to a person, in two browsers: a customer in the demo shop's web chat and an agent in
the agents' console (kefu.agent_console), against the shared running stack.

The console is the stack's (scripts/stack.py configures one agent).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from kefu.agent_console import BOT_IS_BACK
from kefu.db import make_engine, make_session_factory
from kefu.models import HandoffTicket
from tests.browser.conftest import SCREENSHOTS, _screenshot_name, watched_page

pytestmark = pytest.mark.model

GREETING = "您好，我是客服小李，请问有什么可以帮您？"
# the bot's answer to "转人工": the place in the queue, or when agents are at work
QUEUE_OR_HOURS = re.compile(r"排队|前面|第\s*\d+\s*位|人工客服|工作时间|服务时间|上班|稍等|稍后")
TICKET_TIMEOUT_S = 15
LIVE_TIMEOUT_MS = 20_000


@dataclass
class ConsoleServer:
    url: str
    name: str
    password: str


@pytest.fixture(scope="module")
def console_server(stack) -> ConsoleServer:
    """The agents' console of the running stack (scripts/stack.py configures one agent)."""
    return ConsoleServer(
        f"http://127.0.0.1:{stack.agent_port}", stack.agent_name, stack.agent_password
    )


@pytest.fixture(scope="module")
def active_ticket():
    """The open or claimed ticket of a conversation, from the servers' database."""
    engine = make_engine()
    factory = make_session_factory(engine)

    def find(conversation_id: str) -> HandoffTicket | None:
        with factory() as session:
            return session.scalars(
                select(HandoffTicket).where(
                    HandoffTicket.of_conversation(conversation_id),
                    HandoffTicket.status.in_(("open", "claimed")),
                )
            ).first()

    yield find
    engine.dispose()


@pytest.fixture
def agent_page(browser: Browser, request) -> Iterator[Page]:
    """A second browser profile for the agent; screenshot <test>_agent.png at the end."""
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
    screenshot = SCREENSHOTS / _screenshot_name(request).replace(".png", "_agent.png")
    with watched_page(browser, options, screenshot) as page:
        yield page


def test_an_agent_takes_over_the_chat_and_hands_it_back_to_the_bot(
    chat, agent_page, console_server, active_ticket
):
    # the customer asks for a person
    chat.visit()
    chat.open()
    asked = chat.ask("转人工")
    said = "\n".join(asked.texts)
    assert QUEUE_OR_HOURS.search(said), f"no queue or office-hours message: {said}"
    conversation_id = "webchat:" + chat.stored()["sessionId"]  # trackers are keyed by channel
    deadline = time.monotonic() + TICKET_TIMEOUT_S
    while (ticket := active_ticket(conversation_id)) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"no hand-off ticket for the conversation; the bot said: {said}")
        time.sleep(0.5)

    # an agent logs in and opens the ticket from the queue
    agent = agent_page
    agent.goto(console_server.url + "/")
    expect(agent).to_have_url(re.compile(r"/login$"))
    agent.fill('input[name="name"]', console_server.name)
    agent.fill('input[name="password"]', console_server.password)
    agent.locator('[data-console="login"]').click()
    expect(agent.locator('[data-console="agent-name"]')).to_have_text(console_server.name)
    row = agent.locator(f'[data-console="ticket"][data-ticket-id="{ticket.id}"]')
    expect(row).to_be_visible()
    row.locator("a").first.click()
    expect(agent).to_have_url(re.compile(rf"/tickets/{ticket.id}$"))
    expect(agent.locator('[data-console="transcript"]')).to_contain_text("转人工")
    expect(agent.locator('[data-console="summary"]')).not_to_be_empty()

    # while the bot is paused, what the customer writes shows up live in the console
    waiting = chat.mark()
    chat.input.fill("你好，有人吗？")
    chat.input.press("Enter")
    expect(chat.user_messages.last).to_have_text("你好，有人吗？")
    live = agent.locator('[data-console="live"]')
    expect(live.locator('[data-from="customer"]').last).to_contain_text(
        "你好，有人吗？", timeout=LIVE_TIMEOUT_MS
    )
    assert chat.mark() == waiting  # the bot said nothing

    # the agent's reply reaches the customer's chat
    agent.fill('[data-console="reply-text"]', GREETING)
    agent.locator('[data-console="send"]').click()
    expect(agent.locator('[data-console="notice"]')).to_be_visible()
    expect(agent.locator('[data-console="status"]')).to_have_attribute("data-status", "claimed")
    expect(live.locator('[data-from="agent"]').last).to_contain_text(GREETING)
    greeting = chat.bot_rows.filter(has_text=GREETING)
    expect(greeting).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    chat.page.screenshot(path=str(SCREENSHOTS / "handoff_customer_sees_the_agent.png"))
    agent.screenshot(path=str(SCREENSHOTS / "handoff_console_ticket.png"), full_page=True)

    # the agent closes: the bot is back and answers the next question with product cards
    agent.locator('[data-console="close"]').click()
    expect(agent.locator('[data-console="status"]')).to_have_attribute("data-status", "closed")
    expect(chat.bot_rows.filter(has_text=BOT_IS_BACK["zh"])).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS
    )
    assert active_ticket(conversation_id) is None
    reply = chat.ask("有什么新款手机推荐？")
    assert reply.cards, f"no product cards after the hand-back, the bot said: {reply.texts}"
