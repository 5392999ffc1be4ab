"""Attacks on what an agent may see in the console, against the real console (an aiohttp server
on a free port) over the shop database (SQLite and PostgreSQL) and a fake Rasa HTTP API: a
logged-out cookie replayed after a restart, another agent's ticket, the audit trail, the cost
of polling the queue, and the customer's proofs of identity on screen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from kefu import handoff
from kefu.cli import main
from kefu.console.guard import audit_log
from kefu.db import session_scope
from kefu.models import ConsoleRevokedSession
from tests.shop.conftest import database_url, factory, mini_shop  # noqa: F401  (fixtures)
from tests.shop.order_shop import PHONE, shop  # noqa: F401  (fixture)
from tests.shop.test_agent_console import (  # noqa: F401  (fixtures and helpers)
    SESSION_COOKIE,
    console_for,
    conversation_events,
    open_ticket,
    rasa,
)

SECRET_WORDS = "TRANSCRIPT-FIRST"  # in every test ticket's transcript


def audit_rows(factory, **filters):  # noqa: F811
    with session_scope(factory) as session:
        return audit_log(session, **filters)


async def test_a_logged_out_cookie_is_refused_after_a_restart(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    before = await console_for(factory, rasa.url)
    alice = await before.agent("alice")
    bob = await before.agent("bob")
    stolen, kept = alice.cookie(), bob.cookie()
    assert (await alice.post("/logout")).status == 303
    with session_scope(factory) as session:
        revoked = session.scalars(select(ConsoleRevokedSession)).one()
        assert revoked.agent == "alice" and revoked.expires_at.tzinfo is not None
        assert revoked.expires_at > datetime.now(timezone.utc) + timedelta(hours=7)

    restarted = await console_for(factory, rasa.url)  # a new process over the same database
    thief = await restarted.agent()
    thief.http.cookie_jar.update_cookies({SESSION_COOKIE: stolen})
    assert (await thief.get("/", follow=False)).location == "/login"
    assert (await thief.json("/tickets.json")) == (401, {"error": "login"})
    still = await restarted.agent()
    still.http.cookie_jar.update_cookies({SESSION_COOKIE: kept})  # bob never logged out
    assert (await still.get("/")).status == 200


async def test_agent_b_cannot_read_agent_as_claimed_ticket(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    ticket = open_ticket(factory)
    rasa.conversation(ticket.conversation_id, conversation_events(ticket))
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    bob = await console.agent("bob")
    assert (await alice.post(f"/tickets/{ticket.id}/claim")).status == 303

    page = await bob.get(f"/tickets/{ticket.id}")
    assert page.status == 403 and "Already taken by alice" in page.text
    status, body = await bob.json(f"/tickets/{ticket.id}/live.json")
    assert status == 403 and body["error"] == "forbidden" and "messages" not in body
    for action in ("claim", "reply", "close"):
        page = await bob.post(f"/tickets/{ticket.id}/{action}", {"text": "我来吧"})
        assert page.status == 409, action
    _, queue = await bob.json("/tickets.json")
    assert queue["tickets"] == [] and queue["with_others"] == 1
    for text in (page.text, str(body), str(queue)):
        assert SECRET_WORDS not in text and ticket.summary not in text and "LIVE" not in text
    assert rasa.posts() == []
    assert [c.method for c in rasa.calls] == []  # bob's reads never reached the conversation
    denied = audit_rows(factory, agent="bob", actions=["denied"])
    assert denied and {row.ticket_id for row in denied} == {ticket.id}
    # a ticket that ended before anyone took it is nobody's to read
    gone = open_ticket(factory, "conv-gone")
    with session_scope(factory) as session:
        handoff.abandon(session, gone.id)
    assert (await alice.get(f"/tickets/{gone.id}")).status == 403


async def test_every_read_claim_reply_and_close_is_in_the_audit_log(
    factory,  # noqa: F811
    database_url,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
    monkeypatch,
    capsys,
):
    ticket = open_ticket(factory)
    rasa.conversation(ticket.conversation_id, conversation_events(ticket))
    console = await console_for(factory, rasa.url)
    started = datetime.now(timezone.utc)
    alice = await console.agent("alice")
    assert (await alice.get(f"/tickets/{ticket.id}")).status == 200
    for _ in range(3):  # the page polls: one read per audit_read_minutes, not per poll
        assert (await alice.json(f"/tickets/{ticket.id}/live.json"))[0] == 200
    assert (await alice.post(f"/tickets/{ticket.id}/claim")).status == 303
    assert (await alice.post(f"/tickets/{ticket.id}/reply", {"text": "您好"})).status == 303
    assert (await alice.post(f"/tickets/{ticket.id}/close")).status == 303
    assert (await alice.post("/logout")).status == 303

    rows = audit_rows(factory, agent="alice")
    assert [row.action for row in rows] == ["login", "read", "claim", "reply", "close", "logout"]
    for row in rows:
        assert row.at.tzinfo is not None and row.at.utcoffset() == timedelta(0)
        assert started - timedelta(seconds=5) <= row.at <= datetime.now(timezone.utc)
        assert row.address == "127.0.0.1"
    assert {row.conversation_id for row in rows if row.ticket_id} == {ticket.conversation_id}

    monkeypatch.setenv("KEFU_DB_URL", database_url)
    assert main(["agent", "audit", "--since", "1d", "--ticket", str(ticket.id)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("at (UTC)\tagent\taction")
    assert [line.split("\t")[1:4] for line in printed[1:]] == [
        ["alice", action, str(ticket.id)] for action in ("read", "claim", "reply", "close")
    ]
    assert main(["agent", "audit", "--since", "yesterday"]) == 2


async def test_polling_the_queue_reads_one_page_and_no_messages(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    tickets = [open_ticket(factory, f"conv-{n}", minutes_ago=50 - n) for n in range(45)]
    with session_scope(factory) as session:
        for view in tickets:
            handoff.add_message(session, view.id, "customer", "还在吗")
    console = await console_for(factory, rasa.url)
    alice = await console.agent("alice")
    await alice.json("/tickets.json")  # the first poll also looks for departed customers

    statements: list[str] = []
    engine = factory.kw["bind"]

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        status, first = await alice.json("/tickets.json")
        _, last = await alice.json("/tickets.json?page=3")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert status == 200 and len(first["tickets"]) == 20
    assert [row["id"] for row in first["tickets"]] == [view.id for view in tickets[:20]]
    assert (first["page"], first["pages"], first["total"]) == (1, 3, 45)
    assert [row["id"] for row in last["tickets"]] == [view.id for view in tickets[40:]]
    assert not any("ticket_messages" in sql for sql in statements)
    reads = [sql for sql in statements if "FROM handoff_tickets" in sql and "count(" not in sql]
    assert reads and all("LIMIT" in sql.upper() for sql in reads)
    page = await alice.get("/?page=2")
    assert page.text.count('data-console="ticket"') == 20 and 'rel="next"' in page.text


@pytest.mark.parametrize("proof", ["尾号6093", "6093", f"我的手机 {PHONE}"])
async def test_the_console_never_shows_the_phones_last_digits_next_to_orders(
    shop,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
    proof,
):
    ticket = open_ticket(shop.factory, customer_id=shop.customer_id, last_words=proof)
    events = conversation_events(ticket)
    events.append({**events[-1], "text": proof, "timestamp": events[-1]["timestamp"] + 1})
    rasa.conversation(ticket.conversation_id, events)
    console = await console_for(shop.factory, rasa.url)
    alice = await console.agent("alice")
    page = await alice.get(f"/tickets/{ticket.id}")
    assert 'data-console="order"' in page.text and "2602260900000001" in page.text
    _, live = await alice.json(f"/tickets/{ticket.id}/live.json")
    _, queue = await alice.json("/tickets.json")
    for text in (page.text, str(live), str(queue)):
        assert "6093" not in text and PHONE not in text
    assert "138****" in page.text
