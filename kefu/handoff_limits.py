"""How many hand-off tickets may be opened: per client, per channel and in all, per hour.

Every "转人工" used to open a ticket, and senders rotate freely, so one script could fill the
agents' queue.  :func:`check` refuses a new ticket with :class:`TicketLimitReached` when the
last hour already holds ``handoff.limits`` (shop.yml) tickets of that client, that channel or
in all; :func:`record` counts a ticket opened.  The counts live in the shop database
(``handoff_ticket_openings``, rows kept an hour), so every action-server worker sees them.
Two workers opening at the same instant may both pass the check: a limit can be overrun by
the number of workers, never more.

The client is what the caller knows of the customer, best first: its address (when the channel
passes it through the trusted proxy), the identified customer, else the conversation.  Only a
hash of it is stored.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kefu.config import TicketLimits
from kefu.models import HandoffTicketOpening

WINDOW = timedelta(hours=1)


class TicketLimitReached(Exception):
    """No new hand-off ticket now: too many were opened in the last hour for this client
    (``scope`` "client"), this channel ("channel") or in all ("global").  ``retry_after`` is
    how long (a timedelta) until one can be opened again; the customer should be told politely
    (``handoff.limits.busy`` in shop.yml) and given the other ways to reach a person."""

    def __init__(self, scope: str, retry_after: timedelta) -> None:
        super().__init__(f"hand-off ticket limit reached ({scope})")
        self.scope = scope
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        """``retry_after`` in whole minutes, at least 1 (for the customer's message)."""
        return max(1, -(-int(self.retry_after.total_seconds()) // 60))


def aware(now: datetime | None) -> datetime:
    """``now`` as an aware UTC datetime (a naive one is UTC); the current time when None."""
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


def client_key(
    client: str | None, customer_id: int | None, conversation_id: str, channel: str
) -> str:
    """The hashed key the per-client limit counts under."""
    if client:
        who = f"client:{client}"
    elif customer_id is not None:
        who = f"customer:{customer_id}"
    else:
        who = f"conversation:{channel}:{conversation_id}"
    return hashlib.sha256(who.encode("utf-8")).hexdigest()[:32]


def _over(session: Session, since: datetime, limit: int, *where) -> datetime | None:
    """When the oldest of the last ``limit`` openings matching ``where`` was, if there are
    ``limit`` of them since ``since``; None while under the limit."""
    query = (
        select(HandoffTicketOpening.at)
        .where(HandoffTicketOpening.at > since, *where)
        .order_by(HandoffTicketOpening.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return session.scalar(query)


def check(
    session: Session, *, client: str, channel: str, limits: TicketLimits, now: datetime
) -> None:
    """:class:`TicketLimitReached` when a ticket of ``client`` on ``channel`` would overrun a
    limit at ``now`` (aware); nothing otherwise."""
    since = now - WINDOW
    for scope, limit, where in (
        ("client", limits.per_client_per_hour, (HandoffTicketOpening.client == client,)),
        ("channel", limits.per_channel_per_hour, (HandoffTicketOpening.channel == channel,)),
        ("global", limits.per_hour, ()),
    ):
        oldest = _over(session, since, limit, *where)
        if oldest is not None:
            raise TicketLimitReached(scope, max(timedelta(seconds=1), oldest + WINDOW - now))


def record(session: Session, *, ticket_id: int, client: str, channel: str, now: datetime) -> None:
    """Count a ticket opened at ``now`` (aware); rows older than an hour are deleted."""
    session.execute(delete(HandoffTicketOpening).where(HandoffTicketOpening.expires_at <= now))
    session.add(
        HandoffTicketOpening(
            ticket_id=ticket_id,
            channel=channel[:32],
            client=client,
            at=now,
            expires_at=now + WINDOW,
        )
    )
    session.flush()


def opened_in_the_last_hour(session: Session, now: datetime | None = None) -> int:
    """Tickets opened in the hour before ``now`` (all clients and channels)."""
    since = aware(now) - WINDOW
    query = select(func.count()).where(HandoffTicketOpening.at > since)
    return int(session.scalar(query) or 0)
