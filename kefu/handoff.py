"""Handing a conversation to a human agent: tickets, the queue, office hours and agents' work.

The bot opens a ticket (:func:`open_ticket`) when the customer asks for a person, after
repeated "I did not understand" replies, for a strong complaint or when the customer is
frustrated (:func:`handoff_reason` decides with the ``handoff`` settings of shop.yml).  A ticket
carries what an agent needs to take over without asking again: the last
:data:`MAX_TRANSCRIPT` messages, the intents and entities, the customer's sentiment and a short
:func:`summarise` in the conversation's language.

Lifecycle: ``open`` (waiting in the queue, :func:`queue_position`) → ``claimed`` by one agent
(:func:`claim`; of two agents claiming at once exactly one wins) → ``closed`` (:func:`close`);
or ``abandoned`` when the customer leaves first (:func:`abandon`).  A conversation has at most
one open or claimed ticket, enforced by a partial unique index on the blind index of its id
(the id is stored encrypted, :class:`kefu.models.OfConversation`; ``INSERT … ON CONFLICT DO
NOTHING``), so asking again, even from two workers at once, returns the same ticket.  New
tickets are limited per client, per channel and in all per hour (:mod:`kefu.handoff_limits`,
``handoff.limits`` in shop.yml): over a limit :func:`open_ticket` raises
:class:`TicketLimitReached` and the caller tells the customer ``limits.busy``.

Agents: an agent may see a ticket that waits in the queue (open, unclaimed) or that they
claimed (:func:`may_see`, :func:`ticket_for`); the queue is read a page at a time
(:func:`queue_page`), without the tickets' messages.

Every function works in the caller's transaction.  Times are stored as naive UTC like the rest
of the shop; office hours are wall-clock times in the shop's time zone
(:class:`kefu.config.HandoffSettings`).  Transcript and message texts are stored with the
customer's proofs of identity masked (:func:`kefu.handoff_text.mask_proofs`: e-mails, phone
numbers and their last digits) and erased with the customer
(:func:`kefu.account.erase_customer`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from kefu import handoff_limits
from kefu.config import HandoffSettings, shop_config
from kefu.handoff_limits import TicketLimitReached as TicketLimitReached
from kefu.handoff_text import ENTITY_LABELS as ENTITY_LABELS
from kefu.handoff_text import GENERIC_INTENTS as GENERIC_INTENTS
from kefu.handoff_text import TOPICS as TOPICS
from kefu.handoff_text import mask_proofs, normalise_entities, summarise
from kefu.models import (
    HANDOFF_REASONS,
    TICKET_ACTIVE_STATUSES,
    TICKET_MESSAGE_AUTHORS,
    HandoffTicket,
    TicketMessage,
)

OPEN, CLAIMED, CLOSED, ABANDONED = "open", "claimed", "closed", "abandoned"
REQUESTED, FALLBACKS, COMPLAINT, FRUSTRATION = HANDOFF_REASONS
MAX_TRANSCRIPT = 50  # messages kept on a ticket, the latest
MAX_TEXT_CHARS = 2000  # per transcript entry or ticket message
TRANSCRIPT_SPEAKERS = ("customer", "bot")


class HandoffError(Exception):
    """A ticket operation that cannot be done."""


class TicketNotFound(HandoffError, LookupError):
    """There is no ticket with that id."""


class TicketClosed(HandoffError):
    """The ticket is closed or abandoned."""


class TicketTaken(HandoffError):
    """Another agent has claimed the ticket."""


class TicketForbidden(HandoffError):
    """The agent may not see the ticket: another agent has (or had) it, or it ended before
    anyone took it."""


@dataclass(frozen=True)
class MessageView:
    id: int
    author: str  # "agent" | "customer"
    agent: str | None
    text: str
    created_at: datetime


@dataclass(frozen=True)
class TicketView:
    """A ticket as agents and the bot see it, detached from the session."""

    id: int
    conversation_id: str
    customer_id: int | None
    channel: str
    language: str
    reason: str
    status: str
    agent: str | None
    summary: str
    intents: tuple[str, ...]
    entities: dict[str, Any]
    sentiment: float | None
    transcript: tuple[dict[str, str], ...]
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    messages: tuple[MessageView, ...] = field(default_factory=tuple)

    @property
    def active(self) -> bool:
        """Open or claimed: someone is waiting or being served."""
        return self.status in TICKET_ACTIVE_STATUSES


def stored_time(now: datetime | None) -> datetime:
    """``now`` as the shop stores times, naive UTC; the current time when None."""
    if now is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if now.tzinfo is not None:
        return now.astimezone(timezone.utc).replace(tzinfo=None)
    return now


# ----------------------------------------------------------------------------- when to hand off


def _settings(settings: HandoffSettings | None) -> HandoffSettings:
    return settings or shop_config().handoff


def is_open(now: datetime, settings: HandoffSettings | None = None) -> bool:
    """Whether agents work at ``now`` (naive = UTC), by shop.yml ``handoff.office_hours``."""
    return _settings(settings).is_open(now)


def next_opening(now: datetime, settings: HandoffSettings | None = None) -> datetime:
    """When agents next work, in the shop's time zone; ``now`` itself during office hours."""
    return _settings(settings).next_opening(now)


def handoff_reason(
    *,
    requested: bool = False,
    fallbacks: int = 0,
    complaint: bool = False,
    sentiment: float | None = None,
    frustrated: bool = False,
    settings: HandoffSettings | None = None,
) -> str | None:
    """Why the conversation should go to a person now, or None: the customer asked
    (``requested``), a complaint at or below ``complaint_sentiment`` (``complaint``), the
    customer is frustrated (``frustration``), or ``fallbacks_before_handoff`` replies the bot
    did not understand in a row (``fallbacks``), in that order of precedence."""
    settings = _settings(settings)
    if requested:
        return REQUESTED
    if complaint and sentiment is not None and sentiment <= settings.complaint_sentiment:
        return COMPLAINT
    if frustrated:
        return FRUSTRATION
    if fallbacks >= settings.fallbacks_before_handoff:
        return FALLBACKS
    return None


# ----------------------------------------------------------------------------- tickets


def _transcript(items: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The last :data:`MAX_TRANSCRIPT` items, checked, their texts masked and capped."""
    kept = []
    for item in list(items)[-MAX_TRANSCRIPT:]:
        who, text = item.get("who"), item.get("text")
        if who not in TRANSCRIPT_SPEAKERS or not isinstance(text, str):
            raise ValueError(f"a transcript item needs 'who' (customer or bot) and 'text': {item}")
        at = item.get("at")
        at = at.isoformat() if isinstance(at, datetime) else str(at or "")
        kept.append({"who": who, "text": mask_proofs(text)[:MAX_TEXT_CHARS], "at": at})
    return kept


def _message_view(message: TicketMessage) -> MessageView:
    return MessageView(message.id, message.author, message.agent, message.text, message.created_at)


def _view(ticket: HandoffTicket, messages: bool = True) -> TicketView:
    return TicketView(
        id=ticket.id,
        conversation_id=ticket.conversation_id,
        customer_id=ticket.customer_id,
        channel=ticket.channel,
        language=ticket.language,
        reason=ticket.reason,
        status=ticket.status,
        agent=ticket.agent,
        summary=ticket.summary,
        intents=tuple(ticket.intents or ()),
        entities=dict(ticket.entities or {}),
        sentiment=ticket.sentiment,
        transcript=tuple(dict(item) for item in ticket.transcript or ()),
        created_at=ticket.created_at,
        claimed_at=ticket.claimed_at,
        closed_at=ticket.closed_at,
        messages=tuple(_message_view(m) for m in ticket.messages) if messages else (),
    )


def _load(session: Session, ticket_id: int, lock: bool = False) -> HandoffTicket:
    """The ticket read afresh; with ``lock``, locked until the transaction ends."""
    query = select(HandoffTicket).where(HandoffTicket.id == ticket_id)
    if lock:
        query = query.with_for_update()
        if session.get_bind().dialect.name == "sqlite":
            # no row locks: take the database's write lock now (pysqlite defers BEGIN to the
            # first write), so no other writer can close the ticket between read and write
            session.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket_id)
                .values(id=HandoffTicket.id)
                .execution_options(synchronize_session=False)
            )
    ticket = session.scalars(query.execution_options(populate_existing=True)).first()
    if ticket is None:
        raise TicketNotFound(f"there is no hand-off ticket {ticket_id}")
    return ticket


def _active_ticket(session: Session, conversation_id: str) -> HandoffTicket | None:
    query = select(HandoffTicket).where(
        HandoffTicket.of_conversation(conversation_id),
        HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES),
    )
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _refuse_inactive(ticket: HandoffTicket) -> None:
    if ticket.status not in TICKET_ACTIVE_STATUSES:
        raise TicketClosed(f"hand-off ticket {ticket.id} is {ticket.status}")


def open_ticket(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    language: str,
    reason: str,
    transcript: Sequence[Mapping[str, Any]],
    intents: Sequence[str],
    entities: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    sentiment: float | None,
    customer_id: int | None = None,
    now: datetime | None = None,
    client: str | None = None,
    settings: HandoffSettings | None = None,
) -> TicketView:
    """Put the conversation in the agents' queue, or return its ticket that is already open or
    claimed (unchanged).  ``reason`` is one of :data:`kefu.models.HANDOFF_REASONS`.

    A new ticket counts against ``handoff.limits``: per ``client`` (the customer's address
    when the channel knows it; else the customer, else the conversation), per ``channel`` and
    in all, per hour.  Over a limit: :class:`TicketLimitReached` (with ``retry_after``), and
    nothing is written."""
    if reason not in HANDOFF_REASONS:
        raise ValueError(f"a hand-off reason is one of {HANDOFF_REASONS}, not {reason!r}")
    if not conversation_id or len(conversation_id) > 128:
        raise ValueError("a hand-off needs a conversation id of at most 128 characters")
    existing = _active_ticket(session, conversation_id)
    if existing is not None:
        return _view(existing)
    kept = _transcript(transcript)
    shown = normalise_entities(entities)
    moment = handoff_limits.aware(now)
    who = handoff_limits.client_key(client, customer_id, conversation_id, channel)
    limits = _settings(settings).limits
    handoff_limits.check(session, client=who, channel=channel, limits=limits, now=moment)
    dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    # a ticket opened meanwhile by another worker wins; no savepoint needed
    inserted = session.execute(
        dialect_insert(HandoffTicket)
        .values(
            conversation_id=conversation_id,
            customer_id=customer_id,
            channel=channel,
            language=language,
            reason=reason,
            status=OPEN,
            summary=summarise(kept, list(intents), shown, language, sentiment),
            intents=[str(intent) for intent in intents],
            entities=shown,
            sentiment=None if sentiment is None else float(sentiment),
            transcript=kept,
            created_at=stored_time(now),
        )
        .on_conflict_do_nothing(
            index_elements=[HandoffTicket.conversation_ref],
            index_where=HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES),
        )
    )
    created = _active_ticket(session, conversation_id)
    if created is None:  # cannot happen: either our insert or the conflicting ticket is there
        raise HandoffError(f"no active hand-off ticket for conversation {conversation_id!r}")
    if inserted.rowcount == 1:
        handoff_limits.record(
            session, ticket_id=created.id, client=who, channel=channel, now=moment
        )
    return _view(created)


def ticket(session: Session, ticket_id: int) -> TicketView:
    """Ticket ``ticket_id`` with its messages; :class:`TicketNotFound` if there is none."""
    return _view(_load(session, ticket_id))


def open_tickets(session: Session) -> list[TicketView]:
    """Tickets waiting or being served (open, claimed), oldest first, with their messages.
    Unbounded: for tests and tools; the console reads :func:`queue_page`."""
    query = (
        select(HandoffTicket)
        .where(HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES))
        .order_by(HandoffTicket.created_at, HandoffTicket.id)
        .options(selectinload(HandoffTicket.messages))
    )
    return [_view(t) for t in session.scalars(query.execution_options(populate_existing=True))]


# ----------------------------------------------------------------------------- agents' access


def may_see(view: TicketView, agent: str) -> bool:
    """Whether ``agent`` may read the ticket: it waits in the queue (open, unclaimed), or it is
    theirs (claimed, closed or abandoned while they had it)."""
    if view.status == OPEN and view.agent is None:
        return True
    return bool(agent) and view.agent == agent


def ticket_for(session: Session, ticket_id: int, agent: str) -> TicketView:
    """Ticket ``ticket_id`` as ``agent`` may see it; :class:`TicketNotFound` if there is none,
    :class:`TicketForbidden` if it is not theirs to see (:func:`may_see`)."""
    view = ticket(session, ticket_id)
    if not may_see(view, agent):
        raise TicketForbidden(f"hand-off ticket {ticket_id} is not for agent {agent!r}")
    return view


def _visible_to(agent: str):
    return or_(
        and_(HandoffTicket.status == OPEN, HandoffTicket.agent.is_(None)),
        and_(HandoffTicket.status == CLAIMED, HandoffTicket.agent == agent),
    )


@dataclass(frozen=True)
class QueuePage:
    """One page of an agent's queue: the tickets (without messages) and the counts."""

    tickets: tuple[TicketView, ...]
    page: int  # 1-based, clipped to the pages there are
    pages: int  # at least 1
    total: int  # tickets the agent may see (open, and their own claimed ones)
    with_others: int  # tickets other agents are serving (not shown)


def queue_page(session: Session, agent: str, page: int = 1, page_size: int = 20) -> QueuePage:
    """Page ``page`` of what ``agent`` works on, oldest first: the open, unclaimed tickets and
    those they claimed; at most ``page_size`` tickets, their messages not loaded."""
    if page_size < 1:
        raise ValueError("a queue page holds at least one ticket")
    visible = _visible_to(agent)
    total = int(session.scalar(select(func.count()).where(visible)) or 0)
    others = session.scalar(
        select(func.count()).where(
            HandoffTicket.status == CLAIMED,
            or_(HandoffTicket.agent.is_(None), HandoffTicket.agent != agent),
        )
    )
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    query = (
        select(HandoffTicket)
        .where(visible)
        .order_by(HandoffTicket.created_at, HandoffTicket.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .execution_options(populate_existing=True)
    )
    tickets = tuple(_view(t, messages=False) for t in session.scalars(query))
    return QueuePage(tickets, page, pages, total, int(others or 0))


def waiting_since_before(
    session: Session, cutoff: datetime, after_id: int = 0, limit: int = 20
) -> list[TicketView]:
    """At most ``limit`` active tickets opened before ``cutoff`` (naive UTC) with an id above
    ``after_id``, by id (without messages): those whose customer may have left.  A caller that
    looks at them in turns passes the last id it saw, and 0 again once none are left."""
    query = (
        select(HandoffTicket)
        .where(
            HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES),
            HandoffTicket.created_at < stored_time(cutoff),
            HandoffTicket.id > after_id,
        )
        .order_by(HandoffTicket.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return [_view(t, messages=False) for t in session.scalars(query)]


# ----------------------------------------------------------------------------- agents' work


def queue_position(session: Session, ticket_id: int) -> int:
    """The ticket's place among the open, unclaimed tickets by creation time (1 = next);
    0 once it is claimed, closed or abandoned (nobody is waiting)."""
    current = _load(session, ticket_id)
    if current.status != OPEN:
        return 0
    ahead = select(func.count()).where(
        HandoffTicket.status == OPEN,
        or_(
            HandoffTicket.created_at < current.created_at,
            and_(HandoffTicket.created_at == current.created_at, HandoffTicket.id < current.id),
        ),
    )
    return int(session.scalar(ahead)) + 1


def claim(session: Session, ticket_id: int, agent: str, now: datetime | None = None) -> TicketView:
    """``agent`` takes the ticket.  Of concurrent claims exactly one wins: the claim is a
    conditional ``UPDATE … WHERE status = 'open'``.  Claiming one's own ticket again returns
    it; :class:`TicketTaken` when another agent has it, :class:`TicketClosed` when it is
    closed or abandoned."""
    if not agent or len(agent) > 64:
        raise ValueError("an agent name of 1 to 64 characters is needed")
    claimed = session.execute(
        update(HandoffTicket)
        .where(HandoffTicket.id == ticket_id, HandoffTicket.status == OPEN)
        .values(status=CLAIMED, agent=agent, claimed_at=stored_time(now))
        .execution_options(synchronize_session=False)
    )
    current = _load(session, ticket_id)
    if claimed.rowcount == 1:
        return _view(current)
    _refuse_inactive(current)
    if current.agent != agent:
        raise TicketTaken(f"hand-off ticket {ticket_id} is claimed by another agent")
    return _view(current)


def add_message(
    session: Session, ticket_id: int, author: str, text: str, agent: str | None = None
) -> MessageView:
    """Record a message of the live chat: from the customer, or from ``agent``, who must have
    claimed the ticket.  :class:`TicketClosed` once it is closed or abandoned."""
    if author not in TICKET_MESSAGE_AUTHORS:
        raise ValueError(f"a message author is one of {TICKET_MESSAGE_AUTHORS}, not {author!r}")
    if not text or not text.strip():
        raise ValueError("a message needs text")
    current = _load(session, ticket_id, lock=True)  # not after a close committed meanwhile
    _refuse_inactive(current)
    if author == "agent":
        if not agent:
            raise ValueError("an agent's message needs the agent")
        if current.status != CLAIMED:
            raise ValueError(f"hand-off ticket {ticket_id} must be claimed before replying")
        if current.agent != agent:
            raise TicketTaken(f"hand-off ticket {ticket_id} is claimed by another agent")
    message = TicketMessage(
        ticket_id=current.id,
        author=author,
        agent=agent if author == "agent" else None,
        text=mask_proofs(text.strip())[:MAX_TEXT_CHARS],
        created_at=stored_time(None),
    )
    session.add(message)
    session.flush()
    session.expire(current, ["messages"])
    return _message_view(message)


def close(session: Session, ticket_id: int, agent: str, now: datetime | None = None) -> TicketView:
    """``agent`` closes the ticket they claimed, or an unclaimed one (which is then theirs).
    :class:`TicketTaken` when another agent has it, :class:`TicketClosed` when it is already
    closed or abandoned."""
    if not agent:
        raise ValueError("closing a ticket needs the agent")
    closed = session.execute(
        update(HandoffTicket)
        .where(
            HandoffTicket.id == ticket_id,
            HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES),
            or_(HandoffTicket.agent.is_(None), HandoffTicket.agent == agent),
        )
        .values(status=CLOSED, agent=agent, closed_at=stored_time(now))
        .execution_options(synchronize_session=False)
    )
    current = _load(session, ticket_id)
    if closed.rowcount == 1:
        return _view(current)
    _refuse_inactive(current)
    raise TicketTaken(f"hand-off ticket {ticket_id} is claimed by another agent")


def abandon(session: Session, ticket_id: int, now: datetime | None = None) -> TicketView:
    """The customer left: an open or claimed ticket becomes ``abandoned``.  A ticket already
    closed or abandoned stays as it is."""
    session.execute(
        update(HandoffTicket)
        .where(
            HandoffTicket.id == ticket_id,
            HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES),
        )
        .values(status=ABANDONED, closed_at=stored_time(now))
        .execution_options(synchronize_session=False)
    )
    return _view(_load(session, ticket_id))


def abandon_conversation(
    session: Session, conversation_id: str, now: datetime | None = None
) -> TicketView | None:
    """The customer left the conversation (its session ended, or they started over): its open
    or claimed ticket, if any, becomes ``abandoned`` and leaves the queue.  None when the
    conversation had no active ticket."""
    active = _active_ticket(session, conversation_id)
    if active is None:
        return None
    return abandon(session, active.id, now)
