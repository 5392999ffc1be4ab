"""The analytics consumer (kefu/analytics.py) on the real RabbitMQ and PostgreSQL, and the
events kefu's broker (kefu_rasa/broker.py) puts there: sealed, read back by the consumer."""

from __future__ import annotations

import json
import logging
import uuid

import aio_pika
import pytest
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, select

from kefu.analytics import consume, conversation_facts, fact, main
from kefu.identity import pseudonymise
from kefu.privacy.cipher import Cipher
from kefu.privacy.keys import KeyRing, UnknownKeyError, encode_key, new_key
from kefu.production import endpoint_environment
from kefu_rasa.broker import PikaEventBroker
from tests.production.conftest import REDIS_URL, raw_bodies

SECRET = "analytics-secret-" + "x" * 32
SENDER = "webchat:8f14e45fceea167a5a36dedd4bea2543"
EVENTS = [
    {"event": "action", "name": "action_listen", "sender_id": SENDER, "timestamp": 1.0},
    {
        "event": "user",
        "text": "我的手机号是13812345678，订单到哪了",
        "sender_id": SENDER,
        "timestamp": 2.0,
        "input_channel": "webchat",
        "parse_data": {
            "intent": {"name": "track_order", "confidence": 0.93},
            "entities": [{"entity": "phone", "value": "13812345678"}],
            "language": "zh",
        },
    },
    {"event": "bot", "text": "请提供订单号", "sender_id": SENDER, "timestamp": 3.0},
    {
        "event": "slot",
        "name": "phone",
        "value": "13812345678",
        "sender_id": SENDER,
        "timestamp": 4.0,
    },
]


@pytest.fixture
def engine(tracker_db_url):
    engine = create_engine(tracker_db_url, future=True)
    yield engine
    engine.dispose()


def cipher_of(*keys) -> Cipher:
    return Cipher(KeyRing(tuple(keys), "test keys"))


async def _publish(url: str, queue: str, bodies: list[bytes]) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def _drop(url: str, queues: list[str], exchange: str | None = None) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        if exchange:
            await channel.exchange_delete(exchange)


async def test_events_become_facts_once_without_personal_data(broker_url, engine):
    queue = f"kefu_test_{uuid.uuid4().hex[:8]}"
    bodies = [json.dumps(e, ensure_ascii=False).encode() for e in EVENTS]
    bodies += [bodies[1], b"not json", json.dumps({"event": "user"}).encode()]  # a redelivery
    await _publish(broker_url, queue, bodies)
    try:
        read = await consume(
            broker_url, queue, engine, SECRET, idle_seconds=1.0, cipher=cipher_of(new_key())
        )
    finally:
        await _drop(broker_url, [queue])
    assert read == len(bodies)
    with engine.connect() as connection:
        rows = connection.execute(select(conversation_facts).order_by("at")).mappings().all()
    assert [(r["event"], r["name"]) for r in rows] == [
        ("action", "action_listen"),
        ("user", "track_order"),
        ("bot", None),
        ("slot", None),
    ]
    user = rows[1]
    assert (user["channel"], user["language"], user["confidence"]) == ("webchat", "zh", 0.93)
    assert len({r["conversation"] for r in rows}) == 1
    stored = json.dumps([dict(r) for r in rows], ensure_ascii=False)
    assert "13812345678" not in stored and "订单" not in stored and SENDER not in stored
    assert SENDER.split(":")[1] not in stored


async def _sealing_broker(url: str, exchange: str, queues: list[str]) -> PikaEventBroker:
    """kefu's broker as endpoints.production.yml makes it, on a fanout exchange of its own (the
    shared ``rasa-exchange`` would copy other tests' events into these queues)."""
    settings = endpoint_environment(
        {
            "KEFU_TRACKER_DB_URL": "postgresql://unused@127.0.0.1/unused",  # not opened here
            "KEFU_REDIS_URL": REDIS_URL,
            "KEFU_BROKER_URL": url,
        }
    )
    config = EndpointConfig(
        settings["KEFU_BROKER_HOST"],
        port=settings["KEFU_BROKER_PORT"],
        username=settings["KEFU_BROKER_USER"],
        password=settings["KEFU_BROKER_PASSWORD"],
        queues=queues,
        exchange_name=exchange,
    )
    return await PikaEventBroker.from_endpoint_config(config)


async def test_events_leave_kefu_sealed_and_the_consumer_opens_them(
    broker_url, engine, monkeypatch, caplog
):
    key = new_key()
    monkeypatch.setenv("KEFU_DATA_KEY", encode_key(key))  # as a Rasa instance reads it
    token = "customer-token-0123456789abcdef"
    published = [dict(event) for event in EVENTS]
    published[1]["metadata"] = {"customer_token": token}
    name = f"kefu_test_{uuid.uuid4().hex[:8]}"
    raw, analytics = f"{name}_raw", f"{name}_analytics"  # the exchange copies to both
    broker = await _sealing_broker(broker_url, name, [raw, analytics])
    try:
        for event in published:
            broker.publish(event)
        assert await broker.flush()  # Rasa's publisher confirms, as before
        bodies = await raw_bodies(broker_url, raw, len(published))
        legacy = {**EVENTS[0], "timestamp": 0.5}  # published in clear before the upgrade
        await _publish(broker_url, analytics, [json.dumps(legacy).encode()])
        with pytest.raises(UnknownKeyError, match=key.key_id):  # a wrong key: a clear error
            await consume(
                broker_url, analytics, engine, SECRET, idle_seconds=0.5, cipher=cipher_of(new_key())
            )
        rotated = cipher_of(key, new_key())  # a key added since: the older one still opens
        with caplog.at_level(logging.WARNING, logger="kefu.analytics"):
            read = await consume(
                broker_url, analytics, engine, SECRET, idle_seconds=1.0, cipher=rotated
            )
    finally:
        await broker.close()
        await _drop(broker_url, [raw, analytics], exchange=name)

    assert len(bodies) == len(published)
    for body in bodies:
        for blob in (body, body.decode("unicode_escape").encode()):  # JSON escapes Chinese
            for secret in ("13812345678", "订单", "请提供", SENDER, SENDER.split(":")[1], token):
                assert secret.encode() not in blob, f"{secret!r} on RabbitMQ in clear"
    envelopes = [json.loads(body) for body in bodies]
    assert [e["event"] for e in envelopes] == [e["event"] for e in EVENTS]  # readable, to route
    assert len({e["conversation"] for e in envelopes}) == 1

    assert read == len(published) + 1  # nothing lost to the wrong key: it acknowledged none
    assert "1 plain events" in caplog.text
    with engine.connect() as connection:
        rows = connection.execute(select(conversation_facts).order_by("at")).mappings().all()
    assert [(r["event"], r["name"], r["at"]) for r in rows] == [
        ("action", "action_listen", 0.5),
        ("action", "action_listen", 1.0),
        ("user", "track_order", 2.0),
        ("bot", None, 3.0),
        ("slot", None, 4.0),
    ]
    assert (rows[2]["channel"], rows[2]["language"]) == ("webchat", "zh")
    # the pseudonym of the conversation id inside the envelope: the same as before sealing
    assert {r["conversation"] for r in rows} == {pseudonymise(SENDER, SECRET)}


def test_a_fact_needs_a_conversation_event():
    assert fact({"event": "user", "timestamp": 1.0}, SECRET) is None
    assert fact({"sender_id": "rest:a", "event": "user", "timestamp": "soon"}, SECRET) is None
    assert fact(EVENTS[0], SECRET)["conversation"] == fact(EVENTS[2], SECRET)["conversation"]


def test_the_consumer_refuses_to_start_without_its_settings(capsys):
    assert main({"KEFU_ANALYTICS_DB_URL": "sqlite:///x.db"}) == 2
    assert "KEFU_ANALYTICS_SECRET" in capsys.readouterr().err


def test_the_consumer_refuses_to_start_without_a_data_key_in_production(capsys, tmp_path):
    settings = {
        "KEFU_PROFILE": "production",
        "KEFU_ANALYTICS_DB_URL": "postgresql://unused@127.0.0.1/unused",
        "KEFU_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
        "KEFU_ANALYTICS_SECRET": SECRET,
        "KEFU_DATA_KEY_FILE": str(tmp_path / "missing.key"),
    }
    assert main(settings) == 2
    assert "KEFU_DATA_KEY" in capsys.readouterr().err
