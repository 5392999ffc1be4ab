"""Account-level changes a customer can ask the bot for: the newsletter and erasing their data.

Like the order changes (:mod:`kefu.orders`) they come in pairs.  ``preview_*`` says what would
happen and writes nothing.  The change (:func:`set_newsletter`, :func:`request_erasure`) runs
inside the caller's transaction: it locks the customer, checks again, makes the change and
records an :class:`~kefu.models.OrderRequest` (kind ``newsletter`` / ``erasure``, no order),
all or nothing, once per ``request_key`` (the same key returns the first outcome with
``repeated=True``).  Outcomes are :class:`~kefu.orders.ChangeOutcome` values that
:func:`kefu.orders.outcome_text` renders with the texts of policies.yml ``account``.

Erasure waits ``account.erasure_grace_days``: :func:`request_erasure` records the day after
which it is due, and :func:`process_due_erasures` (``kefu privacy erase-due``, run daily)
erases the customers whose day has passed with :func:`erase_customer`.  Erasing removes the
name, phone, e-mail and saved addresses, and what they wrote in chats kept by the shop
(hand-off transcripts and messages, rating comments); orders, payments and refunds are kept for
the accounts, their delivery address reduced to the province and city.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kefu.clock import to_db, utc_now
from kefu.models import (
    Address,
    CsatRating,
    Customer,
    CustomerEvent,
    HandoffTicket,
    Invoice,
    Order,
    OrderRequest,
    ReturnRequest,
    TicketMessage,
)
from kefu.order_tasks import PendingChange
from kefu.orders import (
    DONE,
    ChangeOutcome,
    ChangePreview,
    change_preview,
    check_request_key,
    lock_row,
    record_change,
    request_outcome,
)
from kefu.policies import Decision, Policies, decide, erasure_due, erasure_is_due, policies

NEWSLETTER, ERASURE = "newsletter", "erasure"  # OrderRequest kinds
ACCOUNT_CHANGE_KINDS = (NEWSLETTER, ERASURE)
ERASED_NAME = "已注销用户"  # the name an erased customer keeps ("deregistered user")
KEPT_ADDRESS_FIELDS = ("province", "city")  # what an erased customer's orders keep
NEWSLETTER_UNCHANGED = "newsletter_unchanged"
ERASURE_REQUESTED = "erasure_requested"
ERASURE_DONE = "erasure_done"


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id, populate_existing=True)
    if customer is None:
        raise ValueError(f"there is no customer with id {customer_id}")
    return customer


# ----------------------------------------------------------------------------- newsletter


def _check_newsletter(p: Policies, customer: Customer, subscribe: bool) -> Decision:
    if customer.erased_at is not None:
        return decide(p, False, ERASURE_DONE)
    if bool(customer.newsletter_opt_in) == subscribe:
        state = p.account.newsletter_states["subscribed" if subscribe else "unsubscribed"]
        return decide(p, False, NEWSLETTER_UNCHANGED, state=state, subscribed=subscribe)
    code = "newsletter_subscribe_ok" if subscribe else "newsletter_unsubscribe_ok"
    return decide(p, True, code, subscribed=subscribe)


def preview_newsletter(
    session: Session,
    customer_id: int,
    subscribe: bool,
    language: str,
    *,
    p: Policies | None = None,
) -> ChangePreview:
    """What subscribing (``subscribe``) or unsubscribing would do, or that the customer already
    is in that state (not allowed: there is nothing to confirm)."""
    p = p or policies()
    return change_preview(
        _check_newsletter(p, _customer(session, customer_id), subscribe), language
    )


def set_newsletter(
    session: Session,
    customer_id: int,
    subscribe: bool,
    request_key: str,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """Subscribe the customer to the newsletter or unsubscribe them: ``newsletter_subscribed``,
    ``newsletter_unsubscribed``, or ``newsletter_unchanged`` (done: already so); refused with
    ``erasure_done`` for an erased customer."""
    p = p or policies()
    check_request_key(request_key)
    customer = lock_row(session, Customer, customer_id)

    def change() -> tuple[bool, str, dict[str, object]]:
        decision = _check_newsletter(p, customer, subscribe)
        if not decision.allowed:
            return decision.code == NEWSLETTER_UNCHANGED, decision.code, decision.params
        customer.newsletter_opt_in = subscribe
        code = "newsletter_subscribed" if subscribe else "newsletter_unsubscribed"
        return True, code, {"subscribed": subscribe}

    return record_change(
        session,
        NEWSLETTER,
        request_key,
        now,
        order_id=None,
        customer_id=customer.id,
        invalid=None,
        change=change,
    )


# ----------------------------------------------------------------------------- erasure


def _pending_erasure(session: Session, customer_id: int) -> date | None:
    """The due date of the customer's erasure request, or None when they have not asked."""
    query = (
        select(OrderRequest)
        .where(
            OrderRequest.customer_id == customer_id,
            OrderRequest.kind == ERASURE,
            OrderRequest.status == DONE,
        )
        .order_by(OrderRequest.created_at, OrderRequest.id)
    )
    for request in session.scalars(query.execution_options(populate_existing=True)):
        outcome = request_outcome(request)
        if outcome.code == ERASURE_REQUESTED:
            return outcome.params["due"]
    return None


def _check_erasure(p: Policies, session: Session, customer: Customer, now: datetime) -> Decision:
    if customer.erased_at is not None:
        return decide(p, False, ERASURE_DONE)
    due = _pending_erasure(session, customer.id)
    if due is not None:
        return decide(p, False, "erasure_pending", due=due)
    return decide(p, True, "erasure_ok", due=erasure_due(p, now))


def preview_erasure(
    session: Session,
    customer_id: int,
    language: str,
    now: datetime | None = None,
    *,
    p: Policies | None = None,
) -> ChangePreview:
    """What erasing the customer's personal data means and from when; refused when it has
    been asked for (``erasure_pending``) or done (``erasure_done``)."""
    p = p or policies()
    customer = _customer(session, customer_id)
    return change_preview(_check_erasure(p, session, customer, now or utc_now()), language)


def request_erasure(
    session: Session,
    customer_id: int,
    request_key: str,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """Ask for the customer's personal data to be erased: ``erasure_requested`` with ``due``,
    the date after which :func:`process_due_erasures` erases it.  Refused while a request is
    pending (``erasure_pending``, same due date) and once erased (``erasure_done``)."""
    p = p or policies()
    check_request_key(request_key)
    customer = lock_row(session, Customer, customer_id)

    def change() -> tuple[bool, str, dict[str, object]]:
        decision = _check_erasure(p, session, customer, now)
        if not decision.allowed:
            return False, decision.code, decision.params
        return True, ERASURE_REQUESTED, {"due": decision.params["due"]}

    return record_change(
        session,
        ERASURE,
        request_key,
        now,
        order_id=None,
        customer_id=customer.id,
        invalid=None,
        change=change,
    )


def erase_customer(session: Session, customer_id: int, now: datetime) -> None:
    """Anonymise the customer, all or nothing: name → :data:`ERASED_NAME`, no phone, e-mail or
    saved addresses, newsletter off; their orders' delivery address keeps only the province
    and city; their hand-off tickets lose transcript, entities, summary and messages, their
    ratings the comment (reasons, ratings and times stay for analytics); invoices lose title, tax
    id and e-mail, cancellations and returns the words typed (the kind of return stays).
    Orders, payments and refunds stay.  Erasing again changes nothing more (the first
    ``erased_at`` is kept).  :func:`kefu.privacy.erasure.erase_customer_everywhere` also erases
    the customer's conversations."""
    customer = lock_row(session, Customer, customer_id)
    with session.begin_nested():
        customer.name = ERASED_NAME
        customer.phone = ""
        customer.email = None
        customer.newsletter_opt_in = False
        customer.erased_at = customer.erased_at or to_db(now)
        session.execute(delete(Address).where(Address.customer_id == customer.id))
        # browse history is personal too; purchases stay visible through the kept orders
        session.execute(delete(CustomerEvent).where(CustomerEvent.customer_id == customer.id))
        # what they wrote in chats: hand-off transcripts and messages, rating comments
        tickets = select(HandoffTicket.id).where(HandoffTicket.customer_id == customer.id)
        session.execute(
            delete(TicketMessage)
            .where(TicketMessage.ticket_id.in_(tickets))
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.customer_id == customer.id)
            .values(transcript=[], entities={}, summary="")
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(CsatRating)
            .where(CsatRating.customer_id == customer.id)
            .values(comment=None)
            .execution_options(synchronize_session=False)
        )
        session.expire(customer, ["addresses"])
        orders = select(Order.id).where(Order.customer_id == customer.id)
        session.execute(
            update(Invoice)
            .where(Invoice.order_id.in_(orders))
            .values(title="", tax_id=None, email=None)
            .execution_options(synchronize_session=False)
        )
        for request in session.scalars(
            select(ReturnRequest).where(ReturnRequest.order_id.in_(orders))
        ):
            request.reason = request.reason.split(":", 1)[0]  # "defect: <what they wrote>"
        query = select(Order).where(Order.customer_id == customer.id).with_for_update()
        for order in session.scalars(query.execution_options(populate_existing=True)):
            address = order.shipping_address or {}
            order.shipping_address = {k: address[k] for k in KEPT_ADDRESS_FIELDS if k in address}
            order.cancel_reason = None
        session.flush()


def process_due_erasures(
    session: Session,
    now: datetime,
    *,
    p: Policies | None = None,
    erase: Callable[[Session, int, datetime], object] = erase_customer,
) -> list[int]:
    """Erase every customer not yet erased whose erasure request's due date has passed (shop
    time) with ``erase`` (``kefu privacy erase-due`` passes
    :func:`kefu.privacy.erasure.erase_customer_everywhere`); their ids, in order.  Running it
    again erases no one twice."""
    p = p or policies()
    query = (
        select(OrderRequest)
        .join(Customer, Customer.id == OrderRequest.customer_id)
        .where(
            OrderRequest.kind == ERASURE,
            OrderRequest.status == DONE,
            Customer.erased_at.is_(None),
        )
    )
    due = set()
    for request in session.scalars(query.execution_options(populate_existing=True)):
        outcome = request_outcome(request)
        if outcome.code == ERASURE_REQUESTED and erasure_is_due(p, outcome.params["due"], now):
            due.add(request.customer_id)
    erased = []
    for customer_id in sorted(due):
        if lock_row(session, Customer, customer_id).erased_at is None:  # not by another run
            erase(session, customer_id, now)
            erased.append(customer_id)
    return erased


def apply_account_change(
    session: Session, pending: PendingChange, now: datetime, *, p: Policies | None = None
) -> ChangeOutcome:
    """Run a confirmed account change (newsletter opt-in/out, erasure request) for the
    customer who asked for it; once per request key."""
    if pending.customer_id is None:
        raise ValueError("an account change needs the customer it was previewed for")
    if pending.kind == NEWSLETTER:
        subscribe = bool(pending.params.get("subscribe"))
        return set_newsletter(
            session, pending.customer_id, subscribe, pending.request_key, now, p=p
        )
    if pending.kind == ERASURE:
        return request_erasure(session, pending.customer_id, pending.request_key, now, p=p)
    raise ValueError(f"unknown account change {pending.kind!r}")
