"""One after-sales task on one order the customer may see: answers and changes to confirm.

The bot's order dialogue (identity check, then the task) ends in :func:`run_order_task`.
Read-only tasks (tracking, refund and invoice status, payment records, what can be changed)
answer straight away.  Tasks that change data return a preview and a :class:`PendingChange`;
the change runs only when the customer confirms (:func:`apply_change`), once per request key,
so a double-clicked "confirm" does nothing twice.

Replies are either text rendered here and in :mod:`kefu.orders` (``text``) or the name of a
dialogue response with its values (``response``), which the dialogue designers word.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.clock import to_db, utc_now
from kefu.config import Bilingual
from kefu.models import Order, OrderItem, Payment
from kefu.orders import (
    ChangeOutcome,
    ChangePreview,
    cancel_order,
    change_address,
    order_details,
    outcome_text,
    preview_cancel,
    preview_change_address,
    preview_invoice,
    preview_refund,
    preview_return,
    request_invoice,
    request_refund,
    request_return,
    tracking_text,
)
from kefu.policies import Policies, policies
from kefu.products import money

# intents that need an order the customer may see, and what each changes (if anything)
ORDER_TASKS: tuple[str, ...] = (
    "track_order",
    "change_order",
    "cancel_order",
    "change_shipping_address",
    "request_return",
    "get_refund",
    "track_refund",
    "payment_issue",
    "get_invoice",
    "check_invoice",
)
CHANGE_KINDS: Mapping[str, str] = {
    "cancel_order": "cancel",
    "change_shipping_address": "change_address",
    "request_return": "return",
    "get_refund": "refund",
    "get_invoice": "invoice",
}
# what a task needs besides the order, in the order the bot asks for it
TASK_DETAILS: Mapping[str, tuple[str, ...]] = {
    "request_return": ("return_item", "return_reason"),
    "change_shipping_address": ("new_address",),
    "get_invoice": ("invoice_title",),
}
DEFAULT_INVOICE_KIND = "electronic"
PAPER_INVOICE_KIND = "paper"

TEXTS: Mapping[str, Bilingual] = {
    "no_refunds": Bilingual(
        "订单 {order_no} 目前没有退款记录。如需退款，跟我说「申请退款」就可以。",
        'Order {order_no} has no refund on record. Say "I want a refund" to ask for one.',
    ),
    "refund_line": Bilingual("退款 ¥{amount}：{status}", "Refund of ¥{amount}: {status}"),
    "return_line": Bilingual(
        "退货 {item}（{created} 申请）：{status}",
        "Return of {item} (requested {created}): {status}",
    ),
    "no_invoices": Bilingual(
        "订单 {order_no} 还没有开发票。需要的话跟我说「开发票」。",
        'Order {order_no} has no invoice yet. Say "I need an invoice" to request one.',
    ),
    "invoice_line": Bilingual("{kind}：{status}{number}", "{kind}: {status}{number}"),
    "invoice_number": Bilingual("，发票号 {invoice_no}", ", invoice no. {invoice_no}"),
    "no_payments": Bilingual(
        "订单 {order_no} 还没有付款记录（订单状态：{status}）。"
        "如果您已经被扣款，通常是支付渠道还没回传结果，一般 15 分钟内会自动更新；"
        "若银行已扣款而订单 24 小时后仍未付款，钱会由支付渠道原路退回。",
        "Order {order_no} has no payment on record (order status: {status}). If you were charged, "
        "the payment provider has not confirmed yet; this usually updates within 15 minutes. If "
        "the order is still unpaid after 24 hours, the provider returns the money.",
    ),
    "payment_line": Bilingual(
        "{method} ¥{amount}：{status}（{at}）", "{method} ¥{amount}: {status} ({at})"
    ),
    "payment_double": Bilingual(
        "这个订单有 {count} 笔成功扣款，多扣的钱我们会退回。我已记下，请联系人工客服核对处理。",
        "This order has {count} successful charges; the extra charge will be returned. "
        "Please contact a human agent to have it checked and refunded.",
    ),
    "payment_failed_only": Bilingual(
        "付款没有成功，钱没有扣走；如果银行显示扣款，通常 1–3 个工作日内自动退回。"
        "可以在「我的订单」里重新付款。",
        "The payment did not go through, so nothing was taken; if your bank shows a charge it is "
        'released within 1-3 working days. You can pay again under "My orders".',
    ),
    "payment_ok": Bilingual(
        "付款已成功，订单状态是「{status}」。", "The payment succeeded; the order is {status}."
    ),
}
PAYMENT_STATUS_TEXT: Mapping[str, Bilingual] = {
    "pending": Bilingual("处理中", "pending"),
    "succeeded": Bilingual("成功", "succeeded"),
    "failed": Bilingual("失败", "failed"),
    "refunded": Bilingual("已退回", "refunded"),
}


@dataclass(frozen=True)
class Reply:
    """One message: library text, or a dialogue response name with its values."""

    text: str | None = None
    response: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingChange:
    """A previewed change waiting for the customer's yes; kept in the conversation.

    ``previewed_at`` (Unix seconds) and ``turn`` (the number of customer messages when it was
    previewed, or last asked about) let the consent lapse: after ``consent_minutes``, or as soon
    as the customer talks about something else (:func:`consent_lapsed`).
    """

    kind: str
    request_key: str
    order_no: str | None = None
    customer_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    previewed_at: int | None = None
    turn: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "request_key": self.request_key,
            "order_no": self.order_no,
            "customer_id": self.customer_id,
            "params": dict(self.params),
            "previewed_at": self.previewed_at,
            "turn": self.turn,
        }

    def asked(self, now: int, turn: int) -> PendingChange:
        """The same change, previewed (or asked about again) at ``now`` in ``turn``."""
        return replace(self, previewed_at=self.previewed_at or now, turn=turn)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PendingChange | None:
        """The change stored by :meth:`to_dict`, or None for anything else."""
        if not isinstance(data, Mapping) or not isinstance(data.get("kind"), str):
            return None
        key = data.get("request_key")
        if not isinstance(key, str) or not key:
            return None
        params = data.get("params")
        when, turn = data.get("previewed_at"), data.get("turn")
        return cls(
            kind=data["kind"],
            request_key=key,
            order_no=data.get("order_no"),
            customer_id=data.get("customer_id"),
            params=dict(params) if isinstance(params, Mapping) else {},
            previewed_at=when if isinstance(when, int) else None,
            turn=turn if isinstance(turn, int) else None,
        )


# what a customer may say between a preview and its confirmation without moving on
CONSENT_INTENTS = frozenset({"affirm", "deny", "nlu_fallback"})


def consent_lapsed(
    pending: PendingChange, now: int, later_intents: list[str | None], consent_minutes: int
) -> bool:
    """True when ``pending`` may no longer be confirmed: never timed, older than
    ``consent_minutes``, or the customer asked something else since (``later_intents``: the
    intents of the customer's messages after the preview, the confirming one excluded)."""
    if pending.previewed_at is None or pending.turn is None:
        return True
    if now >= pending.previewed_at + consent_minutes * 60:
        return True
    return any(intent not in CONSENT_INTENTS for intent in later_intents)


@dataclass(frozen=True)
class TaskResult:
    replies: list[Reply]
    pending: PendingChange | None = None


def new_request_key() -> str:
    """A fresh idempotency key for one previewed change."""
    return uuid.uuid4().hex


def details_needed(task: str | None) -> tuple[str, ...]:
    """What ``task`` needs besides the order ("return_item", "new_address", ...)."""
    return TASK_DETAILS.get(task or "", ())


def order_items(session: Session, order: Order) -> list[OrderItem]:
    """The order's items in a stable order (the numbering shown to the customer)."""
    return list(
        session.scalars(
            select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
        )
    )


def _text(name: str, language: str, **values: object) -> str:
    return TEXTS[name].get(language).format(**values)


def _preview_result(
    preview: ChangePreview, kind: str, order: Order, params: dict[str, Any]
) -> TaskResult:
    replies = [Reply(text=preview.summary)]
    if not preview.allowed:
        return TaskResult(replies)
    pending = PendingChange(kind, new_request_key(), order.order_no, order.customer_id, params)
    return TaskResult(replies, pending)


def _track(session: Session, order: Order, language: str, p: Policies) -> TaskResult:
    details = order_details(session, order, language, p=p)
    return TaskResult([Reply(text=tracking_text(details, language))])


def _track_refund(session: Session, order: Order, language: str, p: Policies) -> TaskResult:
    details = order_details(session, order, language, p=p)
    lines = [
        _text(
            "return_line",
            language,
            item=r.item_title,
            created=r.created.isoformat(),
            status=r.status_text,
        )
        for r in details.returns
        if r.in_progress
    ]
    for refund in details.refunds:
        lines.append(
            _text("refund_line", language, amount=money(refund.amount), status=refund.status_text)
        )
        if refund.in_progress and refund.timeline:
            lines.append(refund.timeline)
    if not lines:
        lines.append(_text("no_refunds", language, order_no=order.order_no))
    return TaskResult([Reply(text="\n".join(lines))])


def _check_invoice(session: Session, order: Order, language: str, p: Policies) -> TaskResult:
    details = order_details(session, order, language, p=p)
    if not details.invoices:
        return TaskResult([Reply(text=_text("no_invoices", language, order_no=order.order_no))])
    lines = [
        _text(
            "invoice_line",
            language,
            kind=invoice.kind,
            status=invoice.status_text,
            number=_text("invoice_number", language, invoice_no=invoice.invoice_no)
            if invoice.invoice_no
            else "",
        )
        for invoice in details.invoices
    ]
    return TaskResult(
        [Reply(text="\n".join(lines)), Reply(response="utter_invoice_correction", params={})]
    )


def _payment_issue(session: Session, order: Order, language: str, p: Policies) -> TaskResult:
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.order_id == order.id)
            .order_by(Payment.created_at, Payment.id)
        )
    )
    status = p.order_statuses[order.status].get(language)
    if not payments:
        return TaskResult(
            [Reply(text=_text("no_payments", language, order_no=order.order_no, status=status))]
        )
    lines = []
    for payment in payments:
        method = p.payment_methods.get(payment.method)
        lines.append(
            _text(
                "payment_line",
                language,
                method=method.name.get(language) if method else payment.method,
                amount=money(Decimal(payment.amount)),
                status=PAYMENT_STATUS_TEXT[payment.status].get(language),
                at=(payment.created_at).strftime("%Y-%m-%d %H:%M"),
            )
        )
    succeeded = [x for x in payments if x.status == "succeeded"]
    replies = [Reply(text="\n".join(lines))]
    if len(succeeded) > 1:
        replies.append(Reply(text=_text("payment_double", language, count=len(succeeded))))
        replies.append(Reply(response="utter_contact_service"))
    elif succeeded:
        replies.append(Reply(text=_text("payment_ok", language, status=status)))
    else:
        replies.append(Reply(text=_text("payment_failed_only", language)))
    return TaskResult(replies)


def _change_order(session: Session, order: Order, language: str, p: Policies) -> TaskResult:
    """Items of a placed order are not edited in place: say what can be done instead."""
    status = p.order_statuses[order.status].get(language)
    cancel = preview_cancel(session, order, language, p=p)
    response = "utter_change_order_cancel_instead" if cancel.allowed else "utter_change_order_late"
    if order.status == "cancelled":
        response = "utter_change_order_cancelled"
    return TaskResult(
        [Reply(response=response, params={"order_no": order.order_no, "status": status})]
    )


def run_order_task(
    session: Session,
    order: Order,
    task: str,
    language: str,
    *,
    item_id: int | None = None,
    return_reason: str | None = None,
    address: Mapping[str, str] | None = None,
    invoice_title: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    p: Policies | None = None,
) -> TaskResult:
    """Answer ``task`` for ``order`` (which the caller has checked the customer may see)."""
    p = p or policies()
    now = now or to_db(utc_now())
    if task == "track_order":
        return _track(session, order, language, p)
    if task == "track_refund":
        return _track_refund(session, order, language, p)
    if task == "check_invoice":
        return _check_invoice(session, order, language, p)
    if task == "payment_issue":
        return _payment_issue(session, order, language, p)
    if task == "change_order":
        return _change_order(session, order, language, p)
    if task == "cancel_order":
        return _preview_result(
            preview_cancel(session, order, language, now, p=p), "cancel", order, {}
        )
    if task == "change_shipping_address":
        fields = dict(address or {})
        preview = preview_change_address(session, order, fields, language, now, p=p)
        return _preview_result(preview, "change_address", order, {"address": fields})
    if task == "request_return":
        items = order_items(session, order)
        item = item_id if item_id is not None else (items[0].id if len(items) == 1 else None)
        if item is None or all(i.id != item for i in items):
            raise ValueError("a return needs one of the order's items")
        reason = return_reason or "no_reason"
        preview = preview_return(session, order, item, reason, language, now, p=p)
        return _preview_result(preview, "return", order, {"item_id": item, "reason": reason})
    if task == "get_refund":
        return _preview_result(preview_refund(session, order, language, p=p), "refund", order, {})
    if task == "get_invoice":
        title = dict(invoice_title or {})
        kind = title.get("kind") or DEFAULT_INVOICE_KIND
        preview = preview_invoice(
            session, order, title.get("title", ""), title.get("tax_id"), kind, language, p=p
        )
        params = {"title": title.get("title", ""), "tax_id": title.get("tax_id"), "kind": kind}
        return _preview_result(preview, "invoice", order, params)
    raise ValueError(f"unknown order task {task!r}; expected one of {ORDER_TASKS}")


def apply_change(
    session: Session,
    order: Order,
    pending: PendingChange,
    now: datetime,
    *,
    p: Policies | None = None,
) -> ChangeOutcome:
    """Run the confirmed order change (one transaction, idempotent per request key)."""
    p = p or policies()
    key, params = pending.request_key, pending.params
    if pending.kind == "cancel":
        return cancel_order(session, order, "customer via chat", key, now, p=p)
    if pending.kind == "change_address":
        return change_address(session, order, params.get("address") or {}, key, now, p=p)
    if pending.kind == "return":
        return request_return(
            session, order, int(params["item_id"]), params["reason"], "via chat", key, now, p=p
        )
    if pending.kind == "refund":
        return request_refund(session, order, key, now, p=p)
    if pending.kind == "invoice":
        return request_invoice(
            session,
            order,
            params["title"],
            params.get("tax_id"),
            params["kind"],
            None,
            key,
            now,
            p=p,
        )
    raise ValueError(f"unknown order change {pending.kind!r}")


def outcome_replies(
    outcome: ChangeOutcome, language: str, *, p: Policies | None = None
) -> list[Reply]:
    """What to tell the customer after a confirmed change (a repeat says it was done before)."""
    replies = [Reply(response="utter_change_repeated")] if outcome.repeated else []
    replies.append(Reply(text=outcome_text(outcome, language, p=p)))
    return replies
