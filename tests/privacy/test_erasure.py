"""Erasure everywhere and access, through ``kefu privacy``, on SQLite and PostgreSQL: after
erasing a customer nothing of them is left in the raw shop database, the conversation store
or a dump, while the other customer is untouched; the export holds everything, decrypted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from kefu.account import ERASED_NAME
from kefu.cli import main
from kefu.db import session_scope
from kefu.models import ConsoleAudit, CsatRating, Customer, HandoffTicket, Invoice, TicketMessage
from kefu.privacy.store import open_vault
from tests.privacy.conftest import (
    CUSTOMER_ADDRESS,
    CUSTOMER_EMAIL,
    CUSTOMER_NAME,
    CUSTOMER_PHONE,
    SECRETS,
    assert_absent,
    raw_bytes,
)
from tests.privacy.people import OTHER_ADDRESS, OTHER_NAME, OTHER_PHONE, make_people


@pytest.fixture
def people(data_key, mini_shop, database_url, tracker_for_shop, monkeypatch):
    monkeypatch.setenv("KEFU_DB_URL", database_url)
    return make_people(mini_shop, tracker_for_shop)


def audited_conversations(session):
    return session.scalars(select(ConsoleAudit.conversation_id).order_by(ConsoleAudit.id)).all()


def stored_conversations(tracker_url):
    with open_vault(tracker_url) as vault, vault.engine.connect() as connection:
        return {c.conversation_id for c in vault.conversations(connection)}


def test_erasing_a_customer_leaves_nothing_of_them_anywhere(
    people, mini_shop, database_url, tracker_for_shop, capsys
):
    mini_shop.kw["bind"].dispose()
    assert_absent(raw_bytes(database_url), (*SECRETS, people.anonymous, people.other_conversation))
    code = main(["privacy", "erase", "--customer", str(people.customer), "--tracker-db",
                 tracker_for_shop])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2 conversation(s) deleted" in out and "1 hand-off ticket(s) and 1 rating(s)" in out
    for secret in SECRETS:
        assert secret not in out + err

    mini_shop.kw["bind"].dispose()  # SQLite: the last connection closes and folds in the WAL
    assert_absent(raw_bytes(database_url))
    assert_absent(raw_bytes(tracker_for_shop), (*SECRETS, people.anonymous))
    assert stored_conversations(tracker_for_shop) == {people.other_conversation}
    with session_scope(mini_shop) as session:
        assert session.get(Customer, people.customer).name == ERASED_NAME
        other = session.get(Customer, people.other)
        assert (other.name, other.phone) == (OTHER_NAME, OTHER_PHONE)
        tickets = session.scalars(select(HandoffTicket).order_by(HandoffTicket.id)).all()
        assert tickets[0].conversation_id.startswith("erased:")
        assert tickets[0].status == "abandoned" and tickets[0].transcript == []
        assert tickets[1].conversation_id == people.other_conversation
        assert OTHER_ADDRESS in tickets[1].summary
        assert len(session.scalars(select(TicketMessage)).all()) == 1
        comments = session.scalars(select(CsatRating.comment).order_by(CsatRating.id)).all()
        assert comments[0] is None and OTHER_NAME in comments[1]
        titles = session.scalars(select(Invoice.title).order_by(Invoice.id)).all()
        assert titles == ["", OTHER_NAME]
        assert audited_conversations(session) == [None, people.other_conversation]
    # encrypted at rest, yet read above
    assert_absent(raw_bytes(database_url), [OTHER_NAME, OTHER_ADDRESS, people.other_conversation])

    assert main(["privacy", "erase", "--customer", str(people.customer), "--tracker-db",
                 tracker_for_shop]) == 0  # fmt: skip
    assert "0 conversation(s) deleted" in capsys.readouterr().out


def test_erasing_one_conversation_on_any_channel(people, mini_shop, tracker_for_shop, capsys):
    code = main(["privacy", "erase", "--conversation", people.anonymous, "--tracker-db",
                 tracker_for_shop])  # fmt: skip
    assert code == 0
    assert "1 conversation(s) deleted" in capsys.readouterr().out
    assert stored_conversations(tracker_for_shop) == {people.logged_in, people.other_conversation}
    assert_absent(raw_bytes(tracker_for_shop), [people.anonymous, CUSTOMER_ADDRESS])
    with session_scope(mini_shop) as session:
        assert session.get(Customer, people.customer).name == CUSTOMER_NAME  # the account stays
        ticket = session.scalars(
            select(HandoffTicket).where(HandoffTicket.customer_id == people.customer)
        ).one()
        assert ticket.summary == "" and ticket.conversation_id.startswith("erased:")
        assert audited_conversations(session) == [None, people.other_conversation]


def test_export_holds_everything_about_the_customer_decrypted(
    people, tracker_for_shop, tmp_path, capsys
):
    out = tmp_path / "export.json"
    code = main(["privacy", "export", str(people.customer), "--out", str(out), "--tracker-db",
                 tracker_for_shop])  # fmt: skip
    assert code == 0
    assert CUSTOMER_PHONE not in capsys.readouterr().out
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    document = json.loads(out.read_text("utf-8"))
    assert document["customer"]["phone"] == CUSTOMER_PHONE
    assert document["customer"]["email"] == CUSTOMER_EMAIL
    assert document["addresses"][0]["detail"] == CUSTOMER_ADDRESS
    order = document["orders"][0]
    assert order["invoices"][0]["title"] == CUSTOMER_NAME and len(order["items"]) == 1
    assert CUSTOMER_ADDRESS in order["returns"][0]["reason"]
    assert document["handoff_tickets"][0]["messages"][0]["text"].startswith("我是")
    for row in (document["handoff_tickets"][0], document["ratings"][0]):  # no keyed hashes
        assert row["conversation_id"] == people.anonymous and "conversation_ref" not in row
    assert document["ratings"][0]["comment"].endswith("太慢了")
    conversations = {c["conversation_id"]: c["events"] for c in document["conversations"]}
    assert set(conversations) == {people.logged_in, people.anonymous}
    texts = [e.get("text") for e in conversations[people.logged_in] if e["event"] == "user"]
    assert texts == [f"我的电话{CUSTOMER_PHONE}"]
    text = out.read_text("utf-8")
    assert OTHER_NAME not in text and OTHER_PHONE not in text and "customer_token" not in text


def test_an_unknown_customer_or_store_is_a_clear_error(people, tracker_for_shop, tmp_path, capsys):
    assert main(["privacy", "export", "999999", "--tracker-db", tracker_for_shop]) == 1
    assert "there is no customer with id 999999" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path}/nowhere.db"
    assert main(["privacy", "erase", "--conversation", "x", "--tracker-db", missing]) == 1
    assert "there is no conversation store" in capsys.readouterr().err


def test_a_due_account_erasure_also_erases_the_conversations(people, mini_shop, tracker_for_shop):
    from datetime import datetime

    from kefu.account import request_erasure

    with session_scope(mini_shop) as session:
        request_erasure(session, people.customer, "conv/erase", datetime(2020, 1, 1))
    assert main(["privacy", "erase-due", "--tracker-db", tracker_for_shop]) == 0
    assert stored_conversations(tracker_for_shop) == {people.other_conversation}
    assert_absent(raw_bytes(tracker_for_shop), [CUSTOMER_PHONE, CUSTOMER_ADDRESS])


def test_erasure_reaches_the_pseudonymous_analytics_facts(
    people, tracker_for_shop, monkeypatch, capsys
):
    from sqlalchemy import create_engine, func, insert

    from kefu.analytics import conversation_facts
    from kefu.analytics import metadata as analytics_metadata
    from kefu.identity import pseudonymise
    from tests.shop.conftest import _drop_postgres, _postgres_url

    url, secret = _postgres_url(), "analytics-secret-for-the-privacy-tests-0123456789"
    monkeypatch.setenv("KEFU_ANALYTICS_DB_URL", url)
    monkeypatch.setenv("KEFU_ANALYTICS_SECRET", secret)
    engine = create_engine(url, future=True)
    try:
        analytics_metadata.create_all(engine)
        with engine.begin() as connection:
            for n, conversation in enumerate([people.anonymous, people.other_conversation]):
                connection.execute(
                    insert(conversation_facts).values(
                        event_key=f"k{n}",
                        conversation=pseudonymise(conversation, secret),
                        event="user",
                        at=1.0,
                    )
                )
        command = ["privacy", "erase", "--conversation", people.anonymous]
        assert main([*command, "--tracker-db", tracker_for_shop]) == 0
        assert "1 analytics fact(s) deleted" in capsys.readouterr().out
        with engine.connect() as connection:
            left = connection.scalars(select(conversation_facts.c.conversation)).all()
            assert left == [pseudonymise(people.other_conversation, secret)]
            assert connection.scalar(select(func.count()).select_from(conversation_facts)) == 1
    finally:
        engine.dispose()
        _drop_postgres(url)
