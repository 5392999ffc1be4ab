"""The current session of recently active conversations, kept decrypted in the Rasa process.

Every turn reads a conversation and appends to it.  Without this, each read decrypted every
event of the session and each save counted the stored events again (benchmarks/PROFILE.md).
Here a conversation's session is kept after it was read, with the id of the newest row read;
the next read fetches only the rows from that id on (one indexed query), decrypts only the new
ones, and the next save knows how many events are stored without counting.

Stored rows are the truth; the cache only saves work:
- the row the cache ends with must still be the first row returned, or the conversation was
  erased, expired or rewritten and is read whole again (so an erasure is seen at the next read,
  and nothing kept outlives ``ttl_seconds`` of silence);
- another instance's turns (a cluster shares the database; the lock store serialises a
  conversation's turns) are the newer rows and are read on the next turn;
- the session window is Rasa's own: events from the latest ``session_started`` timestamp on.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

SESSION_STARTED = "session_started"


@dataclass
class StoredRow:
    """One stored event: its row id, type and timestamp, and its decrypted JSON (kept as text,
    so that no caller can change what is kept through the dictionaries it is given)."""

    id: int | None
    type_name: str
    timestamp: float | None
    text: str


@dataclass
class CachedSession:
    """The current session of one conversation as stored, up to the row ``last_id``."""

    id_hash: str
    last_id: int
    start: float | None = None  # the latest session_started timestamp; None: no session yet
    rows: list[StoredRow] = field(default_factory=list)
    used_at: float = 0.0

    def add(self, rows: Iterable[StoredRow]) -> None:
        """Append newer rows, keeping only the current session (Rasa's rule: from the latest
        ``session_started`` timestamp on)."""
        started = False
        for row in rows:
            later = row.timestamp is not None and (self.start is None or row.timestamp > self.start)
            if row.type_name == SESSION_STARTED and later:
                self.start, started = row.timestamp, True
            self.rows.append(row)
            if row.id is not None:
                self.last_id = max(self.last_id, row.id)
        if started:
            self.rows = [
                r for r in self.rows if r.timestamp is not None and r.timestamp >= self.start
            ]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The session's event dictionaries, in order (new ones on each call)."""
        return [json.loads(row.text) for row in self.rows]


class SessionCache:
    """A bounded map from conversation id to :class:`CachedSession`, forgetting conversations
    silent for ``ttl_seconds``."""

    def __init__(
        self,
        size: int = 2000,
        ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._sessions: OrderedDict[str, CachedSession] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> CachedSession | None:
        """The kept session of a conversation (now the most recent), or None."""
        now = self.clock()
        with self._lock:
            self._forget_silent(now)
            session = self._sessions.get(conversation_id)
            if session is not None:
                session.used_at = now
                self._sessions.move_to_end(conversation_id)
            return session

    def put(self, conversation_id: str, session: CachedSession) -> None:
        """Keep a conversation's session, forgetting the least recently used beyond the size."""
        if self.size <= 0:
            return
        with self._lock:
            session.used_at = self.clock()
            self._sessions[conversation_id] = session
            self._sessions.move_to_end(conversation_id)
            while len(self._sessions) > self.size:
                self._sessions.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation's kept session."""
        with self._lock:
            self._sessions.pop(conversation_id, None)

    def _forget_silent(self, now: float) -> None:
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.used_at <= self.ttl_seconds:
                return
            self._sessions.popitem(last=False)

    def __len__(self) -> int:
        return len(self._sessions)
