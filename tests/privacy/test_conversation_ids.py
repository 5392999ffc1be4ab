"""Conversation ids in the shop database (hand-off tickets, ratings, the console's audit), on
SQLite and PostgreSQL: stored encrypted and found by their blind index, so the raw file and a
dump hold none while kefu finds the rows, keeps one active ticket per conversation, moves them
to a new key (``kefu keys rotate``) and erases them; migration 0010 seals the rows of an older
database."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kefu import migrate
from kefu.cli import main
from kefu.console.guard import audit, audit_log
from kefu.csat import already_rated, record_rating
from kefu.db import make_engine, make_session_factory, session_scope
from kefu.handoff import open_ticket
from kefu.models import Base, ConsoleAudit, CsatRating, HandoffTicket
from kefu.privacy.cipher import is_envelope
from kefu.privacy.erasure import erase_conversation_records
from tests.privacy.conftest import CUSTOMER_PHONE, assert_absent, new_key_text, raw_bytes

CONVERSATION = f"telegram:{CUSTOMER_PHONE}"
OTHER = "wechat:oXq3-openid-7f2c9d"
IDS = (CONVERSATION, OTHER, CUSTOMER_PHONE)
TABLES = ("handoff_tickets", "csat_ratings", "console_audit")
NOW = datetime(2026, 12, 1, 2, 0)


def hand_off(session, conversation: str):
    """The conversation's active ticket, opened when it has none."""
    return open_ticket(
        session,
        conversation_id=conversation,
        channel=conversation.split(":")[0],
        language="zh",
        reason="requested",
        transcript=[],
        intents=[],
        entities={},
        sentiment=None,
        now=NOW,
    )


def write_everything(factory, conversation: str) -> int:
    """A hand-off ticket, a rating and the agent's read of the ticket; the ticket's id."""
    with session_scope(factory) as session:
        ticket = hand_off(session, conversation)
        record_rating(
            session,
            conversation_id=conversation,
            rating=4,
            comment=None,
            intents=[],
            language="zh",
            channel=ticket.channel,
            human_involved=True,
            now=NOW,
        )
        audit(session, "wang", "read", NOW, ticket_id=ticket.id, conversation_id=conversation)
        return ticket.id


def found(factory, conversation: str) -> tuple[int, int, int]:
    """How many tickets, ratings and audit rows are found by the conversation's id."""
    with session_scope(factory) as session:
        return tuple(
            session.scalar(select(func.count()).where(model.of_conversation(conversation)))
            for model in (HandoffTicket, CsatRating, ConsoleAudit)
        )


def test_no_conversation_id_in_the_raw_shop_database_yet_kefu_finds_its_rows(
    data_key, factory, database_url
):
    ticket_id = write_everything(factory, CONVERSATION)
    write_everything(factory, OTHER)
    factory.kw["bind"].dispose()  # SQLite: the last connection folds in the WAL
    assert_absent(raw_bytes(database_url), IDS)

    assert found(factory, CONVERSATION) == (1, 1, 1)
    with session_scope(factory) as session:
        ticket = session.get(HandoffTicket, ticket_id)
        assert ticket.conversation_id == CONVERSATION  # what the console sends Rasa
        assert already_rated(session, CONVERSATION, NOW)
        assert not already_rated(session, "telegram:1", NOW)
        reads = audit_log(session, datetime(2026, 1, 1, tzinfo=timezone.utc))
        assert [entry.conversation_id for entry in reads] == [CONVERSATION, OTHER]


def test_one_active_ticket_per_conversation_though_each_id_is_sealed_differently(data_key, factory):
    first = write_everything(factory, CONVERSATION)
    with session_scope(factory) as session:
        assert hand_off(session, CONVERSATION).id == first
    row = {"channel": "telegram", "language": "zh", "reason": "requested", "created_at": NOW}
    with pytest.raises(IntegrityError), session_scope(factory) as session:
        session.add(HandoffTicket(conversation_id=CONVERSATION, status="claimed", **row))
        session.flush()
    with session_scope(factory) as session:  # closed ones are not limited
        session.add(HandoffTicket(conversation_id=CONVERSATION, status="closed", **row))
    assert found(factory, CONVERSATION)[0] == 2


def test_rotation_moves_ids_and_indexes_to_the_new_key_and_erasure_finds_them(
    data_key, factory, database_url, tmp_path, monkeypatch, capsys
):
    ticket_id = write_everything(factory, CONVERSATION)
    write_everything(factory, OTHER)
    new = new_key_text()
    monkeypatch.setenv("KEFU_DATA_KEY", f"{data_key},{new}")  # the new key is active
    assert found(factory, CONVERSATION) == (1, 1, 1)  # indexed by the old key
    with session_scope(factory) as session:
        assert already_rated(session, CONVERSATION, NOW)

    store = tmp_path / "trackers.db"
    store.touch()
    monkeypatch.setenv("KEFU_DB_URL", database_url)
    assert main(["keys", "rotate", "--batch", "2", "--tracker-db", f"sqlite:///{store}"]) == 0
    assert "row(s) of the shop database" in capsys.readouterr().out

    monkeypatch.setenv("KEFU_DATA_KEY", new)  # the old key retired
    assert found(factory, CONVERSATION) == (1, 1, 1)
    with session_scope(factory) as session:
        assert session.get(HandoffTicket, ticket_id).conversation_id == CONVERSATION
        assert erase_conversation_records(session, [CONVERSATION], NOW) == (1, 1)
    assert found(factory, CONVERSATION) == (0, 0, 0)
    assert found(factory, OTHER) == (1, 1, 1)
    with session_scope(factory) as session:
        audited = session.scalars(select(ConsoleAudit).order_by(ConsoleAudit.id)).all()
        assert [a.conversation_id for a in audited] == [None, OTHER]
        assert audited[0].conversation_ref is None
    factory.kw["bind"].dispose()
    assert_absent(raw_bytes(database_url), IDS)


# ----------------------------------------------------------------------------- migration 0010


@pytest.fixture
def blank_database(tracker_db):
    """An empty database on each backend (the conftest's, for a shop database here)."""
    return tracker_db


def insert(connection, table: str, rows: list[dict]) -> None:
    times = ("at", "created_at")
    columns = [sa.column(c, sa.DateTime() if c in times else None) for c in rows[0]]
    connection.execute(sa.insert(sa.table(table, *columns)), rows)


def old_rows(connection) -> None:
    """Rows as kefu wrote them before migration 0010: two tickets and a rating of one
    conversation, a ticket of another, and more audit rows than one batch."""
    ticket = {"channel": "telegram", "language": "zh", "reason": "requested", "summary": "",
              "intents": "[]", "entities": "{}", "transcript": "[]", "created_at": NOW}  # fmt: skip
    insert(
        connection,
        "handoff_tickets",
        [
            {**ticket, "conversation_id": CONVERSATION, "status": "closed"},
            {**ticket, "conversation_id": CONVERSATION, "status": "open"},
            {**ticket, "conversation_id": OTHER, "status": "claimed"},
        ],
    )
    rating = {"rating": 5, "intents": "[]", "language": "zh", "channel": "telegram",
              "human_involved": True, "created_at": NOW}  # fmt: skip
    insert(connection, "csat_ratings", [{**rating, "conversation_id": CONVERSATION}])
    audit = {"at": NOW, "agent": "wang", "action": "read", "ticket_id": 2}
    insert(
        connection,
        "console_audit",
        [{**audit, "conversation_id": OTHER}] * 1200
        + [{**audit, "conversation_id": CONVERSATION}, {**audit, "conversation_id": None}],
    )


def stored(url: str) -> tuple[set[str | None], list]:
    """The ids as the tables hold them, and how the tables differ from the models."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            ids = {
                value
                for table in TABLES
                for value in connection.scalars(sa.text(f"SELECT conversation_id FROM {table}"))
            }
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    return ids, [d for d in diffs if any(table in repr(d) for table in TABLES)]


def test_the_migration_seals_and_indexes_existing_rows_and_downgrades(data_key, blank_database):
    migrate.upgrade(blank_database, "0009")
    engine = make_engine(blank_database)
    with engine.begin() as connection:
        old_rows(connection)
    engine.dispose()
    assert CONVERSATION.encode() in raw_bytes(blank_database)  # what the test looks for

    migrate.upgrade(blank_database)
    assert_absent(raw_bytes(blank_database), IDS)
    factory = make_session_factory(make_engine(blank_database))
    try:
        assert found(factory, CONVERSATION) == (2, 1, 1)
        assert found(factory, OTHER) == (1, 0, 1200)
        with session_scope(factory) as session:
            assert session.get(HandoffTicket, 3).conversation_id == OTHER
            assert session.get(ConsoleAudit, 1202).conversation_id is None
            assert already_rated(session, CONVERSATION, NOW)
        with pytest.raises(IntegrityError), session_scope(factory) as session:
            session.add(
                HandoffTicket(
                    conversation_id=CONVERSATION,
                    channel="telegram",
                    language="zh",
                    reason="requested",
                    status="claimed",
                    created_at=NOW,
                )
            )
            session.flush()
    finally:
        factory.kw["bind"].dispose()

    migrate.downgrade(blank_database, "0009")
    assert stored(blank_database)[0] == {CONVERSATION, OTHER, None}
    migrate.upgrade(blank_database)
    ids, differences = stored(blank_database)
    assert all(is_envelope(value) for value in ids - {None}) and differences == []
