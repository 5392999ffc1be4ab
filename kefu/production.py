"""The production profile: the services every instance shares, chosen by ``KEFU_PROFILE``.

``KEFU_PROFILE=production`` runs Rasa with ``endpoints.production.yml`` instead of the embedded
``endpoints.yml`` (SQLite, in-memory lock): conversations in PostgreSQL, the conversation lock in
Redis and every event on RabbitMQ, so any number of Rasa instances can serve the same customers.
The services are named by one URL each, like the shop database's ``KEFU_DB_URL``:

``KEFU_TRACKER_DB_URL``  ``postgresql://user:password@host:5432/db`` (default: ``KEFU_DB_URL``
                         when that is PostgreSQL): Rasa's SQL tracker store
``KEFU_REDIS_URL``       ``redis://[:password@]host:6379/0``: Rasa's lock store, and the shared
                         rate limits, WeChat caches and socket.io rooms
``KEFU_BROKER_URL``      ``amqp://user:password@host:5672/vhost``: Rasa's Pika event broker,
                         publishing to ``KEFU_BROKER_QUEUE`` (default ``kefu_events``)

Rasa's endpoint files take only plain ``${VARIABLES}``, so :func:`endpoint_environment` splits
these URLs into the ``KEFU_TRACKER_DB_*``, ``KEFU_LOCK_*`` and ``KEFU_BROKER_*`` variables that
``endpoints.production.yml`` names; ``kefu_rasa.server`` sets them before Rasa reads the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROFILE_ENV = "KEFU_PROFILE"
PRODUCTION = "production"
ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_ENDPOINTS = "endpoints.yml"
PRODUCTION_ENDPOINTS = "endpoints.production.yml"

TRACKER_DB_URL_ENV = "KEFU_TRACKER_DB_URL"
SHOP_DB_URL_ENV = "KEFU_DB_URL"
REDIS_URL_ENV = "KEFU_REDIS_URL"
BROKER_URL_ENV = "KEFU_BROKER_URL"
BROKER_QUEUE_ENV = "KEFU_BROKER_QUEUE"
DEFAULT_BROKER_QUEUE = "kefu_events"
LOCK_PREFIX = "kefu"  # Redis keys of the conversation locks: "kefu:lock:<conversation id>"


class ProfileError(ValueError):
    """The production profile lacks a service URL or has a malformed one."""


def is_production(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``KEFU_PROFILE`` is ``production``."""
    environ = os.environ if environ is None else environ
    return (environ.get(PROFILE_ENV) or "").strip().lower() == PRODUCTION


def endpoints_file(environ: Mapping[str, str] | None = None) -> str:
    """The endpoints file of the profile, relative to the project root."""
    return PRODUCTION_ENDPOINTS if is_production(environ) else EMBEDDED_ENDPOINTS


def _url(environ: Mapping[str, str], name: str, schemes: tuple[str, ...], example: str):
    value = (environ.get(name) or "").strip()
    if not value:
        raise ProfileError(f"KEFU_PROFILE=production needs {name}, e.g. {example}")
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ProfileError(f"{name} must look like {example}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ProfileError(f"{name} has a port that is not a number") from None
    return parts


def tracker_db_url(environ: Mapping[str, str]) -> str:
    """``KEFU_TRACKER_DB_URL``, else the shop database when that is PostgreSQL."""
    own = (environ.get(TRACKER_DB_URL_ENV) or "").strip()
    if own:
        return own
    shop = (environ.get(SHOP_DB_URL_ENV) or "").strip()
    return shop if shop.startswith("postgresql") else ""


def endpoint_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables ``endpoints.production.yml`` reads, from the three service URLs."""
    environ = os.environ if environ is None else environ
    tracker = _url(
        {TRACKER_DB_URL_ENV: tracker_db_url(environ)},
        TRACKER_DB_URL_ENV,
        ("postgresql", "postgresql+psycopg2"),
        "postgresql://kefu:secret@127.0.0.1:5432/kefu",
    )
    redis = _url(environ, REDIS_URL_ENV, ("redis",), "redis://127.0.0.1:6379/0")
    broker = _url(
        environ, BROKER_URL_ENV, ("amqp", "amqps"), "amqp://guest:guest@127.0.0.1:5672/%2F"
    )
    database = unquote(tracker.path.lstrip("/"))
    if not database:
        raise ProfileError(f"{TRACKER_DB_URL_ENV} must name a database (…/kefu)")
    redis_db = redis.path.lstrip("/") or "0"
    if not redis_db.isdigit():
        raise ProfileError(f"{REDIS_URL_ENV} must end in a database number (…/0)")
    if not broker.username:
        raise ProfileError(f"{BROKER_URL_ENV} must carry the user (amqp://user:password@…)")
    queue = (environ.get(BROKER_QUEUE_ENV) or "").strip() or DEFAULT_BROKER_QUEUE
    return {
        "KEFU_TRACKER_DB_HOST": tracker.hostname or "",
        "KEFU_TRACKER_DB_PORT": str(tracker.port or 5432),
        "KEFU_TRACKER_DB_NAME": database,
        "KEFU_TRACKER_DB_USER": unquote(tracker.username or ""),
        "KEFU_TRACKER_DB_PASSWORD": unquote(tracker.password or ""),
        "KEFU_LOCK_HOST": redis.hostname or "",
        "KEFU_LOCK_PORT": str(redis.port or 6379),
        "KEFU_LOCK_DB": redis_db,
        "KEFU_LOCK_PASSWORD": unquote(redis.password or ""),
        "KEFU_LOCK_PREFIX": LOCK_PREFIX,
        "KEFU_BROKER_HOST": f"{broker.scheme}://{broker.hostname}{broker.path or '/'}",
        "KEFU_BROKER_PORT": str(broker.port or (5671 if broker.scheme == "amqps" else 5672)),
        "KEFU_BROKER_USER": unquote(broker.username),
        "KEFU_BROKER_PASSWORD": unquote(broker.password or ""),
        BROKER_QUEUE_ENV: queue,
    }


def apply_profile(environ: dict[str, str] | os._Environ = os.environ) -> str:
    """Set the endpoint variables of the profile in ``environ``; the endpoints file to use.
    Raises :class:`ProfileError` when production lacks a service."""
    if not is_production(environ):
        return EMBEDDED_ENDPOINTS
    environ.update(endpoint_environment(environ))
    return PRODUCTION_ENDPOINTS


if __name__ == "__main__":  # scripts/run.sh: which endpoints file
    print(endpoints_file())
