"""Orders of the demo shop for tests against the running servers.  Failed proofs are counted per
order *and per customer* in the shop database, so a test that fails on purpose takes an order
whose customer no other test uses: :func:`order_of_nth_customer` counts customers from the
highest id down, while the other tests take the oldest orders."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kefu.models import ConfirmationCode, HandoffTicket, Order, SecurityCounter, Shipment


def order_of_nth_customer(session: Session, nth: int) -> Order:
    """A shipped order of the ``nth`` customer (0, 1, ...) counted from the highest id down."""
    customers = session.scalars(
        select(Order.customer_id)
        .join(Shipment)
        .where(Order.status == "shipped")
        .group_by(Order.customer_id)
        .order_by(Order.customer_id.desc())
        .offset(nth)
        .limit(1)
    ).all()
    return session.scalars(
        select(Order)
        .join(Shipment)
        .where(Order.status == "shipped", Order.customer_id == customers[0])
        .order_by(Order.id)
    ).first()


def forget_failures(session: Session) -> None:
    """Start a test session with no failed proofs, no codes counted and no hand-off tickets
    waiting (the local shop database outlives test runs; CI starts with a fresh one)."""
    session.execute(delete(SecurityCounter))
    session.execute(delete(ConfirmationCode))
    waiting = HandoffTicket.status.in_(("open", "claimed"))
    session.execute(update(HandoffTicket).where(waiting).values(status="abandoned"))
