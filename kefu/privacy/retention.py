"""Retention: conversations are kept ``privacy.retention_days`` (shop.yml) after their last
message, then erased (kefu.privacy.erasure) from the conversation store and from the tickets
and ratings that named them; tickets and ratings keep their figures for the report."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from kefu.clock import to_db
from kefu.models import CsatRating, HandoffTicket
from kefu.privacy.conversations import ConversationVault
from kefu.privacy.erasure import Erased, erase_conversation_records


def apply_retention(
    session: Session, store: Connection, vault: ConversationVault, now: datetime, days: int
) -> Erased:
    """Erase every conversation whose last message is more than ``days`` days before ``now``
    (aware UTC), and the traces of tickets and ratings older than that."""
    if days < 1:
        raise ValueError("the retention period is at least one day")
    cutoff = now - timedelta(days=days)
    expired = vault.expire(store, cutoff.timestamp())
    old = set(expired)
    for model in (HandoffTicket, CsatRating):
        old |= set(
            session.scalars(select(model.conversation_id).where(model.created_at < to_db(cutoff)))
        )
    tickets, ratings = erase_conversation_records(session, old, now)
    return Erased(len(expired), tickets, ratings)
