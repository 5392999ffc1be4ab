"""The encrypted tracker store on SQLite and PostgreSQL: nothing personal in the raw database,
the tracker round-trips, tokens are not stored, a wrong key stops the start."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import make_url

from kefu.identity import issue_token
from kefu.privacy.conversations import EVENTS, metadata
from kefu.privacy.keys import KeyConfigError, UnknownKeyError
from kefu_rasa.tracker_store import EncryptedTrackerStore, SQLiteTrackerStore, tracker_url
from tests.privacy.conftest import (
    CUSTOMER_ADDRESS,
    CUSTOMER_NAME,
    CUSTOMER_PHONE,
    IDENTITY_SECRET,
    assert_absent,
    new_key_text,
    raw_bytes,
)

DOMAIN = Domain.from_dict(
    {
        "intents": ["inform"],
        "slots": {
            "new_address": {"type": "any", "mappings": [{"type": "custom"}]},
        },
    }
)
CONVERSATION = f"telegram:{CUSTOMER_PHONE}"


def store(url: str) -> EncryptedTrackerStore:
    return EncryptedTrackerStore(domain=DOMAIN, host=url)


def conversation(sender: str = CONVERSATION, customer_id: int = 7) -> DialogueStateTracker:
    token = issue_token(customer_id, IDENTITY_SECRET, ttl_seconds=600)
    text = f"我是{CUSTOMER_NAME}，电话{CUSTOMER_PHONE}，新地址{CUSTOMER_ADDRESS}"
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered(
                text,
                intent={"name": "inform", "confidence": 1.0},
                metadata={"customer_token": token},
                input_channel="telegram",
            ),
            SlotSet("new_address", {"detail": CUSTOMER_ADDRESS, "recipient": CUSTOMER_NAME}),
            BotUttered(f"好的，{CUSTOMER_NAME}，地址改为{CUSTOMER_ADDRESS}"),
        ],
        DOMAIN.slots,
    )


def test_nothing_personal_in_the_raw_database_yet_the_tracker_round_trips(data_key, tracker_db):
    first = store(tracker_db)
    tracker = conversation()
    token = tracker.latest_message.metadata["customer_token"]
    asyncio.run(first.save(tracker))
    first.engine.dispose()

    blob = raw_bytes(tracker_db)
    assert_absent(blob)
    assert token.encode() not in blob
    assert b"inform" in blob  # intent names stay readable for queries and the report

    again = store(tracker_db)
    restored = asyncio.run(again.retrieve(CONVERSATION))
    assert restored is not None
    assert restored.latest_message.text == tracker.latest_message.text
    assert restored.get_slot("new_address")["detail"] == CUSTOMER_ADDRESS
    assert [e.as_dict()["event"] for e in restored.events] == [
        e.as_dict()["event"] for e in tracker.events
    ]
    assert "customer_token" not in (restored.latest_message.metadata or {})
    assert asyncio.run(again.keys()) == [CONVERSATION]
    with again.engine.connect() as connection:
        assert again.vault.of_customer(connection, 7) == [CONVERSATION]
        assert again.vault.of_customer(connection, 8) == []
    again.engine.dispose()


def test_saving_again_appends_only_new_events(data_key, tracker_db):
    tracker_store = store(tracker_db)
    tracker = conversation()
    asyncio.run(tracker_store.save(tracker))
    tracker.update(BotUttered("还有什么可以帮您？"))
    asyncio.run(tracker_store.save(tracker))
    asyncio.run(tracker_store.save(tracker))
    restored = asyncio.run(tracker_store.retrieve(CONVERSATION))
    assert len(restored.events) == len(tracker.events)
    assert restored.events[-1].text == "还有什么可以帮您？"
    assert asyncio.run(tracker_store.retrieve("telegram:other")) is None
    tracker_store.engine.dispose()


def test_a_wrong_key_stops_the_start_with_a_clear_error(data_key, tracker_db, monkeypatch):
    first = store(tracker_db)
    asyncio.run(first.save(conversation()))
    first.engine.dispose()
    monkeypatch.setenv("KEFU_DATA_KEY", new_key_text())
    with pytest.raises(UnknownKeyError, match="not among the keys of KEFU_DATA_KEY"):
        store(tracker_db)


def test_production_without_a_key_does_not_start(tmp_path, monkeypatch):
    monkeypatch.delenv("KEFU_DATA_KEY", raising=False)
    monkeypatch.setenv("KEFU_DATA_KEY_FILE", str(tmp_path / "missing.key"))
    monkeypatch.setenv("KEFU_PROFILE", "production")
    with pytest.raises(KeyConfigError, match="production needs a data key"):
        SQLiteTrackerStore(domain=DOMAIN, db=str(tmp_path / "trackers.db"))
    assert not (tmp_path / "trackers.db").exists()


def test_rows_written_before_encryption_are_sealed_at_start(data_key, tracker_db):
    engine = create_engine(tracker_db, future=True)
    metadata.create_all(engine, tables=[EVENTS])
    data = {
        "event": "user",
        "text": f"电话{CUSTOMER_PHONE}",
        "timestamp": 1.0,
        "parse_data": {"intent": {"name": "inform"}, "entities": []},
    }
    with engine.begin() as connection:
        connection.execute(
            insert(EVENTS).values(
                sender_id=CONVERSATION, type_name="user", timestamp=1.0, data=json.dumps(data)
            )
        )
    engine.dispose()
    tracker_store = store(tracker_db)
    tracker_store.engine.dispose()
    assert_absent(raw_bytes(tracker_db), [CUSTOMER_PHONE])
    restored = asyncio.run(store(tracker_db).retrieve(CONVERSATION))
    assert restored.latest_message.text == f"电话{CUSTOMER_PHONE}"


def test_the_database_url_comes_from_endpoints_then_the_environment():
    assert tracker_url("x.db", "postgresql://u@h/db") == "postgresql://u@h/db"
    assert tracker_url("x.db", environ={"KEFU_TRACKER_DB_URL": "postgresql://h/c"}) == (
        "postgresql://h/c"
    )
    assert tracker_url("x.db", environ={}) == "sqlite:///x.db"
    url = tracker_url("conv", "pg", "postgresql", port=6543, username="kefu", password="pw")
    assert (url.host, url.port, url.database, url.username) == ("pg", 6543, "conv", "kefu")


def test_the_production_endpoints_settings_open_the_encrypted_store(data_key, tracker_db):
    """endpoints.production.yml's tracker_store settings (strings from the environment), with
    the type switched to this store."""
    if not tracker_db.startswith("postgresql"):
        pytest.skip("the production profile keeps conversations in PostgreSQL")
    url = make_url(tracker_db)
    tracker_store = EncryptedTrackerStore(
        domain=DOMAIN,
        dialect="postgresql",
        host=url.host,
        port=str(url.port),
        db=url.database,
        username=url.username,
        password="",
    )
    asyncio.run(tracker_store.save(conversation()))
    assert asyncio.run(tracker_store.keys()) == [CONVERSATION]
    tracker_store.engine.dispose()
    assert_absent(raw_bytes(tracker_db))


def test_instances_starting_together_seal_the_old_rows_once(data_key, tracker_db):
    # two Rasa instances of a cluster start at once on the same database with rows written
    # before encryption: neither may fail on the other's sealing
    engine = create_engine(tracker_db, future=True)
    metadata.create_all(engine, tables=[EVENTS])
    with engine.begin() as connection:
        for n in range(300):
            data = {
                "event": "user",
                "text": f"第{n}条",
                "timestamp": float(n),
                "parse_data": {"intent": {"name": "inform"}, "entities": []},
            }
            connection.execute(
                insert(EVENTS).values(
                    sender_id=f"rest:{n}",
                    type_name="user",
                    timestamp=float(n),
                    data=json.dumps(data),
                )
            )
    engine.dispose()
    with ThreadPoolExecutor(max_workers=2) as pool:
        stores = list(pool.map(lambda _: store(tracker_db), range(2)))
    assert len(asyncio.run(stores[0].keys())) == 300
    restored = asyncio.run(stores[1].retrieve("rest:299"))
    assert restored.latest_message.text == "第299条"
