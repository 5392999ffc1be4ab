"""The encrypted tracker store: Rasa's SQL tracker store with every conversation sealed at rest.

Events are stored in Rasa's ``events`` table with their ``data`` encrypted and the conversation
id replaced by its keyed hash (:mod:`kefu.privacy.conversations`); customer tokens are never
stored, only a keyed link to the logged-in customer.  The data keys come from ``KEFU_DATA_KEY``
or the key file (:mod:`kefu.privacy.keys`); a missing key in production, or stored data sealed
with a key that is not configured, stops the server at start with a clear error.  Rows written
before encryption are sealed at start.

One class for SQLite (the embedded default: one pooled connection per thread, write-ahead
logging, ``synchronous=NORMAL``) and PostgreSQL (or any SQLAlchemy URL).  endpoints.yml::

    tracker_store:
      type: kefu_rasa.tracker_store.EncryptedTrackerStore   # or SQLiteTrackerStore (the same)
      db: .kefu/trackers.db          # SQLite file, unless KEFU_TRACKER_DB_URL is set
      # url: postgresql://user:password@host/conversations
      # or Rasa's SQL settings: dialect, host, port, db, username, password, query
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, validate_port
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.pool import SingletonThreadPool

from kefu.privacy.cipher import Cipher
from kefu.privacy.conversations import CUSTOMER_TOKEN_KEY, EVENTS, ConversationVault
from kefu.privacy.keys import load_keyring
from kefu.privacy.own_conversation import ERASE_SLOT
from kefu_rasa.tracker_cache import SESSION_STARTED, CachedSession, SessionCache, StoredRow

TRACKER_URL_ENV = "KEFU_TRACKER_DB_URL"
LEGACY_BATCH = 200
_STARTING = threading.Lock()
STARTUP_LOCK_KEY = 0x6B656675  # "kefu": the advisory lock of the tracker store's start-up work


@contextmanager
def _one_at_a_time(engine: sa.engine.Engine) -> Iterator[None]:
    """Start-up work (tables, legacy rows) done by one instance at a time on PostgreSQL (an
    advisory lock held for the block); elsewhere a batch another process sealed first is
    rolled back and the next one read."""
    if engine.dialect.name != "postgresql":
        with _STARTING:  # the threads of one process; other processes: see the docstring
            yield
        return
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(
                sa.text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK_KEY}
            )


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def tracker_url(
    db: str,
    host: str | None = None,
    dialect: str | None = None,
    environ: dict[str, str] | None = None,
    **settings: Any,
) -> Any:
    """The database: ``url`` (Rasa passes it as ``host``), else Rasa's SQL settings for another
    dialect, else ``KEFU_TRACKER_DB_URL``, else the SQLite file ``db``."""
    if host and "://" in host:
        return host
    if dialect and dialect != "sqlite":
        settings["port"] = validate_port(settings.get("port"))  # "5432" from the environment
        return SQLTrackerStore.get_db_url(dialect, host, db=db, **settings)
    env = os.environ if environ is None else environ
    return env.get(TRACKER_URL_ENV) or f"sqlite:///{db}"


def customer_of(data: dict[str, Any]) -> int | None:
    """The customer a user event's genuine customer token names; None without one."""
    from kefu.identity import IdentityError, IdentitySecretError, identity_secret, verify_token

    token = (data.get("metadata") or {}).get(CUSTOMER_TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return None
    try:
        return verify_token(token, identity_secret())
    except (IdentityError, IdentitySecretError):
        return None


class EncryptedTrackerStore(SQLTrackerStore):
    """Conversations encrypted at rest in SQLite or PostgreSQL."""

    def __init__(
        self,
        domain: Domain | None = None,
        db: str = ".kefu/trackers.db",
        host: str | None = None,
        dialect: str | None = None,
        event_broker: EventBroker | None = None,
        cache_size: int = 2000,
        cache_ttl_seconds: float = 600.0,
        **kwargs: Any,
    ) -> None:
        """Open (and create) the database, check the keys, seal rows from before encryption.
        The current sessions of up to ``cache_size`` conversations active in the last
        ``cache_ttl_seconds`` are kept decrypted in the process (:mod:`kefu_rasa.tracker_cache`)."""
        settings = {
            k: kwargs.pop(k) for k in ("port", "username", "password", "query") if k in kwargs
        }
        kwargs.pop("login_db", None)
        url = tracker_url(db, host, dialect, **settings)
        is_sqlite = str(url).startswith("sqlite")
        if is_sqlite:
            Path(str(url).split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        cipher = Cipher(load_keyring())  # KeyConfigError first: no database work without keys
        super().__init__(domain=domain, host=str(url), event_broker=event_broker, **kwargs)
        if is_sqlite:
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=SingletonThreadPool)
            sa.event.listen(self.engine, "connect", _pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self.vault = ConversationVault(self.engine, cipher)
        self.sessions = SessionCache(int(cache_size), float(cache_ttl_seconds))
        with _one_at_a_time(self.engine):  # instances starting together on one database
            try:
                self.vault.ensure_schema()
            except sa.exc.DBAPIError:  # another process created the tables meanwhile
                self.vault.ensure_schema()
            with self.engine.begin() as connection:
                self.vault.check_keys(connection)
            while True:
                try:
                    with self.engine.begin() as connection:
                        if not self.vault.seal_legacy(connection, LEGACY_BATCH):
                            break
                except sa.exc.IntegrityError:
                    continue  # another instance sealed some of this batch first: next batch

    async def keys(self) -> list[str]:
        """The stored conversation ids (decrypted)."""
        with self.engine.connect() as connection:
            return [c.conversation_id for c in self.vault.conversations(connection)]

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            if fetch_events_from_all_sessions:
                id_hash = self.vault.id_hash(session.connection(), sender_id)
                if id_hash is None:
                    return None
                rows = self._event_query(session, id_hash, True).all()
                events = [self.vault.open_event(row.data) for row in rows]
            else:
                kept = self._current_session(session.connection(), sender_id)
                events = kept.events if kept else []
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _current_session(
        self, connection: sa.engine.Connection, sender_id: str
    ) -> CachedSession | None:
        """The conversation's current session: the kept one brought up to date with the rows
        stored since, or read whole when none is kept or it no longer matches the rows."""
        kept = self.sessions.get(sender_id)
        if kept is not None:
            rows = connection.execute(
                sa.select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
                .where(EVENTS.c.sender_id == kept.id_hash, EVENTS.c.id >= kept.last_id)
                .order_by(EVENTS.c.id)
            ).all()
            if rows and rows[0].id == kept.last_id:
                kept.add(self._opened(rows[1:]))
                return kept
            self.sessions.forget(sender_id)  # erased, expired or rewritten: read it again
        id_hash = self.vault.id_hash(connection, sender_id)
        if id_hash is None:
            return None
        rows = connection.execute(self._session_query(id_hash)).all()
        if not rows:
            return None
        kept = CachedSession(id_hash, last_id=rows[-1].id)
        kept.add(self._opened(rows))
        self.sessions.put(sender_id, kept)
        return kept

    def _session_query(self, id_hash: str) -> sa.sql.Select:
        """Rasa's current-session query (``SQLTrackerStore._event_query``) on kefu's columns:
        the events from the latest ``session_started`` timestamp on, or all without one."""
        started = (
            sa.select(sa.func.max(EVENTS.c.timestamp))
            .where(EVENTS.c.sender_id == id_hash, EVENTS.c.type_name == SESSION_STARTED)
            .scalar_subquery()
        )
        return (
            sa.select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
            .where(
                EVENTS.c.sender_id == id_hash,
                sa.or_(EVENTS.c.timestamp >= started, started.is_(None)),
            )
            .order_by(EVENTS.c.id)
        )

    def _opened(self, rows: Any) -> list[StoredRow]:
        return [
            StoredRow(row.id, row.type_name, row.timestamp, self.vault.open_text(row.data))
            for row in rows
        ]

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's new events, sealed, under the conversation's keyed hash; or,
        when the customer has just confirmed its erasure, delete the whole conversation."""
        if tracker.get_slot(ERASE_SLOT) is True:
            self.erase(tracker.sender_id)
            return
        await self.stream_events(tracker)
        with self.session_scope() as session:
            connection = session.connection()
            kept = self.sessions.get(tracker.sender_id)
            if kept is not None:  # read this turn (the lock store serialises a conversation)
                id_hash, stored = kept.id_hash, len(kept.rows)
            else:
                id_hash = self.vault.id_hash(connection, tracker.sender_id)
                stored = self._event_query(session, id_hash, False).count() if id_hash else 0
            new = list(itertools.islice(tracker.events, stored, len(tracker.events)))
            if not new:
                return
            dictionaries = [event.as_dict() for event in new]
            customers = {c for data in dictionaries if (c := customer_of(data))}
            last = max((d.get("timestamp") or 0.0 for d in dictionaries), default=0.0)
            id_hash = self.vault.register(
                connection, tracker.sender_id, last, customers, known_hash=id_hash
            )
            texts = [self.vault.event_text(data) for data in dictionaries]
            rows = [
                {
                    "sender_id": id_hash,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": ((data.get("parse_data") or {}).get("intent") or {}).get("name"),
                    "action_name": data.get("name"),
                    "data": self.vault.seal_text(text),
                }
                for event, data, text in zip(new, dictionaries, texts, strict=True)
            ]
            connection.execute(sa.insert(self.SQLEvent.__table__), rows)  # one executemany
            if kept is not None:
                kept.add(
                    StoredRow(None, row["type_name"], row["timestamp"], text)
                    for row, text in zip(rows, texts, strict=True)
                )
                kept.last_id = connection.scalar(
                    sa.select(sa.func.max(EVENTS.c.id)).where(EVENTS.c.sender_id == id_hash)
                )
            session.commit()

    def erase(self, sender_id: str) -> None:
        """Delete the conversation (all its events, its id and links) and forget it here; the
        turn that asked for it is neither written nor sent to the event broker."""
        self.sessions.forget(sender_id)
        with self.engine.begin() as connection:
            self.vault.erase(connection, [sender_id])


SQLiteTrackerStore = EncryptedTrackerStore  # the name endpoints.yml has always used
