"""The real services of the production profile (PostgreSQL, Redis, RabbitMQ on 127.0.0.1 in CI).

``KEFU_TEST_PG_URL``, ``KEFU_TEST_REDIS_URL`` and ``KEFU_TEST_BROKER_URL`` point elsewhere.  A
service that cannot be reached skips the test, except under CI (``CI=true``): there it fails.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

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
