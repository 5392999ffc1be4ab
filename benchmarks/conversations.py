"""The benchmark's conversations (benchmarks/conversations.yml), ready to send.

kefu's order-tracking conversations are filled in with real shipped orders of the shop
database the servers use, and the right last four digits of the phone on each, so that the
action server verifies the customer and reads the shipment from the database.
"""

from __future__ import annotations

from pathlib import Path

import yaml

FILE = Path(__file__).with_name("conversations.yml")


def shipped_orders(limit: int = 20) -> list[dict[str, str]]:
    """``order_no`` and ``last4`` of shipped orders in the shop database."""
    from sqlalchemy import select

    from kefu.db import make_engine, make_session_factory
    from kefu.models import Order, Shipment

    engine = make_engine()
    try:
        with make_session_factory(engine)() as session:
            orders = (
                session.scalars(
                    select(Order)
                    .join(Shipment)
                    .where(Order.status == "shipped")
                    .order_by(Order.id)
                    .limit(limit)
                )
                .unique()
                .all()
            )
            return [{"order_no": o.order_no, "last4": _last4(o)} for o in orders]
    finally:
        engine.dispose()


def _last4(order) -> str:
    phone = (order.shipping_address or {}).get("phone") or order.customer.phone
    return "".join(c for c in phone if c.isdigit())[-4:]


def fill(conversations: list[list[str]], orders: list[dict[str, str]]) -> list[list[str]]:
    """Conversations with ``{order_no}``/``{last4}`` filled in, one order after another."""
    filled = []
    for i, conversation in enumerate(conversations):
        values = orders[i % len(orders)] if orders else {}
        filled.append([text.format(**values) if "{" in text else text for text in conversation])
    return filled


def conversations(bot: str) -> list[list[str]]:
    """The conversations for ``bot`` ("kefu" or "stock")."""
    raw = yaml.safe_load(FILE.read_text(encoding="utf-8"))[bot]
    needs_orders = any("{" in text for conversation in raw for text in conversation)
    return fill(raw, shipped_orders() if needs_orders else [])
