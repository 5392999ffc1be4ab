"""The real services of the production profile (PostgreSQL, Redis, RabbitMQ on 127.0.0.1 in CI).

``KEFU_TEST_PG_URL``, ``KEFU_TEST_REDIS_URL`` and ``KEFU_TEST_BROKER_URL`` point elsewhere.  A
service that cannot be reached skips the test, except under CI (``CI=true``): there it fails.
"""

from __future__ import annotations

import asyncio
import os
import socket
from urllib.parse import urlsplit

import aio_pika
import pytest

from tests.shop.conftest import _drop_postgres, _postgres_url

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BROKER_URL = os.environ.get("KEFU_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def require(url: str, default_port: int) -> None:
    """Skip (fail under CI) unless something listens at ``url``'s host and port."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or default_port), timeout=2).close()
    except OSError as error:
        if os.environ.get("CI"):
            pytest.fail(f"{url.split('@')[-1]} is required in CI but unreachable: {error}")
        pytest.skip(f"{url.split('@')[-1]} not reachable: {error}")


@pytest.fixture
def redis_url() -> str:
    require(REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def broker_url() -> str:
    require(BROKER_URL, 5672)
    return BROKER_URL


@pytest.fixture
def tracker_db_url():
    """A throw-away PostgreSQL database for Rasa's tracker store."""
    url = _postgres_url()
    yield url
    _drop_postgres(url)


async def raw_bodies(url: str, queue: str, count: int, timeout: float = 20) -> list[bytes]:
    """Up to ``count`` message bodies taken from ``queue`` as RabbitMQ holds them, within
    ``timeout`` seconds."""
    connection = await aio_pika.connect_robust(url)
    bodies: list[bytes] = []
    async with connection:
        channel = await connection.channel()
        box = await channel.declare_queue(queue, durable=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(bodies) < count and loop.time() < deadline:
            message = await box.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            await message.ack()
            bodies.append(message.body)
    return bodies
