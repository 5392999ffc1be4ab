"""The agents' console (kefu.agent_console) on SQLite and PostgreSQL, against a fake Rasa HTTP
API served by a real aiohttp server on a free port that records every call."""

from __future__ import annotations

import asyncio
import html
import io
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
import requests
from aiohttp import web
from sqlalchemy import select

from kefu import agent_console, handoff
from kefu.agent_console import (
    BOT_IS_BACK,
    MIN_ITERATIONS,
    SESSION_COOKIE,
    ConsoleConfigError,
    ConsoleSettings,
    create_app,
    hash_password,
    last_customer_message_at,
    load_settings,
    parse_agents,
    session_agent,
    session_value,
    verify_password,
)
from kefu.cli import main
from kefu.config import ConsoleSecurity
from kefu.db import session_scope
from kefu.models import TicketMessage
from scripts.stack import free_port
from tests.cli_server import kefu_serving
from tests.shop.order_shop import DETAIL, PHONE

TOKEN = "rasa-api-token-for-tests-0123456789"
SECRET = "agent-console-secret-" + "x" * 24
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22"}
HASHES = {name: hash_password(pw, iterations=MIN_ITERATIONS) for name, pw in PASSWORDS.items()}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
REPLY = "您好，我是客服小李，请问有什么可以帮您？"


# ---- a fake Rasa HTTP API ---------------------------------------------------------------------


@dataclass
class Call:
    method: str
    conversation_id: str
    query: dict[str, str]
    body: Any = None


@dataclass
class FakeRasa:
    """``GET /conversations/{id}/tracker`` and ``POST …/tracker/events`` with token auth;
    appended events join the conversation (``resume`` unpauses it)."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    trackers: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_with: int | None = None  # answer every call with this status
    broken: set[str] = field(default_factory=set)  # conversations answered with a 500
    url: str = ""
    runner: web.AppRunner | None = None

    def conversation(self, conversation_id: str, events: list[dict], paused: bool = True) -> None:
        self.trackers[conversation_id] = {"events": list(events), "paused": paused}

    def posts(self) -> list[Call]:
        return [call for call in self.calls if call.method == "POST"]

    async def handle(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"/conversations/(.+)/tracker(/events)?", request.rel_url.raw_path)
        if match is None:
            return web.json_response({"error": "not found"}, status=404)
        conversation_id = unquote(match.group(1))
        body = await request.json() if request.method == "POST" else None
        self.calls.append(Call(request.method, conversation_id, dict(request.query), body))
        if request.query.get("token") != self.token:
            return web.json_response({"reason": "NotAuthenticated"}, status=401)
        if self.fail_with or conversation_id in self.broken:
            return web.json_response({"reason": "Broken"}, status=self.fail_with or 500)
        tracker = self.trackers.setdefault(conversation_id, {"events": [], "paused": False})
        if request.method == "POST" and match.group(2):
            for event in body:
                if event["event"] in ("pause", "resume"):
                    tracker["paused"] = event["event"] == "pause"
                tracker["events"].append({"timestamp": time.time(), **event})
        elif request.method != "GET" or match.group(2):
            return web.json_response({"error": "method"}, status=405)
        return web.json_response({"sender_id": conversation_id, **tracker})

    async def start(self) -> FakeRasa:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)  # its URLs carry the token
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self


@pytest.fixture
async def rasa():
    fake = await FakeRasa().start()
    yield fake
    await fake.runner.cleanup()


# ---- the console and its agents ---------------------------------------------------------------


@dataclass
class Page:
    status: int
    text: str
    headers: Any
    location: str = ""


class Agent:
    """One agent's browser: its own cookies; fills in the CSRF token of the last page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def _page(self, response: aiohttp.ClientResponse) -> Page:
        text = await response.text()
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return Page(response.status, text, response.headers, response.headers.get("Location", ""))

    async def get(self, path: str, follow: bool = True) -> Page:
        async with self.http.get(self.base + path, allow_redirects=follow) as response:
            return await self._page(response)

    async def json(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.base + path) as response:
            return response.status, await response.json()

    async def post(self, path: str, data: dict | None = None, csrf: str | None = None) -> Page:
        form = {"csrf": self.csrf if csrf is None else csrf, **(data or {})}
        async with self.http.post(self.base + path, data=form, allow_redirects=False) as response:
            return await self._page(response)

    async def login(self, name: str, password: str | None = None) -> Page:
        await self.get("/login")
        password = PASSWORDS.get(name, "whatever-password") if password is None else password
        page = await self.post("/login", {"name": name, "password": password})
        if page.status == 303:
            await self.get("/")  # the CSRF token of the logged-in forms
        return page

    def cookie(self, name: str = SESSION_COOKIE) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None


@dataclass
class Console:
    url: str
    agents: list[Agent]

    async def agent(self, name: str | None = None) -> Agent:
        agent = Agent(self.url)
        self.agents.append(agent)
        if name:
            page = await agent.login(name)
            assert page.status == 303, page.text
        return agent


@pytest.fixture
async def console_for():
    """Starts the console on a shop's session factory, talking to ``rasa_url`` (with the
    knowledge base ``knowledge`` for agent assist)."""
    runners, consoles = [], []

    async def start(
        factory,
        rasa_url: str,
        token: str = TOKEN,
        clock=None,
        security: ConsoleSecurity | None = None,
        knowledge=None,
    ) -> Console:
        settings = ConsoleSettings(
            agents=HASHES,
            secret=SECRET,
            rasa_url=rasa_url,
            api_token=token,
            rasa_timeout=3,
            security=security or ConsoleSecurity(),
        )
        runner = web.AppRunner(create_app(factory, settings, clock=clock, knowledge=knowledge))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        console = Console(f"http://127.0.0.1:{port}", [])
        consoles.append(console)
        return console

    yield start
    for console in consoles:
        for agent in console.agents:
            await agent.http.close()
    for runner in runners:
        await runner.cleanup()


# ---- tickets ----------------------------------------------------------------------------------


def epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def open_ticket(
    factory,
    conversation: str = "conv-1",
    *,
    customer_id: int | None = None,
    language: str = "zh",
    minutes_ago: int = 5,
    last_words: str = "我要退货",
) -> handoff.TicketView:
    opened = handoff.stored_time(None) - timedelta(minutes=minutes_ago)
    with session_scope(factory) as session:
        return handoff.open_ticket(
            session,
            conversation_id=conversation,
            channel="webchat",
            language=language,
            reason="requested",
            transcript=[
                {"who": "customer", "text": "TRANSCRIPT-FIRST 订单 2602260900000001"},
                {"who": "bot", "text": "好的，请稍等"},
                {"who": "customer", "text": last_words},
            ],
            intents=["request_return", "contact_human_agent"],
            entities={"order_id": "2602260900000001"},
            sentiment=-0.6,
            customer_id=customer_id,
            now=opened,
        )


def conversation_events(view: handoff.TicketView) -> list[dict]:
    """What Rasa has: one message before the ticket, the bot's queue notice and a customer
    message after it (with a phone number)."""
    opened = epoch(view.created_at)
    return [
        {"event": "user", "timestamp": opened - 30, "text": "BEFORE-THE-TICKET"},
        {"event": "action", "timestamp": opened - 29, "name": "action_handoff"},
        {"event": "bot", "timestamp": opened + 1, "text": "QUEUE-NOTICE 正在为您转接人工客服"},
        {"event": "pause", "timestamp": opened + 1},
        {"event": "user", "timestamp": opened + 20, "text": f"在吗？LIVE-CUSTOMER {PHONE}"},
    ]


def stored_messages(factory) -> list[tuple[str, str | None, str]]:
    with session_scope(factory) as session:
        rows = session.scalars(select(TicketMessage).order_by(TicketMessage.id))
        return [(m.author, m.agent, m.text) for m in rows]


def current(factory, ticket_id: int) -> handoff.TicketView:
    with session_scope(factory) as session:
        return handoff.ticket(session, ticket_id)


# ---- login and sessions -----------------------------------------------------------------------


async def test_login_sets_a_strict_http_only_session_cookie(factory, rasa, console_for):
    console = await console_for(factory, rasa.url)
    agent = await console.agent()
    form = await agent.get("/login")
    assert form.status == 200 and 'data-console="login-form"' in form.text
    page = await agent.post("/login", {"name": "alice", "password": PASSWORDS["alice"]})
    assert page.status == 303 and page.location == "/"
    cookie = SimpleCookie(page.headers["Set-Cookie"])[SESSION_COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
    assert session_agent(cookie.value, SECRET)[0] == "alice"
    queue = await agent.get("/")
    assert queue.status == 200 and 'data-console="agent-name">alice<' in queue.text


@pytest.mark.parametrize(
    ("name", "password"), [("alice", "wrong-password"), ("mallory", "alice-password-1")]
)
async def test_a_wrong_password_or_an_unknown_agent_gets_the_same_refusal(
    factory, rasa, console_for, name, password
):
    console = await console_for(factory, rasa.url)
    agent = await console.agent()
    page = await agent.login(name, password)
    assert page.status == 401
    assert "Wrong name or password" in page.text
    assert agent.cookie() is None
    assert (await agent.get("/", follow=False)).location == "/login"


async def test_login_needs_the_forms_csrf_token(factory, rasa, console_for):
    console = await console_for(factory, rasa.url)
    agent = await console.agent()
    await agent.get("/login")
    page = await agent.post("/login", {"name": "alice", "password": PASSWORDS["alice"]}, "guess")
    assert page.status == 403 and agent.cookie() is None
    other = await console.agent()  # no form fetched, so no CSRF cookie at all
    page = await other.post("/login", {"name": "alice", "password": PASSWORDS["alice"]}, "")
    assert page.status == 403 and other.cookie() is None


async def test_logged_in_forms_need_the_sessions_csrf_token(factory, rasa, console_for):
    ticket = open_ticket(factory)
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    bob = await console.agent("bob")
    for token in ("", "forged", bob.csrf):  # another session's token is no good either
        page = await alice.post(f"/tickets/{ticket.id}/claim", csrf=token)
        assert page.status == 403 and "expired" in page.text
        page = await alice.post(f"/tickets/{ticket.id}/reply", {"text": "hi"}, csrf=token)
        assert page.status == 403
    assert current(factory, ticket.id).status == "open"
    assert rasa.posts() == [] and stored_messages(factory) == []


async def test_login_attempts_are_locked_out_for_a_while(factory, rasa, console_for):
    now = [datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)]
    console = await console_for(factory, rasa.url, clock=lambda: now[0])
    agent = await console.agent()
    for _ in range(5):  # console.login_failures_per_account
        assert (await agent.login("alice", "wrong-password")).status == 401
    refused = await agent.login("alice")  # the right password, but too many tries
    assert refused.status == 429 and agent.cookie() is None
    assert "Too many attempts" in refused.text
    assert 14 * 60 < int(refused.headers["Retry-After"]) <= 15 * 60
    bob = await console.agent()
    assert (await bob.login("bob")).status == 303  # another agent is not locked out
    now[0] += timedelta(minutes=15, seconds=1)  # console.login_window_minutes
    assert (await agent.login("alice")).status == 303


async def test_pages_need_a_login(factory, rasa, console_for):
    ticket = open_ticket(factory)
    console = await console_for(factory, rasa.url)
    agent = await console.agent()
    for path in ("/", f"/tickets/{ticket.id}"):
        page = await agent.get(path, follow=False)
        assert page.status == 303 and page.location == "/login"
    status, body = await agent.json("/tickets.json")
    assert status == 401 and body == {"error": "login"}
    # a cookie signed with another secret, or for an agent no longer configured, is nobody
    for value in (session_value("alice", "y" * 40), session_value("carol", SECRET), "a.b.c.d"):
        agent.http.cookie_jar.update_cookies({SESSION_COOKIE: value})
        assert (await agent.get("/", follow=False)).location == "/login"


async def test_logout_ends_the_session_for_good(factory, rasa, console_for):
    console = await console_for(factory, rasa.url)
    agent = await console.agent("alice")
    stolen = agent.cookie()
    assert (await agent.post("/logout", csrf="forged")).status == 403
    page = await agent.post("/logout")
    assert page.status == 303 and page.location == "/login"
    assert agent.cookie() is None
    assert (await agent.get("/", follow=False)).location == "/login"
    agent.http.cookie_jar.update_cookies({SESSION_COOKIE: stolen})  # a copy of the old cookie
    assert (await agent.get("/", follow=False)).location == "/login"
    assert (await agent.login("alice")).status == 303  # logging in again works


# ---- the queue --------------------------------------------------------------------------------


async def test_the_queue_lists_open_and_own_tickets_oldest_first(factory, rasa, console_for):
    newer = open_ticket(factory, "conv-new", language="en", minutes_ago=2)
    older = open_ticket(factory, "conv-old", minutes_ago=30, last_words="<script>alert(1)</script>")
    done = open_ticket(factory, "conv-done", minutes_ago=60)
    bobs = open_ticket(factory, "conv-bob", minutes_ago=40)
    with session_scope(factory) as session:
        handoff.claim(session, older.id, "alice")
        handoff.claim(session, bobs.id, "bob")  # not alice's to see
        handoff.close(session, done.id, "alice")
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")

    status, body = await alice.json("/tickets.json")
    assert status == 200
    rows = body["tickets"]
    assert [row["id"] for row in rows] == [older.id, newer.id]
    assert (rows[0]["status"], rows[0]["agent"]) == ("claimed", "alice")
    assert (rows[1]["status"], rows[1]["agent"]) == ("open", None)
    assert rows[0]["waiting"] == "30m" and rows[1]["waiting"] == "2m"
    assert rows[1]["language"] == "en" and rows[1]["channel"] == "webchat"
    assert rows[1]["reason"] == "requested" and rows[1]["sentiment"] == pytest.approx(-0.6)
    assert rows[1]["mood"] == "negative" and rows[1]["summary"] == newer.summary

    page = await alice.get("/")
    shown = re.findall(r'data-console="ticket" data-ticket-id="(\d+)"', page.text)
    assert shown == [str(older.id), str(newer.id)]
    assert "客户要求" in page.text and ">alice<" in page.text and "data-poll" in page.text
    assert ">bob<" not in page.text and body["with_others"] == 1
    assert (body["page"], body["pages"], body["total"]) == (1, 1, 2)
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)" in page.text


# ---- a ticket ---------------------------------------------------------------------------------


async def test_the_ticket_page_shows_the_case_the_live_chat_and_masked_orders(
    shop, rasa, console_for
):
    ticket = open_ticket(shop.factory, customer_id=shop.customer_id)
    rasa.conversation(ticket.conversation_id, conversation_events(ticket))
    console = await console_for(shop.factory, rasa.url)
    alice = await console.agent("alice")

    page = await alice.get(f"/tickets/{ticket.id}")
    assert page.status == 200
    text = page.text
    assert ticket.summary in text
    assert text.count('data-console="intent"') == 2 and "request_return" in text
    assert "order_id: 2602260900000001" in text
    assert "TRANSCRIPT-FIRST" in text  # the transcript saved on the ticket
    live = text[text.index('data-console="live"') :]
    assert "QUEUE-NOTICE" in live and "LIVE-CUSTOMER" in live
    assert "BEFORE-THE-TICKET" not in text  # Rasa's history before the ticket is not "live"
    # masked live text and profile: never the phone's last digits, which prove an order
    assert PHONE not in text and "6093" not in text and "138****" in text
    orders = re.findall(r'data-console="order" data-order-no="(\d+)"', text)
    assert orders == [
        "2603030900000005",
        "2603020900000004",
        "2603010900000003",
        "2602280900000002",
        "2602260900000001",
    ]
    assert "张**" in text and "z***@example.com" in text
    for secret in ("张三丰", DETAIL, "zhang@example.com"):
        assert secret not in text
    assert 'data-console="reply-form"' in text and 'data-console="claim"' in text
    assert rasa.calls == [Call("GET", ticket.conversation_id, {"token": TOKEN})]

    status, body = await alice.json(f"/tickets/{ticket.id}/live.json")
    assert status == 200 and body["status"] == "open" and body["error"] is None
    assert [m["who"] for m in body["messages"]] == ["bot", "customer"]
    assert body["messages"][1]["text"] == "在吗？LIVE-CUSTOMER 138****"
    assert body["paused"] is True


async def test_an_anonymous_customer_and_an_unknown_ticket(factory, rasa, console_for):
    ticket = open_ticket(factory)
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    page = await alice.get(f"/tickets/{ticket.id}")
    assert 'data-console="anonymous"' in page.text and 'data-console="orders"' not in page.text
    assert (await alice.get(f"/tickets/{ticket.id + 1000}")).status == 404
    assert (await alice.json(f"/tickets/{ticket.id + 1000}/live.json"))[0] == 404
    assert (await alice.post(f"/tickets/{ticket.id + 1000}/claim")).status == 404


async def test_of_two_agents_claiming_at_once_one_wins(factory, rasa, console_for):
    ticket = open_ticket(factory)
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    bob = await console.agent("bob")
    pages = await asyncio.gather(
        alice.post(f"/tickets/{ticket.id}/claim"), bob.post(f"/tickets/{ticket.id}/claim")
    )
    assert sorted(page.status for page in pages) == [303, 409]
    winner = current(factory, ticket.id).agent
    loser = pages[[page.status for page in pages].index(409)]
    assert f"Already taken by {winner}" in loser.text
    assert 'data-console="reply-form"' not in loser.text  # the loser cannot reply
    assert winner in ("alice", "bob")


async def test_a_reply_goes_to_the_customer_through_rasa_and_is_stored(factory, rasa, console_for):
    conversation = "web/会话 1"  # escaped in Rasa's URL
    ticket = open_ticket(factory, conversation)
    rasa.conversation(conversation, conversation_events(ticket))
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    await alice.get(f"/tickets/{ticket.id}")

    page = await alice.post(f"/tickets/{ticket.id}/reply", {"text": f"  {REPLY}\n"})
    assert page.status == 303 and page.location == f"/tickets/{ticket.id}?done=sent"
    assert rasa.posts() == [
        Call(
            "POST",
            conversation,
            {"token": TOKEN, "output_channel": "latest", "execute_side_effects": "true"},
            [{"event": "bot", "text": REPLY, "metadata": {"agent": "alice"}}],
        )
    ]
    assert stored_messages(factory) == [("agent", "alice", REPLY)]
    claimed = current(factory, ticket.id)
    assert (claimed.status, claimed.agent) == ("claimed", "alice")  # claimed by replying

    _, body = await alice.json(f"/tickets/{ticket.id}/live.json")
    assert body["messages"][-1]["who"] == "agent" and body["messages"][-1]["agent"] == "alice"
    assert body["messages"][-1]["text"] == REPLY


async def test_only_the_agent_who_claimed_may_reply(factory, rasa, console_for):
    ticket = open_ticket(factory)
    with session_scope(factory) as session:
        handoff.claim(session, ticket.id, "alice")
    console = await console_for(factory, rasa.url)
    bob = await console.agent("bob")
    page = await bob.get(f"/tickets/{ticket.id}")
    assert page.status == 403 and "Already taken by alice" in page.text
    assert 'data-console="reply-form"' not in page.text and ticket.summary not in page.text
    page = await bob.post(f"/tickets/{ticket.id}/reply", {"text": "我来吧"})
    assert page.status == 409 and "Already taken by alice" in page.text
    page = await bob.post(f"/tickets/{ticket.id}/close")
    assert page.status == 409 and current(factory, ticket.id).status == "claimed"
    assert rasa.posts() == [] and stored_messages(factory) == []


async def test_a_reply_to_a_closed_ticket_is_refused_and_nothing_is_sent(
    factory, rasa, console_for
):
    ticket = open_ticket(factory)
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    await alice.get(f"/tickets/{ticket.id}")  # the page with the reply box
    with session_scope(factory) as session:  # meanwhile the ticket is closed
        handoff.close(session, ticket.id, "alice")
    page = await alice.post(f"/tickets/{ticket.id}/reply", {"text": REPLY})
    assert page.status == 409
    assert "This ticket is closed" in page.text
    assert 'data-console="reply-form"' not in page.text
    assert re.search(rf'data-console="unsent">{REPLY}<', page.text)  # to copy, not lost
    assert rasa.posts() == [] and stored_messages(factory) == []


async def test_an_empty_or_too_long_reply_is_refused(factory, rasa, console_for):
    ticket = open_ticket(factory)
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    await alice.get(f"/tickets/{ticket.id}")
    assert (await alice.post(f"/tickets/{ticket.id}/reply", {"text": "  "})).status == 400
    page = await alice.post(f"/tickets/{ticket.id}/reply", {"text": "好" * 2001})
    assert page.status == 400 and "too long" in page.text
    assert rasa.posts() == [] and current(factory, ticket.id).status == "open"


async def test_when_rasa_is_down_nothing_is_stored_and_the_agent_is_told(factory, console_for):
    ticket = open_ticket(factory)
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    console = await console_for(factory, down)
    alice = await console.agent("alice")

    page = await alice.get(f"/tickets/{ticket.id}")
    assert page.status == 200  # the rest of the page is there
    assert "cannot be reached" in page.text and ticket.summary in page.text
    status, body = await alice.json(f"/tickets/{ticket.id}/live.json")
    assert status == 200 and "cannot be reached" in body["error"]

    page = await alice.post(f"/tickets/{ticket.id}/reply", {"text": REPLY})
    assert page.status == 502
    assert f"The bot server at {down} cannot be reached" in page.text
    assert "The reply was not saved" in page.text and REPLY in page.text  # the draft is kept
    assert stored_messages(factory) == []
    assert current(factory, ticket.id).status == "open"  # the claim made by replying is undone

    page = await alice.post(f"/tickets/{ticket.id}/close")
    assert page.status == 502 and "still open" in page.text
    assert current(factory, ticket.id).status == "open"


@pytest.mark.parametrize(("token", "fail_with"), [("wrong-token", None), (TOKEN, 500)])
async def test_when_rasa_refuses_nothing_is_stored(factory, rasa, console_for, token, fail_with):
    ticket = open_ticket(factory)
    with session_scope(factory) as session:
        handoff.claim(session, ticket.id, "alice")
    rasa.fail_with = fail_with
    console = await console_for(factory, rasa.url, token=token)
    alice = await console.agent("alice")
    await alice.get(f"/tickets/{ticket.id}")
    page = await alice.post(f"/tickets/{ticket.id}/reply", {"text": REPLY})
    assert page.status == 502
    expected = "refused the console's API token" if fail_with is None else "answered HTTP 500"
    assert expected in html.unescape(page.text)
    assert len(rasa.posts()) == 1 and stored_messages(factory) == []
    assert current(factory, ticket.id).agent == "alice"  # her earlier claim stays


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_closing_resumes_the_bot_with_a_message_in_the_tickets_language(
    factory, rasa, console_for, language
):
    ticket = open_ticket(factory, language=language)
    rasa.conversation(ticket.conversation_id, conversation_events(ticket))
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    await alice.get(f"/tickets/{ticket.id}")
    page = await alice.post(f"/tickets/{ticket.id}/close")
    assert page.status == 303 and page.location == f"/tickets/{ticket.id}?done=closed"
    assert rasa.posts() == [
        Call(
            "POST",
            ticket.conversation_id,
            {"token": TOKEN, "output_channel": "latest", "execute_side_effects": "true"},
            [
                {"event": "resume"},
                {"event": "slot", "name": "handoff_ticket", "value": None},
                {"event": "action", "name": "action_listen"},
                {"event": "bot", "text": BOT_IS_BACK[language]},
            ],
        )
    ]
    closed = current(factory, ticket.id)
    assert (closed.status, closed.agent) == ("closed", "alice")
    assert rasa.trackers[ticket.conversation_id]["paused"] is False
    page = await alice.get(f"/tickets/{ticket.id}")
    assert "已关闭" in page.text and 'data-console="reply-form"' not in page.text
    assert BOT_IS_BACK[language] not in page.text  # said after the ticket closed
    assert (await alice.json("/tickets.json"))[1]["tickets"] == []
    # closing again changes nothing and sends nothing
    assert (await alice.post(f"/tickets/{ticket.id}/close")).status == 409
    assert len(rasa.posts()) == 1


# ---- security ---------------------------------------------------------------------------------


async def test_every_page_has_a_strict_content_security_policy(factory, rasa, console_for):
    ticket = open_ticket(factory)
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    for path in ("/login", "/", f"/tickets/{ticket.id}", "/nowhere"):
        page = await alice.get(path)
        policy = dict(
            part.strip().split(" ", 1)
            for part in page.headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script>" not in page.text  # scripts come from /static/ only
    script = await alice.get("/static/console.js")
    assert script.status == 200 and "textContent" in script.text and "innerHTML" not in script.text


async def test_logs_hold_no_personal_data_passwords_or_tokens(shop, rasa, console_for, caplog):
    caplog.set_level(logging.DEBUG)
    ticket = open_ticket(shop.factory, customer_id=shop.customer_id)
    rasa.conversation(ticket.conversation_id, conversation_events(ticket))
    console = await console_for(shop.factory, rasa.url)
    alice = await console.agent("alice")
    await alice.login("bob", "bob-wrong-password")
    await alice.get(f"/tickets/{ticket.id}")
    await alice.post(f"/tickets/{ticket.id}/reply", {"text": f"{REPLY} {PHONE}"})
    await alice.post(f"/tickets/{ticket.id}/close")
    rasa.fail_with = 401
    await alice.get(f"/tickets/{ticket.id}")
    assert "agent alice replied on ticket" in caplog.text
    assert "refused the API token" in caplog.text
    secrets = [TOKEN, SECRET, *PASSWORDS.values(), "bob-wrong-password", alice.cookie() or "x"]
    for secret in [*secrets, "张三丰", "张**", PHONE, "zhang@example.com", REPLY]:
        assert secret not in caplog.text


# ---- configuration and the command line -------------------------------------------------------


def test_passwords_are_salted_pbkdf2_hashes():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second  # salted
    scheme, iterations, _salt, _digest = first.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", "600000")
    assert verify_password("correct horse", first) and not verify_password("Correct horse", first)
    with pytest.raises(ValueError):
        hash_password("weak", iterations=1000)


def test_agents_come_from_kefu_agents():
    agents = parse_agents(f" alice:{HASHES['alice']} , 小李:{HASHES['bob']},")
    assert agents == {"alice": HASHES["alice"], "小李": HASHES["bob"]}
    bad = [
        "alice",  # no hash
        f"alice:{HASHES['alice']},alice:{HASHES['bob']}",  # twice
        "alice:md5$1$abc$def",
        f"alice:pbkdf2_sha256$1000${HASHES['alice'].split('$', 2)[2]}",  # too few iterations
        f"a b:{HASHES['alice']}",
    ]
    for value in bad:
        with pytest.raises(ConsoleConfigError) as error:
            parse_agents(value)
        assert HASHES["alice"].rsplit("$", 1)[1] not in str(error.value)


def test_the_console_refuses_to_start_without_its_settings():
    good = {
        "KEFU_AGENT_SECRET": SECRET,
        "KEFU_AGENTS": f"alice:{HASHES['alice']}",
        "KEFU_API_TOKEN": TOKEN,
    }
    settings = load_settings("http://127.0.0.1:5999/", good)
    assert settings.rasa_url == "http://127.0.0.1:5999" and list(settings.agents) == ["alice"]
    assert TOKEN not in repr(settings) and SECRET not in repr(settings)
    for change, message in [
        ({"KEFU_AGENT_SECRET": ""}, "KEFU_AGENT_SECRET is not set"),
        ({"KEFU_AGENT_SECRET": "short"}, "at least 32 bytes"),
        ({"KEFU_AGENTS": ""}, "KEFU_AGENTS lists no agents"),
        ({"KEFU_API_TOKEN": ""}, "KEFU_API_TOKEN is not set"),
    ]:
        with pytest.raises(ConsoleConfigError, match=message):
            load_settings(None, {**good, **change})
    with pytest.raises(ConsoleConfigError, match="bot URL"):
        load_settings("javascript:alert(1)", good)


def test_kefu_agent_serve_refuses_to_start_without_agents(monkeypatch, capsys):
    monkeypatch.setenv("KEFU_AGENT_SECRET", SECRET)
    monkeypatch.delenv("KEFU_AGENTS", raising=False)
    assert main(["agent", "serve"]) == 2
    assert "KEFU_AGENTS lists no agents" in capsys.readouterr().err
    monkeypatch.delenv("KEFU_AGENT_SECRET")
    assert main(["agent", "serve"]) == 2
    assert "KEFU_AGENT_SECRET is not set" in capsys.readouterr().err


def test_kefu_agent_hash_password_reads_standard_input(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-passw0rd\n"))
    assert main(["agent", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password("s3cret-passw0rd", printed)
    assert parse_agents(f"xiaoli:{printed}") == {"xiaoli": printed}
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["agent", "hash-password"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err


def test_kefu_agent_serve_runs_the_console(factory, database_url):
    env = {
        **os.environ,
        "KEFU_DB_URL": database_url,
        "KEFU_AGENTS": f"alice:{HASHES['alice']}",
        "KEFU_AGENT_SECRET": SECRET,
        "KEFU_API_TOKEN": TOKEN,
    }
    args = ["agent", "serve", "--rasa-url", "http://127.0.0.1:5999"]
    with kefu_serving(args, env, "/login") as served:
        assert served.first.status_code == 200
        assert 'data-console="login-form"' in served.first.text
        session = requests.Session()
        csrf = CSRF.search(session.get(f"{served.url}/login").text).group(1)
        login = session.post(
            f"{served.url}/login",
            data={"csrf": csrf, "name": "alice", "password": PASSWORDS["alice"]},
            allow_redirects=False,
        )
        assert login.status_code == 303
    output = served.output
    assert "127.0.0.1:5999" in output and "1 agent(s)" in output
    assert re.search(r'"POST /login HTTP/1\.1" 303', output)  # the access log, no addresses
    assert not re.search(r"127\.0\.0\.1 \[", output)
    for secret in (TOKEN, SECRET, PASSWORDS["alice"]):
        assert secret not in output


def test_session_cookies_expire_and_cannot_be_altered():
    value = session_value("小李", SECRET)
    assert session_agent(value, SECRET)[0] == "小李"
    name, expiry, nonce, signature = value.split(".")
    later = str(int(expiry) + 3600)
    assert session_agent(".".join([name, later, nonce, signature]), SECRET) == ("", "")
    assert session_agent(value, SECRET, now=time.time() + 9 * 3600) == ("", "")
    assert agent_console.csrf_token(value, SECRET) != agent_console.csrf_token(
        session_value("小李", SECRET), SECRET
    )  # a new session, new tokens


# ---- customers who leave ----------------------------------------------------------------------


async def test_the_queue_abandons_tickets_whose_customer_left(factory, rasa, console_for):
    gone = open_ticket(factory, "conv-gone", minutes_ago=90)  # silent since the hand-off
    waiting = open_ticket(factory, "conv-waiting", minutes_ago=90)  # wrote 10 minutes ago
    unknown = open_ticket(factory, "conv-unknown", minutes_ago=90)  # Rasa cannot show it
    fresh = open_ticket(factory, "conv-fresh", minutes_ago=5)  # not looked at
    now = time.time()
    rasa.conversation("conv-gone", [{"event": "user", "timestamp": now - 91 * 60, "text": "人工"}])
    rasa.conversation(
        "conv-waiting",
        [
            {"event": "user", "timestamp": now - 91 * 60, "text": "人工"},
            {"event": "user", "timestamp": now - 10 * 60, "text": "还在等吗"},
        ],
    )
    rasa.broken.add("conv-unknown")
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")

    _, body = await alice.json("/tickets.json")
    assert [row["id"] for row in body["tickets"]] == [waiting.id, unknown.id, fresh.id]
    assert current(factory, gone.id).status == "abandoned"
    looked_at = sorted(c.conversation_id for c in rasa.calls if c.method == "GET")
    assert looked_at == ["conv-gone", "conv-unknown", "conv-waiting"]
    # a reply to the abandoned ticket is refused, and nothing reaches Rasa
    page = await alice.post(f"/tickets/{gone.id}/reply", {"text": "您好，还在吗？"})
    assert page.status == 409 and "客户已离开" in page.text
    assert rasa.posts() == []
    # the queue looks again only after a minute
    calls = len(rasa.calls)
    await alice.json("/tickets.json")
    assert len(rasa.calls) == calls


def test_the_customers_last_message_is_read_from_the_tracker_events():
    assert last_customer_message_at([]) is None
    assert last_customer_message_at("broken") is None
    events = [
        {"event": "user", "timestamp": 5.0},
        {"event": "bot", "timestamp": 9.0},
        {"event": "user", "timestamp": 7.0},
        {"event": "user"},
    ]
    assert last_customer_message_at(events) == 7.0
