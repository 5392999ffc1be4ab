"""Two Rasa instances and two action servers behind HAProxy on PostgreSQL, Redis and RabbitMQ
(scripts/cluster.py, the production profile): limits, the verification lock and socket.io
across instances, then concurrent conversations while one Rasa instance is killed."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import aio_pika
import pytest
import requests

from kefu.db import make_engine, make_session_factory, session_scope
from kefu.privacy.broker_events import read_event
from kefu.privacy.cipher import Cipher
from kefu.privacy.keys import load_keyring
from scripts.cluster import (
    DEFAULT_BROKER_URL,
    ORIGINS,
    TEST_DB_URL,
    Cluster,
    data_key,
    drop_queue,
    running_cluster,
)
from tests.channels.socketio_client import Client
from tests.conftest import CHANNEL_SECRETS
from tests.demo_orders import forget_failures, order_of_nth_customer
from tests.integration.test_orders import phone_last4, private_facts, texts_of, wrong_last4

pytestmark = pytest.mark.model

CUSTOMERS = 10
CONVERSATION = ["你好", "有什么新款手机推荐？", "第二个怎么样", "谢谢"]
KILL_AFTER = 12  # answered messages, about a third of the way
WORKERS = 5  # customers talking at the same time


@pytest.fixture(scope="module")
def cluster():
    queue = f"kefu_test_{uuid.uuid4().hex[:8]}"
    try:
        # the cluster runs the web chat and REST only: not the messaging channels that the
        # integration tests' fake platforms served earlier in this session
        with pytest.MonkeyPatch.context() as patch:
            for name in CHANNEL_SECRETS:
                patch.delenv(name, raising=False)
            # a database of its own, made anew: nothing from an earlier run or another key
            with running_cluster(
                broker_queue=queue, db_url=TEST_DB_URL, fresh_database=True
            ) as running:
                yield running
    except RuntimeError as error:
        pytest.fail(str(error))
    finally:
        drop_queue(os.environ.get("KEFU_BROKER_URL") or DEFAULT_BROKER_URL, queue)


@pytest.fixture(scope="module")
def shop_sessions(cluster):
    """Sessions on the cluster's shop database, with no failed proofs left from earlier runs."""
    engine = make_engine(cluster.db_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        forget_failures(session)
    yield factory
    engine.dispose()


def say(
    cluster: Cluster, base: str, sender: str, text: str, message_id: str | None = None
) -> requests.Response:
    body = {"sender": sender, "message": text}
    if message_id is not None:  # the same id on every try: the message is handled once
        body["message_id"] = message_id
    return requests.post(
        f"{base}/webhooks/rest/webhook",
        json=body,
        headers={"Authorization": f"Bearer {cluster.rest_token}"},
        timeout=90,
    )


def tracker_events(cluster: Cluster, conversation: str) -> list[dict]:
    answer = requests.get(
        f"{cluster.url}/conversations/{quote(conversation, safe='')}/tracker",
        params={"token": cluster.token, "include_events": "ALL"},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["events"]


def user_texts(events: list[dict]) -> list[str]:
    return [e["text"] for e in events if e["event"] == "user"]


def test_rate_limits_hold_across_instances(cluster):
    sender = uuid.uuid4().hex
    bases = [cluster.rasa_url(n % 2) for n in range(16)]  # half to each instance, at once
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda base: say(cluster, base, sender, "你好"), bases))
    assert all(answer.status_code == 200 for answer in answers)
    admitted = len(user_texts(tracker_events(cluster, f"rest:{sender}")))
    # one bucket for the conversation (burst 10, then 20 a minute) in Redis; per instance
    # buckets would have let all 16 through
    assert 1 <= admitted <= 12
    said = "\n".join(texts_of(answer.json()) for answer in answers)
    assert "稍等几秒" in said  # the customer is told to slow down


def test_the_verification_lock_holds_across_instances(cluster, shop_sessions):
    with session_scope(shop_sessions) as session:
        order = order_of_nth_customer(session, 5)
        number, right, wrong = order.order_no, phone_last4(order), wrong_last4(order)
        secret = private_facts(session, order)
    sender = uuid.uuid4().hex
    a, b = cluster.rasa_url(0), cluster.rasa_url(1)
    say(cluster, a, sender, f"查订单 {number}")
    say(cluster, b, sender, wrong)
    for _ in range(2):
        say(cluster, a, sender, number)
        last = say(cluster, b, sender, wrong).json()
    assert "分钟内不能再" in texts_of(last)
    other = uuid.uuid4().hex  # a new conversation on the other instance: still locked
    after = texts_of(say(cluster, a, other, f"查订单 {number}").json())
    after += texts_of(say(cluster, b, other, right).json())
    assert all(fact not in after for fact in secret)


async def test_an_agent_reply_via_one_instance_reaches_a_socketio_customer_on_the_other(cluster):
    async with Client() as customer:
        await customer.connect(cluster.rasa_url(1), origin=ORIGINS.split()[0])
        session = await customer.request_session()
        await customer.emit("user_uttered", {"message": "你好"})
        assert (await customer.next("bot_uttered", timeout=30)).get("text")
        reply = "人工客服小李：您好，我来帮您看看。"
        conversation = quote(f"webchat:{session}", safe="")
        answer = await asyncio.to_thread(
            requests.post,
            f"{cluster.rasa_url(0)}/conversations/{conversation}/tracker/events",
            params={
                "token": cluster.token,
                "output_channel": "latest",
                "execute_side_effects": "true",
            },
            json=[{"event": "bot", "text": reply}],
            timeout=30,
        )
        assert answer.status_code == 200
        assert (await customer.next("bot_uttered", timeout=10))["text"] == reply


class Conversations:
    """Customers talking through the balancer, retrying what the balancer could not deliver."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.answered = 0
        self.retries = 0
        self.unanswered: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.half_way = threading.Event()

    def send(self, sender: str, text: str) -> None:
        message_id = uuid.uuid4().hex
        for _ in range(10):
            try:
                answer = say(self.cluster, self.cluster.url, sender, text, message_id)
            except requests.RequestException:
                answer = None
            if answer is not None and answer.status_code == 200 and answer.json():
                with self.lock:
                    self.answered += 1
                    if self.answered >= KILL_AFTER:
                        self.half_way.set()
                return
            with self.lock:
                self.retries += 1
            time.sleep(1)
        self.unanswered.append((sender, text))

    def talk(self, sender: str) -> None:
        for text in CONVERSATION:
            self.send(sender, text)


async def _published(url: str, queue: str, senders: set[str]) -> dict[str, list[dict]]:
    """The events of ``senders`` on the queue, opened with the cluster's data key; every
    message must be sealed, with no conversation id in clear."""
    events: dict[str, list[dict]] = {sender: [] for sender in senders}
    cipher = Cipher(load_keyring({"KEFU_DATA_KEY": data_key()}))  # the instances' key
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        box = await channel.declare_queue(queue, durable=True)
        while (message := await box.get(fail=False)) is not None:
            await message.ack()
            assert not any(s.split(":")[-1].encode() in message.body for s in senders)
            event, sealed = read_event(message.body, cipher)
            assert sealed
            if event.get("sender_id") in events:
                events[event["sender_id"]].append(event)
    return events


def test_concurrent_conversations_survive_losing_an_instance(cluster):
    talk = Conversations(cluster)
    senders = [uuid.uuid4().hex for _ in range(CUSTOMERS)]
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        done = [pool.submit(talk.talk, sender) for sender in senders]
        assert talk.half_way.wait(120), "the cluster answered too few messages"
        cluster.kill_rasa(0)
        for each in done:
            each.result()
    elapsed = time.monotonic() - started
    assert not talk.unanswered
    assert talk.answered == CUSTOMERS * len(CONVERSATION)

    conversations = {f"rest:{sender}" for sender in senders}
    for conversation in conversations:
        events = tracker_events(cluster, conversation)
        assert user_texts(events) == CONVERSATION  # nothing lost, nothing twice, in order
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps)
        kinds = [e["event"] for e in events if e["event"] in ("user", "bot")]
        for n, kind in enumerate(kinds):  # every message has a reply before the next one
            if kind == "user":
                assert n + 1 < len(kinds) and kinds[n + 1] == "bot"

    published = asyncio.run(_published(cluster.broker_url, cluster.broker_queue, conversations))
    for conversation in conversations:
        assert user_texts(published[conversation]) == CONVERSATION

    metrics = requests.get(f"{cluster.rasa_url(1)}/metrics", timeout=10).text
    assert 'kefu_turns_total{channel="rest",outcome="ok"}' in metrics
    assert requests.get(f"{cluster.url}/metrics", timeout=10).status_code == 404
    print(f"\ncluster: {talk.answered} messages, {talk.retries} retries, {elapsed:.1f} s")
