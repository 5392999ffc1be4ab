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
one open or claimed ticket, enforced by a partial unique index (``INSERT … ON CONFLICT DO
NOTHING``), so asking again, even from two workers at once, returns the same ticket.

Every function works in the caller's transaction.  Times are stored as naive UTC like the rest
of the shop; office hours are wall-clock times in the shop's time zone
(:class:`kefu.config.HandoffSettings`).  Transcript and message texts are stored redacted
(:func:`kefu.identity.redact`) and erased with the customer (:func:`kefu.account.erase_customer`).
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

from kefu.config import HandoffSettings, shop_config
from kefu.identity import redact
from kefu.models import (
    HANDOFF_REASONS,
    TICKET_ACTIVE_STATUSES,
    TICKET_MESSAGE_AUTHORS,
    HandoffTicket,
    TicketMessage,
)
from kefu.sentiment import NEUTRAL_BAND, STRONG_NEGATIVE

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


# ----------------------------------------------------------------------------- summary

# what the customer was asking about, by intent (kefu's domain); other intents read as their name
TOPICS: dict[str, tuple[str, str]] = {
    "recommend_product": ("商品推荐", "product recommendations"),
    "product_info": ("商品信息", "product details"),
    "compare_products": ("商品对比", "comparing products"),
    "check_stock": ("库存", "stock"),
    "promotions": ("优惠活动", "promotions"),
    "place_order": ("下单", "placing an order"),
    "track_order": ("订单物流", "tracking an order"),
    "delivery_period": ("送达时间", "delivery time"),
    "delivery_options": ("配送方式", "delivery options"),
    "change_order": ("修改订单", "changing an order"),
    "cancel_order": ("取消订单", "cancelling an order"),
    "check_cancellation_fee": ("取消费用", "the cancellation fee"),
    "change_shipping_address": ("修改收货地址", "changing the delivery address"),
    "set_up_shipping_address": ("设置收货地址", "setting up an address"),
    "request_return": ("退货", "a return"),
    "get_refund": ("退款", "a refund"),
    "track_refund": ("退款进度", "the refund status"),
    "check_refund_policy": ("退款政策", "the refund policy"),
    "warranty_repair": ("保修维修", "warranty and repair"),
    "check_payment_methods": ("支付方式", "payment methods"),
    "payment_issue": ("支付问题", "a payment problem"),
    "get_invoice": ("开发票", "an invoice"),
    "check_invoice": ("发票查询", "the invoice status"),
    "create_account": ("注册账号", "creating an account"),
    "edit_account": ("修改账户信息", "editing the account"),
    "delete_account": ("注销账号", "deleting the account"),
    "switch_account": ("切换账号", "switching accounts"),
    "recover_password": ("找回密码", "password recovery"),
    "registration_problems": ("注册问题", "registration problems"),
    "newsletter_subscription": ("订阅资讯", "the newsletter"),
    "complaint": ("投诉", "a complaint"),
    "review": ("评价建议", "a review or feedback"),
}
# intents that carry no topic of their own
GENERIC_INTENTS = frozenset(
    """greet goodbye thank affirm deny bot_challenge help out_of_scope switch_language inform
    show_more refine_results no_preference nlu_fallback contact_human_agent
    contact_customer_service rate_satisfaction""".split()
)
FALLBACK_INTENT = "nlu_fallback"
# entities worth an agent's first glance; contact details (phone, email) stay out of summaries
ENTITY_LABELS: dict[str, tuple[str, str]] = {
    "order_id": ("订单", "order"),
    "product": ("商品", "product"),
    "brand": ("品牌", "brand"),
    "product_category": ("品类", "category"),
    "color": ("颜色", "colour"),
    "size": ("尺码", "size"),
    "storage": ("容量", "storage"),
    "quantity": ("数量", "quantity"),
    "price": ("价格", "price"),
    "return_reason": ("原因", "reason"),
}
MAX_ENTITY_CHARS = 40
MAX_QUOTE_CHARS = 60


def _mood(sentiment: float, language: str) -> str:
    if sentiment <= STRONG_NEGATIVE:
        return "情绪很负面" if language != "en" else "mood: very negative"
    if sentiment <= -NEUTRAL_BAND:
        return "情绪偏负面" if language != "en" else "mood: negative"
    if sentiment < NEUTRAL_BAND:
        return "情绪平稳" if language != "en" else "mood: neutral"
    return "情绪正面" if language != "en" else "mood: positive"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(redact(str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entity_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "/".join(_shorten(v, MAX_ENTITY_CHARS) for v in value)
    return _shorten(value, MAX_ENTITY_CHARS)


def summarise(
    transcript: Sequence[Mapping[str, Any]],
    intents: Sequence[str],
    entities: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    language: str,
    sentiment: float | None = None,
) -> str:
    """A one-line briefing for the agent in ``language`` (Chinese unless "en"), from the last
    topic intent, the entities worth seeing, the sentiment, how often the customer asked and
    their last message.  Deterministic, no model:
    "客户询问退货（订单 2602260900000001），情绪偏负面，已尝试 2 次未解决。最后一句：「…」"."""
    en = language == "en"
    topics = [intent for intent in intents if intent not in GENERIC_INTENTS]
    topic = topics[-1] if topics else None
    if topic is None:
        head = "Customer needs a person's help" if en else "客户需要人工协助"
    else:
        zh_name, en_name = TOPICS.get(topic, (topic.replace("_", " "),) * 2)
        head = f"Customer asked about {en_name}" if en else f"客户询问{zh_name}"

    shown = _normalise_entities(entities)
    details = [
        f"{ENTITY_LABELS[name][1 if en else 0]} {_entity_text(shown[name])}"
        for name in ENTITY_LABELS
        if name in shown and shown[name] not in (None, "", [])
    ]
    if details:
        head += f" ({', '.join(details)})" if en else f"（{'，'.join(details)}）"

    parts = [head]
    if sentiment is not None:
        parts.append(_mood(sentiment, language))
    asked = topics.count(topic) if topic else 0
    if asked >= 2:
        parts.append(
            f"asked {asked} times without a resolution" if en else f"已尝试 {asked} 次未解决"
        )
    fallbacks = list(intents).count(FALLBACK_INTENT)
    if fallbacks:
        parts.append(
            f"the bot did not understand {fallbacks} time{'s' if fallbacks > 1 else ''}"
            if en
            else f"机器人 {fallbacks} 次没听懂"
        )
    summary = ("; " if en else "，").join(parts) + ("." if en else "。")
    said = [item for item in transcript if item.get("who") == "customer" and item.get("text")]
    if said:
        quote = _shorten(said[-1]["text"], MAX_QUOTE_CHARS)
        summary += f' Last message: "{quote}"' if en else f"最后一句：「{quote}」"
    return summary


# ----------------------------------------------------------------------------- tickets


def _normalise_entities(
    entities: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """Entities as ``{name: value}``; Rasa's list of ``{"entity", "value"}`` is folded, a
    repeated entity becoming a list of its distinct values."""
    if not entities:
        return {}
    if isinstance(entities, Mapping):
        return {str(k): _json_value(v) for k, v in entities.items()}
    folded: dict[str, Any] = {}
    for item in entities:
        name, value = str(item.get("entity")), _json_value(item.get("value"))
        if name not in folded:
            folded[name] = value
        else:
            values = folded[name] if isinstance(folded[name], list) else [folded[name]]
            folded[name] = values if value in values else [*values, value]
    return folded


def _json_value(value: object) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return str(value)


def _transcript(items: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The last :data:`MAX_TRANSCRIPT` items, checked, their texts redacted and capped."""
    kept = []
    for item in list(items)[-MAX_TRANSCRIPT:]:
        who, text = item.get("who"), item.get("text")
        if who not in TRANSCRIPT_SPEAKERS or not isinstance(text, str):
            raise ValueError(f"a transcript item needs 'who' (customer or bot) and 'text': {item}")
        at = item.get("at")
        at = at.isoformat() if isinstance(at, datetime) else str(at or "")
        kept.append({"who": who, "text": redact(text)[:MAX_TEXT_CHARS], "at": at})
    return kept


def _message_view(message: TicketMessage) -> MessageView:
    return MessageView(message.id, message.author, message.agent, message.text, message.created_at)


def _view(ticket: HandoffTicket) -> TicketView:
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
        messages=tuple(_message_view(m) for m in ticket.messages),
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
        HandoffTicket.conversation_id == conversation_id,
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
) -> TicketView:
    """Put the conversation in the agents' queue, or return its ticket that is already open or
    claimed (unchanged).  ``reason`` is one of :data:`kefu.models.HANDOFF_REASONS`."""
    if reason not in HANDOFF_REASONS:
        raise ValueError(f"a hand-off reason is one of {HANDOFF_REASONS}, not {reason!r}")
    if not conversation_id or len(conversation_id) > 128:
        raise ValueError("a hand-off needs a conversation id of at most 128 characters")
    existing = _active_ticket(session, conversation_id)
    if existing is not None:
        return _view(existing)
    kept = _transcript(transcript)
    shown = _normalise_entities(entities)
    dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    # a ticket opened meanwhile by another worker wins; no savepoint needed
    session.execute(
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
            index_elements=[HandoffTicket.conversation_id],
            index_where=HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES),
        )
    )
    created = _active_ticket(session, conversation_id)
    if created is None:  # cannot happen: either our insert or the conflicting ticket is there
        raise HandoffError(f"no active hand-off ticket for conversation {conversation_id!r}")
    return _view(created)


def ticket(session: Session, ticket_id: int) -> TicketView:
    """Ticket ``ticket_id`` with its messages; :class:`TicketNotFound` if there is none."""
    return _view(_load(session, ticket_id))


def open_tickets(session: Session) -> list[TicketView]:
    """Tickets waiting or being served (open, claimed), oldest first, with their messages."""
    query = (
        select(HandoffTicket)
        .where(HandoffTicket.status.in_(TICKET_ACTIVE_STATUSES))
        .order_by(HandoffTicket.created_at, HandoffTicket.id)
        .options(selectinload(HandoffTicket.messages))
    )
    return [_view(t) for t in session.scalars(query.execution_options(populate_existing=True))]


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
        text=redact(text.strip())[:MAX_TEXT_CHARS],
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
