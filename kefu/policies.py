"""The shop's business rules from ``policies.yml`` (path overridable with ``KEFU_POLICIES``).

Cancellation, returns, refunds, warranty, delivery, payment methods, invoices and account
requests (newsletter, erasure of personal data) are data that the merchant edits; this module
validates them (errors name file, line and key), decides what a customer may do and answers
policy questions in Chinese or English.

Decisions are data: a :class:`Decision` carries ``allowed``, a ``code`` and ``params``;
:func:`explain` renders the merchant's text for it.

Time: datetimes are aware UTC (:mod:`kefu.clock`); naive ones, as the database returns them, are
taken to be UTC, so either may be given and the host's time zone never matters.  Days are
calendar days in the shop's
time zone (``utc_offset_hours``), counted from the day after the event and inclusive of the
last day: delivered on 1 March with a 7-day window → returnable until the end of 8 March (shop
time).  Warranty months are counted the same way from the delivery date.
"""

from __future__ import annotations

import calendar
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import yaml
from yaml.constructor import SafeConstructor

from kefu.clock import as_utc, utc_now
from kefu.config import Bilingual, ConfigError
from kefu.language import SUPPORTED_LANGUAGES
from kefu.models import INVOICE_KINDS, ORDER_STATUSES, ORDER_TRANSITIONS, PAYMENT_METHODS

DEFAULT_POLICIES_PATH = Path(__file__).resolve().parent.parent / "policies.yml"

ReturnReason = Literal["no_reason", "defect"]
RETURN_REASONS: tuple[str, ...] = ("no_reason", "defect")
NEWSLETTER_STATES: tuple[str, ...] = ("subscribed", "unsubscribed")
PAYERS: tuple[str, ...] = ("customer", "shop")
UNPAID = "pending_payment"
CANCELLED = "cancelled"
SHIPPED = "shipped"
DELIVERED_STATUSES: tuple[str, ...] = ("delivered", "completed")
# statuses from which the order lifecycle (kefu.models) allows cancelling
CANCELLABLE_STATUSES: tuple[str, ...] = tuple(
    status for status, targets in ORDER_TRANSITIONS.items() if CANCELLED in targets
)

# The texts the file must hold and the placeholders each may use.
# Decision messages, by the section that holds them: code → params of the decision.
_MESSAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "messages": {"already_cancelled": (), "contact_service": ()},
    "cancellation": {
        "cancel_free": ("fee",),
        "cancel_free_refund": ("fee",),
        "cancel_with_fee": ("fee",),
        "cancel_not_after_shipping": ("no_reason_days",),
        "cancel_not_after_delivery": ("no_reason_days",),
    },
    "returns": {
        "return_not_delivered": ("status",),
        "return_category_excluded": ("category", "days", "defect_days"),
        "return_no_reason_ok": ("deadline", "days", "conditions", "return_shipping"),
        "return_window_passed": ("deadline", "days", "defect_days"),
        "return_defect_ok": ("deadline", "days", "return_shipping"),
    },
    "warranty": {
        "warranty_repair": ("warranty_until", "months"),
        "warranty_expired": ("warranty_until", "months"),
    },
    "account": {
        "newsletter_subscribe_ok": (),
        "newsletter_unsubscribe_ok": (),
        "newsletter_subscribed": (),
        "newsletter_unsubscribed": (),
        "newsletter_unchanged": ("state",),
        "erasure_ok": ("due",),
        "erasure_requested": ("due",),
        "erasure_pending": ("due",),
        "erasure_done": (),
    },
}
_LINES: dict[str, tuple[str, ...]] = {
    "separator": (),
    "days": ("days",),
    "same_day": (),
    "cancel_fee_free": ("status",),
    "cancel_fee": ("status", "fee"),
    "refund": ("method", "channel", "working_days"),
    "delivery_period": ("name", "days"),
    "delivery_period_remote": ("name", "days", "remote_days"),
    "warranty": ("category", "months"),
    "payment_method": ("name",),
    "payment_method_note": ("name", "note"),
    "invoice_kind": ("name", "description"),
    "delivery_option": ("description",),
}
_ANSWERS: dict[str, tuple[str, ...]] = {
    "check_refund_policy": (
        "no_reason_days",
        "defect_days",
        "conditions",
        "excluded",
        "no_reason_shipping",
        "defect_shipping",
        "inspection_working_days",
        "refund_lines",
    ),
    "check_cancellation_fee": ("fee_lines", "no_reason_days"),
    "delivery_options": ("option_lines",),
    "delivery_period": ("period_lines", "remote_regions"),
    "warranty_repair": (
        "warranty_lines",
        "default_months",
        "covers",
        "not_covered",
        "defect_days",
    ),
    "check_payment_methods": ("method_lines",),
    "get_invoice": ("kind_lines",),
}
TOPICS: tuple[str, ...] = tuple(_ANSWERS)  # the policy questions :func:`answer` handles
_OPTION_TEXT = ("name", "carriers", "fee", "days")  # + the optional fields an option has
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MAX_DAYS = 3650
_MAX_MONTHS = 240
_MIN_UTC_OFFSET, _MAX_UTC_OFFSET = -12, 14
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")


# ----------------------------------------------------------------------------- the policies


@dataclass(frozen=True)
class Cancellation:
    self_service: tuple[str, ...]  # statuses in which customers cancel themselves
    fees: Mapping[str, Decimal]  # status → fee kept from the refund; missing = free


@dataclass(frozen=True)
class Returns:
    no_reason_days: int
    defect_days: int
    conditions: Bilingual
    return_shipping: Mapping[str, str]  # reason → payer (customer / shop)
    payers: Mapping[str, Bilingual]  # payer → "you pay the return shipping"
    no_reason_excluded: Mapping[str, Bilingual]  # category key → name


@dataclass(frozen=True)
class RefundRule:
    channel: Bilingual
    min_working_days: int
    max_working_days: int


@dataclass(frozen=True)
class Refunds:
    inspection_working_days: int
    methods: Mapping[str, RefundRule]  # payment method → rule


@dataclass(frozen=True)
class WarrantyCategory:
    months: int
    name: Bilingual


@dataclass(frozen=True)
class Warranty:
    default_months: int
    categories: Mapping[str, WarrantyCategory]  # category key → months and name
    covers: Bilingual
    not_covered: Bilingual


@dataclass(frozen=True)
class DeliveryOption:
    key: str
    name: Bilingual
    carriers: tuple[str, ...]  # carrier keys
    fee: Decimal
    free_from: Decimal | None  # items total from which it is free; None = never
    min_days: int
    max_days: int  # 0 = same day
    remote_days: tuple[int, int] | None  # None = not offered in remote regions
    cities: tuple[Bilingual, ...]  # empty = everywhere
    order_before: str | None  # "HH:MM" cut-off, shop time
    description: Bilingual  # template


@dataclass(frozen=True)
class Delivery:
    default_option: str
    carriers: Mapping[str, Bilingual]
    remote_regions: tuple[Bilingual, ...]
    options: Mapping[str, DeliveryOption]  # in the file's order


@dataclass(frozen=True)
class PaymentMethod:
    name: Bilingual
    note: Bilingual | None


@dataclass(frozen=True)
class InvoiceKind:
    name: Bilingual
    working_days: int  # issued within
    description: Bilingual  # template with {working_days}


@dataclass(frozen=True)
class Account:
    erasure_grace_days: int  # calendar days from the erasure request to the erasure
    newsletter_states: Mapping[str, Bilingual]  # subscribed / unsubscribed → name


@dataclass(frozen=True)
class Policies:
    path: str
    utc_offset_hours: int
    order_statuses: Mapping[str, Bilingual]
    cancellation: Cancellation
    returns: Returns
    refunds: Refunds
    warranty: Warranty
    delivery: Delivery
    payment_methods: Mapping[str, PaymentMethod]  # accepted, in the file's order
    invoice_kinds: Mapping[str, InvoiceKind]
    account: Account
    messages: Mapping[str, Bilingual]  # decision code → template
    lines: Mapping[str, Bilingual]  # list-line templates of the answers
    answers: Mapping[str, Bilingual]  # topic → template


@dataclass(frozen=True)
class Decision:
    """What a customer may do: ``allowed``, a stable ``code`` and the facts behind it.

    ``params`` hold plain values (int, Decimal, date, str) and :class:`Bilingual` names;
    ``message`` is the merchant's text for ``code`` (see :func:`explain`).
    """

    allowed: bool
    code: str
    params: dict[str, object] = field(default_factory=dict)
    message: Bilingual = field(default=Bilingual("", ""), compare=False, repr=False)


@dataclass(frozen=True)
class RefundTimeline:
    method: str
    channel: Bilingual
    min_working_days: int
    max_working_days: int
    text: Bilingual  # one line: method, channel and working days


@dataclass(frozen=True)
class DeliveryOffer:
    """A delivery option in the customer's language."""

    key: str
    name: str
    carriers: tuple[str, ...]
    fee: Decimal
    free_from: Decimal | None
    min_days: int
    max_days: int
    remote_days: tuple[int, int] | None
    cities: tuple[str, ...]  # empty = everywhere
    text: str


# ----------------------------------------------------------------------------- reading YAML


@dataclass(frozen=True)
class _Node:
    """A YAML node with the file and dotted key it came from, for precise errors."""

    node: yaml.Node
    key: str
    file: str

    def error(self, reason: str) -> ConfigError:
        line = self.node.start_mark.line + 1
        return ConfigError(f"{self.file}:{line}: {self.key or '(top level)'}: {reason}")

    def _child(self, node: yaml.Node, name: str) -> _Node:
        return _Node(node, f"{self.key}.{name}" if self.key else name, self.file)

    def entries(self, allowed: Iterable[str] | None = None) -> dict[str, _Node]:
        """The mapping's values by key (empty for a null value); unknown keys are errors."""
        if isinstance(self.node, yaml.ScalarNode) and self.node.tag.endswith(":null"):
            return {}
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error("must be a mapping of keys to values")
        expected = tuple(allowed) if allowed is not None else None
        result: dict[str, _Node] = {}
        for key_node, value_node in self.node.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
            if not name:
                raise _Node(key_node, self.key, self.file).error("keys must be names")
            at = self._child(key_node, name)
            if name in result:
                raise at.error("appears twice")
            if expected is not None and name not in expected:
                raise at.error(f"unknown key; expected one of {', '.join(expected)}")
            result[name] = self._child(value_node, name)
        return result

    def fields(self, required: Iterable[str], optional: Iterable[str] = ()) -> dict[str, _Node]:
        """The mapping's values; every ``required`` key must be present."""
        required = tuple(required)
        found = self.entries((*required, *optional))
        for name in required:
            if name not in found:
                raise self._child(self.node, name).error("missing")
        return found

    def items(self) -> list[_Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error("must be a list")
        return [_Node(n, f"{self.key}[{i}]", self.file) for i, n in enumerate(self.node.value)]

    def scalar(self) -> object:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.error("must be a single value")
        try:
            return SafeConstructor().construct_object(self.node)
        except yaml.YAMLError as error:
            raise self.error(f"cannot read the value ({error})") from None

    def text(self) -> str:
        value = self.scalar()
        if value is None or (isinstance(value, str) and not value.strip()):
            raise self.error("must not be empty")
        if not isinstance(value, str):
            raise self.error("must be a text (put it in quotes)")
        return value

    def whole(self, unit: str, maximum: int, minimum: int = 0) -> int:
        value = self.scalar()
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not (minimum <= value <= maximum)
        ):
            raise self.error(f"must be a whole number of {unit} ≥ {minimum} (at most {maximum})")
        return value

    def span(self, unit: str) -> tuple[int, int]:
        items = self.items() if isinstance(self.node, yaml.SequenceNode) else []
        if len(items) != 2:
            raise self.error(f"must be [min, max] in {unit}")
        low, high = (item.whole(unit, _MAX_DAYS) for item in items)
        if low > high:
            raise self.error(f"min ({low}) is more than max ({high})")
        return low, high

    def money(self) -> Decimal:
        value = self.scalar()
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise InvalidOperation
            amount = Decimal(str(value))
            valid = amount.is_finite() and amount >= 0 and amount == amount.quantize(_CENT)
        except InvalidOperation:
            valid = False
        if not valid:
            raise self.error("must be an amount in yuan ≥ 0 with at most 2 decimals")
        return amount.quantize(_CENT)

    def choice(self, options: Iterable[str]) -> str:
        options = tuple(options)
        value = self.scalar()
        if value not in options:
            raise self.error(f"must be one of {', '.join(options)}")
        return str(value)

    def bilingual(self) -> Bilingual:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error("needs a zh and an en text")
        texts = self.entries(SUPPORTED_LANGUAGES)
        for language in SUPPORTED_LANGUAGES:
            if language not in texts:
                raise self.error(f"the {language} text is missing (every text needs zh and en)")
        return Bilingual(**{language: texts[language].text() for language in SUPPORTED_LANGUAGES})

    def template(self, placeholders: Iterable[str]) -> Bilingual:
        """A bilingual text whose ``{placeholders}`` are all among ``placeholders``."""
        allowed = tuple(placeholders)
        result = self.bilingual()
        for language, at in self.entries().items():
            try:
                parsed = list(string.Formatter().parse(result.get(language)))
            except ValueError as error:
                raise at.error(f"{error} (write {{{{ and }}}} for literal braces)") from None
            for _, name, spec, conversion in parsed:
                if name is not None and (name not in allowed or spec or conversion):
                    usable = ", ".join(f"{{{n}}}" for n in allowed) or "none"
                    raise at.error(f"unknown placeholder {{{name}}}; this text can use {usable}")
        return result


def _compose(path: Path) -> _Node:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"{path}: cannot read the policies ({reason})") from error
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise ConfigError(f"{path}:{line} not valid YAML ({problem})") from error
    if root is None:
        raise ConfigError(f"{path}:1: the file is empty")
    return _Node(root, "", str(path))


def _frozen(mapping: dict) -> Mapping:
    return MappingProxyType(mapping)


def _names(at: _Node) -> dict[str, Bilingual]:
    return {key: node.bilingual() for key, node in at.entries().items()}


def _templates(at: _Node, expected: Mapping[str, tuple[str, ...]]) -> dict[str, Bilingual]:
    """The texts ``expected`` names (all required), each with its own placeholders."""
    found = at.fields(expected)
    return {name: found[name].template(expected[name]) for name in expected}


# ----------------------------------------------------------------------------- sections


def _cancellation(at: _Node) -> tuple[Cancellation, dict[str, Bilingual]]:
    f = at.fields(("self_service", "messages"), ("fees",))
    self_service = tuple(item.choice(CANCELLABLE_STATUSES) for item in f["self_service"].items())
    if len(set(self_service)) != len(self_service):
        raise f["self_service"].error("lists a status twice")
    fees: dict[str, Decimal] = {}
    if "fees" in f:
        for status, node in f["fees"].entries(self_service).items():
            if status == UNPAID:
                raise node.error("nothing has been paid yet, so no fee can be kept")
            fees[status] = node.money()
    return Cancellation(self_service, _frozen(fees)), _templates(
        f["messages"], _MESSAGES["cancellation"]
    )


def _returns(at: _Node) -> tuple[Returns, dict[str, Bilingual]]:
    f = at.fields(
        (
            "no_reason_days",
            "defect_days",
            "conditions",
            "return_shipping",
            "payers",
            "messages",
        ),
        ("no_reason_excluded",),
    )
    no_reason_days = f["no_reason_days"].whole("days", _MAX_DAYS)
    defect_days = f["defect_days"].whole("days", _MAX_DAYS)
    if defect_days < no_reason_days:
        raise f["defect_days"].error(f"must be at least returns.no_reason_days ({no_reason_days})")
    payers = f["payers"].fields(PAYERS)
    shipping = f["return_shipping"].fields(RETURN_REASONS)
    excluded = f.get("no_reason_excluded")
    returns = Returns(
        no_reason_days=no_reason_days,
        defect_days=defect_days,
        conditions=f["conditions"].bilingual(),
        return_shipping=_frozen({r: shipping[r].choice(PAYERS) for r in RETURN_REASONS}),
        payers=_frozen({payer: payers[payer].bilingual() for payer in PAYERS}),
        no_reason_excluded=_frozen(_names(excluded) if excluded else {}),
    )
    return returns, _templates(f["messages"], _MESSAGES["returns"])


def _refunds(at: _Node, methods: Iterable[str]) -> Refunds:
    f = at.fields(("inspection_working_days", "methods"))
    rules = {}
    for method, node in f["methods"].fields(methods).items():
        rule = node.fields(("channel", "working_days"))
        low, high = rule["working_days"].span("working days")
        rules[method] = RefundRule(rule["channel"].bilingual(), low, high)
    return Refunds(
        inspection_working_days=f["inspection_working_days"].whole("working days", _MAX_DAYS),
        methods=_frozen(rules),
    )


def _warranty(at: _Node) -> tuple[Warranty, dict[str, Bilingual]]:
    f = at.fields(("default_months", "covers", "not_covered", "messages"), ("categories",))
    categories = {}
    if "categories" in f:
        for key, node in f["categories"].entries().items():
            entry = node.fields(("months", "name"))
            categories[key] = WarrantyCategory(
                entry["months"].whole("months", _MAX_MONTHS), entry["name"].bilingual()
            )
    warranty = Warranty(
        default_months=f["default_months"].whole("months", _MAX_MONTHS),
        categories=_frozen(categories),
        covers=f["covers"].bilingual(),
        not_covered=f["not_covered"].bilingual(),
    )
    return warranty, _templates(f["messages"], _MESSAGES["warranty"])


def _delivery_option(key: str, at: _Node, carriers: Mapping[str, Bilingual]) -> DeliveryOption:
    optional = ("free_from", "remote_days", "cities", "order_before")
    f = at.fields(("name", "carriers", "fee", "days", "description"), optional)
    carrier_keys = tuple(item.choice(carriers) for item in f["carriers"].items())
    low, high = f["days"].span("days")
    order_before = f["order_before"].text() if "order_before" in f else None
    if order_before is not None and not _CLOCK.match(order_before):
        raise f["order_before"].error('must be a time of day like "11:00"')
    return DeliveryOption(
        key=key,
        name=f["name"].bilingual(),
        carriers=carrier_keys,
        fee=f["fee"].money(),
        free_from=f["free_from"].money() if "free_from" in f else None,
        min_days=low,
        max_days=high,
        remote_days=f["remote_days"].span("days") if "remote_days" in f else None,
        cities=tuple(item.bilingual() for item in f["cities"].items()) if "cities" in f else (),
        order_before=order_before,
        description=f["description"].template(
            _OPTION_TEXT + tuple(name for name in optional if name in f)
        ),
    )


def _delivery(at: _Node) -> Delivery:
    f = at.fields(("default_option", "carriers", "options"), ("remote_regions",))
    carriers = _names(f["carriers"])
    options = {
        key: _delivery_option(key, node, carriers) for key, node in f["options"].entries().items()
    }
    if not options:
        raise f["options"].error("needs at least one delivery option")
    regions = f.get("remote_regions")
    return Delivery(
        default_option=f["default_option"].choice(options),
        carriers=_frozen(carriers),
        remote_regions=tuple(item.bilingual() for item in regions.items()) if regions else (),
        options=_frozen(options),
    )


def _payment_methods(at: _Node) -> dict[str, PaymentMethod]:
    methods = {}
    for method, node in at.fields(("methods",))["methods"].entries(PAYMENT_METHODS).items():
        f = node.fields(("name",), ("note",))
        methods[method] = PaymentMethod(
            f["name"].bilingual(), f["note"].bilingual() if "note" in f else None
        )
    if not methods:
        raise at.error("needs at least one payment method")
    return methods


def _invoice_kinds(at: _Node) -> dict[str, InvoiceKind]:
    kinds = {}
    for kind, node in at.fields(("kinds",))["kinds"].entries(INVOICE_KINDS).items():
        f = node.fields(("name", "working_days", "description"))
        kinds[kind] = InvoiceKind(
            name=f["name"].bilingual(),
            working_days=f["working_days"].whole("working days", _MAX_DAYS),
            description=f["description"].template(("working_days",)),
        )
    return kinds


def _account(at: _Node) -> tuple[Account, dict[str, Bilingual]]:
    f = at.fields(("erasure_grace_days", "newsletter_states", "messages"))
    states = f["newsletter_states"].fields(NEWSLETTER_STATES)
    account = Account(
        erasure_grace_days=f["erasure_grace_days"].whole("days", _MAX_DAYS),
        newsletter_states=_frozen({s: states[s].bilingual() for s in NEWSLETTER_STATES}),
    )
    return account, _templates(f["messages"], _MESSAGES["account"])


def load_policies(path: str | Path | None = None) -> Policies:
    """Read and validate the policies; a mistake raises :class:`ConfigError` (file:line: key)."""
    path = Path(path or os.environ.get("KEFU_POLICIES") or DEFAULT_POLICIES_PATH)
    root = _compose(path)
    f = root.fields(
        (
            "utc_offset_hours",
            "order_statuses",
            "messages",
            "cancellation",
            "returns",
            "refunds",
            "warranty",
            "delivery",
            "payment",
            "invoices",
            "account",
            "answers",
        )
    )
    statuses = f["order_statuses"].fields(ORDER_STATUSES)
    cancellation, cancellation_messages = _cancellation(f["cancellation"])
    returns, return_messages = _returns(f["returns"])
    warranty, warranty_messages = _warranty(f["warranty"])
    payment_methods = _payment_methods(f["payment"])
    account, account_messages = _account(f["account"])
    answers = f["answers"].fields(("lines", *_ANSWERS))
    return Policies(
        path=str(path),
        utc_offset_hours=f["utc_offset_hours"].whole("hours", _MAX_UTC_OFFSET, _MIN_UTC_OFFSET),
        order_statuses=_frozen({s: statuses[s].bilingual() for s in ORDER_STATUSES}),
        cancellation=cancellation,
        returns=returns,
        refunds=_refunds(f["refunds"], payment_methods),
        warranty=warranty,
        delivery=_delivery(f["delivery"]),
        payment_methods=_frozen(payment_methods),
        invoice_kinds=_frozen(_invoice_kinds(f["invoices"])),
        account=account,
        messages=_frozen(
            {
                **_templates(f["messages"], _MESSAGES["messages"]),
                **cancellation_messages,
                **return_messages,
                **warranty_messages,
                **account_messages,
            }
        ),
        lines=_frozen(_templates(answers["lines"], _LINES)),
        answers=_frozen({topic: answers[topic].template(_ANSWERS[topic]) for topic in _ANSWERS}),
    )


@lru_cache(maxsize=1)
def policies() -> Policies:
    """The process-wide policies, read once."""
    return load_policies()


# ----------------------------------------------------------------------------- rendering


def _money(amount: Decimal) -> str:
    """``8`` for whole yuan, ``8.50`` otherwise."""
    return f"{amount:.0f}" if amount == amount.to_integral_value() else f"{amount:.2f}"


def _value_text(value: object, language: str | None) -> str:
    if isinstance(value, Bilingual):
        return value.get(language)
    if isinstance(value, Decimal):
        return _money(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _render(template: Bilingual, language: str | None, values: Mapping[str, object]) -> str:
    return template.get(language).format_map(
        {name: _value_text(value, language) for name, value in values.items()}
    )


def _both(template: Bilingual, values: Mapping[str, object]) -> Bilingual:
    return Bilingual(**{lang: _render(template, lang, values) for lang in SUPPORTED_LANGUAGES})


def _join(p: Policies, names: Iterable[Bilingual], language: str | None) -> str:
    return p.lines["separator"].get(language).join(name.get(language) for name in names)


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}–{high}"


def _days(p: Policies, low: int, high: int, language: str | None) -> str:
    if high == 0:
        return p.lines["same_day"].get(language)
    return _render(p.lines["days"], language, {"days": _span(low, high)})


def explain(decision: Decision, language: str | None) -> str:
    """The merchant's text for ``decision`` in ``language``, filled with its params."""
    return _render(decision.message, language, decision.params)


# ----------------------------------------------------------------------------- decisions


def decide(p: Policies, allowed: bool, code: str, **params: object) -> Decision:
    """A decision with the merchant's text for ``code`` (a code of policies.yml)."""
    return Decision(allowed, code, params, p.messages[code])


def _local_date(p: Policies, moment: datetime) -> date:
    """The shop-calendar date of ``moment`` (aware, or naive UTC)."""
    return (as_utc(moment) + timedelta(hours=p.utc_offset_hours)).date()


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _check_status(status: str) -> None:
    if status not in ORDER_STATUSES:
        raise ValueError(f"unknown order status {status!r}")


def can_cancel(
    p: Policies,
    status: str,
    paid_at: datetime | None,
    shipped_at: datetime | None,
    now: datetime | None = None,
) -> Decision:
    """Whether the customer may cancel the order themselves, and the fee (``params["fee"]``).

    An order counts as shipped once ``shipped_at`` has passed, even if its status lags behind.
    A paid order's money goes back to the original payment method.
    """
    _check_status(status)
    now = as_utc(now or utc_now())
    shipped = status == SHIPPED or (shipped_at is not None and as_utc(shipped_at) <= now)
    if status == CANCELLED:
        return decide(p, False, "already_cancelled")
    days = p.returns.no_reason_days
    if status in DELIVERED_STATUSES:
        return decide(p, False, "cancel_not_after_delivery", no_reason_days=days)
    if shipped:
        return decide(p, False, "cancel_not_after_shipping", no_reason_days=days)
    if status not in p.cancellation.self_service:
        return decide(p, False, "contact_service")
    fee = p.cancellation.fees.get(status, _ZERO)
    if status == UNPAID and paid_at is None:
        return decide(p, True, "cancel_free", fee=fee)
    return decide(p, True, "cancel_free_refund" if not fee else "cancel_with_fee", fee=fee)


def can_return(
    p: Policies,
    status: str,
    delivered_at: datetime | None,
    category_keys: Sequence[str],
    reason: ReturnReason,
    now: datetime | None = None,
) -> Decision:
    """Whether an item may be returned.

    ``category_keys`` are the item's category followed by its ancestors (an exclusion of
    ``food`` covers ``snacks``).  ``no_reason`` returns: within ``returns.no_reason_days`` of
    delivery, outside the excluded categories.  ``defect``: a return or exchange within
    ``returns.defect_days``; afterwards ``warranty_repair`` (not a return, so not allowed) while
    the warranty lasts, then ``warranty_expired``.  Deadlines are shop-calendar dates, inclusive.
    """
    _check_status(status)
    if reason not in RETURN_REASONS:
        raise ValueError(f"unknown return reason {reason!r}; expected {RETURN_REASONS}")
    now = as_utc(now or utc_now())
    if status == CANCELLED:
        return decide(p, False, "already_cancelled")
    if status not in DELIVERED_STATUSES:
        return decide(p, False, "return_not_delivered", status=p.order_statuses[status])
    if delivered_at is None:  # delivered without a delivery time: a person has to check
        return decide(p, False, "contact_service")
    rules, today = p.returns, _local_date(p, now)
    delivered = _local_date(p, delivered_at)
    payer = rules.return_shipping[reason]
    shipping = {"return_shipping": rules.payers[payer], "return_shipping_paid_by": payer}
    if reason == "no_reason":
        excluded = next((k for k in category_keys if k in rules.no_reason_excluded), None)
        if excluded is not None:
            return decide(
                p,
                False,
                "return_category_excluded",
                category=rules.no_reason_excluded[excluded],
                category_key=excluded,
                days=rules.no_reason_days,
                defect_days=rules.defect_days,
            )
        deadline = delivered + timedelta(days=rules.no_reason_days)
        if today <= deadline:
            return decide(
                p,
                True,
                "return_no_reason_ok",
                deadline=deadline,
                days=rules.no_reason_days,
                conditions=rules.conditions,
                **shipping,
            )
        return decide(
            p,
            False,
            "return_window_passed",
            deadline=deadline,
            days=rules.no_reason_days,
            defect_days=rules.defect_days,
        )
    deadline = delivered + timedelta(days=rules.defect_days)
    if today <= deadline:
        return decide(
            p, True, "return_defect_ok", deadline=deadline, days=rules.defect_days, **shipping
        )
    months = warranty_for(p, category_keys)
    until = _add_months(delivered, months)
    code = "warranty_repair" if today <= until else "warranty_expired"
    return decide(p, False, code, warranty_until=until, months=months)


def refund_timeline(p: Policies, method: str) -> RefundTimeline:
    """Where a refund to ``method`` goes and how many working days it takes."""
    rule = p.refunds.methods.get(method)
    if rule is None:
        raise ValueError(f"no refund rule for payment method {method!r}")
    values = {
        "method": p.payment_methods[method].name,
        "channel": rule.channel,
        "working_days": _span(rule.min_working_days, rule.max_working_days),
    }
    return RefundTimeline(
        method=method,
        channel=rule.channel,
        min_working_days=rule.min_working_days,
        max_working_days=rule.max_working_days,
        text=_both(p.lines["refund"], values),
    )


def erasure_due(p: Policies, requested_at: datetime) -> date:
    """The shop-calendar date after which an erasure requested at ``requested_at`` is carried
    out: ``account.erasure_grace_days`` later (requested on 1 March, 7 days → after 8 March)."""
    return _local_date(p, requested_at) + timedelta(days=p.account.erasure_grace_days)


def erasure_is_due(p: Policies, due: date, now: datetime | None = None) -> bool:
    """Whether an erasure due on ``due`` may be carried out: that day has ended (shop time)."""
    return _local_date(p, now or utc_now()) > due


def warranty_for(p: Policies, category_keys: Sequence[str]) -> int:
    """Warranty months for an item: its own category's, else the nearest ancestor's, else the
    default.  ``category_keys`` start with the item's category, then its ancestors."""
    for key in category_keys:
        if key in p.warranty.categories:
            return p.warranty.categories[key].months
    return p.warranty.default_months


def shipping_fee(p: Policies, items_total: Decimal, option: str | None = None) -> Decimal:
    """The delivery fee for an order of ``items_total`` (default option unless ``option``);
    free from the option's ``free_from`` threshold, inclusive."""
    chosen = p.delivery.options.get(option or p.delivery.default_option)
    if chosen is None:
        raise ValueError(f"unknown delivery option {option!r}")
    if chosen.free_from is not None and items_total >= chosen.free_from:
        return _ZERO
    return chosen.fee


def delivery_options(p: Policies, language: str | None) -> list[DeliveryOffer]:
    """The delivery options in the file's order, in ``language``."""
    offers = []
    for option in p.delivery.options.values():
        carriers = tuple(p.delivery.carriers[key].get(language) for key in option.carriers)
        cities = tuple(city.get(language) for city in option.cities)
        values: dict[str, object] = {
            "name": option.name,
            "carriers": p.lines["separator"].get(language).join(carriers),
            "fee": option.fee,
            "days": _days(p, option.min_days, option.max_days, language),
            "free_from": option.free_from,
            "remote_days": option.remote_days and _days(p, *option.remote_days, language),
            "cities": _join(p, option.cities, language),
            "order_before": option.order_before,
        }
        offers.append(
            DeliveryOffer(
                key=option.key,
                name=option.name.get(language),
                carriers=carriers,
                fee=option.fee,
                free_from=option.free_from,
                min_days=option.min_days,
                max_days=option.max_days,
                remote_days=option.remote_days,
                cities=cities,
                text=_render(option.description, language, values),
            )
        )
    return offers


# ----------------------------------------------------------------------------- answers


def _answer_refunds(p: Policies, language: str | None) -> dict[str, object]:
    rules = p.returns
    return {
        "no_reason_days": rules.no_reason_days,
        "defect_days": rules.defect_days,
        "conditions": rules.conditions,
        "excluded": _join(p, rules.no_reason_excluded.values(), language),
        "no_reason_shipping": rules.payers[rules.return_shipping["no_reason"]],
        "defect_shipping": rules.payers[rules.return_shipping["defect"]],
        "inspection_working_days": p.refunds.inspection_working_days,
        "refund_lines": "\n".join(
            refund_timeline(p, method).text.get(language) for method in p.refunds.methods
        ),
    }


def _answer_cancellation(p: Policies, language: str | None) -> dict[str, object]:
    lines = []
    for status in p.cancellation.self_service:
        fee = p.cancellation.fees.get(status)
        line = p.lines["cancel_fee" if fee else "cancel_fee_free"]
        lines.append(_render(line, language, {"status": p.order_statuses[status], "fee": fee}))
    return {"fee_lines": "\n".join(lines), "no_reason_days": p.returns.no_reason_days}


def _answer_delivery_options(p: Policies, language: str | None) -> dict[str, object]:
    lines = (
        _render(p.lines["delivery_option"], language, {"description": offer.text})
        for offer in delivery_options(p, language)
    )
    return {"option_lines": "\n".join(lines)}


def _answer_delivery_period(p: Policies, language: str | None) -> dict[str, object]:
    lines = []
    for option in p.delivery.options.values():
        values = {
            "name": option.name,
            "days": _days(p, option.min_days, option.max_days, language),
            "remote_days": option.remote_days and _days(p, *option.remote_days, language),
        }
        line = p.lines["delivery_period_remote" if option.remote_days else "delivery_period"]
        lines.append(_render(line, language, values))
    return {
        "period_lines": "\n".join(lines),
        "remote_regions": _join(p, p.delivery.remote_regions, language),
    }


def _answer_warranty(p: Policies, language: str | None) -> dict[str, object]:
    lines = (
        _render(p.lines["warranty"], language, {"category": c.name, "months": c.months})
        for c in p.warranty.categories.values()
    )
    return {
        "warranty_lines": "\n".join(lines),
        "default_months": p.warranty.default_months,
        "covers": p.warranty.covers,
        "not_covered": p.warranty.not_covered,
        "defect_days": p.returns.defect_days,
    }


def _answer_payment_methods(p: Policies, language: str | None) -> dict[str, object]:
    lines = (
        _render(
            p.lines["payment_method_note" if m.note else "payment_method"],
            language,
            {"name": m.name, "note": m.note or ""},
        )
        for m in p.payment_methods.values()
    )
    return {"method_lines": "\n".join(lines)}


def _answer_invoices(p: Policies, language: str | None) -> dict[str, object]:
    lines = (
        _render(
            p.lines["invoice_kind"],
            language,
            {
                "name": kind.name,
                "description": _render(
                    kind.description, language, {"working_days": kind.working_days}
                ),
            },
        )
        for kind in p.invoice_kinds.values()
    )
    return {"kind_lines": "\n".join(lines)}


_ANSWER_VALUES: dict[str, Callable[[Policies, str | None], dict[str, object]]] = {
    "check_refund_policy": _answer_refunds,
    "check_cancellation_fee": _answer_cancellation,
    "delivery_options": _answer_delivery_options,
    "delivery_period": _answer_delivery_period,
    "warranty_repair": _answer_warranty,
    "check_payment_methods": _answer_payment_methods,
    "get_invoice": _answer_invoices,
}


def answer(p: Policies, topic: str, language: str | None) -> str:
    """The shop's answer to a policy question (one of :data:`TOPICS`) in ``language``."""
    if topic not in _ANSWER_VALUES:
        raise ValueError(f"unknown policy topic {topic!r}; expected one of {TOPICS}")
    return _render(p.answers[topic], language, _ANSWER_VALUES[topic](p, language))
