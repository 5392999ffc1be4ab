"""What the console's pages show: queue rows, a ticket's facts, the customer (masked), the live
conversation.  Plain functions over views and the database, no web framework.

Nothing that proves a customer's identity is shown: phone numbers keep at most their first 3
digits ("138****"), e-mails their first letter and domain, and the last phone digits a
customer typed as a proof ("尾号6093", "6093") are masked wherever they appear, since an order
number with those digits is enough to act on an order.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session

from kefu import handoff
from kefu.config import HandoffSettings
from kefu.handoff import TicketView, mask_proofs
from kefu.identity import mask_email, mask_name
from kefu.models import Customer
from kefu.orders import recent_orders
from kefu.products import money
from kefu.sentiment import NEUTRAL_BAND
from kefu.text import fold_width

MAX_LIVE_MESSAGES = 200
RECENT_ORDERS = 5
REASONS = {
    "requested": "客户要求 · asked for a person",
    "fallbacks": "机器人没听懂 · bot did not understand",
    "complaint": "投诉 · complaint",
    "frustration": "客户不满 · frustrated",
}
STATUSES = {
    "open": "待认领 · open",
    "claimed": "处理中 · claimed",
    "closed": "已关闭 · closed",
    "abandoned": "客户已离开 · abandoned",
}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def waiting_text(seconds: float) -> str:
    """A compact duration: "45s", "12m", "1h05m", "2d03h"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def mood(sentiment: float | None) -> str:
    """negative / neutral / positive for a CSS class; "" without a score."""
    if sentiment is None:
        return ""
    if sentiment <= -NEUTRAL_BAND:
        return "negative"
    return "positive" if sentiment >= NEUTRAL_BAND else "neutral"


def _clock(settings: HandoffSettings, moment: datetime | None) -> str:
    """A stored (naive UTC) time on the shop's clock: "03-03 10:05"."""
    return settings.local(moment).strftime("%m-%d %H:%M") if moment else ""


def ticket_row(view: TicketView, now: datetime, settings: HandoffSettings) -> dict[str, Any]:
    """One line of the queue (the page and ``/tickets.json``)."""
    waited = (_utc(now) - _utc(view.created_at)).total_seconds()
    return {
        "id": view.id,
        "href": f"/tickets/{view.id}",
        "status": view.status,
        "status_text": STATUSES.get(view.status, view.status),
        "reason": view.reason,
        "reason_text": REASONS.get(view.reason, view.reason),
        "language": view.language,
        "channel": view.channel,
        "opened": _clock(settings, view.created_at),
        "waiting_seconds": int(max(0, waited)),
        "waiting": waiting_text(waited),
        "summary": mask_proofs(view.summary),
        "sentiment": view.sentiment,
        "sentiment_text": "" if view.sentiment is None else f"{view.sentiment:+.2f}",
        "mood": mood(view.sentiment),
        "agent": view.agent,
    }


def queue_data(
    session: Session,
    agent: str,
    page: int,
    page_size: int,
    now: datetime,
    settings: HandoffSettings,
) -> dict[str, Any]:
    """One page of ``agent``'s queue (the open tickets and theirs) for the page and
    ``/tickets.json``: at most ``page_size`` rows, never the tickets' messages."""
    found = handoff.queue_page(session, agent, page, page_size)
    return {
        "tickets": [ticket_row(view, now, settings) for view in found.tickets],
        "page": found.page,
        "pages": found.pages,
        "total": found.total,
        "with_others": found.with_others,
        "page_size": page_size,
    }


def last_customer_message_at(events: object) -> float | None:
    """When the customer last wrote (a Unix time), from a tracker's events; None if never."""
    if not isinstance(events, list):
        return None
    stamps = [
        event["timestamp"]
        for event in events
        if isinstance(event, dict)
        and event.get("event") == "user"
        and isinstance(event.get("timestamp"), (int, float))
    ]
    return max(stamps, default=None)


def _transcript_time(value: object, settings: HandoffSettings) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    return settings.local(moment).strftime("%H:%M:%S")


def _entity_text(value: object) -> str:
    if isinstance(value, list):
        return " / ".join(mask_proofs(str(v)) for v in value)
    return "" if value is None else mask_proofs(str(value))


def mask_phone(phone: str | None) -> str:
    """A phone number as agents see it: the first 3 digits of a mobile number at most
    ("138****"), never the last ones, which prove an order."""
    digits = re.sub(r"\D", "", fold_width(phone or ""))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return (digits[:3] if len(digits) >= 11 else "") + "****" if digits else ""


def customer_data(session: Session, customer_id: int, language: str) -> dict[str, Any] | None:
    """The customer, masked, with their recent orders; None if the row is gone."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    if customer.erased_at is not None:
        return {"erased": True, "id": customer.id, "orders": []}
    orders = recent_orders(session, customer_id, limit=RECENT_ORDERS, language=language)
    return {
        "erased": False,
        "id": customer.id,
        "name": mask_name(customer.name),
        "phone": mask_phone(customer.phone),  # never the last digits: they prove an order
        "email": mask_email(customer.email),
        "language": customer.preferred_language,
        "orders": [
            {
                "order_no": order.order_no,
                "created": order.created.isoformat(),
                "status": order.status,
                "status_text": order.status_text,
                "total": money(order.total),
                "items": order.items_text,
            }
            for order in orders
        ],
    }


def ticket_data(
    session: Session, ticket_id: int, agent: str, settings: HandoffSettings
) -> dict[str, Any]:
    """Everything on a ticket's page but the live conversation, if ``agent`` may see it:
    TicketNotFound if there is none, TicketForbidden if it is not theirs to see.  Texts come
    with the customer's proofs of identity masked."""
    view = handoff.ticket_for(session, ticket_id, agent)
    return {
        "ticket": view,
        "summary": mask_proofs(view.summary),
        "row": ticket_row(view, handoff.stored_time(None), settings),
        "closed_at": _clock(settings, view.closed_at),
        "entities": [(name, _entity_text(value)) for name, value in view.entities.items()],
        "transcript": [
            {
                "who": item.get("who", ""),
                "text": mask_proofs(str(item.get("text", ""))),
                "at": _transcript_time(item.get("at"), settings),
            }
            for item in view.transcript
        ],
        "customer": (
            customer_data(session, view.customer_id, view.language)
            if view.customer_id is not None
            else None
        ),
    }


def live_messages(
    events: list[Any], view: TicketView, settings: HandoffSettings
) -> list[dict[str, Any]]:
    """The customer's and the bot's (or an agent's) messages of the conversation while the
    ticket is or was open, oldest first, the customer's proofs of identity masked."""
    start = _utc(view.created_at).timestamp()
    end = _utc(view.closed_at).timestamp() if view.closed_at else math.inf
    shown = []
    for event in events:
        if not isinstance(event, dict) or event.get("event") not in ("user", "bot"):
            continue
        at = event.get("timestamp")
        if not isinstance(at, (int, float)) or not start <= at <= end:
            continue
        metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        agent = metadata.get("agent") if event["event"] == "bot" else None
        text = event.get("text")
        shown.append(
            {
                "who": "customer" if event["event"] == "user" else ("agent" if agent else "bot"),
                "agent": str(agent) if agent else None,
                "text": mask_proofs(text)[: handoff.MAX_TEXT_CHARS]
                if isinstance(text, str) and text
                else "（非文字消息 · not a text message）",
                "at": settings.local(datetime.fromtimestamp(at, timezone.utc)).strftime("%H:%M:%S"),
                "timestamp": at,
            }
        )
    return shown[-MAX_LIVE_MESSAGES:]
