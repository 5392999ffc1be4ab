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
from kefu.privacy.conversations import CUSTOMER_TOKEN_KEY, ConversationVault
from kefu.privacy.keys import load_keyring

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
        **kwargs: Any,
    ) -> None:
        """Open (and create) the database, check the keys, seal rows from before encryption."""
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
            id_hash = self.vault.id_hash(session.connection(), sender_id)
            if id_hash is None:
                return None
            rows = self._event_query(session, id_hash, fetch_events_from_all_sessions).all()
            events = [self.vault.open_event(row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's new events, sealed, under the conversation's keyed hash."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            connection = session.connection()
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
            rows = [
                {
                    "sender_id": id_hash,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": ((data.get("parse_data") or {}).get("intent") or {}).get("name"),
                    "action_name": data.get("name"),
                    "data": self.vault.seal_event(data),
                }
                for event, data in zip(new, dictionaries, strict=True)
            ]
            connection.execute(sa.insert(self.SQLEvent.__table__), rows)  # one executemany
            session.commit()


SQLiteTrackerStore = EncryptedTrackerStore  # the name endpoints.yml has always used
