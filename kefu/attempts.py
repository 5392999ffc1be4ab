"""Failed attempts counted in the shop database, shared by every channel, sender and process.

A proof of identity (an order's phone digits, a confirmation code) may fail a few times per key
within a window; then the key is locked for a cool-down.  Keys name what is protected, not who
asks ("order:2026…", "customer:42"), so a new sender, a new socket, ``/restart``, ``/back`` or a
second server process finds the same count.  Rows carry an expiry and are swept.

Times are Unix seconds (timezone-free).  The counter row is locked while it is updated
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so two processes cannot
both spend the last attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.models import SecurityCounter


@dataclass(frozen=True)
class AttemptPolicy:
    """``max_failures`` within ``window_seconds``, then locked for ``lock_seconds``."""

    max_failures: int = 3
    window_seconds: int = 3600
    lock_seconds: int = 1800


@dataclass(frozen=True)
class AttemptStatus:
    """Where a key stands: ``locked_until`` (Unix seconds) when locked, else the attempts left."""

    attempts_left: int
    locked_until: int | None = None

    @property
    def locked(self) -> bool:
        return self.locked_until is not None


def _row(session: Session, key: str, for_update: bool = False) -> SecurityCounter | None:
    query = select(SecurityCounter).where(SecurityCounter.key == key)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def _fresh(row: SecurityCounter | None, policy: AttemptPolicy, now: int) -> bool:
    """True when ``row`` no longer counts: no row, its window is over and it is not locked."""
    if row is None:
        return True
    if row.locked_until is not None and now < row.locked_until:
        return False
    return row.locked_until is not None or now >= row.window_start + policy.window_seconds


def status(
    session: Session, keys: tuple[str, ...], policy: AttemptPolicy, now: int
) -> AttemptStatus:
    """The strictest status of ``keys``: locked if any is, else the fewest attempts left."""
    left, locked_until = policy.max_failures, None
    for key in keys:
        row = _row(session, key)
        if _fresh(row, policy, now):
            continue
        if row.locked_until is not None and now < row.locked_until:
            locked_until = max(locked_until or 0, int(row.locked_until))
        left = min(left, max(policy.max_failures - row.failures, 0))
    return AttemptStatus(0 if locked_until else left, locked_until)


def record_failure(
    session: Session, keys: tuple[str, ...], policy: AttemptPolicy, now: int
) -> AttemptStatus:
    """Count one failure against every key (the caller commits); the resulting status."""
    for key in keys:
        row = _row(session, key, for_update=True)
        if row is None:
            row = SecurityCounter(key=key, failures=0, window_start=now, expires_at=now)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # another process created it first: count on theirs
                row = _row(session, key, for_update=True)
        elif _fresh(row, policy, now):
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= policy.max_failures:
            row.locked_until = now + policy.lock_seconds
        row.expires_at = max(row.window_start + policy.window_seconds, row.locked_until or 0, now)
    session.flush()
    return status(session, keys, policy, now)


def sweep(session: Session, now: int) -> int:
    """Delete counters that have expired; how many."""
    result = session.execute(delete(SecurityCounter).where(SecurityCounter.expires_at < now))
    return result.rowcount or 0
