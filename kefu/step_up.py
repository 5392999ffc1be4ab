"""Step-up proof for changes: a one-time code sent to the phone or e-mail on file.

Knowing an order number and the last 4 phone digits (printed on every shipping label) is enough
to *look* at an order, not to change it.  Before a cancellation, address change, return,
refund, invoice or account erasure runs, kefu sends a 6-digit code to the phone on the order
(or the account's phone / e-mail) and the customer types it back (:func:`issue_code`,
:func:`check_code`).  After the change, the same address gets a notice (:func:`notify_done`),
so a change the customer did not make does not go unnoticed.

Only a keyed hash of each code is stored; a code is valid for ``code_minutes``, for one change
(its request key), for 3 tries; and at most ``codes_per_window`` codes go to one order or account
per window (kefu.attempts), so nobody can flood a phone with messages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.attempts import AttemptPolicy, record_failure, status
from kefu.config import Bilingual, IdentityLimits, shop_config
from kefu.identity import pseudonymise
from kefu.models import ConfirmationCode, Customer, Order
from kefu.notify import Notifier, NotifyError, Recipient
from kefu.text import fold_width

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TRIES = 3
# a code typed back: the digits alone, or with a word around them ("验证码 123456", "code: 123 456")
_CODE_IN_TEXT = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})(?!\d)")

CHANGE_NAMES: dict[str, Bilingual] = {
    "cancel": Bilingual("取消订单", "cancel the order"),
    "change_address": Bilingual("修改收货地址", "change the delivery address"),
    "return": Bilingual("申请退货", "return an item"),
    "refund": Bilingual("申请退款", "request a refund"),
    "invoice": Bilingual("开具发票", "issue an invoice"),
    "erasure": Bilingual("注销账户并删除个人数据", "close the account and erase your data"),
    "newsletter": Bilingual("更改促销消息订阅", "change your newsletter subscription"),
    "conversation_erasure": Bilingual("删除对话记录", "erase the conversation"),
}
TEXTS: dict[str, Bilingual] = {
    "code": Bilingual(
        "【{shop}】验证码 {code}，用于确认{change}（{subject}），{minutes} 分钟内有效。"
        "如非本人操作，请勿告诉任何人。",
        "[{shop}] Code {code} confirms: {change} ({subject}). Valid for {minutes} minutes. "
        "If this wasn't you, don't share it.",
    ),
    "done": Bilingual(
        "【{shop}】已按您在客服对话中的确认{change}（{subject}）。"
        "如非本人操作，请立即致电 {hotline}。",
        "[{shop}] As confirmed in a chat with us: {change} ({subject}) is done. "
        "If this wasn't you, call {hotline} now.",
    ),
    "order_subject": Bilingual("订单 {order_no}", "order {order_no}"),
    "account_subject": Bilingual("您的账户", "your account"),
}
# a plain yes: a newsletter choice, and the erasure of the conversation the yes is said in
STEP_UP_KINDS = frozenset(CHANGE_NAMES) - {"newsletter", "conversation_erasure"}


class CodeCheck(str, Enum):
    OK = "ok"
    WRONG = "wrong"  # tries left
    SPENT = "spent"  # expired, used, tried too often, or never issued: preview again


@dataclass(frozen=True)
class CodeSent:
    """A code went out (``channel`` says where: sms / email), or ``refused`` says why not."""

    channel: str | None = None
    refused: str | None = None  # "no_contact", "too_many", "not_delivered"


def code_secret() -> str:
    """The key the codes are hashed with (``KEFU_CODE_SECRET``, else the action secret)."""
    secret = os.environ.get("KEFU_CODE_SECRET") or os.environ.get("KEFU_ACTION_SECRET") or ""
    if len(secret) < 16:
        raise ValueError("KEFU_CODE_SECRET (or KEFU_ACTION_SECRET) must be set, 16+ characters")
    return secret


def _hash(request_key: str, code: str) -> str:
    message = f"kefu-code\x00{request_key}\x00{code}".encode()
    return hmac.new(code_secret().encode("utf-8"), message, hashlib.sha256).hexdigest()


def parse_code(text: str) -> str | None:
    """The 6-digit code in a customer's message, or None (linear-time; at most 200 chars)."""
    match = _CODE_IN_TEXT.search(fold_width(text or "")[:200])
    return match.group(1) + match.group(2) if match else None


def order_subject(order_no: str) -> str:
    return f"order:{order_no}"


def customer_subject(customer_id: int) -> str:
    return f"customer:{customer_id}"


def _digits(value: object) -> str:
    return re.sub(r"\D", "", str(value or ""))


def order_recipient(session: Session, order: Order, secret: str) -> Recipient | None:
    """The phone on the order (shipping, else the account's), else the account's e-mail."""
    customer = session.get(Customer, order.customer_id)
    address = order.shipping_address if isinstance(order.shipping_address, dict) else {}
    for phone in (address.get("phone"), customer.phone if customer else None):
        if len(_digits(phone)) >= 7:
            return Recipient("sms", _digits(phone), pseudonymise(_digits(phone), secret))
    return customer_recipient(customer, secret) if customer else None


def customer_recipient(customer: Customer, secret: str) -> Recipient | None:
    """The account's phone, else its e-mail; None for an erased or contactless account."""
    if customer.erased_at is not None:
        return None
    if len(_digits(customer.phone)) >= 7:
        phone = _digits(customer.phone)
        return Recipient("sms", phone, pseudonymise(phone, secret))
    if customer.email and "@" in customer.email:
        return Recipient("email", customer.email, pseudonymise(customer.email.lower(), secret))
    return None


def _policy(limits: IdentityLimits) -> AttemptPolicy:
    return AttemptPolicy(
        max_failures=limits.codes_per_window,
        window_seconds=limits.window_minutes * 60,
        lock_seconds=limits.window_minutes * 60,
    )


def _subject_text(subject: str, language: str) -> str:
    if subject.startswith("order:"):
        return TEXTS["order_subject"].get(language).format(order_no=subject.split(":", 1)[1])
    return TEXTS["account_subject"].get(language)


def issue_code(
    session: Session,
    *,
    request_key: str,
    subject: str,
    kind: str,
    recipient: Recipient | None,
    language: str,
    notifier: Notifier,
    now: int,
    limits: IdentityLimits | None = None,
) -> CodeSent:
    """Send a fresh code for the change ``request_key`` (the caller commits)."""
    limits = limits or shop_config().identity
    if recipient is None:
        return CodeSent(refused="no_contact")
    issue_key = (f"codes:{subject}",)
    if status(session, issue_key, _policy(limits), now).locked:
        return CodeSent(refused="too_many")
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    config = shop_config()
    text = (
        TEXTS["code"]
        .get(language)
        .format(
            shop=config.name.get(language),
            code=code,
            change=CHANGE_NAMES[kind].get(language),
            subject=_subject_text(subject, language),
            minutes=limits.code_minutes,
        )
    )
    try:
        notifier.send(recipient, text, tag=f"code:{kind}")
    except NotifyError:
        return CodeSent(refused="not_delivered")
    record_failure(session, issue_key, _policy(limits), now)  # counts codes sent, not failures
    row = session.scalars(
        select(ConfirmationCode).where(ConfirmationCode.request_key == request_key)
    ).first()
    if row is None:
        row = ConfirmationCode(request_key=request_key, subject=subject, channel=recipient.channel)
        session.add(row)
    row.code_hash = _hash(request_key, code)
    row.attempts, row.created_at, row.used_at = 0, now, None
    row.expires_at = now + limits.code_minutes * 60
    session.flush()
    return CodeSent(channel=recipient.channel)


def check_code(session: Session, request_key: str, given: str | None, now: int) -> CodeCheck:
    """Compare ``given`` with the code of change ``request_key``; a right code is used up."""
    row = session.scalars(
        select(ConfirmationCode)
        .where(ConfirmationCode.request_key == request_key)
        .with_for_update()
    ).first()
    if row is None or row.used_at is not None or now >= row.expires_at:
        return CodeCheck.SPENT
    expected = row.code_hash.encode()
    sent = _hash(request_key, given or "-").encode()
    if given and hmac.compare_digest(expected, sent):
        row.used_at = now
        session.flush()
        return CodeCheck.OK
    row.attempts += 1
    if row.attempts >= CODE_TRIES:
        row.used_at = now  # burnt: a new preview sends a new code
        logger.warning("a confirmation code was burnt after %d wrong tries", row.attempts)
        session.flush()
        return CodeCheck.SPENT
    session.flush()
    return CodeCheck.WRONG


def tries_left(session: Session, request_key: str) -> int:
    row = session.scalars(
        select(ConfirmationCode).where(ConfirmationCode.request_key == request_key)
    ).first()
    return max(CODE_TRIES - row.attempts, 0) if row else 0


def notify_done(
    recipient: Recipient | None, *, kind: str, subject: str, language: str, notifier: Notifier
) -> bool:
    """Tell the address on file that the change was made; False if it could not be sent."""
    if recipient is None:
        return False
    config = shop_config()
    text = (
        TEXTS["done"]
        .get(language)
        .format(
            shop=config.name.get(language),
            change=CHANGE_NAMES[kind].get(language),
            subject=_subject_text(subject, language),
            hotline=config.customer_service.hotline,
        )
    )
    try:
        notifier.send(recipient, text, tag=f"done:{kind}")
    except NotifyError:
        return False
    return True
