"""The analytics consumer (kefu/analytics.py) on the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import aio_pika
import pytest
from sqlalchemy import create_engine, select

from kefu.analytics import consume, conversation_facts, fact, main

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


async def _publish(url: str, queue: str, bodies: list[bytes]) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def test_events_become_facts_once_without_personal_data(broker_url, engine):
    queue = f"kefu_test_{uuid.uuid4().hex[:8]}"
    bodies = [json.dumps(e, ensure_ascii=False).encode() for e in EVENTS]
    bodies += [bodies[1], b"not json", json.dumps({"event": "user"}).encode()]  # a redelivery
    await _publish(broker_url, queue, bodies)
    try:
        read = await consume(broker_url, queue, engine, SECRET, idle_seconds=1.0)
    finally:
        connection = await aio_pika.connect_robust(broker_url)
        async with connection:
            await (await connection.channel()).queue_delete(queue)
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


def test_a_fact_needs_a_conversation_event():
    assert fact({"event": "user", "timestamp": 1.0}, SECRET) is None
    assert fact({"sender_id": "rest:a", "event": "user", "timestamp": "soon"}, SECRET) is None
    assert fact(EVENTS[0], SECRET)["conversation"] == fact(EVENTS[2], SECRET)["conversation"]


def test_the_consumer_refuses_to_start_without_its_settings(capsys):
    assert main({"KEFU_ANALYTICS_DB_URL": "sqlite:///x.db"}) == 2
    assert "KEFU_ANALYTICS_SECRET" in capsys.readouterr().err
