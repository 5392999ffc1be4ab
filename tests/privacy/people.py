"""Two customers with everything kefu can hold about a person: account, addresses, an order with
an invoice, a return and a cancellation reason, a hand-off ticket with messages, an agent's read
of it in the console's audit, a rating with a comment, and conversations in the encrypted
tracker store (one logged in, one anonymous)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from kefu.db import session_scope
from kefu.identity import issue_token
from kefu.models import (
    Address,
    ConsoleAudit,
    CsatRating,
    Customer,
    HandoffTicket,
    Invoice,
    Order,
    OrderItem,
    Product,
    ReturnRequest,
    TicketMessage,
)
from kefu_rasa.tracker_store import EncryptedTrackerStore
from tests.privacy.conftest import (
    CUSTOMER_ADDRESS,
    CUSTOMER_EMAIL,
    CUSTOMER_NAME,
    CUSTOMER_PHONE,
    IDENTITY_SECRET,
)

OTHER_NAME, OTHER_PHONE, OTHER_ADDRESS = "李雷", "13700001111", "上海市徐汇区漕溪路1号"
OTHER_SECRETS = (OTHER_NAME, OTHER_PHONE, OTHER_ADDRESS)
DOMAIN = Domain.from_dict({"intents": ["inform"]})
NOW = datetime(2026, 12, 1, 2, 0)


@dataclass(frozen=True)
class People:
    customer: int
    other: int
    logged_in: str  # the customer's conversation while logged in
    anonymous: str  # the customer's conversation on Telegram, known from their ticket
    other_conversation: str


def _conversation(store, sender, text, customer_id=None, at=None):
    metadata = {"customer_token": issue_token(customer_id, IDENTITY_SECRET)} if customer_id else {}
    stamp = (at or datetime.now()).timestamp()
    tracker = DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen", timestamp=stamp),
            UserUttered(text, intent={"name": "inform"}, metadata=metadata, timestamp=stamp + 1),
            BotUttered(f"收到：{text}", timestamp=stamp + 2),
        ],
        DOMAIN.slots,
    )
    asyncio.run(store.save(tracker))


def _person(session, name, phone, email, address, product) -> Customer:
    customer = Customer(name=name, phone=phone, email=email)
    snapshot = {
        "recipient": name,
        "phone": phone,
        "province": "北京市",
        "city": "北京市",
        "detail": address,
    }
    customer.addresses = [Address(**{k: v for k, v in snapshot.items()}, is_default=True)]
    session.add(customer)
    session.flush()
    order = Order(
        order_no=f"26113000{customer.id:08d}",
        customer_id=customer.id,
        status="cancelled",
        items_total=product.price,
        total=product.price,
        shipping_address=snapshot,
        created_at=NOW,
        cancel_reason=f"{name}不想要了",
    )
    session.add(order)
    session.flush()
    item = OrderItem(
        order_id=order.id,
        product_id=product.id,
        title_zh=product.title_zh,
        title_en=product.title_en,
        unit_price=product.price,
        quantity=1,
    )
    session.add(item)
    session.flush()
    session.add_all(
        [
            Invoice(
                order_id=order.id,
                title=name,
                kind="electronic",
                amount=product.price,
                email=email,
                status="requested",
                requested_at=NOW,
            ),
            ReturnRequest(
                order_id=order.id,
                order_item_id=item.id,
                kind="return",
                reason=f"defect: 请到{address}取件",
                status="requested",
                created_at=NOW,
                updated_at=NOW,
            ),
        ]
    )
    return customer


def _ticket(session, conversation, customer, text) -> None:
    ticket = HandoffTicket(
        conversation_id=conversation,
        customer_id=customer.id,
        channel=conversation.split(":")[0],
        language="zh",
        reason="requested",
        status="open",
        summary=text,
        entities={"phone": customer.phone},
        transcript=[{"who": "customer", "text": text, "at": 1.0}],
        created_at=NOW,
    )
    session.add(ticket)
    session.flush()
    session.add(TicketMessage(ticket_id=ticket.id, author="customer", text=text, created_at=NOW))
    session.add(
        ConsoleAudit(
            at=NOW, agent="wang", action="read", ticket_id=ticket.id, conversation_id=conversation
        )
    )
    session.add(
        CsatRating(
            conversation_id=conversation,
            customer_id=customer.id,
            rating=2,
            comment=f"{text}，太慢了",
            language="zh",
            channel=ticket.channel,
            created_at=NOW,
        )
    )


def make_people(factory, tracker_url: str, conversations_at: datetime | None = None) -> People:
    """Both customers in the shop database and the tracker store at ``tracker_url``."""
    with session_scope(factory) as session:
        product = session.scalars(select(Product).limit(1)).one()
        customer = _person(
            session, CUSTOMER_NAME, CUSTOMER_PHONE, CUSTOMER_EMAIL, CUSTOMER_ADDRESS, product
        )
        other = _person(session, OTHER_NAME, OTHER_PHONE, None, OTHER_ADDRESS, product)
        people = People(
            customer.id,
            other.id,
            logged_in="webchat:5f1c0e",
            anonymous=f"telegram:{CUSTOMER_PHONE}",
            other_conversation=f"rest:{OTHER_PHONE}",
        )
        _ticket(session, people.anonymous, customer, f"我是{CUSTOMER_NAME}，住{CUSTOMER_ADDRESS}")
        _ticket(session, people.other_conversation, other, f"我是{OTHER_NAME}，住{OTHER_ADDRESS}")
    store = EncryptedTrackerStore(domain=DOMAIN, host=tracker_url)
    at = conversations_at
    _conversation(store, people.logged_in, f"我的电话{CUSTOMER_PHONE}", people.customer, at)
    _conversation(store, people.anonymous, f"地址{CUSTOMER_ADDRESS}", None, at)
    _conversation(store, people.other_conversation, f"我叫{OTHER_NAME}", people.other)
    store.engine.dispose()
    return people


def last_week() -> datetime:
    return datetime.now() - timedelta(days=7)
