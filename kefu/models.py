"""The shop's data model (SQLAlchemy 1.4): catalog, customers, orders and after-sales.

Money is ``Numeric(12, 2)`` in CNY and handled as :class:`decimal.Decimal`.  Customer-facing
names exist in Chinese (``*_zh``) and English (``*_en``).  Status values are plain strings
checked by the database; the allowed values and lifecycles are defined here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import declarative_base, relationship, validates
from sqlalchemy.sql import ColumnElement

from kefu.privacy.fields import (
    EncryptedJSON,
    EncryptedText,
    blind_index,
    blind_index_column,
    blind_indexes,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
Base = declarative_base(metadata=MetaData(naming_convention=NAMING))
Money = Numeric(12, 2)

ORDER_STATUSES = ("pending_payment", "paid", "shipped", "delivered", "completed", "cancelled")
# status → the statuses it may move to
ORDER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending_payment": ("paid", "cancelled"),
    "paid": ("shipped", "cancelled"),
    "shipped": ("delivered",),
    "delivered": ("completed",),
    "completed": (),
    "cancelled": (),
}
PAYMENT_METHODS = ("alipay", "wechat_pay", "unionpay", "credit_card", "cash_on_delivery")
PAYMENT_STATUSES = ("pending", "succeeded", "failed", "refunded")
SHIPMENT_STATUSES = ("created", "in_transit", "out_for_delivery", "delivered", "returned")
RETURN_KINDS = ("return", "exchange")
RETURN_STATUSES = ("requested", "approved", "rejected", "received", "completed", "cancelled")
REFUND_STATUSES = ("pending", "processing", "succeeded", "failed")
INVOICE_KINDS = ("electronic", "paper")
INVOICE_STATUSES = ("requested", "issued", "voided")
PROMOTION_KINDS = ("percent_off", "amount_off", "spend_and_save")
EVENT_KINDS = ("view", "add_to_cart", "purchase")
# what a customer asked the bot to change (kefu.orders) and how it ended
REQUEST_KINDS = (
    "cancel",
    "change_address",
    "return",
    "refund",
    "invoice",
    "newsletter",
    "erasure",
)
REQUEST_STATUSES = ("done", "refused")
LANGUAGES = ("zh", "en")
# hand-off to a human agent (kefu.handoff): why, and the ticket's lifecycle
HANDOFF_REASONS = ("requested", "fallbacks", "complaint", "frustration")
TICKET_STATUSES = ("open", "claimed", "closed", "abandoned")
TICKET_ACTIVE_STATUSES = ("open", "claimed")
TICKET_MESSAGE_AUTHORS = ("agent", "customer")
# what a conversation id's blind index is for (kefu.privacy.cipher): its own index key
CONVERSATION_PURPOSE = "shop conversation id"


def _in(column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"{column}_allowed")


class Category(Base):
    __tablename__ = "categories"
    id = Column(Integer, primary_key=True)
    key = Column(String(64), nullable=False, unique=True)
    parent_id = Column(Integer, ForeignKey("categories.id"), index=True)
    name_zh = Column(String(100), nullable=False)
    name_en = Column(String(100), nullable=False)
    synonyms = Column(JSON, nullable=False, default=dict)  # {"zh": [...], "en": [...]}
    parent = relationship("Category", remote_side=[id], backref="children")


class Brand(Base):
    __tablename__ = "brands"
    id = Column(Integer, primary_key=True)
    key = Column(String(64), nullable=False, unique=True)
    name_zh = Column(String(100), nullable=False)
    name_en = Column(String(100), nullable=False)
    synonyms = Column(JSON, nullable=False, default=dict)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="product_price"),
        CheckConstraint("list_price IS NULL OR list_price >= price", name="product_list_price"),
        CheckConstraint("stock_total >= 0", name="product_stock"),
        Index("ix_products_category_sales", "category_id", "sales_count"),
        # covers the search filters and sort keys, so listings are read from the index alone
        Index(
            "ix_products_listing",
            "category_id",
            "brand_id",
            "is_active",
            "price",
            "stock_total",
            "release_date",
            "sales_count",
            "rating",
        ),
    )
    id = Column(Integer, primary_key=True)
    sku = Column(String(64), nullable=False, unique=True)
    title_zh = Column(String(200), nullable=False)
    title_en = Column(String(200), nullable=False)
    description_zh = Column(Text, nullable=False, default="")
    description_en = Column(Text, nullable=False, default="")
    brand_id = Column(Integer, ForeignKey("brands.id"), nullable=False, index=True)
    category_id = Column(Integer, ForeignKey("categories.id"), nullable=False, index=True)
    price = Column(Money, nullable=False, index=True)
    list_price = Column(Money)
    release_date = Column(Date, index=True)
    rating = Column(Numeric(3, 2))
    sales_count = Column(Integer, nullable=False, default=0, index=True)
    stock_total = Column(Integer, nullable=False, default=0)
    image_url = Column(String(500))
    product_url = Column(String(500))
    is_active = Column(Boolean, nullable=False, default=True)
    updated_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    brand = relationship("Brand")
    category = relationship("Category")
    variants = relationship(
        "ProductVariant", back_populates="product", cascade="all, delete-orphan"
    )
    attributes = relationship(
        "ProductAttribute", back_populates="product", cascade="all, delete-orphan"
    )


class ProductVariant(Base):
    __tablename__ = "product_variants"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="variant_stock"),
        # covers the colour / size / storage / in-stock filters of the search
        Index("ix_product_variants_filters", "product_id", "color_zh", "size", "storage", "stock"),
    )
    id = Column(Integer, primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    sku = Column(String(80), nullable=False, unique=True)
    color_zh = Column(String(50))
    color_en = Column(String(50))
    size = Column(String(30))
    storage = Column(String(30))
    price = Column(Money, nullable=False)
    stock = Column(Integer, nullable=False, default=0)
    product = relationship("Product", back_populates="variants")


class ProductAttribute(Base):
    """A specification of a product ("screen" → "6.8英寸 OLED" / "6.8-inch OLED")."""

    __tablename__ = "product_attributes"
    product_id = Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    key = Column(String(50), primary_key=True)
    value_zh = Column(String(200), nullable=False)
    value_en = Column(String(200), nullable=False)
    product = relationship("Product", back_populates="attributes")


class SearchTerm(Base):
    """Inverted index for free-text search: a segmented term and the products that have it."""

    __tablename__ = "search_terms"
    term = Column(String(64), primary_key=True)
    product_id = Column(
        Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    weight = Column(SmallInteger, nullable=False)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (_in("preferred_language", LANGUAGES),)
    id = Column(Integer, primary_key=True)
    name = Column(EncryptedText(100), nullable=False)
    phone = Column(EncryptedText(30), nullable=False, index=True)
    email = Column(EncryptedText(200), index=True)
    preferred_language = Column(String(2), nullable=False, default="zh")
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    newsletter_opt_in = Column(Boolean, nullable=False, default=False, server_default=false())
    erased_at = Column(DateTime)  # personal data erased (kefu.account); the row stays
    addresses = relationship("Address", back_populates="customer", cascade="all, delete-orphan")
    orders = relationship("Order", back_populates="customer")


class Address(Base):
    __tablename__ = "addresses"
    id = Column(Integer, primary_key=True)
    customer_id = Column(
        Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    recipient = Column(EncryptedText(100), nullable=False)
    phone = Column(EncryptedText(30), nullable=False)
    province = Column(String(50), nullable=False)
    city = Column(String(50), nullable=False)
    district = Column(String(50), nullable=False, default="")
    detail = Column(EncryptedText(300), nullable=False)
    is_default = Column(Boolean, nullable=False, default=False)
    customer = relationship("Customer", back_populates="addresses")


class Promotion(Base):
    __tablename__ = "promotions"
    __table_args__ = (_in("kind", PROMOTION_KINDS),)
    id = Column(Integer, primary_key=True)
    code = Column(String(40), unique=True)  # coupon code; NULL for automatic promotions
    title_zh = Column(String(200), nullable=False)
    title_en = Column(String(200), nullable=False)
    kind = Column(String(20), nullable=False)
    value = Column(Money, nullable=False)  # percent (e.g. 10) or CNY amount
    min_spend = Column(Money, nullable=False, default=Decimal("0"))
    category_id = Column(Integer, ForeignKey("categories.id"))
    brand_id = Column(Integer, ForeignKey("brands.id"))
    starts_at = Column(DateTime, nullable=False)
    ends_at = Column(DateTime, nullable=False)
    is_active = Column(Boolean, nullable=False, default=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        _in("status", ORDER_STATUSES),
        Index("ix_orders_customer_created", "customer_id", "created_at"),
    )
    id = Column(Integer, primary_key=True)
    order_no = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    status = Column(String(20), nullable=False, index=True)
    items_total = Column(Money, nullable=False)
    shipping_fee = Column(Money, nullable=False, default=Decimal("0"))
    discount = Column(Money, nullable=False, default=Decimal("0"))
    total = Column(Money, nullable=False)
    promotion_id = Column(Integer, ForeignKey("promotions.id"))
    shipping_address = Column(EncryptedJSON, nullable=False)  # snapshot at checkout
    created_at = Column(DateTime, nullable=False, index=True)
    paid_at = Column(DateTime)
    shipped_at = Column(DateTime)
    delivered_at = Column(DateTime)
    completed_at = Column(DateTime)
    cancelled_at = Column(DateTime)
    cancel_reason = Column(EncryptedText(200))
    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", cascade="all, delete-orphan")
    payments = relationship("Payment", back_populates="order", cascade="all, delete-orphan")
    shipments = relationship("Shipment", back_populates="order", cascade="all, delete-orphan")


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="item_quantity"),)
    id = Column(Integer, primary_key=True)
    order_id = Column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False, index=True)
    variant_id = Column(Integer, ForeignKey("product_variants.id"))
    title_zh = Column(String(200), nullable=False)  # snapshots: the product may change later
    title_en = Column(String(200), nullable=False)
    unit_price = Column(Money, nullable=False)
    quantity = Column(Integer, nullable=False)
    order = relationship("Order", back_populates="items")
    product = relationship("Product")
    variant = relationship("ProductVariant")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (_in("method", PAYMENT_METHODS), _in("status", PAYMENT_STATUSES))
    id = Column(Integer, primary_key=True)
    order_id = Column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    method = Column(String(20), nullable=False)
    amount = Column(Money, nullable=False)
    status = Column(String(20), nullable=False)
    transaction_no = Column(String(64))
    created_at = Column(DateTime, nullable=False)
    order = relationship("Order", back_populates="payments")


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (_in("status", SHIPMENT_STATUSES),)
    id = Column(Integer, primary_key=True)
    order_id = Column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    carrier = Column(String(50), nullable=False)
    tracking_no = Column(String(64), nullable=False, index=True)
    status = Column(String(20), nullable=False)
    shipped_at = Column(DateTime, nullable=False)
    delivered_at = Column(DateTime)
    order = relationship("Order", back_populates="shipments")
    events = relationship(
        "ShipmentEvent",
        back_populates="shipment",
        cascade="all, delete-orphan",
        order_by="ShipmentEvent.at",
    )


class ShipmentEvent(Base):
    __tablename__ = "shipment_events"
    id = Column(Integer, primary_key=True)
    shipment_id = Column(
        Integer, ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at = Column(DateTime, nullable=False)
    location = Column(String(100), nullable=False)
    description_zh = Column(String(200), nullable=False)
    description_en = Column(String(200), nullable=False)
    shipment = relationship("Shipment", back_populates="events")


class ReturnRequest(Base):
    __tablename__ = "returns"
    __table_args__ = (_in("kind", RETURN_KINDS), _in("status", RETURN_STATUSES))
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    order_item_id = Column(Integer, ForeignKey("order_items.id"), nullable=False)
    kind = Column(String(20), nullable=False)
    reason = Column(EncryptedText(300), nullable=False)
    status = Column(String(20), nullable=False)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        _in("status", REFUND_STATUSES),
        CheckConstraint("amount > 0", name="refund_amount"),
    )
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    return_id = Column(Integer, ForeignKey("returns.id"))
    amount = Column(Money, nullable=False)
    method = Column(String(20), nullable=False)
    status = Column(String(20), nullable=False)
    created_at = Column(DateTime, nullable=False)
    completed_at = Column(DateTime)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (_in("kind", INVOICE_KINDS), _in("status", INVOICE_STATUSES))
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    invoice_no = Column(String(40), unique=True)
    title = Column(EncryptedText(200), nullable=False)  # 发票抬头
    tax_id = Column(EncryptedText(40))
    kind = Column(String(20), nullable=False)
    amount = Column(Money, nullable=False)
    email = Column(EncryptedText(200))
    status = Column(String(20), nullable=False)
    requested_at = Column(DateTime, nullable=False)
    issued_at = Column(DateTime)


class CustomerEvent(Base):
    """Browse and purchase behaviour, for recommendations and analytics."""

    __tablename__ = "customer_events"
    __table_args__ = (
        _in("kind", EVENT_KINDS),
        Index("ix_customer_events_customer_at", "customer_id", "at"),
    )
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False, index=True)
    kind = Column(String(20), nullable=False)
    at = Column(DateTime, nullable=False)


class OrderRequest(Base):
    """A change a customer asked for, recorded once per caller-supplied ``request_key``.

    The key makes the change idempotent (the same key returns the first outcome) and the rows
    are what analytics reads: ``kind``, ``status`` (done / refused) and ``detail`` (the outcome
    code and its parameters; never personal data in clear text).  Account-level kinds
    (newsletter, erasure) have no order.
    """

    __tablename__ = "order_requests"
    __table_args__ = (
        _in("kind", REQUEST_KINDS),
        _in("status", REQUEST_STATUSES),
        Index("ix_order_requests_kind_created", "kind", "created_at"),
    )
    id = Column(Integer, primary_key=True)
    request_key = Column(String(200), nullable=False, unique=True)
    order_id = Column(Integer, ForeignKey("orders.id"), index=True)
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    kind = Column(String(20), nullable=False)
    status = Column(String(10), nullable=False)
    detail = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False)


class OfConversation:
    """A row that names a conversation ("telegram:<chat id>", personal data): the id is stored
    encrypted (``conversation_id``) beside its blind index (``conversation_ref``), by which rows
    are found.  The index is set on every insert and when the ORM sets the id; a Core UPDATE of
    the id sets both.  It is NULL only where the id is (the column is nullable because SQLite
    cannot add a NOT NULL column to a table that has rows: migration 0010)."""

    @classmethod
    def of_conversation(cls, *conversation_ids: str) -> ColumnElement:
        """The condition for the rows of these conversations, whichever key indexed them."""
        refs = [r for c in conversation_ids for r in blind_indexes(c, CONVERSATION_PURPOSE)]
        return cls.conversation_ref.in_(refs)

    @validates("conversation_id")
    def _index_conversation(self, _key: str, value: str | None) -> str | None:
        self.conversation_ref = blind_index(value, CONVERSATION_PURPOSE)
        return value


def conversation_index(**kwargs) -> Column:
    """The blind index of a row's ``conversation_id`` (:class:`OfConversation`)."""
    return blind_index_column("conversation_id", CONVERSATION_PURPOSE, index=True, **kwargs)


class HandoffTicket(OfConversation, Base):
    """A conversation handed to a human agent (kefu.handoff): open → claimed → closed, or
    abandoned when the customer leaves.  At most one open or claimed ticket per conversation
    (a partial unique index on its blind index).  The conversation id, ``transcript`` (the last
    messages with the bot), ``entities`` and ``summary`` are personal data, stored encrypted:
    erasure (kefu.privacy.erasure) clears them and leaves an ``erased:`` placeholder id."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (
        _in("reason", HANDOFF_REASONS),
        _in("status", TICKET_STATUSES),
        Index(
            "uq_handoff_tickets_active_conversation",
            "conversation_ref",
            unique=True,
            postgresql_where=sql_text("status IN ('open', 'claimed')"),
            sqlite_where=sql_text("status IN ('open', 'claimed')"),
        ),
        Index("ix_handoff_tickets_status_created", "status", "created_at"),
    )
    id = Column(Integer, primary_key=True)
    conversation_id = Column(EncryptedText(128), nullable=False)
    conversation_ref = conversation_index()
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    channel = Column(String(32), nullable=False)
    language = Column(String(8), nullable=False)
    reason = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False, index=True)
    agent = Column(String(64))
    summary = Column(EncryptedText(), nullable=False, default="")
    intents = Column(JSON, nullable=False, default=list)
    entities = Column(EncryptedJSON, nullable=False, default=dict)
    sentiment = Column(Float)
    transcript = Column(EncryptedJSON, nullable=False, default=list)  # [{who, text, at}], last 50
    created_at = Column(DateTime, nullable=False)
    claimed_at = Column(DateTime)
    closed_at = Column(DateTime)  # closed or abandoned
    messages = relationship(
        "TicketMessage",
        back_populates="ticket",
        cascade="all, delete-orphan",
        order_by=lambda: [TicketMessage.created_at, TicketMessage.id],
    )


class TicketMessage(Base):
    """A message between the agent and the customer on a hand-off ticket."""

    __tablename__ = "ticket_messages"
    __table_args__ = (_in("author", TICKET_MESSAGE_AUTHORS),)
    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("handoff_tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    author = Column(String(16), nullable=False)
    agent = Column(String(64))
    text = Column(EncryptedText(), nullable=False)
    created_at = Column(DateTime, nullable=False)
    ticket = relationship("HandoffTicket", back_populates="messages")


class CsatRating(OfConversation, Base):
    """A customer's satisfaction rating (1–5) of a conversation (kefu.csat), for analytics.
    The conversation id and ``comment`` (redacted) are personal data, stored encrypted; erasure
    clears the comment and leaves an ``erased:`` placeholder id."""

    __tablename__ = "csat_ratings"
    __table_args__ = (CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),)
    id = Column(Integer, primary_key=True)
    conversation_id = Column(EncryptedText(128), nullable=False)
    conversation_ref = conversation_index()
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    rating = Column(SmallInteger, nullable=False)
    comment = Column(EncryptedText())
    intents = Column(JSON, nullable=False, default=list)
    language = Column(String(8), nullable=False)
    channel = Column(String(32), nullable=False)
    human_involved = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, index=True)


class SecurityCounter(Base):
    """Failures counted in shared storage (kefu.attempts): one row per key ("order:…",
    "customer:…", "otp:…"), a window that starts with the first failure, and a lock.  Times are
    Unix seconds; ``expires_at`` lets a sweep delete rows nobody needs any more."""

    __tablename__ = "security_counters"
    key = Column(String(200), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    window_start = Column(BigInteger, nullable=False)
    locked_until = Column(BigInteger)
    expires_at = Column(BigInteger, nullable=False, index=True)


class ConfirmationCode(Base):
    """A one-time code sent to the phone or e-mail on file to confirm one previewed change
    (kefu.step_up).  Only a keyed hash of the code is stored; Unix-second times."""

    __tablename__ = "confirmation_codes"
    id = Column(Integer, primary_key=True)
    request_key = Column(String(64), nullable=False, unique=True)
    subject = Column(String(80), nullable=False, index=True)  # "order:<no>" or "customer:<id>"
    code_hash = Column(String(64), nullable=False)
    channel = Column(String(8), nullable=False)  # sms / email
    attempts = Column(Integer, nullable=False, default=0)
    created_at = Column(BigInteger, nullable=False)
    expires_at = Column(BigInteger, nullable=False, index=True)
    used_at = Column(BigInteger)


class ShopMeta(Base):
    """Facts about the database itself, e.g. ``demo_shop`` (written by the demo loader)."""

    __tablename__ = "shop_meta"
    key = Column(String(64), primary_key=True)
    value = Column(Text, nullable=False)


__all__ = [
    "Address",
    "Base",
    "Brand",
    "Category",
    "ConfirmationCode",
    "CsatRating",
    "Customer",
    "CustomerEvent",
    "HandoffTicket",
    "Invoice",
    "OfConversation",
    "Order",
    "OrderItem",
    "OrderRequest",
    "Payment",
    "Product",
    "ProductAttribute",
    "ProductVariant",
    "Promotion",
    "Refund",
    "ReturnRequest",
    "SearchTerm",
    "SecurityCounter",
    "Shipment",
    "ShipmentEvent",
    "ShopMeta",
    "TicketMessage",
]


# ---- console security

from datetime import timezone as _timezone  # noqa: E402

from sqlalchemy.types import TypeDecorator  # noqa: E402

# what the agent console's audit log records (kefu.console.guard)
AUDIT_ACTIONS = ("login", "logout", "read", "denied", "claim", "reply", "close")


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime: ``timestamptz`` on PostgreSQL, naive UTC on SQLite; always read
    back aware (UTC).  A naive value written is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=_timezone.utc)
        value = value.astimezone(_timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=_timezone.utc)
        return value.astimezone(_timezone.utc)


class ConsoleLoginFailure(Base):
    """A failed agent login, kept ``login_window_minutes`` to lock out guessing: by client
    address (an IPv6 address by its /64), by agent from one address, and by agent across
    addresses.  ``agent`` is a configured agent's name, "" when the name typed is nobody's."""

    __tablename__ = "console_login_failures"
    __table_args__ = (
        Index("ix_console_login_failures_address_at", "address", "at"),
        Index("ix_console_login_failures_agent_at", "agent", "at"),
    )
    id = Column(Integer, primary_key=True)
    agent = Column(String(64), nullable=False, default="")
    address = Column(String(64), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False, index=True)


class ConsoleRevokedSession(Base):
    """A logged-out console session (its cookie's nonce), refused until the cookie expires,
    by every console process and after restarts."""

    __tablename__ = "console_revoked_sessions"
    nonce = Column(String(64), primary_key=True)
    agent = Column(String(64), nullable=False)
    revoked_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False, index=True)


class ConsoleAudit(OfConversation, Base):
    """Who did what in the agent console: logins, reads (and refused reads) of a ticket's
    conversation, claims, replies and closes.  Kept after the ticket is gone (no foreign key);
    the conversation id is stored encrypted and erased (NULL) with the conversation."""

    __tablename__ = "console_audit"
    __table_args__ = (_in("action", AUDIT_ACTIONS),)
    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    agent = Column(String(64), nullable=False, index=True)
    action = Column(String(16), nullable=False)
    ticket_id = Column(Integer, index=True)
    conversation_id = Column(EncryptedText(128))
    conversation_ref = conversation_index()
    address = Column(String(64))


class HandoffTicketOpening(Base):
    """One hand-off ticket opened, kept an hour to limit tickets per client, per channel and in
    all (kefu.handoff).  ``client`` is a hash, never the address or id itself."""

    __tablename__ = "handoff_ticket_openings"
    __table_args__ = (
        Index("ix_handoff_ticket_openings_client_at", "client", "at"),
        Index("ix_handoff_ticket_openings_channel_at", "channel", "at"),
    )
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer)
    channel = Column(String(32), nullable=False)
    client = Column(String(64), nullable=False)
    at = Column(UTCDateTime, nullable=False, index=True)
    expires_at = Column(UTCDateTime, nullable=False, index=True)


__all__ += [
    "ConsoleAudit",
    "ConsoleLoginFailure",
    "ConsoleRevokedSession",
    "HandoffTicketOpening",
    "UTCDateTime",
]


# ---- review-and-retrain loop (kefu.review)

REVIEW_STATUSES = ("pending", "annotated", "discarded", "exported")


class ReviewItem(Base):
    """A customer message the bot may have misunderstood (kefu.review), once per normalised
    text (``key``): why it was queued, what the NLU made of it, and a person's annotation.
    ``text`` is stored with personal data replaced by placeholders (kefu.review.masking)."""

    __tablename__ = "review_items"
    __table_args__ = (
        _in("status", REVIEW_STATUSES),
        Index("ix_review_items_status_last_seen", "status", "last_seen_at"),
    )
    id = Column(Integer, primary_key=True)
    key = Column(String(64), nullable=False, unique=True)  # sha256 of the normalised text
    text = Column(Text, nullable=False)
    language = Column(String(8), nullable=False)
    reasons = Column(JSON, nullable=False, default=list)
    predicted_intent = Column(String(64))
    confidence = Column(Float)
    predicted_entities = Column(JSON, nullable=False, default=list)  # [{"entity", "value"}]
    sentiment = Column(Float)
    seen = Column(Integer, nullable=False, default=1)
    first_seen_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=False)
    status = Column(String(16), nullable=False, default="pending")
    intent = Column(String(64))  # the annotated intent
    entities = Column(JSON, nullable=False, default=list)  # annotated [{"entity", "value"}]
    annotated_by = Column(String(64))
    annotated_at = Column(UTCDateTime)
    exported_at = Column(UTCDateTime)
    export_note = Column(Text)  # why the last export did not write it (a conflict)


class ReviewCursor(Base):
    """How far ``kefu review collect`` has read a tracker store (by the store's name)."""

    __tablename__ = "review_cursors"
    source = Column(String(200), primary_key=True)
    collected_until = Column(Float, nullable=False)  # Unix time of the last event read


__all__ += ["ReviewCursor", "ReviewItem"]
