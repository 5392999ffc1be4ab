"""Orders as customers see and change them: lists, details, tracking and after-sales requests.

Views (:func:`recent_orders`, :func:`order_details`, :func:`tracking_text`, :func:`summary_text`)
are dataclasses and texts in one language (zh / en).  Personal data is shown masked
(:mod:`kefu.identity`): the full phone number and street address never appear.

Changes come in pairs.  ``preview_*`` says what would happen, decided by the policy engine
(:mod:`kefu.policies`), and writes nothing.  The matching change (:func:`cancel_order`,
:func:`change_address`, :func:`request_return`, :func:`request_refund`, :func:`request_invoice`)
runs inside the caller's transaction (:func:`kefu.db.session_scope`): it locks the order, checks
the policy again (the order may have changed since the preview), makes the change and records an
:class:`~kefu.models.OrderRequest`, all or nothing.  Each takes a ``request_key`` (e.g.
conversation id + intent + order number): the same key again returns the first outcome with
``repeated=True`` and changes nothing.  Input the customer has to correct (an incomplete address,
a malformed tax ID) is refused without being recorded, so the same key works once it is fixed.

Outcomes are data (:class:`ChangeOutcome`); :func:`outcome_text` renders them with the merchant's
texts from policies.yml where the outcome is a policy decision, else with :data:`TEXTS`.
Account-level changes (:mod:`kefu.account`) are recorded the same way (:func:`record_change`)
and rendered by :func:`outcome_text` too.

Times: ``now`` may be aware or naive UTC (:mod:`kefu.clock`); what is stored is naive UTC, what
is shown is on the shop's clock (policies.yml ``utc_offset_hours``), whatever the host's zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Column, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Select

from kefu.clock import as_utc, to_db, utc_now
from kefu.config import Bilingual
from kefu.identity import mask_address, mask_email, mask_name, mask_phone, redact
from kefu.models import (
    ORDER_TRANSITIONS,
    Invoice,
    Order,
    OrderItem,
    OrderRequest,
    Payment,
    Refund,
    ReturnRequest,
    Shipment,
    ShipmentEvent,
)
from kefu.place_names import in_english
from kefu.policies import (
    CANCELLED,
    SHIPPED,
    Decision,
    Policies,
    ReturnReason,
    can_cancel,
    can_return,
    explain,
    policies,
    refund_timeline,
)
from kefu.products import money

DEFAULT_LIMIT = 5
TIME_FORMAT = "%Y-%m-%d %H:%M"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

ADDRESS_REQUIRED = ("recipient", "phone", "province", "city", "detail")
ADDRESS_OPTIONAL = ("district",)
# 统一社会信用代码 (18 characters) and the older 15- and 20-character taxpayer numbers
TAX_ID_LENGTH = (15, 20)
TAX_ID = re.compile(rf"[0-9A-Z]{{{TAX_ID_LENGTH[0]},{TAX_ID_LENGTH[1]}}}")

PAYMENT_SUCCEEDED = "succeeded"
RETURN = "return"
RETURN_REQUESTED = "requested"
RETURN_OPEN = ("requested", "approved", "received")  # in progress: a new request would repeat it
RETURN_CLOSED_UNDONE = ("rejected", "cancelled")  # the item was not returned
RETURN_REFUNDABLE = ("received", "completed")  # arrived: the refund may start
RETURN_ON_ITS_WAY = tuple(s for s in RETURN_OPEN if s not in RETURN_REFUNDABLE)
REFUND_PENDING = "pending"
REFUND_FAILED = "failed"
REFUND_IN_PROGRESS = ("pending", "processing")
INVOICE_REQUESTED = "requested"
INVOICE_ACTIVE = ("requested", "issued")
DONE, REFUSED = "done", "refused"

CONTACT_SERVICE = "contact_service"  # policy codes reused here
ALREADY_CANCELLED = "already_cancelled"

# Names of statuses that policies.yml does not name (it names order statuses).
SHIPMENT_STATUS_TEXT: Mapping[str, Bilingual] = {
    "created": Bilingual("待揽收", "awaiting pick-up"),
    "in_transit": Bilingual("运输中", "in transit"),
    "out_for_delivery": Bilingual("派送中", "out for delivery"),
    "delivered": Bilingual("已签收", "delivered"),
    "returned": Bilingual("已退回", "returned to sender"),
}
RETURN_STATUS_TEXT: Mapping[str, Bilingual] = {
    "requested": Bilingual("已提交，等待审核", "requested, awaiting review"),
    "approved": Bilingual("已同意，请寄回商品", "approved, please send the item back"),
    "rejected": Bilingual("未通过", "declined"),
    "received": Bilingual("已收到退货，正在验收", "item received, being inspected"),
    "completed": Bilingual("已完成", "completed"),
    "cancelled": Bilingual("已撤销", "withdrawn"),
}
REFUND_STATUS_TEXT: Mapping[str, Bilingual] = {
    "pending": Bilingual("待处理", "pending"),
    "processing": Bilingual("退款中", "being processed"),
    "succeeded": Bilingual("已退款", "refunded"),
    "failed": Bilingual("退款失败", "failed"),
}
INVOICE_STATUS_TEXT: Mapping[str, Bilingual] = {
    "requested": Bilingual("开具中", "being issued"),
    "issued": Bilingual("已开具", "issued"),
    "voided": Bilingual("已作废", "voided"),
}

# Outcome and decision texts the policy file does not have, by code ({placeholders} from the
# outcome's params).  Codes that policies.yml has (cancellation, returns, already_cancelled,
# contact_service) use the merchant's text instead.
TEXTS: Mapping[str, Bilingual] = {
    "order_cancelled": Bilingual(
        "订单 {order_no} 已取消。", "Order {order_no} has been cancelled."
    ),
    "order_cancelled_refund": Bilingual(
        "订单 {order_no} 已取消，¥{amount} 将原路退回：\n{timeline}",
        "Order {order_no} has been cancelled; ¥{amount} will be refunded:\n{timeline}",
    ),
    "order_cancelled_refund_fee": Bilingual(
        "订单 {order_no} 已取消，扣除 ¥{fee} 手续费后，¥{amount} 将原路退回：\n{timeline}",
        "Order {order_no} has been cancelled; after the fee of ¥{fee}, ¥{amount} will be "
        "refunded:\n{timeline}",
    ),
    "address_change_ok": Bilingual(
        "订单还没有发货，可以把收货地址改为：{address}。",
        "The order has not shipped yet, so the delivery address can be changed to: {address}.",
    ),
    "address_after_shipping": Bilingual(
        "订单已经发货，不能再修改收货地址了。如需改派，请联系人工客服。",
        "The order has already shipped, so its delivery address can no longer be changed. "
        "Customer service can ask the carrier to redirect it.",
    ),
    "address_invalid": Bilingual(
        "请提供完整的收货地址：收件人、手机号、省份、城市和详细地址。",
        "Please give the full delivery address: recipient, phone number, province, city and "
        "street address.",
    ),
    "address_changed": Bilingual(
        "订单 {order_no} 的收货地址已改为：{address}。",
        "The delivery address of order {order_no} is now: {address}.",
    ),
    "return_in_progress": Bilingual(
        "这件商品已经有退货申请了（{status}），不需要重复提交。",
        "This item already has a return request ({status}); there is no need to request it again.",
    ),
    "return_requested": Bilingual(
        "已为您提交「{item}」的退货申请，{return_shipping}。商品寄回并验收后"
        "（{inspection_working_days}个工作日内）开始退款，款项原路退回。",
        'Your return request for "{item}" has been submitted; {return_shipping}. The refund '
        "starts once the item has arrived and been inspected (within "
        "{inspection_working_days} working days) and goes back the way you paid.",
    ),
    "refund_ok": Bilingual(
        "可以为您申请退款 ¥{amount}：\n{timeline}",
        "A refund of ¥{amount} can be requested:\n{timeline}",
    ),
    "refund_requested": Bilingual(
        "已为您申请退款 ¥{amount}：\n{timeline}",
        "A refund of ¥{amount} has been requested:\n{timeline}",
    ),
    "refund_exists": Bilingual(
        "这笔订单已经有退款了：¥{amount}，{status}。\n{timeline}",
        "This order already has a refund: ¥{amount}, {status}.\n{timeline}",
    ),
    "refund_after_inspection": Bilingual(
        "退货商品寄回并验收后（{inspection_working_days}个工作日内）会自动开始退款，不需要另外申请。"
        "退货进度：{status}。",
        "The refund starts by itself once the returned item has arrived and been inspected "
        "(within {inspection_working_days} working days); there is nothing else to request. "
        "Return: {status}.",
    ),
    "refund_not_applicable": Bilingual(
        "这笔订单目前没有可以退款的款项。还没发货的订单可以直接取消，已签收的商品可以先申请退货。",
        "There is nothing to refund on this order at the moment. An order that has not shipped "
        "can be cancelled; a delivered item can be returned first.",
    ),
    "refund_nothing_paid": Bilingual(
        "这笔订单没有付款，不需要退款。",
        "This order was never paid, so there is nothing to refund.",
    ),
    "invoice_ok": Bilingual(
        "可以为这笔订单开具{kind}，金额 ¥{amount}，确认收货后{working_days}个工作日内开具。",
        "We can issue this order's invoice ({kind}) for ¥{amount} within {working_days} "
        "working day(s) after you confirm receipt.",
    ),
    "invoice_requested": Bilingual(
        "已为订单 {order_no} 申请{kind}，金额 ¥{amount}，确认收货后{working_days}个工作日内开具。",
        "Invoice requested for order {order_no}: {kind}, ¥{amount}, issued within "
        "{working_days} working day(s) after you confirm receipt.",
    ),
    "invoice_exists": Bilingual(
        "这笔订单已经申请过发票了（{kind}，{status}），不需要重复申请。",
        "An invoice has already been requested for this order ({kind}, {status}); there is no "
        "need to request another.",
    ),
    "invoice_not_paid": Bilingual(
        "这笔订单没有需要开票的实付金额。", "This order has no paid amount to invoice."
    ),
    "invoice_kind_unavailable": Bilingual(
        "暂不提供这种发票。", "We do not offer this kind of invoice."
    ),
    "invoice_title_required": Bilingual(
        "请提供发票抬头（个人姓名或公司名称）。",
        "Please give the invoice title (your name or the company's name).",
    ),
    "invoice_tax_id_invalid": Bilingual(
        "税号格式不正确，应为{min_length}到{max_length}位数字或字母。",
        "The tax ID does not look right: it should be {min_length} to {max_length} letters "
        "or digits.",
    ),
}

# Texts of the views, filled with display-ready strings.
VIEW_TEXTS: Mapping[str, Bilingual] = {
    "items_many": Bilingual("{title} 等 {count} 件", "{title} and {more} more"),
    "summary_line": Bilingual(
        "· {order_no}（{created}）{items}，{total}，{status}",
        "· {order_no} ({created}): {items}, {total}, {status}",
    ),
    "no_orders": Bilingual("没有找到订单。", "No orders found."),
    "header": Bilingual(
        "订单 {order_no}（{created} 下单）：{status}",
        "Order {order_no} (placed {created}): {status}",
    ),
    "totals": Bilingual(
        "商品 {items_total}，运费 {shipping_fee}，优惠 -{discount}，实付 {total}",
        "Items {items_total}, shipping {shipping_fee}, discount -{discount}, total {total}",
    ),
    "payment": Bilingual("付款方式：{method}", "Payment: {method}"),
    "address": Bilingual(
        "收货地址：{address}（{recipient}，{phone}）",
        "Deliver to: {address} ({recipient}, {phone})",
    ),
    "shipment": Bilingual("{carrier} {tracking_no}：{status}", "{carrier} {tracking_no}: {status}"),
    "latest_event": Bilingual("最新物流：{at} {description}", "Latest update: {at} {description}"),
    "not_shipped": Bilingual(
        "订单 {order_no} 目前是「{status}」，还没有发货。",
        "Order {order_no} is {status} and has not shipped yet.",
    ),
    "no_events": Bilingual("暂无物流信息。", "No tracking updates yet."),
    "return_line": Bilingual("退货：{item}，{status}", "Return: {item}, {status}"),
    "refund_line": Bilingual("退款：{amount}，{status}", "Refund: {amount}, {status}"),
    "invoice_line": Bilingual("发票：{kind}，{status}", "Invoice: {kind}, {status}"),
}
ITEM_LINE = "· {title} ×{quantity}  {amount}"
EVENT_LINE = "· {at} {location} {description}"


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True)
class OrderSummary:
    """One line of an order list, in one language."""

    order_no: str
    created: date  # shop calendar
    status: str
    status_text: str
    total: Decimal
    items_text: str  # "华为 Mate 80 Pro 等 3 件" / "Huawei Mate 80 Pro and 2 more"


@dataclass(frozen=True)
class ItemLine:
    id: int
    title: str
    quantity: int
    unit_price: Decimal

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class TrackingEvent:
    at: datetime  # shop time
    location: str
    description: str


@dataclass(frozen=True)
class ShipmentView:
    carrier: str
    tracking_no: str
    status: str
    status_text: str
    events: list[TrackingEvent]  # newest first


@dataclass(frozen=True)
class ReturnView:
    id: int
    item_title: str
    status: str
    status_text: str
    created: date

    @property
    def in_progress(self) -> bool:
        return self.status in RETURN_OPEN


@dataclass(frozen=True)
class RefundView:
    id: int
    amount: Decimal
    status: str
    status_text: str
    timeline: str  # where the money goes and how long it takes, from policies.yml

    @property
    def in_progress(self) -> bool:
        return self.status in REFUND_IN_PROGRESS


@dataclass(frozen=True)
class InvoiceView:
    kind: str
    status: str
    status_text: str
    invoice_no: str | None


@dataclass(frozen=True)
class OrderDetails:
    """One order as the customer sees it, in one language, personal data masked."""

    order_no: str
    status: str
    status_text: str
    created: date
    items: list[ItemLine]
    items_total: Decimal
    shipping_fee: Decimal
    discount: Decimal
    total: Decimal
    payment_method: str | None
    address: str  # "广东省深圳市南山区****"
    recipient: str  # "张**"
    phone: str  # "138****6093"
    shipments: list[ShipmentView]
    returns: list[ReturnView]
    refunds: list[RefundView]
    invoices: list[InvoiceView]


def _shop_time(p: Policies, moment: datetime) -> datetime:
    """``moment`` (aware, or naive UTC as stored) as the wall-clock time shown on the shop's
    clock (policies.yml ``utc_offset_hours``): a naive value, for display only."""
    zone = timezone(timedelta(hours=p.utc_offset_hours))
    return as_utc(moment).astimezone(zone).replace(tzinfo=None)


def _title(item: OrderItem, language: str) -> str:
    return Bilingual(item.title_zh, item.title_en).get(language)


def _items_text(items: Sequence[OrderItem], language: str) -> str:
    if not items:
        return ""
    first = items[0]
    title = _title(first, language)
    if len(items) == 1:
        return title if first.quantity == 1 else f"{title} ×{first.quantity}"
    template = VIEW_TEXTS["items_many"].get(language)
    return template.format(title=title, count=len(items), more=len(items) - 1)


def _sorted_items(order: Order) -> list[OrderItem]:
    return sorted(order.items, key=lambda item: item.id)


def _newest_first(customer_id: int) -> Select:
    return (
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )


def latest_order(session: Session, customer_id: int) -> Order | None:
    """The customer's most recent order ("my last order"), or None."""
    return session.scalars(_newest_first(customer_id).limit(1)).first()


def recent_orders(
    session: Session,
    customer_id: int,
    limit: int = DEFAULT_LIMIT,
    language: str = "zh",
    *,
    p: Policies | None = None,
) -> list[OrderSummary]:
    """The customer's ``limit`` most recent orders, newest first."""
    p = p or policies()
    query = _newest_first(customer_id).options(selectinload(Order.items)).limit(limit)
    return [
        OrderSummary(
            order_no=order.order_no,
            created=_shop_time(p, order.created_at).date(),
            status=order.status,
            status_text=p.order_statuses[order.status].get(language),
            total=order.total,
            items_text=_items_text(_sorted_items(order), language),
        )
        for order in session.scalars(query)
    ]


def _rows(session: Session, model: type, order: Order, *order_by: Column) -> list:
    """Rows of ``model`` belonging to ``order``, read afresh."""
    query = select(model).where(model.order_id == order.id).order_by(*order_by, model.id)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def _timeline_text(p: Policies, method: str, language: str) -> str:
    if method not in p.refunds.methods:
        return ""
    return refund_timeline(p, method).text.get(language)


def _shipment_view(p: Policies, shipment: Shipment, language: str) -> ShipmentView:
    carrier = p.delivery.carriers.get(shipment.carrier)
    events = sorted(shipment.events, key=lambda e: (e.at, e.id), reverse=True)
    return ShipmentView(
        carrier=carrier.get(language) if carrier else shipment.carrier,
        tracking_no=shipment.tracking_no,
        status=shipment.status,
        status_text=SHIPMENT_STATUS_TEXT[shipment.status].get(language),
        events=[
            TrackingEvent(
                at=_shop_time(p, e.at),
                location=in_english(e.location) if language == "en" else e.location,
                description=_event_description(e, language),
            )
            for e in events
        ],
    )


def _event_description(event: ShipmentEvent, language: str) -> str:
    """The carrier's update in the reply language; in English, Chinese place names romanised."""
    if language == "en":
        return in_english(event.description_en or event.description_zh)
    return event.description_zh or event.description_en


def _payment_name(p: Policies, method: str) -> Bilingual:
    known = p.payment_methods.get(method)
    return known.name if known else Bilingual(method, method)


def _invoice_kind_name(p: Policies, kind: str) -> Bilingual:
    known = p.invoice_kinds.get(kind)
    return known.name if known else Bilingual(kind, kind)


def order_details(
    session: Session, order: Order, language: str, *, p: Policies | None = None
) -> OrderDetails:
    """Everything about one order the customer may see, in ``language``."""
    p = p or policies()
    items = {item.id: item for item in _sorted_items(order)}
    payments = sorted(order.payments, key=lambda payment: (payment.created_at, payment.id))
    address = order.shipping_address or {}
    returns = _rows(session, ReturnRequest, order, ReturnRequest.created_at)
    refunds = _rows(session, Refund, order, Refund.created_at)
    invoices = _rows(session, Invoice, order, Invoice.requested_at)
    return OrderDetails(
        order_no=order.order_no,
        status=order.status,
        status_text=p.order_statuses[order.status].get(language),
        created=_shop_time(p, order.created_at).date(),
        items=[
            ItemLine(item.id, _title(item, language), item.quantity, item.unit_price)
            for item in items.values()
        ],
        items_total=order.items_total,
        shipping_fee=order.shipping_fee,
        discount=order.discount,
        total=order.total,
        payment_method=_payment_name(p, payments[-1].method).get(language) if payments else None,
        address=mask_address(address),
        recipient=mask_name(address.get("recipient")),
        phone=mask_phone(address.get("phone")),
        shipments=[
            _shipment_view(p, s, language) for s in sorted(order.shipments, key=lambda s: s.id)
        ],
        returns=[
            ReturnView(
                id=r.id,
                item_title=_title(items[r.order_item_id], language),
                status=r.status,
                status_text=RETURN_STATUS_TEXT[r.status].get(language),
                created=_shop_time(p, r.created_at).date(),
            )
            for r in returns
        ],
        refunds=[
            RefundView(
                id=r.id,
                amount=r.amount,
                status=r.status,
                status_text=REFUND_STATUS_TEXT[r.status].get(language),
                timeline=_timeline_text(p, r.method, language),
            )
            for r in refunds
        ],
        invoices=[
            InvoiceView(
                kind=_invoice_kind_name(p, i.kind).get(language),
                status=i.status,
                status_text=INVOICE_STATUS_TEXT[i.status].get(language),
                invoice_no=i.invoice_no,
            )
            for i in invoices
        ],
    )


def _view(name: str, language: str, **values: object) -> str:
    return VIEW_TEXTS[name].get(language).format(**values)


def recent_orders_text(summaries: Sequence[OrderSummary], language: str) -> str:
    """An order list, one line per order."""
    if not summaries:
        return _view("no_orders", language)
    return "\n".join(
        _view(
            "summary_line",
            language,
            order_no=s.order_no,
            created=s.created.isoformat(),
            items=s.items_text,
            total=money(s.total),
            status=s.status_text,
        )
        for s in summaries
    )


def _event_line(event: TrackingEvent) -> str:
    return EVENT_LINE.format(
        at=event.at.strftime(TIME_FORMAT), location=event.location, description=event.description
    )


def tracking_text(details: OrderDetails, language: str) -> str:
    """Where the parcels are: carrier, tracking number, status and every update, newest first."""
    if not details.shipments:
        return _view("not_shipped", language, order_no=details.order_no, status=details.status_text)
    lines = []
    for shipment in details.shipments:
        lines.append(
            _view(
                "shipment",
                language,
                carrier=shipment.carrier,
                tracking_no=shipment.tracking_no,
                status=shipment.status_text,
            )
        )
        lines.extend(_event_line(e) for e in shipment.events)
        if not shipment.events:
            lines.append(_view("no_events", language))
    return "\n".join(lines)


def after_sales_lines(details: OrderDetails, language: str) -> list[str]:
    """Where the order is since it was paid: each parcel with its latest update, returns and
    refunds (with the timeline of one in progress)."""
    lines = []
    for s in details.shipments:
        lines.append(
            _view(
                "shipment",
                language,
                carrier=s.carrier,
                tracking_no=s.tracking_no,
                status=s.status_text,
            )
        )
        if s.events:
            latest = s.events[0]
            at = latest.at.strftime(TIME_FORMAT)
            lines.append(_view("latest_event", language, at=at, description=latest.description))
    for r in details.returns:
        lines.append(_view("return_line", language, item=r.item_title, status=r.status_text))
    for r in details.refunds:
        lines.append(_view("refund_line", language, amount=money(r.amount), status=r.status_text))
        if r.in_progress and r.timeline:
            lines.append(r.timeline)
    return lines


def summary_text(details: OrderDetails, language: str) -> str:
    """The order at a glance: status, items, money, address, latest tracking and after-sales."""
    lines = [
        _view(
            "header",
            language,
            order_no=details.order_no,
            created=details.created.isoformat(),
            status=details.status_text,
        ),
        *(
            ITEM_LINE.format(title=i.title, quantity=i.quantity, amount=money(i.subtotal))
            for i in details.items
        ),
        _view(
            "totals",
            language,
            items_total=money(details.items_total),
            shipping_fee=money(details.shipping_fee),
            discount=money(details.discount),
            total=money(details.total),
        ),
    ]
    if details.payment_method:
        lines.append(_view("payment", language, method=details.payment_method))
    lines.append(
        _view(
            "address",
            language,
            address=details.address,
            recipient=details.recipient,
            phone=details.phone,
        )
    )
    lines += after_sales_lines(details, language)
    for i in details.invoices:
        lines.append(_view("invoice_line", language, kind=i.kind, status=i.status_text))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class ChangePreview:
    """What a change would do, before the customer confirms it."""

    allowed: bool
    decision: Decision
    summary: str


@dataclass(frozen=True)
class ChangeOutcome:
    """What a change did: ``done`` or refused, a stable ``code`` and its ``params``.

    ``repeated`` is True when the request key had been used before: this is the first outcome
    again and nothing was changed this time.
    """

    done: bool
    code: str
    params: dict[str, object]
    repeated: bool = False


def _message(p: Policies, code: str) -> Bilingual:
    return p.messages.get(code) or TEXTS[code]


def _decision(p: Policies, allowed: bool, code: str, **params: object) -> Decision:
    return Decision(allowed, code, params, _message(p, code))


def outcome_text(outcome: ChangeOutcome, language: str, *, p: Policies | None = None) -> str:
    """The customer-facing text of ``outcome`` in ``language``."""
    p = p or policies()
    decision = Decision(outcome.done, outcome.code, outcome.params, _message(p, outcome.code))
    return explain(decision, language)


def change_preview(decision: Decision, language: str, *extra: str) -> ChangePreview:
    """The preview of ``decision``: its text in ``language`` and any ``extra`` lines."""
    summary = "\n".join((explain(decision, language), *(line for line in extra if line)))
    return ChangePreview(decision.allowed, decision, summary)


# Outcome params are stored as JSON: Bilingual texts, amounts and dates are tagged so that a
# repeated outcome has the same values (and renders the same text) as the first.
def _encode(value: object) -> object:
    if isinstance(value, Bilingual):
        return {"zh": value.zh, "en": value.en}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, date) and not isinstance(value, datetime):
        return {"date": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"an order request cannot record a {type(value).__name__}")


def _decode(value: object) -> object:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"zh", "en"}:
        return Bilingual(**value)
    if value.keys() == {"decimal"}:
        return Decimal(value["decimal"])
    if value.keys() == {"date"}:
        return date.fromisoformat(value["date"])
    raise ValueError(f"unknown recorded value {value!r}")


def _encode_params(params: Mapping[str, object]) -> dict[str, object]:
    return {name: _encode(value) for name, value in params.items()}


def _outcome(done: bool, code: str, stored: Mapping[str, object], repeated: bool) -> ChangeOutcome:
    params = {name: _decode(value) for name, value in stored.items()}
    return ChangeOutcome(done, code, params, repeated)


# ----------------------------------------------------------------------------- applying


_Check = Callable[[Order], Decision]
_Perform = Callable[[Order, Decision], tuple[str, dict[str, object]]]
_Row = TypeVar("_Row")  # a model instance with an ``id``
# A change run by :func:`record_change`: (done, code, params); it has made the change if done.
Change = Callable[[], tuple[bool, str, dict[str, object]]]


def check_request_key(request_key: str) -> None:
    """A ``ValueError`` unless ``request_key`` is a non-blank key that fits its column."""
    limit = OrderRequest.__table__.c.request_key.type.length
    if not isinstance(request_key, str) or not request_key.strip():
        raise ValueError("a request key is required")
    if len(request_key) > limit:
        raise ValueError(f"the request key is longer than {limit} characters")


def lock_row(session: Session, model: type[_Row], row_id: int) -> _Row:
    """Row ``row_id`` of ``model`` (an order, a customer) read afresh and locked until the
    transaction ends (SELECT … FOR UPDATE); a ``ValueError`` if there is none."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write takes the database's write lock instead.  It also
        # opens the transaction (pysqlite defers BEGIN to the first write), so the change's
        # SAVEPOINT is nested in it rather than starting one that its RELEASE would commit.
        session.execute(
            update(model)
            .where(model.id == row_id)
            .values(id=model.id)
            .execution_options(synchronize_session=False)
        )
    query = select(model).where(model.id == row_id).with_for_update()
    row = session.scalars(query.execution_options(populate_existing=True)).first()
    if row is None:
        raise ValueError(f"there is no {model.__tablename__} row with id {row_id}")
    return row


def _recorded(session: Session, request_key: str) -> OrderRequest | None:
    query = select(OrderRequest).where(OrderRequest.request_key == request_key)
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _replay(
    first: OrderRequest, kind: str, order_id: int | None, customer_id: int | None
) -> ChangeOutcome:
    other_owner = first.order_id != order_id or (
        order_id is None and first.customer_id != customer_id
    )
    if first.kind != kind or other_owner:
        raise ValueError("the request key was already used for another request")
    return request_outcome(first, repeated=True)


def request_outcome(request: OrderRequest, repeated: bool = False) -> ChangeOutcome:
    """The outcome recorded in ``request``, its params decoded as they were first returned."""
    return _outcome(
        request.status == DONE, request.detail["code"], request.detail["params"], repeated
    )


def record_change(
    session: Session,
    kind: str,
    request_key: str,
    now: datetime,
    *,
    order_id: int | None,
    customer_id: int | None,
    invalid: Decision | None,
    change: Change,
) -> ChangeOutcome:
    """Run one change once per ``request_key`` and record it as an :class:`OrderRequest` of
    ``kind`` for the order and/or customer, all or nothing (a savepoint).

    The caller has locked what ``change`` reads and writes (:func:`lock_row`).  A used key
    returns its first outcome (``repeated``); ``invalid`` (input to correct) is returned without
    a record.  A concurrent request with the same key makes the insert fail on the unique key:
    the change is rolled back to its savepoint and the other request's outcome returned.
    """
    check_request_key(request_key)
    first = _recorded(session, request_key)
    if first is not None:
        return _replay(first, kind, order_id, customer_id)
    if invalid is not None:
        return _outcome(False, invalid.code, _encode_params(invalid.params), False)
    try:
        with session.begin_nested():
            done, code, params = change()
            stored = _encode_params(params)
            session.add(
                OrderRequest(
                    request_key=request_key,
                    order_id=order_id,
                    customer_id=customer_id,
                    kind=kind,
                    status=DONE if done else REFUSED,
                    detail={"code": code, "params": stored},
                    created_at=to_db(now),
                )
            )
            session.flush()
    except IntegrityError:
        first = _recorded(session, request_key)
        if first is None:
            raise
        return _replay(first, kind, order_id, customer_id)
    return _outcome(done, code, stored, False)


def _apply(
    session: Session,
    order: Order,
    kind: str,
    request_key: str,
    now: datetime,
    invalid: Decision | None,
    check: _Check,
    perform: _Perform,
) -> ChangeOutcome:
    """Run one change of ``order``: lock it, replay a used key, re-check (``check``), change
    (``perform``, when allowed) and record, all or nothing (:func:`record_change`)."""
    check_request_key(request_key)
    order = lock_row(session, Order, order.id)

    def change() -> tuple[bool, str, dict[str, object]]:
        decision = check(order)
        if not decision.allowed:
            return False, decision.code, decision.params
        return (True, *perform(order, decision))

    return record_change(
        session,
        kind,
        request_key,
        now,
        order_id=order.id,
        customer_id=order.customer_id,
        invalid=invalid,
        change=change,
    )


def _fit(text: str | None, column: Column) -> str:
    """Free text fit for ``column``: phone numbers and e-mails masked, cut to its length."""
    return redact(text or "").strip()[: column.type.length]


def _move(order: Order, status: str) -> None:
    if status not in ORDER_TRANSITIONS[order.status]:
        raise ValueError(f"an order cannot go from {order.status} to {status}")
    order.status = status


def _precedes(status: str, target: str) -> bool:
    """Whether the order lifecycle leads from ``status`` to ``target`` later on."""
    seen: set[str] = set()
    todo = list(ORDER_TRANSITIONS[status])
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(ORDER_TRANSITIONS[current])
    return False


def _payment(session: Session, order: Order) -> Payment | None:
    """The order's successful payment, the one refunds go back to."""
    query = (
        select(Payment)
        .where(Payment.order_id == order.id, Payment.status == PAYMENT_SUCCEEDED)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _active_refunds(session: Session, order: Order) -> list[Refund]:
    return [
        r for r in _rows(session, Refund, order, Refund.created_at) if r.status != REFUND_FAILED
    ]


def _net_paid(payment: Payment | None, refunds: Sequence[Refund]) -> Decimal:
    """What the customer has paid and not (yet) been refunded."""
    if payment is None:
        return ZERO
    return payment.amount - sum((r.amount for r in refunds), ZERO)


def _add_refund(
    session: Session,
    order: Order,
    amount: Decimal,
    method: str,
    now: datetime,
    return_id: int | None = None,
) -> Refund:
    """A pending refund to ``method``, the payment method the customer paid with."""
    refund = Refund(
        order_id=order.id,
        return_id=return_id,
        amount=amount,
        method=method,
        status=REFUND_PENDING,
        created_at=to_db(now),
    )
    session.add(refund)
    session.flush()
    return refund


# ---- cancel


def _check_cancel(p: Policies, session: Session, order: Order, now: datetime) -> Decision:
    decision = can_cancel(p, order.status, order.paid_at, order.shipped_at, now)
    if decision.allowed and order.paid_at is not None and _payment(session, order) is None:
        return _decision(p, False, CONTACT_SERVICE)  # paid, but nothing on record to refund to
    return decision


def preview_cancel(
    session: Session,
    order: Order,
    language: str,
    now: datetime | None = None,
    *,
    p: Policies | None = None,
) -> ChangePreview:
    """Whether the order can be cancelled, the fee and where a payment goes back to."""
    p = p or policies()
    decision = _check_cancel(p, session, order, now or utc_now())
    payment = _payment(session, order) if decision.allowed else None
    return change_preview(
        decision, language, _timeline_text(p, payment.method, language) if payment else ""
    )


def cancel_order(
    session: Session,
    order: Order,
    reason: str,
    request_key: str,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """Cancel the order; a paid order gets a pending refund (less any fee) to the original
    payment method.  Refused with the policy's code when not allowed (e.g. shipped)."""
    p = p or policies()

    def perform(locked: Order, decision: Decision) -> tuple[str, dict[str, object]]:
        _move(locked, CANCELLED)
        locked.cancelled_at = to_db(now)
        locked.cancel_reason = _fit(reason, Order.__table__.c.cancel_reason)
        params: dict[str, object] = {"order_no": locked.order_no}
        payment = _payment(session, locked)
        fee = decision.params.get("fee", ZERO)
        amount = _net_paid(payment, _active_refunds(session, locked)) - fee
        if payment is None or amount <= 0:
            return "order_cancelled", params
        refund = _add_refund(session, locked, amount, payment.method, now)
        params.update(
            amount=amount,
            fee=fee,
            timeline=refund_timeline(p, payment.method).text,
            refund_id=refund.id,
        )
        return ("order_cancelled_refund_fee" if fee else "order_cancelled_refund"), params

    return _apply(
        session,
        order,
        "cancel",
        request_key,
        now,
        None,
        lambda locked: _check_cancel(p, session, locked, now),
        perform,
    )


# ---- change the delivery address


def _clean_address(address: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
    """The address fields, trimmed, and the required ones that are missing."""
    cleaned = {
        name: value.strip()
        for name in (*ADDRESS_REQUIRED, *ADDRESS_OPTIONAL)
        if isinstance(value := address.get(name), str) and value.strip()
    }
    return cleaned, [name for name in ADDRESS_REQUIRED if name not in cleaned]


def _invalid_address(p: Policies, missing: list[str]) -> Decision | None:
    return _decision(p, False, "address_invalid", missing=missing) if missing else None


def _check_address(p: Policies, order: Order, address: dict[str, str], now: datetime) -> Decision:
    if order.status == CANCELLED:
        return _decision(p, False, ALREADY_CANCELLED)
    shipped = order.shipped_at is not None and as_utc(order.shipped_at) <= as_utc(now)
    if shipped or not _precedes(order.status, SHIPPED):
        return _decision(p, False, "address_after_shipping")
    return _decision(p, True, "address_change_ok", address=mask_address(address))


def preview_change_address(
    session: Session,
    order: Order,
    new_address: Mapping[str, object],
    language: str,
    now: datetime | None = None,
    *,
    p: Policies | None = None,
) -> ChangePreview:
    """Whether the delivery address can still be changed to ``new_address``."""
    p = p or policies()
    address, missing = _clean_address(new_address)
    invalid = _invalid_address(p, missing)
    return change_preview(invalid or _check_address(p, order, address, now or utc_now()), language)


def change_address(
    session: Session,
    order: Order,
    new_address: Mapping[str, object],
    request_key: str,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """Replace the order's delivery address (recipient, phone, province, city, [district,]
    detail) while it has not shipped."""
    p = p or policies()
    address, missing = _clean_address(new_address)

    def perform(locked: Order, decision: Decision) -> tuple[str, dict[str, object]]:
        old = locked.shipping_address or {}
        changed = sorted(name for name in address if old.get(name) != address[name])
        locked.shipping_address = address
        return "address_changed", {
            "order_no": locked.order_no,
            "address": decision.params["address"],
            "changed": changed,
        }

    return _apply(
        session,
        order,
        "change_address",
        request_key,
        now,
        _invalid_address(p, missing),
        lambda locked: _check_address(p, locked, address, now),
        perform,
    )


# ---- returns


def _item(session: Session, order: Order, order_item_id: int) -> OrderItem:
    item = session.get(OrderItem, order_item_id)
    if item is None or item.order_id != order.id:
        raise ValueError(f"item {order_item_id} is not part of order {order.order_no}")
    return item


def category_keys(item: OrderItem) -> list[str]:
    """The item's category key followed by its ancestors' ("snacks", "food")."""
    keys: list[str] = []
    category = item.product.category
    while category is not None and category.key not in keys:
        keys.append(category.key)
        category = category.parent
    return keys


def _check_return(
    p: Policies,
    session: Session,
    order: Order,
    item: OrderItem,
    reason_kind: ReturnReason,
    now: datetime,
) -> Decision:
    earlier = [
        r
        for r in _rows(session, ReturnRequest, order, ReturnRequest.created_at)
        if r.order_item_id == item.id and r.status not in RETURN_CLOSED_UNDONE
    ]
    if earlier:
        status = RETURN_STATUS_TEXT[earlier[-1].status]
        return _decision(p, False, "return_in_progress", status=status, return_id=earlier[-1].id)
    keys = category_keys(item)
    return can_return(p, order.status, order.delivered_at, keys, reason_kind, now)


def preview_return(
    session: Session,
    order: Order,
    order_item_id: int,
    reason_kind: ReturnReason,
    language: str,
    now: datetime | None = None,
    *,
    p: Policies | None = None,
) -> ChangePreview:
    """Whether the item can be returned for ``reason_kind`` (no_reason / defect), the deadline,
    conditions and who pays the return shipping."""
    p = p or policies()
    item = _item(session, order, order_item_id)
    return change_preview(
        _check_return(p, session, order, item, reason_kind, now or utc_now()), language
    )


def request_return(
    session: Session,
    order: Order,
    order_item_id: int,
    reason_kind: ReturnReason,
    reason_text: str,
    request_key: str,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """File a return request for one item of the order (status ``requested``)."""
    p = p or policies()
    item = _item(session, order, order_item_id)

    def perform(locked: Order, decision: Decision) -> tuple[str, dict[str, object]]:
        reason = f"{reason_kind}: {reason_text or ''}"
        request = ReturnRequest(
            order_id=locked.id,
            order_item_id=item.id,
            kind=RETURN,
            reason=_fit(reason, ReturnRequest.__table__.c.reason),
            status=RETURN_REQUESTED,
            created_at=to_db(now),
            updated_at=to_db(now),
        )
        session.add(request)
        session.flush()
        return "return_requested", {
            "order_no": locked.order_no,
            "item": Bilingual(item.title_zh, item.title_en),
            "reason_kind": reason_kind,
            "return_shipping": decision.params["return_shipping"],
            "inspection_working_days": p.refunds.inspection_working_days,
            "return_id": request.id,
        }

    return _apply(
        session,
        order,
        "return",
        request_key,
        now,
        None,
        lambda locked: _check_return(p, session, locked, item, reason_kind, now),
        perform,
    )


# ---- refunds


def _item_refund(order: Order, item: OrderItem) -> Decimal:
    """What the customer paid for ``item``: its price less its share of the order discount."""
    subtotal = item.unit_price * item.quantity
    if not order.items_total:
        return subtotal
    return (subtotal - order.discount * subtotal / order.items_total).quantize(CENT)


def _refund_offer(
    p: Policies, amount: Decimal, payment: Payment, return_id: int | None
) -> Decision:
    return _decision(
        p,
        True,
        "refund_ok",
        amount=amount,
        method=payment.method,
        return_id=return_id,
        timeline=refund_timeline(p, payment.method).text,
    )


def _refund_exists(p: Policies, refund: Refund) -> Decision:
    return _decision(
        p,
        False,
        "refund_exists",
        amount=refund.amount,
        status=REFUND_STATUS_TEXT[refund.status],
        timeline=refund_timeline(p, refund.method).text,
        refund_id=refund.id,
    )


def _check_refund(p: Policies, session: Session, order: Order) -> Decision:
    """What can be refunded now: a cancelled order's payment, or a returned item that arrived."""
    payment = _payment(session, order)
    if payment is None:
        return _decision(p, False, "refund_nothing_paid")
    refunds = _active_refunds(session, order)
    left = _net_paid(payment, refunds)
    if order.status == CANCELLED:
        existing = [r for r in refunds if r.return_id is None]
        if existing:
            return _refund_exists(p, existing[-1])
        if left > 0:
            return _refund_offer(p, left, payment, None)
        return _decision(p, False, "refund_not_applicable")
    returns = [
        r
        for r in _rows(session, ReturnRequest, order, ReturnRequest.created_at)
        if r.kind == RETURN
    ]
    refunded = {r.return_id for r in refunds}
    for ret in returns:
        if ret.status in RETURN_REFUNDABLE and ret.id not in refunded and left > 0:
            amount = min(_item_refund(order, _item(session, order, ret.order_item_id)), left)
            return _refund_offer(p, amount, payment, ret.id)
    waiting = [r for r in returns if r.status in RETURN_ON_ITS_WAY]
    if waiting:
        return _decision(
            p,
            False,
            "refund_after_inspection",
            inspection_working_days=p.refunds.inspection_working_days,
            status=RETURN_STATUS_TEXT[waiting[-1].status],
        )
    if refunds:
        return _refund_exists(p, refunds[-1])
    return _decision(p, False, "refund_not_applicable")


def preview_refund(
    session: Session, order: Order, language: str, *, p: Policies | None = None
) -> ChangePreview:
    """Whether a refund can be requested now, how much, where it goes and how long it takes."""
    p = p or policies()
    return change_preview(_check_refund(p, session, order), language)


def request_refund(
    session: Session,
    order: Order,
    request_key: str,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """Start the refund of a cancelled order that has none, or of a returned item that has
    arrived; refused when a refund already exists or there is nothing to refund yet."""
    p = p or policies()

    def perform(locked: Order, decision: Decision) -> tuple[str, dict[str, object]]:
        amount, method = decision.params["amount"], decision.params["method"]
        return_id = decision.params["return_id"]
        refund = _add_refund(session, locked, amount, method, now, return_id)
        return "refund_requested", {
            "order_no": locked.order_no,
            "amount": amount,
            "timeline": decision.params["timeline"],
            "return_id": return_id,
            "refund_id": refund.id,
        }

    return _apply(
        session,
        order,
        "refund",
        request_key,
        now,
        None,
        lambda locked: _check_refund(p, session, locked),
        perform,
    )


# ---- invoices


def _clean_tax_id(tax_id: str | None) -> str | None:
    return re.sub(r"[\s-]", "", tax_id or "").upper() or None


def _invalid_invoice(p: Policies, title: str, tax_id: str | None, kind: str) -> Decision | None:
    if kind not in p.invoice_kinds:
        return _decision(p, False, "invoice_kind_unavailable")
    if not (title or "").strip():
        return _decision(p, False, "invoice_title_required")
    if tax_id is not None and not TAX_ID.fullmatch(tax_id):
        low, high = TAX_ID_LENGTH
        return _decision(p, False, "invoice_tax_id_invalid", min_length=low, max_length=high)
    return None


def _check_invoice(p: Policies, session: Session, order: Order, kind: str) -> Decision:
    rows = _rows(session, Invoice, order, Invoice.requested_at)
    existing = [i for i in rows if i.status in INVOICE_ACTIVE]
    if existing:
        invoice = existing[-1]
        return _decision(
            p,
            False,
            "invoice_exists",
            kind=_invoice_kind_name(p, invoice.kind),
            status=INVOICE_STATUS_TEXT[invoice.status],
            invoice_id=invoice.id,
            invoice_no=invoice.invoice_no,
        )
    if order.status == CANCELLED:
        return _decision(p, False, ALREADY_CANCELLED)
    amount = _net_paid(_payment(session, order), _active_refunds(session, order))
    if amount <= 0:
        return _decision(p, False, "invoice_not_paid")
    offered = p.invoice_kinds[kind]
    return _decision(
        p, True, "invoice_ok", kind=offered.name, amount=amount, working_days=offered.working_days
    )


def preview_invoice(
    session: Session,
    order: Order,
    title: str,
    tax_id: str | None,
    kind: str,
    language: str,
    *,
    p: Policies | None = None,
) -> ChangePreview:
    """Whether an invoice of ``kind`` can be requested, for how much and when it is issued."""
    p = p or policies()
    invalid = _invalid_invoice(p, title, _clean_tax_id(tax_id), kind)
    return change_preview(invalid or _check_invoice(p, session, order, kind), language)


def request_invoice(
    session: Session,
    order: Order,
    title: str,
    tax_id: str | None,
    kind: str,
    email: str | None,
    request_key: str,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """Request an invoice (发票) for the amount paid; refused when the order already has one
    (the outcome names it).  ``email`` defaults to the customer's."""
    p = p or policies()
    tax_id = _clean_tax_id(tax_id)

    def perform(locked: Order, decision: Decision) -> tuple[str, dict[str, object]]:
        address = (email or "").strip() or locked.customer.email
        invoice = Invoice(
            order_id=locked.id,
            title=title.strip()[: Invoice.__table__.c.title.type.length],
            tax_id=tax_id,
            kind=kind,
            amount=decision.params["amount"],
            email=address,
            status=INVOICE_REQUESTED,
            requested_at=to_db(now),
        )
        session.add(invoice)
        session.flush()
        return "invoice_requested", {
            **decision.params,
            "order_no": locked.order_no,
            "email": mask_email(address),
            "invoice_id": invoice.id,
        }

    return _apply(
        session,
        order,
        "invoice",
        request_key,
        now,
        _invalid_invoice(p, title, tax_id, kind),
        lambda locked: _check_invoice(p, session, locked, kind),
        perform,
    )
