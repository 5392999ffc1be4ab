"""Access: everything kefu holds about a customer, decrypted, as one JSON document
(``kefu privacy export``): the account, addresses, orders with their items, payments,
shipments, invoices, returns and refunds, requests, browsing, hand-off tickets with their
messages, ratings, and every conversation they took part in with all its events."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from kefu.models import (
    Address,
    CsatRating,
    Customer,
    CustomerEvent,
    HandoffTicket,
    Invoice,
    Order,
    OrderItem,
    OrderRequest,
    Payment,
    Refund,
    ReturnRequest,
    Shipment,
    TicketMessage,
)
from kefu.privacy.conversations import ConversationVault
from kefu.privacy.erasure import customer_conversations
from kefu.privacy.fields import index_columns

EXPORT_SCHEMA = "kefu.privacy.export/1"


def plain(value: Any) -> Any:
    """A column value as JSON can hold it."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_dict(row: Any) -> dict[str, Any]:
    """A row's columns, decrypted, without its blind indexes (keyed hashes that tell nothing)."""
    indexes = index_columns(row.__table__)
    return {
        column.key: plain(getattr(row, column.key))
        for column in row.__table__.columns
        if column not in indexes
    }


def _rows(session: Session, model: type, *where: Any) -> list[dict[str, Any]]:
    query = select(model).where(*where).order_by(*model.__table__.primary_key.columns)
    return [row_dict(row) for row in session.scalars(query)]


def _order(session: Session, order: Order) -> dict[str, Any]:
    record = row_dict(order)
    for name, model in (
        ("items", OrderItem),
        ("payments", Payment),
        ("shipments", Shipment),
        ("invoices", Invoice),
        ("returns", ReturnRequest),
        ("refunds", Refund),
    ):
        record[name] = _rows(session, model, model.order_id == order.id)
    return record


def export_customer(
    session: Session, store: Connection, vault: ConversationVault, customer_id: int
) -> dict[str, Any]:
    """The customer's data as a JSON-ready dictionary; ``ValueError`` if there is none."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ValueError(f"there is no customer with id {customer_id}")
    orders = session.scalars(
        select(Order).where(Order.customer_id == customer_id).order_by(Order.id)
    )
    tickets = []
    for ticket in _rows(session, HandoffTicket, HandoffTicket.customer_id == customer_id):
        ticket["messages"] = _rows(session, TicketMessage, TicketMessage.ticket_id == ticket["id"])
        tickets.append(ticket)
    return {
        "schema": EXPORT_SCHEMA,
        "customer": row_dict(customer),
        "addresses": _rows(session, Address, Address.customer_id == customer_id),
        "orders": [_order(session, order) for order in orders],
        "requests": _rows(session, OrderRequest, OrderRequest.customer_id == customer_id),
        "browsing": _rows(session, CustomerEvent, CustomerEvent.customer_id == customer_id),
        "handoff_tickets": tickets,
        "ratings": _rows(session, CsatRating, CsatRating.customer_id == customer_id),
        "conversations": [
            {"conversation_id": conversation, "events": vault.events(store, conversation)}
            for conversation in customer_conversations(session, store, vault, customer_id)
        ],
    }
