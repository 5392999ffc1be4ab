"""The conversation store at rest: Rasa's ``events`` table, encrypted, with a keyed index.

Each event's ``data`` (the customer's words, slots such as a new address, the bot's replies) is an
envelope (:mod:`kefu.privacy.cipher`); ``type_name``, ``timestamp``, ``intent_name`` and
``action_name`` stay readable for queries and the report.  The conversation id
("telegram:<chat id>", "webchat:<session>") is personal too: the ``sender_id`` column holds its
blind index, and ``kefu_conversations`` keeps the id encrypted (for listing, the report and
erasure), the times of its first and last events (for retention) and the key that sealed it.
``kefu_conversation_customers`` links a conversation to the blind index of each logged-in
customer seen in it, so that erasing a customer reaches their conversations.

Plain SQLAlchemy Core on SQLite or PostgreSQL; the callers own the transactions.  Rows written
before encryption (plain ``sender_id`` and JSON) are sealed by :meth:`ConversationVault.migrate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from kefu.privacy.cipher import PREFIX, Cipher, is_envelope
from kefu.privacy.keys import load_keyring

CUSTOMER_TOKEN_KEY = "customer_token"  # never stored: the front end sends it with every message
EVENT_CONTEXT = "tracker event"
ID_CONTEXT = "conversation id"
CUSTOMER_CONTEXT = "customer id"
ID_PURPOSE = "conversation"
CUSTOMER_PURPOSE = "customer"

metadata = MetaData()
EVENTS = Table(
    "events",  # Rasa's SQLTrackerStore table
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
CONVERSATIONS = Table(
    "kefu_conversations",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("conversation", Text, nullable=False),  # the conversation id, encrypted
    Column("key_id", String(16), nullable=False, index=True),
    Column("first_at", Float, nullable=False),
    Column("last_at", Float, nullable=False, index=True),
)
CONVERSATION_CUSTOMERS = Table(
    "kefu_conversation_customers",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("customer_ref", String(64), primary_key=True, index=True),
    Column("customer", Text, nullable=False),  # the customer id, encrypted (for rotation)
)


def without_tokens(value: Any) -> Any:
    """``value`` with every ``customer_token`` taken out of any ``metadata`` mapping in it."""
    if isinstance(value, dict):
        return {
            key: (
                {k: without_tokens(v) for k, v in item.items() if k != CUSTOMER_TOKEN_KEY}
                if key == "metadata" and isinstance(item, dict)
                else without_tokens(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [without_tokens(item) for item in value]
    return value


@dataclass(frozen=True)
class StoredConversation:
    conversation_id: str
    id_hash: str
    first_at: float
    last_at: float


class ConversationVault:
    """Encrypted conversations in the tracker database of ``engine``."""

    def __init__(self, engine: Engine, cipher: Cipher) -> None:
        self.engine = engine
        self.cipher = cipher

    # ---- schema and keys ------------------------------------------------------------------

    def ensure_schema(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)

    def check_keys(self, connection: Connection) -> None:
        """:class:`UnknownKeyError` at once when stored data was sealed with a key not in the
        ring (a wrong or missing key), rather than at the first customer's message."""
        used = set(connection.scalars(select(CONVERSATIONS.c.key_id).distinct()))
        sealed = EVENTS.c.data.like(f"{PREFIX}%")
        key_of_event = func.substr(EVENTS.c.data, len(PREFIX) + 1, 16)
        used |= set(connection.scalars(select(key_of_event).where(sealed).distinct()))
        for key_id in sorted(used):
            self.cipher.ring.get(key_id)

    # ---- ids --------------------------------------------------------------------------------

    def _find(self, connection: Connection, conversation_id: str):
        hashes = self.cipher.blind_indexes(conversation_id, ID_PURPOSE)
        rows = connection.execute(
            select(CONVERSATIONS).where(CONVERSATIONS.c.id_hash.in_(hashes))
        ).all()
        return rows[0] if rows else None

    def id_hash(self, connection: Connection, conversation_id: str) -> str | None:
        """The stored key of a conversation's events; None when it has none."""
        row = self._find(connection, conversation_id)
        return row.id_hash if row else None

    def register(
        self,
        connection: Connection,
        conversation_id: str,
        at: float,
        customer_ids: Iterable[int] = (),
        known_hash: str | None = None,
    ) -> str:
        """The key for the conversation's events (new conversations get one; ``known_hash``
        when the caller has just looked it up), its last time set to ``at`` and the logged-in
        ``customer_ids`` linked to it."""
        id_hash = known_hash or self.id_hash(connection, conversation_id)
        if id_hash is None:
            id_hash = self.cipher.blind_index(conversation_id, ID_PURPOSE)
            connection.execute(
                insert(CONVERSATIONS).values(
                    id_hash=id_hash,
                    conversation=self.cipher.encrypt(conversation_id, ID_CONTEXT),
                    key_id=self.cipher.active_key_id,
                    first_at=at,
                    last_at=at,
                )
            )
        else:
            last = CONVERSATIONS.c.last_at
            connection.execute(
                update(CONVERSATIONS)
                .where(CONVERSATIONS.c.id_hash == id_hash, last < at)
                .values(last_at=at)
            )
        for customer_id in set(customer_ids):
            self._link(connection, id_hash, str(customer_id))
        return id_hash

    def _link(self, connection: Connection, id_hash: str, customer: str) -> None:
        links = CONVERSATION_CUSTOMERS.c
        customer_ref = self.cipher.blind_index(customer, CUSTOMER_PURPOSE)
        exists = connection.scalar(
            select(func.count()).where(links.id_hash == id_hash, links.customer_ref == customer_ref)
        )
        if not exists:
            connection.execute(
                insert(CONVERSATION_CUSTOMERS).values(
                    id_hash=id_hash,
                    customer_ref=customer_ref,
                    customer=self.cipher.encrypt(customer, CUSTOMER_CONTEXT),
                )
            )

    def conversations(self, connection: Connection) -> list[StoredConversation]:
        """Every stored conversation, decrypted, oldest first."""
        rows = connection.execute(select(CONVERSATIONS).order_by(CONVERSATIONS.c.first_at))
        return [self._stored(row) for row in rows]

    def _stored(self, row) -> StoredConversation:
        return StoredConversation(
            self.cipher.decrypt(row.conversation, ID_CONTEXT),
            row.id_hash,
            row.first_at,
            row.last_at,
        )

    def plain_ids(self, connection: Connection) -> dict[str, str]:
        """Stored key → conversation id, for readers of the events table (the report)."""
        return {c.id_hash: c.conversation_id for c in self.conversations(connection)}

    def of_customer(self, connection: Connection, customer_id: int) -> list[str]:
        """The conversations a logged-in customer took part in."""
        refs = self.cipher.blind_indexes(str(customer_id), CUSTOMER_PURPOSE)
        hashes = select(CONVERSATION_CUSTOMERS.c.id_hash).where(
            CONVERSATION_CUSTOMERS.c.customer_ref.in_(refs)
        )
        rows = connection.execute(
            select(CONVERSATIONS).where(CONVERSATIONS.c.id_hash.in_(hashes.scalar_subquery()))
        )
        return [self._stored(row).conversation_id for row in rows]

    # ---- events -----------------------------------------------------------------------------

    @staticmethod
    def event_text(data: dict[str, Any]) -> str:
        """An event's dictionary, without customer tokens, as the JSON that is sealed."""
        return json.dumps(without_tokens(data), ensure_ascii=False)

    def seal_text(self, text: str) -> str:
        """An event's JSON (:meth:`event_text`) as an envelope."""
        return self.cipher.encrypt(text, EVENT_CONTEXT)

    def seal_event(self, data: dict[str, Any]) -> str:
        """An event's dictionary, without customer tokens, as an envelope."""
        return self.seal_text(self.event_text(data))

    def open_text(self, data: str | None) -> str:
        """A stored event's JSON (rows not yet migrated are plain JSON; no data is ``{}``)."""
        if not data:
            return "{}"
        return self.cipher.decrypt(data, EVENT_CONTEXT) if is_envelope(data) else data

    def open_event(self, data: str | None) -> dict[str, Any]:
        """A stored event's dictionary (rows not yet migrated are plain JSON)."""
        return json.loads(self.open_text(data))

    def events(self, connection: Connection, conversation_id: str) -> list[dict[str, Any]]:
        """Every event of a conversation, decrypted, in order."""
        id_hash = self.id_hash(connection, conversation_id)
        if id_hash is None:
            return []
        query = select(EVENTS.c.data).where(EVENTS.c.sender_id == id_hash).order_by(EVENTS.c.id)
        return [self.open_event(data) for data in connection.scalars(query)]

    # ---- erasure and retention --------------------------------------------------------------

    def _delete_hashes(self, connection: Connection, hashes: list[str]) -> int:
        for table, column in (
            (EVENTS, EVENTS.c.sender_id),
            (CONVERSATION_CUSTOMERS, CONVERSATION_CUSTOMERS.c.id_hash),
        ):
            connection.execute(delete(table).where(column.in_(hashes)))
        return connection.execute(
            delete(CONVERSATIONS).where(CONVERSATIONS.c.id_hash.in_(hashes))
        ).rowcount

    def erase(self, connection: Connection, conversation_ids: Iterable[str]) -> int:
        """Delete the conversations (events, id, links); how many existed."""
        hashes = [h for c in set(conversation_ids) if (h := self.id_hash(connection, c))]
        return self._delete_hashes(connection, hashes) if hashes else 0

    def expire(self, connection: Connection, before: float) -> list[str]:
        """Delete the conversations whose last event is older than ``before`` (epoch seconds);
        their ids."""
        rows = connection.execute(
            select(CONVERSATIONS).where(CONVERSATIONS.c.last_at < before)
        ).all()
        if rows:
            self._delete_hashes(connection, [row.id_hash for row in rows])
        return [self._stored(row).conversation_id for row in rows]

    # ---- re-encryption ----------------------------------------------------------------------

    def pending(self, connection: Connection) -> int:
        """Conversations not yet under the active key, and events written before encryption."""
        stale = connection.scalar(
            select(func.count())
            .select_from(CONVERSATIONS)
            .where(CONVERSATIONS.c.key_id != self.cipher.active_key_id)
        )
        return stale + len(self._legacy_senders(connection, None))

    def _legacy_senders(self, connection: Connection, limit: int | None) -> list[str]:
        known = select(CONVERSATIONS.c.id_hash)
        query = (
            select(EVENTS.c.sender_id)
            .where(EVENTS.c.sender_id.not_in(known.scalar_subquery()))
            .distinct()
            .order_by(EVENTS.c.sender_id)
        )
        return list(connection.scalars(query.limit(limit) if limit else query))

    def seal_legacy(self, connection: Connection, batch: int) -> int:
        """Seal up to ``batch`` conversations written before encryption; how many."""
        senders = self._legacy_senders(connection, batch)
        for sender in senders:
            self._seal_legacy(connection, sender)
        return len(senders)

    def migrate(self, connection: Connection, batch: int) -> int:
        """Move up to ``batch`` conversations to the active key: plain rows written before
        encryption first, then conversations sealed with an older key (their index, id and
        events).  Returns how many were moved; 0 when nothing is left.  Each call is one unit
        of work, so an interrupted run resumes where it stopped."""
        moved = self.seal_legacy(connection, batch)
        if moved:
            return moved
        rows = connection.execute(
            select(CONVERSATIONS)
            .where(CONVERSATIONS.c.key_id != self.cipher.active_key_id)
            .order_by(CONVERSATIONS.c.id_hash)
            .limit(batch)
        ).all()
        for row in rows:
            self._reseal(connection, row)
        return len(rows)

    def _seal_legacy(self, connection: Connection, sender: str) -> None:
        times = connection.execute(
            select(func.min(EVENTS.c.timestamp), func.max(EVENTS.c.timestamp)).where(
                EVENTS.c.sender_id == sender
            )
        ).one()
        # a store written by an older server after sealing may hold both forms of one id
        id_hash = self.register(connection, sender, times[1] or 0.0)
        self._rewrite_events(connection, sender, id_hash)

    def _reseal(self, connection: Connection, row) -> None:
        conversation_id = self.cipher.decrypt(row.conversation, ID_CONTEXT)
        id_hash = self.cipher.blind_index(conversation_id, ID_PURPOSE)
        connection.execute(
            insert(CONVERSATIONS).values(
                id_hash=id_hash,
                conversation=self.cipher.encrypt(conversation_id, ID_CONTEXT),
                key_id=self.cipher.active_key_id,
                first_at=row.first_at,
                last_at=row.last_at,
            )
        )
        self._rewrite_events(connection, row.id_hash, id_hash)
        links = CONVERSATION_CUSTOMERS.c
        old_links = select(links.customer).where(links.id_hash == row.id_hash)
        for customer in connection.scalars(old_links).all():
            self._link(connection, id_hash, self.cipher.decrypt(customer, CUSTOMER_CONTEXT))
        connection.execute(delete(CONVERSATION_CUSTOMERS).where(links.id_hash == row.id_hash))
        connection.execute(delete(CONVERSATIONS).where(CONVERSATIONS.c.id_hash == row.id_hash))

    def _rewrite_events(self, connection: Connection, old_sender: str, id_hash: str) -> None:
        rows = connection.execute(
            select(EVENTS.c.id, EVENTS.c.data).where(EVENTS.c.sender_id == old_sender)
        ).all()
        for event_id, data in rows:
            connection.execute(
                update(EVENTS)
                .where(EVENTS.c.id == event_id)
                .values(sender_id=id_hash, data=self.seal_event(self.open_event(data)))
            )


def open_rows(connection: Connection, rows: Iterable[Any]) -> list[tuple]:
    """Rows of ``(sender_id, type_name, timestamp, intent_name, action_name, data)`` read from
    the events table, with the conversation ids and event data decrypted (keys from
    :func:`kefu.privacy.keys.load_keyring`).  A store without encryption passes unchanged."""
    rows = [tuple(row) for row in rows]
    if not inspect(connection).has_table(CONVERSATIONS.name):
        return rows
    vault = ConversationVault(connection.engine, Cipher(load_keyring()))
    ids = vault.plain_ids(connection)
    return [
        (ids.get(sender, sender), *middle, json.dumps(vault.open_event(data), ensure_ascii=False))
        if is_envelope(data)
        else (ids.get(sender, sender), *middle, data)
        for sender, *middle, data in rows
    ]
