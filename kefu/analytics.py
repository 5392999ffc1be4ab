"""Conversation facts from the event broker into PostgreSQL, for analytics.

In production every Rasa instance publishes each conversation event to RabbitMQ
(``endpoints.production.yml``), sealed (:mod:`kefu.privacy.broker_events`).  :func:`consume`
reads that queue, opens each envelope with the data keys (``KEFU_DATA_KEY`` or the key file, as
the Rasa instances; any key of the ring) and writes one row per event to
``conversation_facts``: a keyed pseudonym of the conversation (``KEFU_ANALYTICS_SECRET``), the
channel, the kind of event, the intent or action name, the NLU confidence, the language and the
time.  No text, slot value or entity is kept, so the table holds no personal data.  Each row
is keyed by a hash of the event: a message RabbitMQ delivers twice (it redelivers what was not
acknowledged) is written once.  A message is acknowledged only after its row is committed.

Plain events published before the broker sealed them are still read (logged, so an upgrade
loses nothing).  An envelope sealed with a key that is not in the ring (a wrong or missing key)
stops the consumer with the key's id, its batch unacknowledged and so kept on RabbitMQ; an
altered envelope is logged and skipped.  Nothing sealed is ever taken for plaintext.

    KEFU_ANALYTICS_DB_URL=postgresql://… KEFU_BROKER_URL=amqp://… KEFU_ANALYTICS_SECRET=… \\
        KEFU_DATA_KEY=… python -m kefu.analytics
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, Float, Index, MetaData, String, Table, create_engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from kefu.identity import pseudonymise
from kefu.privacy.broker_events import read_event
from kefu.privacy.cipher import Cipher, DecryptionError
from kefu.privacy.keys import KeyConfigError, load_keyring

logger = logging.getLogger(__name__)

DB_URL_ENV = "KEFU_ANALYTICS_DB_URL"
SECRET_ENV = "KEFU_ANALYTICS_SECRET"

metadata = MetaData()
conversation_facts = Table(
    "conversation_facts",
    metadata,
    Column("event_key", String(64), primary_key=True),  # sha256 of the event as published
    Column("conversation", String(16), nullable=False),  # keyed pseudonym
    Column("channel", String(32)),
    Column("event", String(32), nullable=False),
    Column("name", String(128)),  # the intent of a user event, the action of an action event
    Column("confidence", Float),
    Column("language", String(8)),
    Column("at", Float, nullable=False),  # Unix seconds, as Rasa stamps events
    Index("conversation_facts_conversation_at", "conversation", "at"),
)


def fact(event: Mapping[str, Any], secret: str) -> dict[str, Any] | None:
    """The row of one published event; None for what is not a conversation event."""
    sender, kind, at = event.get("sender_id"), event.get("event"), event.get("timestamp")
    if not isinstance(sender, str) or not isinstance(kind, str) or not isinstance(at, int | float):
        return None
    parse = event.get("parse_data") if kind == "user" else None
    intent = (parse or {}).get("intent") or {}
    name = intent.get("name") if kind == "user" else event.get("name") if kind == "action" else None
    confidence = intent.get("confidence") if kind == "user" else None
    language = (parse or {}).get("language")
    channel = event.get("input_channel") or (sender.split(":", 1)[0] if ":" in sender else None)
    raw = json.dumps(event, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {
        "event_key": hashlib.sha256(raw).hexdigest(),
        "conversation": pseudonymise(sender, secret),
        "channel": str(channel)[:32] if channel else None,
        "event": kind[:32],
        "name": str(name)[:128] if name else None,
        "confidence": float(confidence) if isinstance(confidence, int | float) else None,
        "language": str(language)[:8] if language else None,
        "at": float(at),
    }


def _opened(body: bytes, cipher: Cipher) -> tuple[dict[str, Any], bool] | None:
    """A message body's event and whether it was sealed; None for what is not an event or does
    not open (logged).  A key missing from the ring raises: the batch stays on RabbitMQ."""
    try:
        return read_event(body, cipher)
    except KeyConfigError:
        raise
    except DecryptionError as error:
        logger.error("analytics: an event envelope was skipped: %s", error)
    except ValueError:  # not JSON, not UTF-8
        pass
    return None


def store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` once each (a redelivered event is skipped)."""
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(conversation_facts).on_conflict_do_nothing(), rows)


async def consume(
    broker_url: str,
    queue: str,
    engine: Engine,
    secret: str,
    *,
    idle_seconds: float | None = None,
    batch: int = 100,
    cipher: Cipher | None = None,
) -> int:
    """Move events from ``queue`` into ``conversation_facts`` until ``idle_seconds`` pass with
    none (forever when None); the number of events read.  Envelopes are opened with ``cipher``
    (default: the data keys of the environment); :class:`~kefu.privacy.keys.UnknownKeyError`
    when one was sealed with a key it does not hold."""
    import aio_pika

    cipher = cipher or Cipher(load_keyring())
    metadata.create_all(engine)
    connection = await aio_pika.connect_robust(broker_url)
    read = 0
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=batch)
        box = await channel.declare_queue(queue, durable=True)
        idle = 0.0
        while idle_seconds is None or idle < idle_seconds:
            messages = []
            while len(messages) < batch and (message := await box.get(fail=False)) is not None:
                messages.append(message)
            if not messages:
                await asyncio.sleep(0.2)
                idle += 0.2
                continue
            idle = 0.0
            events = [opened for m in messages if (opened := _opened(m.body, cipher))]
            if plain := sum(not sealed for _, sealed in events):
                logger.warning("analytics: %d plain events (published before sealing) read", plain)
            rows = [row for event, _ in events if (row := fact(event, secret)) is not None]
            await asyncio.to_thread(store, engine, rows)
            for message in messages:
                await message.ack()
            read += len(messages)
    return read


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the consumer from the environment until stopped."""
    environ = os.environ if environ is None else environ
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    url = environ.get(DB_URL_ENV) or environ.get("KEFU_DB_URL") or ""
    broker = environ.get("KEFU_BROKER_URL") or ""
    secret = environ.get(SECRET_ENV) or ""
    if not url.startswith("postgresql") or not broker or len(secret.encode()) < 32:
        print(
            f"analytics: set {DB_URL_ENV} (PostgreSQL), KEFU_BROKER_URL and {SECRET_ENV} "
            "(at least 32 bytes)",
            file=sys.stderr,
        )
        return 2
    queue = environ.get("KEFU_BROKER_QUEUE") or "kefu_events"
    try:
        cipher = Cipher(load_keyring(environ))
    except KeyConfigError as error:
        print(f"analytics: {error}", file=sys.stderr)
        return 2
    engine = create_engine(url, future=True)
    try:
        asyncio.run(consume(broker, queue, engine, secret, cipher=cipher))
    except KeyboardInterrupt:
        return 0
    except KeyConfigError as error:  # an event sealed with a key this consumer lacks
        print(f"analytics: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
