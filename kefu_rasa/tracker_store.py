"""The embedded tracker store: Rasa's SQL tracker store tuned for a local SQLite file.

Rasa's ``SQLTrackerStore`` on SQLite opens a new connection for every session and commits in
rollback-journal mode, which costs about a third of the bot's throughput.  This store keeps one
pooled connection per thread, uses write-ahead logging and ``synchronous=NORMAL`` (durable across
application crashes; the last commits can be lost only on power failure).

endpoints.yml::

    tracker_store:
      type: kefu_rasa.tracker_store.SQLiteTrackerStore
      db: .kefu/trackers.db
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.pool import SingletonThreadPool


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class SQLiteTrackerStore(SQLTrackerStore):
    """Conversations in a local SQLite file, with WAL and a persistent connection."""

    def __init__(
        self,
        domain: Domain | None = None,
        db: str = ".kefu/trackers.db",
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the database file (and its folder) if needed."""
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        kwargs.pop("dialect", None)
        super().__init__(
            domain=domain, dialect="sqlite", db=db, event_broker=event_broker, **kwargs
        )
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=SingletonThreadPool)
        sa.event.listen(self.engine, "connect", _pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
