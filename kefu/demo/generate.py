"""The demo shop: a believable catalog, customers and a year of orders, from a seed.

``load_demo_shop`` fills an empty database: the catalog from ``catalog.yml`` (bilingual titles,
real brands, variants with stock), customers with addresses, promotions, and orders over the
last 12 months in every status with payments, shipments and tracking events, returns, refunds,
invoices and browse events.  Customers have stable tastes (favourite categories and brands, a
price level) and orders combine items that go together, so that what a customer bought says
something about what they buy next, as in a real shop.  The same seed and reference time give
the same shop.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from kefu.catalog import CategoryTree, chunks
from kefu.clock import to_db, utc_now
from kefu.importer import upsert_products
from kefu.models import (
    Address,
    Base,
    Brand,
    Category,
    Customer,
    CustomerEvent,
    Invoice,
    Order,
    OrderItem,
    Payment,
    Product,
    ProductVariant,
    Promotion,
    Refund,
    ReturnRequest,
    Shipment,
    ShipmentEvent,
    ShopMeta,
)

HERE = Path(__file__).resolve().parent
CATALOG = HERE / "catalog.yml"
PEOPLE = HERE / "people.yml"
DEFAULT_SEED = 20261130
CENT = Decimal("0.01")

# Customers' habits (see _Habits): a few favourite categories and brands, a usual price level,
# and items that go together in one order (earbuds with a phone, makeup with skincare).
FAVOURITE_CATEGORY_SHARE = 0.7  # orders that start in one of the customer's favourite categories
FAVOURITE_BRAND_BOOST = 4.0
SAME_BRAND_BOOST = 3.0  # a companion item of the first item's brand (AirPods with an iPhone)
COMPANION_SHARE = 0.6  # further items of an order that go with the first one
PRICE_SPREAD = 0.25  # how far from their price level (0 = cheapest, 1 = dearest) customers buy
COMPANIONS: dict[str, tuple[str, ...]] = {  # category key → categories bought along with it
    "phones": ("headphones", "smartwatches"),
    "laptops": ("headphones", "tablets"),
    "tablets": ("headphones",),
    "smartwatches": ("headphones",),
    "headphones": ("smartwatches",),
    "tvs": ("air_conditioners", "fridges", "washers"),  # furnishing a new home
    "fridges": ("washers", "tvs"),
    "washers": ("fridges", "cleaning"),
    "air_conditioners": ("tvs", "fridges"),
    "kitchen": ("cleaning",),
    "cleaning": ("kitchen",),
    "skincare": ("makeup",),
    "makeup": ("skincare",),
    "menswear": ("shoes",),
    "womenswear": ("shoes",),
    "shoes": ("sports_gear",),
    "sports_gear": ("shoes", "outdoor"),
    "outdoor": ("sports_gear",),
    "snacks": ("drinks",),
    "drinks": ("snacks",),
    "literature": ("nonfiction",),
    "nonfiction": ("literature",),
}


class DemoShopError(RuntimeError):
    """The demo shop cannot be loaded (for example: the database already has products)."""


@dataclass
class DemoSummary:
    categories: int
    brands: int
    products: int
    customers: int
    orders: int
    events: int


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _released(value: Any) -> datetime.date:
    year, month = str(value).split("-")[:2]
    return datetime(int(year), int(month), 1).date()


def load_taxonomy(session: Session, data: dict) -> dict[str, Category]:
    """The categories and brands of a catalog file's data; returns categories by key."""
    keys: dict[str, Category] = {}
    for entry in data["categories"]:
        category = Category(
            key=entry["key"],
            name_zh=entry["zh"],
            name_en=entry["en"],
            synonyms=entry.get("synonyms") or {},
            parent=keys.get(entry.get("parent")) if entry.get("parent") else None,
        )
        session.add(category)
        keys[entry["key"]] = category
    for entry in data["brands"]:
        session.add(
            Brand(
                key=entry["key"],
                name_zh=entry["zh"],
                name_en=entry["en"],
                synonyms=entry.get("synonyms") or {},
            )
        )
    session.flush()
    return keys


def load_catalog_file(
    session: Session, path: Path = CATALOG, rng: random.Random | None = None
) -> int:
    """Categories, brands and products of ``catalog.yml``; returns the number of products."""
    rng = rng or random.Random(DEFAULT_SEED)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    keys = load_taxonomy(session, data)
    colors = data["colors"]
    records = [_product_record(entry, keys, colors, rng) for entry in data["products"]]
    upsert_products(session, records)
    return len(records)


def _product_record(
    entry: dict, categories: dict[str, Category], colors: dict, rng: random.Random
) -> dict[str, Any]:
    price = _money(entry["price"])
    rating = _money(entry["rating"])
    released = _released(entry["released"])
    # popularity: better-rated and longer-listed products have sold more
    months_listed = max(1, (2026 - released.year) * 12 + 11 - released.month + 1)
    sales = int(rng.lognormvariate(4.5, 1.0) * float(rating - 3) * min(months_listed, 24) / 6)
    specs_en = entry.get("specs_en", {})
    return {
        "sku": entry["sku"],
        "title_zh": entry["zh"],
        "title_en": entry["en"],
        "description_zh": entry.get("desc_zh", ""),
        "description_en": entry.get("desc_en", ""),
        "category_id": categories[entry["category"]].id,
        "brand": entry["brand"],
        "price": price,
        "list_price": _money(entry["list_price"]) if entry.get("list_price") else None,
        "release_date": released,
        "rating": rating,
        "sales_count": sales,
        "image_url": None,
        "product_url": f"/shop/products/{entry['sku']}",
        "is_active": True,
        "attributes": [
            {"key": k, "value_zh": str(v), "value_en": str(specs_en.get(k, v))}
            for k, v in entry.get("specs", {}).items()
        ],
        "variants": _variants(entry, price, colors, rng),
    }


def _variants(entry: dict, price: Decimal, colors: dict, rng: random.Random) -> list[dict]:
    color_keys = entry.get("colors") or [None]
    storages = entry.get("storages") or [None]
    sizes = entry.get("sizes") or [None]
    step = _money(max(100, round(float(price) * 0.12, -2)))
    variants = []
    for color in color_keys:
        for tier, storage in enumerate(storages):
            for size in sizes:
                parts = [entry["sku"], color, storage, size]
                sku = "-".join(str(p).upper().replace(" ", "") for p in parts if p)
                stock = 0 if rng.random() < 0.08 else rng.randint(1, 200)
                variants.append(
                    {
                        "sku": sku,
                        "color_zh": colors[color]["zh"] if color else None,
                        "color_en": colors[color]["en"] if color else None,
                        "size": str(size) if size else None,
                        "storage": str(storage) if storage else None,
                        "price": price + step * tier,
                        "stock": stock,
                    }
                )
    return variants


class _Builder:
    """Generates rows with explicit ids for fast bulk inserts."""

    def __init__(self, session: Session, rng: random.Random, now: datetime) -> None:
        self.session = session
        self.rng = rng
        self.now = now
        self.people = yaml.safe_load(PEOPLE.read_text(encoding="utf-8"))
        self.rows: dict[type, list[dict]] = {}
        self.ids: dict[type, int] = {}

    def add(self, model: type, **values: Any) -> int:
        next_id = self.ids.get(model, 0) + 1
        self.ids[model] = next_id
        self.rows.setdefault(model, []).append({"id": next_id, **values})
        return next_id

    def flush(self) -> None:
        for model in Base.metadata.sorted_tables:
            entity = next((m for m in self.rows if m.__table__ is model), None)
            if entity is None:
                continue
            rows = self.rows[entity]
            columns = {key for row in rows for key in row}
            rows = [{column: row.get(column) for column in columns} for row in rows]
            for chunk in chunks(rows, 2000):
                self.session.execute(insert(entity), chunk)
        if self.session.get_bind().dialect.name == "postgresql":
            for entity in self.rows:
                table = entity.__tablename__
                self.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                )
        self.rows.clear()


DEMO_MARKER = "demo_shop"  # in shop_meta: this database holds the generated demo shop


def is_demo_database(session: Session) -> bool:
    """True when the database was filled by :func:`load_demo_shop` (and is nothing else)."""
    return session.get(ShopMeta, DEMO_MARKER) is not None


def load_demo_shop(
    session: Session,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    catalog: Path = CATALOG,
) -> DemoSummary:
    """Fill an empty shop database with the demo shop."""
    if session.scalar(select(func.count()).select_from(Product)):
        raise DemoShopError("the shop database already has products; the demo needs an empty one")
    rng = random.Random(seed)
    now = to_db(now or utc_now()).replace(microsecond=0)  # the columns hold naive UTC
    load_catalog_file(session, catalog, rng)
    builder = _Builder(session, rng, now)
    customers = _customers(builder, 320)
    promotions = _promotions(builder)
    builder.flush()
    orders, events = _orders(builder, customers, promotions, 5200)
    builder.flush()
    _refresh_sales_counts(session)
    session.merge(ShopMeta(key=DEMO_MARKER, value=f"seed={seed}"))
    return DemoSummary(
        categories=session.scalar(select(func.count()).select_from(Category)),
        brands=session.scalar(select(func.count()).select_from(Brand)),
        products=session.scalar(select(func.count()).select_from(Product)),
        customers=len(customers),
        orders=orders,
        events=events,
    )


def _customers(b: _Builder, count: int) -> list[dict]:
    p, rng = b.people, b.rng
    customers, phones = [], set()
    for index in range(count):
        english = rng.random() < 0.2
        if english:
            first, last = rng.choice(p["english_first"]), rng.choice(p["english_last"])
            name, handle = f"{first} {last}", f"{first}.{last}".lower()
        else:
            name = rng.choice(p["surnames"]) + rng.choice(p["given_names"])
            handle = f"user{rng.randint(1000, 99999)}"
        phone = ""
        while not phone or phone in phones:
            phone = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        phones.add(phone)
        email = f"{handle}{index}@{rng.choice(p['email_domains'])}"
        created = b.now - timedelta(days=rng.randint(30, 900))
        language = "en" if english and rng.random() < 0.8 else "zh"
        customer_id = b.add(
            Customer,
            name=name,
            phone=phone,
            email=email,
            preferred_language=language,
            created_at=created,
        )
        addresses = []
        for n in range(rng.choice((1, 1, 1, 2, 2, 3))):
            place = rng.choice(p["places"])
            address = {
                "recipient": name,
                "phone": phone,
                "province": place["province"],
                "city": place["city"],
                "district": rng.choice(place["districts"]),
                "detail": f"{rng.choice(p['streets'])}{rng.randint(1, 999)}号"
                f"{rng.randint(1, 30)}栋{rng.randint(101, 2808)}室",
            }
            b.add(Address, customer_id=customer_id, is_default=n == 0, **address)
            addresses.append(address)
        favourite = rng.random()
        customers.append({"id": customer_id, "addresses": addresses, "weight": favourite**3 + 0.05})
    return customers


def _promotions(b: _Builder) -> list[dict]:
    tree = CategoryTree.load(b.session)
    out = []
    for entry in b.people["promotions"]:
        start = b.now + timedelta(days=entry["days"][0])
        end = b.now + timedelta(days=entry["days"][1])
        category = tree.find(entry["category"]) if entry.get("category") else None
        promotion = {
            "code": entry["code"],
            "title_zh": entry["zh"],
            "title_en": entry["en"],
            "kind": entry["kind"],
            "value": _money(entry["value"]),
            "min_spend": _money(entry["min_spend"]),
            "category_id": category.id if category else None,
            "brand_id": None,
            "starts_at": start,
            "ends_at": end,
            "is_active": True,
        }
        promotion_id = b.add(Promotion, **promotion)
        categories = set(tree.descendants(category.id)) if category else None
        out.append({**promotion, "id": promotion_id, "categories": categories})
    return out


def _order_status(age: timedelta, rng: random.Random) -> str:
    days = age.total_seconds() / 86400
    if rng.random() < 0.05:
        return "cancelled"
    if days < 0.5:
        return rng.choice(("pending_payment", "paid", "paid"))
    if days < 2:
        return rng.choice(("paid", "shipped", "shipped"))
    if days < 5:
        return rng.choice(("shipped", "delivered"))
    if days < 15:
        return rng.choice(("delivered", "delivered", "completed"))
    return "completed" if rng.random() < 0.95 else "delivered"


class _Habits:
    """What each demo customer tends to buy.

    Every customer has one to three favourite categories, a liking for some of their brands and
    a usual price level.  An order starts in a favourite category (or, less often, anywhere,
    by popularity); its further items often go with the first (``COMPANIONS``), preferably of
    the same brand.  Within a category, products are picked by popularity, favourite brand and
    closeness to the customer's price level.
    """

    def __init__(
        self, rng: random.Random, products: list, customers: list[dict], keys: dict
    ) -> None:
        self.rng = rng
        self.products = products
        self.popularity = [max(1, p.sales_count) ** 0.7 for p in products]
        self.by_category: dict[int, list[int]] = {}
        for index, product in enumerate(products):
            self.by_category.setdefault(product.category_id, []).append(index)
        self.price_level: dict[int, float] = {}  # product index → 0 (cheapest) … 1 (dearest)
        for indexes in self.by_category.values():
            ranked = sorted(indexes, key=lambda i: (products[i].price, products[i].id))
            for rank, index in enumerate(ranked):
                self.price_level[index] = rank / max(1, len(ranked) - 1)
        ids = {key: category.id for key, category in keys.items()}
        self.companions = {
            ids[key]: [ids[c] for c in companions if c in ids and ids[c] in self.by_category]
            for key, companions in COMPANIONS.items()
            if key in ids
        }
        categories = sorted(self.by_category)
        category_weights = [
            sum(self.popularity[i] for i in self.by_category[c]) for c in categories
        ]
        self.tastes: dict[int, tuple[list[int], set[int], float]] = {}
        for customer in customers:
            favourites = rng.choices(categories, category_weights, k=rng.choice((1, 2, 2, 3)))
            brands: set[int] = set()
            for category in dict.fromkeys(favourites):
                brand_weights: dict[int, float] = {}
                for index in self.by_category[category]:
                    brand = products[index].brand_id
                    brand_weights[brand] = brand_weights.get(brand, 0) + self.popularity[index]
                ranked = sorted(brand_weights)
                weights = [brand_weights[brand] for brand in ranked]
                brands.update(rng.choices(ranked, weights, k=rng.choice((1, 2))))
            level = rng.betavariate(2, 2)
            self.tastes[customer["id"]] = (list(dict.fromkeys(favourites)), brands, level)
        self._weights: dict[tuple[int, int], list[float]] = {}

    def _liking(self, customer_id: int, category: int) -> list[float]:
        key = (customer_id, category)
        if key not in self._weights:
            _, brands, level = self.tastes[customer_id]
            self._weights[key] = [
                self.popularity[i]
                * (FAVOURITE_BRAND_BOOST if self.products[i].brand_id in brands else 1.0)
                * math.exp(-(((self.price_level[i] - level) / PRICE_SPREAD) ** 2))
                for i in self.by_category[category]
            ]
        return self._weights[key]

    def pick(self, customer_id: int, category: int, brand: int | None = None) -> int:
        """A product index of ``category`` as this customer would choose it (``brand`` boosted)."""
        indexes = self.by_category[category]
        weights = self._liking(customer_id, category)
        if brand is not None:
            weights = [
                w * (SAME_BRAND_BOOST if self.products[i].brand_id == brand else 1.0)
                for i, w in zip(indexes, weights, strict=True)
            ]
        return self.rng.choices(indexes, weights)[0]

    def first_item(self, customer_id: int) -> int:
        """The first item of an order."""
        favourites = self.tastes[customer_id][0]
        if self.rng.random() < FAVOURITE_CATEGORY_SHARE:
            category = self.rng.choice(favourites)
        else:
            category = self.rng.choices(self.products, self.popularity)[0].category_id
        return self.pick(customer_id, category)

    def next_item(self, customer_id: int, first: int) -> int:
        """A further item of an order that started with ``first``."""
        companions = self.companions.get(self.products[first].category_id)
        if companions and self.rng.random() < COMPANION_SHARE:
            brand = self.products[first].brand_id
            return self.pick(customer_id, self.rng.choice(companions), brand)
        return self.first_item(customer_id)


def _orders(
    b: _Builder, customers: list[dict], promotions: list[dict], count: int
) -> tuple[int, int]:
    rng, now = b.rng, b.now
    products = b.session.execute(
        select(
            Product.id,
            Product.title_zh,
            Product.title_en,
            Product.category_id,
            Product.brand_id,
            Product.price,
            Product.sales_count,
        ).order_by(Product.id)
    ).all()
    variants: dict[int, list[tuple[int, Decimal]]] = {}
    for variant_id, product_id, price in b.session.execute(
        select(ProductVariant.id, ProductVariant.product_id, ProductVariant.price)
    ):
        variants.setdefault(product_id, []).append((variant_id, price))
    keys = {c.key: c for c in CategoryTree.load(b.session).by_id.values()}
    habits = _Habits(rng, products, customers, keys)
    customer_weights = [c["weight"] for c in customers]
    numbers: set[str] = set()
    events = 0
    for _ in range(count):
        customer = rng.choices(customers, customer_weights)[0]
        # a year of orders, busier around 618 and Double 11, a few from the last hours
        if rng.random() < 0.04:
            age = timedelta(hours=rng.uniform(0.1, 30))
        else:
            age = timedelta(days=rng.uniform(0, 365) ** 1.1 / 365**0.1)
        created = now - age
        status = _order_status(age, rng)
        first = habits.first_item(customer["id"])
        chosen = [first]
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            chosen.append(habits.next_item(customer["id"], first))
        items, items_total, categories = [], Decimal("0"), set()
        for index in dict.fromkeys(chosen):
            product = products[index]
            variant_id, price = rng.choice(variants[product.id])
            quantity = 1 if rng.random() < 0.85 else rng.randint(2, 3)
            items.append((product, variant_id, price, quantity))
            items_total += price * quantity
            categories.add(product.category_id)
        shipping_fee = Decimal("0.00") if items_total >= 99 else Decimal("8.00")
        promotion, discount = _best_promotion(promotions, created, items_total, categories)
        total = items_total + shipping_fee - discount
        number = ""
        while not number or number in numbers:
            number = created.strftime("%y%m%d%H%M") + f"{rng.randint(0, 999_999):06d}"
        numbers.add(number)
        address = rng.choice(customer["addresses"])
        times = _timeline(status, created, now, rng)
        order_id = b.add(
            Order,
            order_no=number,
            customer_id=customer["id"],
            status=status,
            items_total=items_total,
            shipping_fee=shipping_fee,
            discount=discount,
            total=total,
            promotion_id=promotion["id"] if promotion else None,
            shipping_address=address,
            created_at=created,
            cancel_reason=times.pop("cancel_reason", None),
            **times,
        )
        item_ids = []
        for product, variant_id, price, quantity in items:
            item_ids.append(
                (
                    b.add(
                        OrderItem,
                        order_id=order_id,
                        product_id=product.id,
                        variant_id=variant_id,
                        title_zh=product.title_zh,
                        title_en=product.title_en,
                        unit_price=price,
                        quantity=quantity,
                    ),
                    price * quantity,
                )
            )
            for offset in sorted(rng.uniform(0.1, 72) for _ in range(rng.randint(1, 4))):
                b.add(
                    CustomerEvent,
                    customer_id=customer["id"],
                    product_id=product.id,
                    kind="view",
                    at=created - timedelta(hours=offset),
                )
                events += 1
            b.add(
                CustomerEvent,
                customer_id=customer["id"],
                product_id=product.id,
                kind="purchase",
                at=created,
            )
            events += 1
        _payment_and_after_sales(b, order_id, status, total, created, times, item_ids, customer)
        # browsing that did not lead to a purchase: same categories, other products
        for _ in range(rng.randint(0, 5)):
            category = rng.choice(sorted(categories))
            other = products[habits.pick(customer["id"], category)]
            b.add(
                CustomerEvent,
                customer_id=customer["id"],
                product_id=other.id,
                kind="view" if rng.random() < 0.85 else "add_to_cart",
                at=created - timedelta(hours=rng.uniform(0.1, 96)),
            )
            events += 1
    return count, events


def _best_promotion(
    promotions: list[dict], at: datetime, amount: Decimal, categories: set[int]
) -> tuple[dict | None, Decimal]:
    best, best_discount = None, Decimal("0.00")
    for promotion in promotions:
        if not promotion["starts_at"] <= at <= promotion["ends_at"]:
            continue
        if promotion["categories"] is not None and not categories & promotion["categories"]:
            continue
        if amount < promotion["min_spend"]:
            continue
        if promotion["kind"] == "percent_off":
            discount = _money(amount * promotion["value"] / 100)
        else:
            discount = promotion["value"]
        if discount > best_discount:
            best, best_discount = promotion, discount
    return best, best_discount


def _timeline(status: str, created: datetime, now: datetime, rng: random.Random) -> dict:
    """Timestamps consistent with the status (never in the future)."""
    times: dict[str, Any] = {}
    if status == "cancelled":
        paid = rng.random() < 0.5
        if paid:
            times["paid_at"] = created + timedelta(minutes=rng.uniform(1, 30))
        times["cancelled_at"] = min(now, created + timedelta(hours=rng.uniform(0.5, 20)))
        times["cancel_reason"] = rng.choice(
            (
                "不想要了 / Changed my mind",
                "拍错了 / Ordered by mistake",
                "超时未支付 / Payment timed out" if not paid else "找到更便宜的 / Found it cheaper",
            )
        )
        return times
    if status == "pending_payment":
        return times
    times["paid_at"] = created + timedelta(minutes=rng.uniform(1, 30))
    if status == "paid":
        return times
    times["shipped_at"] = min(now, times["paid_at"] + timedelta(hours=rng.uniform(2, 30)))
    if status == "shipped":
        return times
    times["delivered_at"] = min(now, times["shipped_at"] + timedelta(hours=rng.uniform(20, 96)))
    if status == "delivered":
        return times
    times["completed_at"] = min(now, times["delivered_at"] + timedelta(days=rng.uniform(1, 10)))
    return times


def _payment_and_after_sales(
    b: _Builder,
    order_id: int,
    status: str,
    total: Decimal,
    created: datetime,
    times: dict,
    items: list[tuple[int, Decimal]],
    customer: dict,
) -> None:
    rng, now = b.rng, b.now
    method = rng.choices(
        ("alipay", "wechat_pay", "unionpay", "credit_card", "cash_on_delivery"),
        (45, 40, 6, 7, 2),
    )[0]
    if status == "pending_payment":
        b.add(
            Payment,
            order_id=order_id,
            method=method,
            amount=total,
            status="pending",
            transaction_no=None,
            created_at=created,
        )
        return
    paid_at = times.get("paid_at")
    if paid_at is None:  # cancelled before paying
        return
    refunded = status == "cancelled"
    b.add(
        Payment,
        order_id=order_id,
        method=method,
        amount=total,
        status="refunded" if refunded else "succeeded",
        transaction_no=f"T{paid_at:%Y%m%d}{rng.randint(0, 10**12 - 1):012d}",
        created_at=paid_at,
    )
    if refunded:
        done = times["cancelled_at"] + timedelta(hours=rng.uniform(1, 48))
        b.add(
            Refund,
            order_id=order_id,
            return_id=None,
            amount=total,
            method=method,
            status="succeeded" if done < now else "processing",
            created_at=times["cancelled_at"],
            completed_at=done if done < now else None,
        )
        return
    if "shipped_at" in times:
        _shipment(b, order_id, times)
    if rng.random() < 0.25:
        _invoice(b, order_id, total, paid_at, customer)
    delivered = times.get("delivered_at")
    if delivered and rng.random() < 0.07:
        _return(b, order_id, items, delivered, method)


def _shipment(b: _Builder, order_id: int, times: dict) -> None:
    rng, now = b.rng, b.now
    carrier = rng.choice(b.people["carriers"])
    digits = carrier["digits"] - len(carrier["prefix"])
    tracking = carrier["prefix"] + f"{rng.randint(0, 10**digits - 1):0{digits}d}"
    delivered = times.get("delivered_at")
    shipped = times["shipped_at"]
    shipment_id = b.add(
        Shipment,
        order_id=order_id,
        carrier=carrier["key"],
        tracking_no=tracking,
        status="delivered" if delivered else "in_transit",
        shipped_at=shipped,
        delivered_at=delivered,
    )
    origin = rng.choice(b.people["places"])["city"]
    destination = rng.choice(b.people["places"])["city"]
    steps = [
        (
            0,
            origin,
            f"【{origin}】{carrier['zh']}快递员已揽件",
            f"Picked up by {carrier['en']} in {origin}",
        ),
        (6, origin, f"快件已从【{origin}转运中心】发出", f"Left the {origin} sorting centre"),
        (
            20,
            destination,
            f"快件已到达【{destination}转运中心】",
            f"Arrived at the {destination} sorting centre",
        ),
        (30, destination, "快件正在派送中，请保持电话畅通", "Out for delivery"),
    ]
    end = delivered or now
    for hours, location, zh, en in steps:
        at = shipped + timedelta(hours=hours + rng.uniform(0, 3))
        if at > end:
            break
        b.add(
            ShipmentEvent,
            shipment_id=shipment_id,
            at=at,
            location=location,
            description_zh=zh,
            description_en=en,
        )
    if delivered:
        b.add(
            ShipmentEvent,
            shipment_id=shipment_id,
            at=delivered,
            location=destination,
            description_zh="已签收，签收人：本人",
            description_en="Delivered, signed for by the recipient",
        )


def _invoice(b: _Builder, order_id: int, total: Decimal, paid_at: datetime, customer: dict) -> None:
    rng, now = b.rng, b.now
    company = rng.random() < 0.3
    issued = paid_at + timedelta(hours=rng.uniform(1, 72))
    b.add(
        Invoice,
        order_id=order_id,
        invoice_no=f"FP{paid_at:%Y%m%d}{order_id:08d}" if issued < now else None,
        title=(
            rng.choice(("杭州云启科技有限公司", "上海启航贸易有限公司", "深圳星河电子有限公司"))
            if company
            else customer["addresses"][0]["recipient"]
        ),
        tax_id=f"91{rng.randint(10**15, 10**16 - 1)}X" if company else None,
        kind="electronic" if rng.random() < 0.9 else "paper",
        amount=total,
        email=None,
        status="issued" if issued < now else "requested",
        requested_at=paid_at,
        issued_at=issued if issued < now else None,
    )


def _return(
    b: _Builder, order_id: int, items: list[tuple[int, Decimal]], delivered: datetime, method: str
) -> None:
    rng, now = b.rng, b.now
    item_id, amount = rng.choice(items)
    requested = min(now, delivered + timedelta(days=rng.uniform(0.5, 6.5)))
    age = (now - requested).days
    if age < 1:
        status = "requested"
    elif age < 3:
        status = rng.choice(("approved", "received"))
    else:
        status = "completed" if rng.random() < 0.88 else "rejected"
    kind = "return" if rng.random() < 0.85 else "exchange"
    return_id = b.add(
        ReturnRequest,
        order_id=order_id,
        order_item_id=item_id,
        kind=kind,
        reason=rng.choice(b.people["return_reasons"]),
        status=status,
        created_at=requested,
        updated_at=min(now, requested + timedelta(days=min(age, 3))),
    )
    if kind == "return" and status in ("received", "completed"):
        done = status == "completed"
        b.add(
            Refund,
            order_id=order_id,
            return_id=return_id,
            amount=amount,
            method=method,
            status="succeeded" if done else "processing",
            created_at=requested + timedelta(days=1),
            completed_at=requested + timedelta(days=2) if done else None,
        )


def _refresh_sales_counts(session: Session) -> None:
    """Add the demo orders to each product's baseline sales count."""
    sold = dict(
        session.execute(
            select(OrderItem.product_id, func.sum(OrderItem.quantity)).group_by(
                OrderItem.product_id
            )
        ).all()
    )
    for chunk in chunks(list(sold.items()), 900):
        ids = [product_id for product_id, _ in chunk]
        base = dict(
            session.execute(
                select(Product.id, Product.sales_count).where(Product.id.in_(ids))
            ).all()
        )
        session.bulk_update_mappings(
            Product, [{"id": pid, "sales_count": base[pid] + int(n)} for pid, n in chunk]
        )
