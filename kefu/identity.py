"""Customer identity and privacy: signed login tokens, order verification and masking.

A logged-in customer is identified by a compact JWT (HS256) that the shop's front end passes in
the message metadata; any back end can mint one with a standard JWT library and the shared
secret ``KEFU_IDENTITY_SECRET`` (at least 32 bytes).  Anyone else proves access to one order with
its number and the last 4 digits of the phone on the order; failed attempts are limited per order
and per customer in the shop database (:mod:`kefu.attempts`, shared by every channel, sender and
process) and per conversation by a :class:`VerificationState` that lives in a slot.  Every
failure looks the same: an unknown order, a wrong phone and someone else's order give identical
results.  A proven order stays open for a limited time (``verified_until``).

Personal data is never logged in clear text: use the ``mask_*`` helpers for what is shown,
:func:`redact` for free text and :func:`pseudonymise` for log and analytics keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.models import Customer, Order
from kefu.text import clip, fold_width

logger = logging.getLogger(__name__)

SECRET_ENV = "KEFU_IDENTITY_SECRET"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least as long as the hash
MAX_TOKEN_CHARS = 4096
ALGORITHM = "HS256"

# Order numbers as the demo shop makes them (kefu/demo/generate.py): the creation time as
# yymmddHHMM followed by a 6-digit serial, 16 digits in all ("2507021316" + "645123").
ORDER_NO_TIME_DIGITS = 10
ORDER_NO_SERIAL_DIGITS = 6
ORDER_NO_LENGTH = ORDER_NO_TIME_DIGITS + ORDER_NO_SERIAL_DIGITS


class IdentitySecretError(ValueError):
    """The identity secret is missing or too weak: a configuration error, not a bad token."""


class IdentityError(Exception):
    """A customer token was rejected."""


class TokenMalformed(IdentityError):
    """Not a well-formed token, or its claims are missing, invalid or not yet valid."""


class TokenForged(IdentityError):
    """The signature does not match, or the token is not signed with HS256."""


class TokenExpired(IdentityError):
    """The token was genuine but its ``exp`` has passed."""


# ---- signed customer tokens -------------------------------------------------------------------


def identity_secret() -> str:
    """The token secret from ``KEFU_IDENTITY_SECRET``; a clear error when unset or too short."""
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise IdentitySecretError(
            f"{SECRET_ENV} is not set: set it to the secret shared with the shop's back end "
            "(at least 32 bytes, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    _key(secret)
    return secret


def _key(secret: str) -> bytes:
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise IdentitySecretError(
            f"the identity secret is {len(key)} bytes long; at least {MIN_SECRET_BYTES} are "
            "required (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return key


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise TokenMalformed("token part is not base64url") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise TokenMalformed("token JSON repeats a member")
    return result


def _json_object(part: str) -> dict[str, Any]:
    def reject_constant(name: str) -> None:
        raise TokenMalformed(f"token JSON contains {name}")

    try:
        value = json.loads(
            _b64decode(part).decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TokenMalformed("token part is not JSON") from None
    if not isinstance(value, dict):
        raise TokenMalformed("token part is not a JSON object")
    return value


def _sign(signing_input: str, key: bytes) -> bytes:
    return hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def issue_token(
    customer_id: int, secret: str, ttl_seconds: int = 3600, now: int | None = None
) -> str:
    """A token for ``customer_id`` valid for ``ttl_seconds``: ``sub``, ``iat`` and ``exp``."""
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or customer_id < 1:
        raise ValueError(f"customer id must be a positive integer, not {customer_id!r}")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 1:
        raise ValueError(f"ttl_seconds must be a positive integer, not {ttl_seconds!r}")
    key = _key(secret)
    issued = int(_now(now))
    parts = [
        {"alg": ALGORITHM, "typ": "JWT"},
        {"sub": str(customer_id), "iat": issued, "exp": issued + ttl_seconds},
    ]
    signing_input = ".".join(
        _b64encode(json.dumps(p, separators=(",", ":")).encode("utf-8")) for p in parts
    )
    return f"{signing_input}.{_b64encode(_sign(signing_input, key))}"


_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_SUBJECT = re.compile(r"[1-9][0-9]{0,17}")


def _time_claim(claims: dict[str, Any], name: str, required: bool = False) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TokenMalformed(f"token claim '{name}' must be a number of seconds")
    return value


def verify_token(token: str, secret: str, now: int | None = None, leeway: int = 30) -> int:
    """The customer id of a genuine, current token; :class:`IdentityError` subclasses otherwise.

    Only HS256 is accepted; the signature is compared in constant time before the claims are
    read.  ``sub`` must be a positive integer string and ``exp`` is required; ``iat`` and
    ``nbf`` more than ``leeway`` seconds in the future are rejected.
    """
    key = _key(secret)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenMalformed("token is not a string of acceptable length")
    token = token.strip()
    if not _TOKEN.fullmatch(token):
        raise TokenMalformed("token is not three base64url parts separated by dots")
    header_part, payload_part, signature_part = token.split(".")
    header = _json_object(header_part)
    if header.get("alg") != ALGORITHM:
        raise TokenForged(f"token algorithm {str(header.get('alg'))[:20]!r} is not accepted")
    if "crit" in header:
        raise TokenMalformed("token has critical header extensions")
    expected = _sign(f"{header_part}.{payload_part}", key)
    if not hmac.compare_digest(expected, _b64decode(signature_part)):
        raise TokenForged("token signature does not match")

    claims = _json_object(payload_part)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise TokenMalformed("token claim 'sub' must be a positive integer string")
    current = _now(now)
    expires = _time_claim(claims, "exp", required=True)
    issued, not_before = _time_claim(claims, "iat"), _time_claim(claims, "nbf")
    if issued is not None and issued > current + leeway:
        raise TokenMalformed("token is issued in the future")
    if not_before is not None and not_before > current + leeway:
        raise TokenMalformed("token is not valid yet")
    if expires <= current - leeway:
        raise TokenExpired("token has expired")
    return int(subject)


# ---- what customers type ----------------------------------------------------------------------

_DASHES = "-‐‑‒–—―"
# digit groups joined by spaces and/or one dash: "2507 0213 1664 5123", "250702-1316-645123"
_DIGIT_RUN = re.compile(rf"\d+(?:(?:[^\S\n]*[{_DASHES}][^\S\n]*|[^\S\n]+)\d+)*")
_DIGITS = re.compile(r"\d+")


def _order_time_valid(digits: str) -> bool:
    year, month, day, hour, minute = (int(digits[i : i + 2]) for i in range(0, 10, 2))
    try:
        datetime(2000 + year, month, day, hour, minute)
    except ValueError:
        return False
    return True


def find_order_number(text: str) -> tuple[str, int, int] | None:
    """The first order number in ``text`` with the span of the digits written for it:
    ``(digits, start, end)``, or None.  Accepts what :func:`parse_order_number` accepts."""
    folded = fold_width(text or "")  # one character for one: spans stay valid for ``text``
    for run in _DIGIT_RUN.finditer(folded):
        groups = list(_DIGITS.finditer(run.group()))
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last].group()
                if len(digits) >= ORDER_NO_LENGTH:
                    break
            if len(digits) == ORDER_NO_LENGTH and _order_time_valid(digits):
                start = run.start() + groups[first].start()
                return digits, start, run.start() + groups[last].end()
    return None


def parse_order_number(text: str) -> str | None:
    """The first order number in ``text``, as its 16 digits, or None.

    Accepted: exactly :data:`ORDER_NO_LENGTH` (16) digits, yymmddHHMM creation time (checked to
    be a real date and time) plus a 6-digit serial, as in the demo shop.  Full-width digits,
    spaces and dashes between digit groups, any prefix ("订单号：", "order #", "No.") and
    surrounding text are fine.  Digits are taken in whole groups only, so a longer number, a
    phone number (11 digits), a budget or another short number never yields an order number.
    """
    found = find_order_number(text)
    return found[0] if found else None


_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4})(?!\d)")
_LAST4_CUE = re.compile(
    r"(?:尾号|尾数|后四位|后4位|末四位|末4位|最后四位|最后4位|"
    r"last\s*(?:4|four)(?:\s*digits?)?|ending\s+(?:in|with)|ends\s+(?:in|with))"
    r"\D{0,20}?(?<!\d)(\d{4})(?!\d)",
    re.IGNORECASE,
)
# matched against the stripped message: every space belongs to one place only (linear-time)
_BARE_LAST4 = re.compile(r"(?:(?:是|就是|it'?s|is)\s*)?(\d{4})(?:\s*[.。!])?", re.IGNORECASE)


def find_phone(text: str) -> tuple[int, int] | None:
    """Where ``text`` gives phone digits, as ``(start, end)``: a whole mobile number, the last 4
    digits after a cue ("尾号6093", "ends in 6093") or a message of just 4 digits; else None."""
    folded = fold_width(clip(text))  # one character for one: spans stay valid for ``text``
    mobile = _MOBILE.search(folded)
    if mobile:
        return mobile.start(1), mobile.end(1)
    cue = _LAST4_CUE.search(folded)
    if cue:
        return cue.start(1), cue.end(1)
    lead = len(folded) - len(folded.lstrip())
    bare = _BARE_LAST4.fullmatch(folded.strip())
    return (lead + bare.start(1), lead + bare.end(1)) if bare else None


def parse_phone_last4(text: str) -> str | None:
    """The last 4 phone digits a customer typed ("尾号6093", "last 4 digits are 6093", "６０９３"),
    also taken from a whole mobile number; None when there are none."""
    span = find_phone(text)
    if span is None:
        return None
    return re.sub(r"\D", "", fold_width(text)[span[0] : span[1]])[-4:]


# ---- verification by order number and phone ---------------------------------------------------


class VerificationStatus(str, Enum):
    VERIFIED = "verified"
    FAILED = "failed"
    LOCKED = "locked"


@dataclass(frozen=True)
class VerificationResult:
    """What the bot may say: verified, failed (``attempts_left``) or locked (``locked_until``)."""

    status: VerificationStatus
    attempts_left: int
    locked_until: int | None = None


@dataclass(frozen=True)
class VerificationState:
    """Per-conversation identity: failed attempts, lock, login and proven orders.

    ``customer_id`` is set only from a signed token (:meth:`logged_in`): that customer sees all
    of their orders.  Proving one order with its phone digits grants that order only
    (``verified_orders``), since whoever knows a parcel's phone is not necessarily the buyer.
    Times are Unix seconds.  Store it with :meth:`to_dict` in a slot that only actions set.
    """

    attempts: int = 0
    locked_until: int | None = None
    customer_id: int | None = None
    verified_orders: tuple[str, ...] = field(default_factory=tuple)
    verified_until: int | None = None  # proven orders close then (None: kept by the caller)

    def logged_in(self, customer_id: int) -> VerificationState:
        """The state once a token identified ``customer_id``."""
        return replace(self, customer_id=customer_id)

    def logged_out(self) -> VerificationState:
        """The state for a message without a customer token (orders proven by phone stay)."""
        return replace(self, customer_id=None)

    def is_locked(self, now: float) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def proven(self, order_no: str, now: float | None = None) -> bool:
        """True while ``order_no`` is proven in this conversation and the proof has not run out."""
        now = time.time() if now is None else now
        fresh = self.verified_until is None or now < self.verified_until
        return fresh and order_no in self.verified_orders

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "locked_until": self.locked_until,
            "customer_id": self.customer_id,
            "verified_orders": list(self.verified_orders),
            "verified_until": self.verified_until,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> VerificationState:
        """The state written by :meth:`to_dict`; a fresh one for None; ValueError if invalid."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError("verification state must be a mapping")

        def number(name: str, default: int | None) -> int | None:
            value = data.get(name, default)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"verification state: '{name}' must be a whole number")
            return value

        orders = data.get("verified_orders", [])
        if not isinstance(orders, (list, tuple)) or not all(isinstance(o, str) for o in orders):
            raise ValueError("verification state: 'verified_orders' must be a list of strings")
        until = number("verified_until", None)
        return cls(
            attempts=number("attempts", 0) or 0,
            locked_until=number("locked_until", None),
            customer_id=number("customer_id", None),
            verified_orders=tuple(orders) if until is not None else (),  # no expiry: not proven
            verified_until=until,
        )


_NO_DIGITS = "\x00" * 4  # compared against when there is no order: never equal to 4 digits
_LAST4 = re.compile(r"\d{4}")


def _phone_last4(*phones: object) -> str:
    for phone in phones:
        digits = re.sub(r"\D", "", str(phone or ""))
        if len(digits) >= 4:
            return digits[-4:]
    return _NO_DIGITS


def verification_keys(order_no: str, owner: int | None) -> tuple[str, str]:
    """The shared counters a proof for ``order_no`` spends: the order's and its owner's (an
    unknown order stands in for its own owner, so every failure costs the same queries)."""
    order_no = order_no[:40]
    return f"order:{order_no}", f"customer:{owner}" if owner is not None else f"nobody:{order_no}"


def verify_order_access(
    session: Session,
    state: VerificationState,
    order_no: str,
    last4: str,
    now: float,
    max_attempts: int = 3,
    lock_minutes: int = 30,
    window_minutes: int = 60,
    verified_minutes: int = 30,
) -> tuple[VerificationResult, VerificationState]:
    """Check ``last4`` against the phone on order ``order_no`` and count the attempt.

    The phone is the shipping address's, else the customer's.  An unknown order, a wrong phone
    and an order of another logged-in customer are all the same ``FAILED`` result, after the
    same query and the same constant-time comparison.  Failures count in the shop database
    against the order and its owner (``max_attempts`` per ``window_minutes``, then locked for
    ``lock_minutes`` for everyone) and in the conversation's state, which locks the same way.
    Success does not reset either count; a proven order stays open for ``verified_minutes``.
    """
    from kefu.attempts import AttemptPolicy, record_failure, status

    policy = AttemptPolicy(max_attempts, window_minutes * 60, lock_minutes * 60)
    if state.is_locked(now):
        return VerificationResult(VerificationStatus.LOCKED, 0, state.locked_until), state
    if state.locked_until is not None:  # the lock has run out: a fresh set of attempts
        state = replace(state, attempts=0, locked_until=None)

    order_no = fold_width(order_no or "").strip()
    given = fold_width(last4 or "").strip()
    row = session.execute(
        select(Order.customer_id, Order.shipping_address, Customer.phone)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.order_no == order_no)
    ).first()
    owner, address, account_phone = row if row else (None, None, None)
    keys = verification_keys(order_no, owner)
    shared = status(session, keys, policy, int(now))
    if shared.locked:
        logger.warning("order verification refused: the order is locked after failed attempts")
        state = replace(state, locked_until=shared.locked_until)
        return VerificationResult(VerificationStatus.LOCKED, 0, shared.locked_until), state
    shipping_phone = address.get("phone") if isinstance(address, dict) else None
    expected = _phone_last4(shipping_phone, account_phone)
    given = given if _LAST4.fullmatch(given) else "\x01" * 4
    matches = hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
    owned = state.customer_id is None or state.customer_id == owner
    if row is not None and matches and owned:
        orders = state.verified_orders
        state = replace(
            state,
            verified_orders=orders if order_no in orders else (*orders, order_no),
            verified_until=int(now) + verified_minutes * 60,
        )
        left = max(min(max_attempts - state.attempts, shared.attempts_left), 0)
        return VerificationResult(VerificationStatus.VERIFIED, left), state

    shared = record_failure(session, keys, policy, int(now))
    attempts = state.attempts + 1
    if attempts >= max_attempts or shared.locked:
        locked_until = max(int(now) + lock_minutes * 60, shared.locked_until or 0)
        state = replace(state, attempts=attempts, locked_until=locked_until)
        logger.warning("order verification locked after %d failed attempts", attempts)
        return VerificationResult(VerificationStatus.LOCKED, 0, locked_until), state
    state = replace(state, attempts=attempts)
    left = min(max_attempts - attempts, shared.attempts_left)
    logger.info("order verification failed, %d attempt(s) left", left)
    return VerificationResult(VerificationStatus.FAILED, left), state


def order_visible_to(session: Session, order_no: str, customer_id: int | None) -> Order | None:
    """Order ``order_no`` if it belongs to ``customer_id``; None for unknown and others' orders
    alike (one query either way)."""
    if customer_id is None:
        return None
    return session.scalars(
        select(Order).where(Order.order_no == order_no, Order.customer_id == customer_id)
    ).first()


def accessible_order(
    session: Session, state: VerificationState, order_no: str, now: float | None = None
) -> Order | None:
    """Order ``order_no`` if this conversation may see it (proven and not run out, or the
    logged-in customer's), else None, exactly as for an order that does not exist."""
    if state.proven(order_no, now):
        return session.scalars(select(Order).where(Order.order_no == order_no)).first()
    return order_visible_to(session, order_no, state.customer_id)


# ---- privacy: masking, redaction, pseudonyms --------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# an address starts where a run of address characters starts (no retry inside the run)
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def mask_phone(phone: str | None) -> str:
    """Phone for display: "13812345678" → "138****5678"; at most the first 3 and last 4 digits."""
    digits = re.sub(r"\D", "", fold_width(phone or ""))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) >= 7:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * len(digits)


def mask_email(email: str | None) -> str:
    """E-mail for display: "zhang.san@example.com" → "z***@example.com"."""
    local, at, domain = (email or "").strip().partition("@")
    if not at or not local:
        return "***" if email else ""
    return f"{local[0]}***@{domain}"


def mask_name(name: str | None) -> str:
    """Name for display: "张三丰" → "张**", "John Smith" → "J*** Smith" (family name kept)."""
    name = (name or "").strip()
    if _CJK.search(name):
        name = "".join(name.split())
        return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"
    words = name.split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0] + "***"
    return " ".join([*(w[0] + "***" for w in words[:-1]), words[-1]])


def mask_address(address: Mapping[str, Any] | None) -> str:
    """Province, city and district of an address snapshot with the street detail hidden:
    "广东省深圳市南山区****"; recipient and phone are left out."""
    if not address:
        return ""
    parts: list[str] = []
    for key in ("province", "city", "district"):
        part = str(address.get(key) or "").strip()
        if part and part not in parts:  # municipalities: 上海市 上海市
            parts.append(part)
    place = ("" if all(_CJK.search(p) for p in parts) else " ").join(parts)
    return f"{place}****" if _CJK.search(place) or not place else f"{place} ****"


def redact(text: str | None) -> str:
    """Free text (a customer's message) fit for a log: mobile numbers and e-mails masked."""
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text or "")
    return _MOBILE.sub(lambda m: mask_phone(m.group(1)), text)


def pseudonymise(value: object, secret: str) -> str:
    """A stable keyed pseudonym of ``value`` (HMAC-SHA256, 16 hex digits) for logs and
    analytics: equal values match, the value cannot be recovered without the secret."""
    message = b"kefu-pseudonym\x00" + str(value).encode("utf-8")
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()[:16]
