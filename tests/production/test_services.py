"""Rasa's stores built from endpoints.production.yml work on the real services: a conversation
saved under its Redis lock lands in PostgreSQL and its events arrive on RabbitMQ in order."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid

import aio_pika
import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from redis import Redis
from sqlalchemy import create_engine, text

from kefu.privacy.broker_events import read_event
from kefu.privacy.cipher import Cipher
from kefu.privacy.keys import load_keyring
from kefu.production import PRODUCTION_ENDPOINTS, ROOT, endpoint_environment
from kefu_rasa.broker import PikaEventBroker, _flushed
from tests.production.conftest import raw_bodies


@pytest.fixture
def production_env(monkeypatch, tracker_db_url, redis_url, broker_url):
    queue = f"kefu_test_{uuid.uuid4().hex[:8]}"
    env = {
        "KEFU_PROFILE": "production",
        "KEFU_TRACKER_DB_URL": tracker_db_url,
        "KEFU_REDIS_URL": redis_url,
        "KEFU_BROKER_URL": broker_url,
        "KEFU_BROKER_QUEUE": queue,
        "KEFU_ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook",
        "KEFU_ACTION_SECRET": "x" * 32,
        "KEFU_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    for name, value in {**env, **endpoint_environment(env)}.items():
        monkeypatch.setenv(name, value)
    yield env

    async def drop() -> None:
        connection = await aio_pika.connect_robust(broker_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)

    asyncio.run(drop())


async def _consume(url: str, queue: str, count: int, cipher: Cipher) -> list[dict]:
    """The events of up to ``count`` messages, opened; each must have been sealed."""
    bodies = await raw_bodies(url, queue, count)
    opened = [read_event(body, cipher) for body in bodies]
    assert all(sealed for _, sealed in opened)
    return [event for event, _ in opened]


async def test_a_conversation_is_locked_in_redis_stored_in_postgres_and_published(
    production_env,
):
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / PRODUCTION_ENDPOINTS))
    broker = await EventBroker.create(endpoints.event_broker)
    assert isinstance(broker, PikaEventBroker)  # kefu's, not "no broker" after a typo
    store = TrackerStore.create(endpoints.tracker_store, event_broker=broker)
    locks = LockStore.create(endpoints.lock_store)
    conversation = f"rest:{uuid.uuid4().hex}"
    redis = Redis.from_url(production_env["KEFU_REDIS_URL"])
    events = [
        ActionExecuted("action_listen"),
        UserUttered("你好", {"name": "greet", "confidence": 0.99}),
        ActionExecuted("utter_greet"),
        BotUttered("您好！有什么可以帮您？"),
        ActionExecuted("action_listen"),
    ]
    try:
        async with locks.lock(conversation):
            assert redis.exists(f"kefu:lock:{conversation}")  # other instances wait for it
            tracker = DialogueStateTracker.from_events(conversation, events)
            await store.save(tracker)
            assert await broker.flush()  # confirmed by RabbitMQ before the reply would go out
            assert not broker._background_tasks
        assert not redis.exists(f"kefu:lock:{conversation}")
        received = await _consume(
            production_env["KEFU_BROKER_URL"],
            production_env["KEFU_BROKER_QUEUE"],
            len(events),
            Cipher(load_keyring()),  # the data key of production_env, as the Rasa instance's
        )
    finally:
        await broker.close()
        redis.close()

    engine = create_engine(production_env["KEFU_TRACKER_DB_URL"], future=True)
    with engine.connect() as connection:
        id_hash = store.vault.id_hash(connection, conversation)  # ids are stored as keyed hashes
        rows = connection.execute(
            text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
            {"s": id_hash},
        ).all()
        assert [row.type_name for row in rows] == [event.type_name for event in events]
        assert not any("你好" in row.data or conversation in row.data for row in rows)  # sealed
        assert (
            connection.execute(
                text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": conversation}
            ).scalar()
            == 0
        )
    engine.dispose()
    assert [event["sender_id"] for event in received] == [conversation] * len(events)
    assert [event["event"] for event in received] == [event.type_name for event in events]
    assert received[1]["text"] == "你好"
    restored = await store.retrieve(conversation)
    assert restored is not None and restored.latest_message.text == "你好"


class FakeBroker:
    def __init__(self) -> None:
        self.flushed = 0

    async def flush(self) -> bool:
        self.flushed += 1
        return True


async def test_saving_a_tracker_waits_for_the_broker():
    saved = []

    async def save_tracker(processor, tracker):
        saved.append(tracker)

    broker = FakeBroker()
    processor = type("Processor", (), {"tracker_store": type("S", (), {"event_broker": broker})})
    await _flushed(save_tracker)(processor, "tracker")
    assert saved == ["tracker"] and broker.flushed == 1
    processor.tracker_store.event_broker = None  # the embedded profile has no broker
    await _flushed(save_tracker)(processor, "tracker")
    assert len(saved) == 2
