"""Erasure everywhere: a conversation, or everything about a customer, in the shop database and
in the conversation store.

A conversation's erasure deletes it from the conversation store (all its events, its id, its
links) and, in the shop database, the messages of its hand-off tickets, their transcript,
entities and summary, the comments of its ratings and its id wherever it was kept (tickets and
ratings keep only a placeholder id, open tickets are abandoned; the console's audit keeps the
ticket number), and the analytics database's pseudonymous facts of it (kefu.analytics, when
configured).  A customer's erasure is :func:`kefu.account.erase_customer` (name, phone,
e-mail, addresses, invoices, typed reasons ...) plus the erasure of every conversation they
took part in: those linked to them while logged in and those of their tickets and ratings.
The shop database finds a conversation's rows by the blind index of its id, which it stores
encrypted (:class:`kefu.models.OfConversation`).

The conversation store is written first and committed by the caller's connection; the shop
database in the caller's session.  Erasing again finds nothing more, so an interrupted erasure
is finished by running it again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import create_engine, delete, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from kefu.account import erase_customer
from kefu.clock import to_db
from kefu.handoff import ABANDONED, CLAIMED, OPEN
from kefu.models import ConsoleAudit, CsatRating, Customer, HandoffTicket, TicketMessage
from kefu.privacy.conversations import ConversationVault

ERASED_PREFIX = "erased:"  # what an erased conversation id becomes: "erased:ticket:12"


@dataclass(frozen=True)
class Erased:
    """What an erasure removed: conversations in the store, tickets and ratings it cleared."""

    conversations: int = 0
    tickets: int = 0
    ratings: int = 0
    facts: int = 0

    def summary(self) -> str:
        facts = f", {self.facts} analytics fact(s) deleted" if self.facts else ""
        return (
            f"{self.conversations} conversation(s) deleted from the conversation store, "
            f"{self.tickets} hand-off ticket(s) and {self.ratings} rating(s) cleared{facts}"
        )


def _live(conversation_ids: Iterable[str]) -> list[str]:
    return sorted({c for c in conversation_ids if c and not c.startswith(ERASED_PREFIX)})


def erase_conversation_records(
    session: Session, conversation_ids: Iterable[str], now: datetime
) -> tuple[int, int]:
    """Clear the conversations' traces in the shop database; (tickets, ratings) cleared."""
    ids = _live(conversation_ids)
    if not ids:
        return 0, 0
    tickets = session.scalars(
        select(HandoffTicket).where(HandoffTicket.of_conversation(*ids))
    ).all()
    for ticket in tickets:
        session.execute(delete(TicketMessage).where(TicketMessage.ticket_id == ticket.id))
        session.expire(ticket, ["messages"])
        ticket.transcript, ticket.entities, ticket.summary = [], {}, ""
        ticket.conversation_id = f"{ERASED_PREFIX}ticket:{ticket.id}"
        if ticket.status in (OPEN, CLAIMED):
            ticket.status, ticket.closed_at = ABANDONED, to_db(now)
    ratings = session.scalars(select(CsatRating).where(CsatRating.of_conversation(*ids))).all()
    for rating in ratings:
        rating.comment = None
        rating.conversation_id = f"{ERASED_PREFIX}rating:{rating.id}"
    session.execute(
        update(ConsoleAudit)
        .where(ConsoleAudit.of_conversation(*ids))
        .values(conversation_id=None, conversation_ref=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return len(tickets), len(ratings)


def erase_conversations(
    session: Session,
    store: Connection,
    vault: ConversationVault,
    conversation_ids: Iterable[str],
    now: datetime,
) -> Erased:
    """Erase the conversations from the store, the shop database and the analytics facts."""
    ids = _live(conversation_ids)
    deleted = vault.erase(store, ids)
    tickets, ratings = erase_conversation_records(session, ids, now)
    return Erased(deleted, tickets, ratings, erase_analytics(ids))


def erase_analytics(
    conversation_ids: Iterable[str], environ: Mapping[str, str] | None = None
) -> int:
    """Delete the conversations' pseudonymous facts (kefu.analytics) when its database and
    secret are configured (``KEFU_ANALYTICS_DB_URL``, ``KEFU_ANALYTICS_SECRET``); how many."""
    from kefu.analytics import DB_URL_ENV, SECRET_ENV, conversation_facts
    from kefu.identity import pseudonymise

    env = os.environ if environ is None else environ
    url, secret = env.get(DB_URL_ENV), env.get(SECRET_ENV)
    ids = _live(conversation_ids)
    if not url or not secret or not ids:
        return 0
    engine = create_engine(url, future=True)
    try:
        with engine.begin() as connection:
            if not inspect(connection).has_table(conversation_facts.name):
                return 0
            pseudonyms = [pseudonymise(c, secret) for c in ids]
            facts = conversation_facts.c.conversation
            return connection.execute(
                delete(conversation_facts).where(facts.in_(pseudonyms))
            ).rowcount
    finally:
        engine.dispose()


def customer_conversations(
    session: Session, store: Connection, vault: ConversationVault, customer_id: int
) -> list[str]:
    """Every conversation a customer took part in, as far as kefu can tell."""
    found = set(vault.of_customer(store, customer_id))
    for model in (HandoffTicket, CsatRating):
        found |= set(
            session.scalars(select(model.conversation_id).where(model.customer_id == customer_id))
        )
    return _live(found)


def erase_customer_everywhere(
    session: Session,
    store: Connection,
    vault: ConversationVault,
    customer_id: int,
    now: datetime,
) -> Erased:
    """Erase the customer's personal data and every conversation they took part in; a
    ``ValueError`` when there is no such customer."""
    if session.get(Customer, customer_id) is None:
        raise ValueError(f"there is no customer with id {customer_id}")
    conversations = customer_conversations(session, store, vault, customer_id)
    erased = erase_conversations(session, store, vault, conversations, now)
    erase_customer(session, customer_id, now)
    return erased
