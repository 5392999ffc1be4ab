"""What the bot says about products: details, comparisons and stock, straight from the database.

Every figure here (price, specs, stock) is read at the moment of the question; nothing is cached
or invented.  Texts come in the customer's language; attribute labels are configured in
``shop.yml`` (``attribute_labels``) and fall back to the attribute key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kefu.config import Bilingual
from kefu.models import Product, ProductAttribute, ProductVariant
from kefu.text import fold_width

MAX_COMPARED = 4


def money(amount: Decimal) -> str:
    """¥3,999 for whole amounts, ¥12.90 otherwise."""
    if amount == amount.to_integral_value():
        return f"¥{amount:,.0f}"
    return f"¥{amount:,.2f}"


PRICE_LABEL = Bilingual("价格", "Price")
RATING_LABEL = Bilingual("评分", "Rating")


@dataclass(frozen=True)
class Spec:
    key: str
    label: str
    value: str


@dataclass
class ProductDetails:
    """One product as the customer sees it, in one language."""

    id: int
    sku: str
    title: str
    brand: str
    price: Decimal
    list_price: Decimal | None
    rating: Decimal | None
    release_date: str | None
    description: str
    specs: list[Spec]
    colors: list[str]  # every colour offered, in stock or not
    storages: list[str]
    sizes: list[str]
    stock_total: int
    image_url: str | None
    product_url: str | None
    is_active: bool

    @property
    def saving(self) -> Decimal | None:
        """How much below the crossed-out list price it sells for."""
        if self.list_price is not None and self.list_price > self.price:
            return self.list_price - self.price
        return None


@dataclass
class Comparison:
    """Products side by side: a row per property, a column per product."""

    products: list[ProductDetails]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass(frozen=True)
class VariantStock:
    label: str  # "黑色 / 256GB"
    stock: int


@dataclass
class StockAnswer:
    """Whether the product (in the asked colour/size/storage) can be bought now."""

    product: ProductDetails
    asked: list[str]  # the asked options as the customer named them, e.g. ["黑色"]
    known_option: bool  # False when the product has no such colour/size/storage at all
    matching: list[VariantStock]  # variants with the asked options
    in_stock_alternatives: list[VariantStock]  # other variants that are in stock

    @property
    def available(self) -> bool:
        return any(v.stock > 0 for v in self.matching)


def _labels(labels: dict[str, Bilingual], language: str) -> dict[str, str]:
    return {key: text.get(language) for key, text in labels.items()}


def _query(session: Session):
    return select(Product).options(
        selectinload(Product.variants),
        selectinload(Product.attributes),
        selectinload(Product.brand),
    )


def load_details(
    session: Session,
    product_ids: Iterable[int],
    language: str,
    attribute_labels: dict[str, Bilingual] | None = None,
) -> list[ProductDetails]:
    """Details of the given products, in the given order (unknown ids are skipped)."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return []
    products = {p.id: p for p in session.scalars(_query(session).where(Product.id.in_(ids)))}
    labels = _labels(attribute_labels or {}, language)
    return [_details(products[i], language, labels) for i in ids if i in products]


def _details(product: Product, language: str, labels: dict[str, str]) -> ProductDetails:
    en = language == "en"
    brand = product.brand
    specs = [
        Spec(
            a.key,
            labels.get(a.key, a.key.replace("_", " ").capitalize()),
            a.value_en if en else a.value_zh,
        )
        for a in sorted(product.attributes, key=lambda a: a.key)
    ]
    variants = product.variants
    colors = [v.color_en if en and v.color_en else v.color_zh for v in variants if v.color_zh]
    return ProductDetails(
        id=product.id,
        sku=product.sku,
        title=product.title_en if en else product.title_zh,
        brand=brand.name_en if en else brand.name_zh,
        price=product.price,
        list_price=product.list_price,
        rating=product.rating,
        release_date=product.release_date.strftime("%Y-%m") if product.release_date else None,
        description=product.description_en if en else product.description_zh,
        specs=specs,
        colors=list(dict.fromkeys(colors)),
        storages=list(dict.fromkeys(v.storage for v in variants if v.storage)),
        sizes=list(dict.fromkeys(v.size for v in variants if v.size)),
        stock_total=product.stock_total,
        image_url=product.image_url,
        product_url=product.product_url,
        is_active=product.is_active,
    )


def find_product_ids(session: Session, skus: Iterable[str]) -> list[int]:
    """Product ids for SKUs (as the catalog matcher reports them), in the given order."""
    skus = list(dict.fromkeys(skus))
    if not skus:
        return []
    found = dict(
        session.execute(select(Product.sku, Product.id).where(Product.sku.in_(skus))).all()
    )
    return [found[s] for s in skus if s in found]


def pick(shown: list[int], positions: Iterable[int]) -> list[int]:
    """The shown product ids at 1-based ``positions`` (-1 = the last, -2 the one before);
    out-of-range ones are dropped."""
    picked = []
    for position in positions:
        index = len(shown) + position if position < 0 else position - 1
        if 0 <= index < len(shown):
            picked.append(shown[index])
    return list(dict.fromkeys(picked))


def compare(
    session: Session,
    product_ids: list[int],
    language: str,
    attribute_labels: dict[str, Bilingual] | None = None,
    price_label: Bilingual = PRICE_LABEL,
    rating_label: Bilingual = RATING_LABEL,
) -> Comparison:
    """Compare up to :data:`MAX_COMPARED` products on price, rating and their specifications.

    Specifications are listed in the order of the first product; a product lacking one shows "–".
    """
    products = load_details(session, product_ids[:MAX_COMPARED], language, attribute_labels)
    rows: list[tuple[str, list[str]]] = [
        (price_label.get(language), [money(p.price) for p in products]),
        (
            rating_label.get(language),
            [f"{p.rating:.1f}" if p.rating is not None else "–" for p in products],
        ),
    ]
    keys: dict[str, str] = {}
    for product in products:
        for spec in product.specs:
            keys.setdefault(spec.key, spec.label)
    for key, label in keys.items():
        values = [next((s.value for s in p.specs if s.key == key), "–") for p in products]
        rows.append((label, values))
    return Comparison(products, rows)


def _norm(value: str | None) -> str:
    return fold_width(value or "").replace(" ", "").lower()


def _variant_label(variant: ProductVariant, language: str) -> str:
    color = variant.color_en if language == "en" and variant.color_en else variant.color_zh
    return " / ".join(part for part in (color, variant.storage, variant.size) if part)


def _storage_key(value: str | None) -> str:
    """ "256G", "256 gb" and "256GB" are the same storage; so are "12+512" and "12GB+512GB"."""
    return _norm(value).replace("gb", "").replace("g", "")


def stock(
    session: Session,
    product_id: int,
    language: str,
    color: str | None = None,
    size: str | None = None,
    storage: str | None = None,
    attribute_labels: dict[str, Bilingual] | None = None,
) -> StockAnswer | None:
    """Stock of one product, narrowed to the asked colour / size / storage (any language)."""
    product = session.scalar(_query(session).where(Product.id == product_id))
    if product is None:
        return None
    details = load_details(session, [product_id], language, attribute_labels)[0]
    asked = [a for a in (color, storage, size) if a]

    def fits(v: ProductVariant) -> bool:
        # the colour, or a colour word inside its name ("黑" in "黑色", "black" in "Jet Black")
        if color and not any(_norm(color) in _norm(n) for n in (v.color_zh, v.color_en) if n):
            return False
        if size and _norm(size) != _norm(v.size):
            return False
        return not (storage and _storage_key(storage) != _storage_key(v.storage))

    matching = [v for v in product.variants if fits(v)]
    others = [v for v in product.variants if v not in matching and v.stock > 0]
    return StockAnswer(
        product=details,
        asked=asked,
        known_option=bool(matching) or not asked,
        matching=[VariantStock(_variant_label(v, language), v.stock) for v in matching],
        in_stock_alternatives=[VariantStock(_variant_label(v, language), v.stock) for v in others],
    )


def attribute_ids(session: Session, product_id: int) -> list[str]:
    """The attribute keys a product has (for tests and for reading questions about a spec)."""
    return list(
        session.scalars(
            select(ProductAttribute.key).where(ProductAttribute.product_id == product_id)
        )
    )
