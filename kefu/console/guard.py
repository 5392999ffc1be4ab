"""What the console remembers in the shop database, shared by every console process and kept
across restarts: failed logins (the lockout), logged-out sessions, and the audit log.

**Lockout.**  Failed logins are kept for ``login_window_minutes``.  Within that window a login
is refused (before the password is even checked) when

* the client address has ``login_failures_per_address`` failures, whatever the names: one
  address cannot guess on and on;
* the agent has ``login_failures_per_account`` failures *from this address*: guessing one
  agent's password is slow, yet locks that agent out of nowhere else;
* the agent has failures from ``login_account_addresses`` different addresses: a distributed
  guess at one account locks the account for everyone until the window passes.

So one attacker (one address, or one IPv6 /64) cannot lock any agent out of another address,
and can try only a few passwords before waiting.  The client address is the real client's
behind a trusted proxy (:mod:`kefu.console.clients`), never a header anyone can forge.  A
successful login clears that agent's failures from that address.

All times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kefu.config import ConsoleSecurity
from kefu.handoff_limits import aware
from kefu.models import AUDIT_ACTIONS, ConsoleAudit, ConsoleRevokedSession
from kefu.models import ConsoleLoginFailure as Failure

MAX_AUDIT_ROWS = 10_000  # rows listed at once, at most

# ---- the login lockout ------------------------------------------------------------------------


def _window(limits: ConsoleSecurity) -> timedelta:
    return timedelta(minutes=limits.login_window_minutes)


def _nth_latest(session: Session, since: datetime, n: int, *where) -> datetime | None:
    """When the ``n``-th latest failure matching ``where`` since ``since`` happened; None if
    there are fewer than ``n``."""
    query = (
        select(Failure.at)
        .where(Failure.at > since, *where)
        .order_by(Failure.at.desc())
        .offset(n - 1)
        .limit(1)
    )
    return session.scalar(query)


def login_wait(
    session: Session, agent: str, address: str, now: datetime, limits: ConsoleSecurity
) -> int:
    """Seconds before a login as ``agent`` (a configured agent's name, "" for anyone else) from
    ``address`` (a :func:`kefu.console.clients.bucket`) may be tried; 0 when it may now."""
    window = _window(limits)
    since = now - window
    until: list[datetime] = []
    oldest = _nth_latest(
        session, since, limits.login_failures_per_address, Failure.address == address
    )
    if oldest is not None:
        until.append(oldest + window)
    if agent:
        oldest = _nth_latest(
            session,
            since,
            limits.login_failures_per_account,
            Failure.agent == agent,
            Failure.address == address,
        )
        if oldest is not None:
            until.append(oldest + window)
        per_address = (
            select(func.max(Failure.at).label("last"))
            .where(Failure.agent == agent, Failure.at > since)
            .group_by(Failure.address)
            .subquery()
        )
        lasts = session.scalars(
            select(per_address.c.last)
            .order_by(per_address.c.last.desc())
            .offset(limits.login_account_addresses - 1)
            .limit(1)
        ).first()
        if lasts is not None:
            until.append(aware(lasts) + window)
    if not until:
        return 0
    seconds = (max(aware(moment) for moment in until) - now).total_seconds()
    return max(1, int(-(-seconds // 1)))


def record_failure(
    session: Session, agent: str, address: str, now: datetime, limits: ConsoleSecurity
) -> None:
    """Remember a failed login (and forget failures older than the window)."""
    session.execute(delete(Failure).where(Failure.expires_at <= now))
    session.add(Failure(agent=agent, address=address, at=now, expires_at=now + _window(limits)))


def clear_failures(session: Session, agent: str, address: str) -> None:
    """The agent logged in from ``address``: their failures from there no longer count."""
    session.execute(delete(Failure).where(Failure.agent == agent, Failure.address == address))


# ---- logged-out sessions ----------------------------------------------------------------------


def revoke(session: Session, nonce: str, agent: str, now: datetime, expires_at: datetime) -> None:
    """Refuse the session with ``nonce`` from now until ``expires_at`` (when its cookie would
    have expired anyway); expired revocations are deleted."""
    session.execute(delete(ConsoleRevokedSession).where(ConsoleRevokedSession.expires_at <= now))
    dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    session.execute(
        dialect_insert(ConsoleRevokedSession)
        .values(nonce=nonce, agent=agent, revoked_at=now, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[ConsoleRevokedSession.nonce])
    )


def is_revoked(session: Session, nonce: str) -> bool:
    """Whether the session with ``nonce`` was logged out."""
    query = select(ConsoleRevokedSession.nonce).where(ConsoleRevokedSession.nonce == nonce)
    return session.scalar(query) is not None


# ---- the audit log ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    at: datetime  # aware, UTC
    agent: str
    action: str
    ticket_id: int | None
    conversation_id: str | None
    address: str | None


def audit(
    session: Session,
    agent: str,
    action: str,
    now: datetime,
    *,
    ticket_id: int | None = None,
    conversation_id: str | None = None,
    address: str | None = None,
    unless_within: timedelta | None = None,
) -> bool:
    """Write who did ``action`` (one of :data:`kefu.models.AUDIT_ACTIONS`) at ``now`` on which
    ticket and conversation.  With ``unless_within``, nothing is written when the same agent
    did the same to the same ticket that recently (a page polling every 2 s).  Whether a row
    was written."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"an audit action is one of {AUDIT_ACTIONS}, not {action!r}")
    if unless_within is not None:
        recent = select(ConsoleAudit.id).where(
            ConsoleAudit.agent == agent,
            ConsoleAudit.action == action,
            ConsoleAudit.ticket_id == ticket_id,
            ConsoleAudit.at > now - unless_within,
        )
        if session.scalars(recent.limit(1)).first() is not None:
            return False
    session.add(
        ConsoleAudit(
            at=now,
            agent=agent[:64],
            action=action,
            ticket_id=ticket_id,
            conversation_id=conversation_id,
            address=address,
        )
    )
    session.flush()
    return True


def audit_log(
    session: Session,
    since: datetime | None = None,
    *,
    agent: str | None = None,
    ticket_id: int | None = None,
    actions: Sequence[str] = (),
    limit: int = 1000,
) -> list[AuditEntry]:
    """Audit rows, oldest first: since ``since``, of ``agent``, on ``ticket_id``, of
    ``actions``; at most ``limit`` (the latest ones)."""
    query = select(ConsoleAudit)
    if since is not None:
        query = query.where(ConsoleAudit.at >= since)
    if agent:
        query = query.where(ConsoleAudit.agent == agent)
    if ticket_id is not None:
        query = query.where(ConsoleAudit.ticket_id == ticket_id)
    if actions:
        query = query.where(ConsoleAudit.action.in_(tuple(actions)))
    query = query.order_by(ConsoleAudit.at.desc(), ConsoleAudit.id.desc())
    rows = session.scalars(query.limit(max(1, min(limit, MAX_AUDIT_ROWS)))).all()
    return [
        AuditEntry(r.at, r.agent, r.action, r.ticket_id, r.conversation_id, r.address)
        for r in reversed(rows)
    ]


def parse_since(text: str, now: datetime) -> datetime:
    """ "7d", "12h", "30m", "2w" before ``now``, or a date ("2026-12-01", UTC); ValueError."""
    text = text.strip()
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    if text[:-1].isdigit() and text[-1:] in units:
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"--since takes 7d, 12h, 30m, 2w or a date, not {text!r}") from None


def audit_lines(
    session: Session,
    since: str,
    now: datetime,
    *,
    agent: str | None = None,
    ticket_id: int | None = None,
    limit: int = 1000,
) -> list[str]:
    """The audit log as tab-separated lines for ``kefu agent audit``: time (UTC), agent,
    action, ticket, conversation, client address."""
    entries = audit_log(
        session, parse_since(since, now), agent=agent, ticket_id=ticket_id, limit=limit
    )
    header = "at (UTC)\tagent\taction\tticket\tconversation\taddress"
    return [header] + [
        "\t".join(
            [
                entry.at.isoformat(timespec="seconds"),
                entry.agent,
                entry.action,
                "" if entry.ticket_id is None else str(entry.ticket_id),
                entry.conversation_id or "",
                entry.address or "",
            ]
        )
        for entry in entries
    ]
