"""The encrypted store keeps recently active sessions decrypted: a turn decrypts only the rows
stored since the last read, yet the stored rows stay the truth (another instance's turns,
erasure, new sessions), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

from kefu_rasa.tracker_cache import CachedSession, SessionCache, StoredRow
from tests.privacy.test_tracker_store import CONVERSATION, conversation, store


def run(coroutine):
    return asyncio.run(coroutine)


def counting_decryptions(tracker_store, monkeypatch) -> list[int]:
    calls = [0]
    decrypt = tracker_store.vault.cipher.decrypt

    def counted(*args, **kwargs):
        calls[0] += 1
        return decrypt(*args, **kwargs)

    monkeypatch.setattr(tracker_store.vault.cipher, "decrypt", counted)
    return calls


def texts(tracker) -> list[str]:
    return [e.text for e in tracker.events if isinstance(e, UserUttered | BotUttered)]


def test_a_turn_decrypts_only_the_rows_stored_since_the_last_read(
    data_key, tracker_db, monkeypatch
):
    tracker_store = store(tracker_db)
    run(tracker_store.save(conversation()))
    tracker = run(tracker_store.retrieve(CONVERSATION))
    decryptions = counting_decryptions(tracker_store, monkeypatch)
    for n in range(3):
        tracker.update(UserUttered(f"第{n}个问题", {"name": "inform", "confidence": 1.0}))
        tracker.update(BotUttered(f"第{n}个回答"))
        run(tracker_store.save(tracker))
        tracker = run(tracker_store.retrieve(CONVERSATION))
    assert decryptions[0] == 0  # the rows this process wrote are known without decrypting
    fresh = store(tracker_db)  # a store with nothing kept reads every row
    assert [e.as_dict() for e in run(fresh.retrieve(CONVERSATION)).events] == [
        e.as_dict() for e in tracker.events
    ]
    tracker_store.engine.dispose()
    fresh.engine.dispose()


def test_turns_taken_by_another_instance_are_read(data_key, tracker_db):
    first, second = store(tracker_db), store(tracker_db)
    run(first.save(conversation()))
    tracker = run(first.retrieve(CONVERSATION))
    other = run(second.retrieve(CONVERSATION))
    other.update(BotUttered("另一台服务器的回答"))
    run(second.save(other))
    again = run(first.retrieve(CONVERSATION))
    assert texts(again)[-1] == "另一台服务器的回答"
    again.update(BotUttered("回到第一台"))
    run(first.save(again))  # the count comes from the kept session, brought up to date
    assert texts(run(store(tracker_db).retrieve(CONVERSATION)))[-2:] == [
        "另一台服务器的回答",
        "回到第一台",
    ]
    assert len(tracker.events) + 2 == len(run(second.retrieve(CONVERSATION)).events)
    first.engine.dispose()
    second.engine.dispose()


def test_an_erased_conversation_is_not_served_from_memory(data_key, tracker_db):
    tracker_store = store(tracker_db)
    run(tracker_store.save(conversation()))
    assert run(tracker_store.retrieve(CONVERSATION)) is not None
    with tracker_store.engine.begin() as connection:
        assert tracker_store.vault.erase(connection, [CONVERSATION])
    assert run(tracker_store.retrieve(CONVERSATION)) is None
    run(tracker_store.save(conversation()))  # the customer writes again: a new conversation
    assert len(run(tracker_store.retrieve(CONVERSATION)).events) == len(conversation().events)
    tracker_store.engine.dispose()


def test_a_new_session_is_cut_as_rasas_own_sql_store_cuts_it(data_key, tracker_db):
    tracker_store = store(tracker_db)
    run(tracker_store.save(conversation()))
    tracker = run(tracker_store.retrieve(CONVERSATION))
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("新的会话", {"name": "inform", "confidence": 1.0}))
    run(tracker_store.save(tracker))
    kept = run(tracker_store.retrieve(CONVERSATION))
    assert isinstance(kept.events[0], SessionStarted) and texts(kept) == ["新的会话"]
    kept.update(BotUttered("新会话的回答"))
    run(tracker_store.save(kept))
    whole = run(store(tracker_db).retrieve(CONVERSATION))
    assert [e.as_dict() for e in whole.events] == [e.as_dict() for e in kept.events]
    tracker_store.engine.dispose()


def test_kept_sessions_are_bounded_and_forgotten_after_silence():
    now = [0.0]
    cache = SessionCache(size=2, ttl_seconds=60, clock=lambda: now[0])
    for name in ("a", "b", "c"):
        cache.put(name, CachedSession(name, last_id=1))
    assert cache.get("a") is None and len(cache) == 2
    now[0] = 61.0
    assert cache.get("b") is None and cache.get("c") is None and len(cache) == 0


def test_the_session_window_follows_the_latest_start():
    session = CachedSession("h", last_id=0)
    session.add(
        [
            StoredRow(1, "user", 1.0, '{"event": "user"}'),
            StoredRow(2, "session_started", 2.0, '{"event": "session_started"}'),
            StoredRow(3, "action", 3.0, '{"event": "action"}'),
        ]
    )
    assert [e["event"] for e in session.events] == ["session_started", "action"]
    assert session.last_id == 3 and session.events is not session.events
