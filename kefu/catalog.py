"""Catalog queries and maintenance: category tree, brands, the search index, stock totals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from kefu import segment
from kefu.models import (
    Brand,
    Category,
    Product,
    ProductAttribute,
    ProductVariant,
    SearchTerm,
)

# How much a term counts, by where it comes from.
WEIGHT_TITLE = 4
WEIGHT_ATTRIBUTE = 1


class CategoryTree:
    """The category tree in memory: look-up by key or name, and descendants."""

    def __init__(self, categories: Iterable[Category]) -> None:
        self.by_id = {c.id: c for c in categories}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        for category in self.by_id.values():
            self.children[category.parent_id].append(category.id)
        self._by_name: dict[str, Category] = {}
        for category in self.by_id.values():
            for name in (category.key, category.name_zh, category.name_en):
                self._by_name.setdefault(name.strip().lower(), category)

    @classmethod
    def load(cls, session: Session) -> CategoryTree:
        """Read every category."""
        return cls(session.scalars(select(Category)).all())

    def find(self, name: str) -> Category | None:
        """A category by key, Chinese or English name, or path "数码/手机" (last part counts)."""
        name = name.strip().lower()
        if "/" in name or ">" in name:
            name = name.replace(">", "/").rsplit("/", 1)[-1].strip()
        return self._by_name.get(name)

    def descendants(self, category_id: int) -> list[int]:
        """The category and every category below it."""
        out, stack = [], [category_id]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(self.children.get(current, []))
        return out


def names_of(zh: str, en: str, synonyms: dict | None) -> list[str]:
    """A brand's or category's Chinese and English names and synonyms."""
    names = [zh, en]
    for values in (synonyms or {}).values():
        names.extend(values)
    return names


def weighted_terms(
    texts: Iterable[str], weight: int, into: dict[str, int] | None = None
) -> dict[str, int]:
    """Terms of ``texts`` with ``weight``, merged into ``into`` (the highest weight wins)."""
    weighted = {} if into is None else into
    for text in texts:
        for term in segment.terms(text):
            if weighted.get(term, 0) < weight:
                weighted[term] = weight
    return weighted


def product_terms(product: Product, attributes: Iterable[tuple[str, str]] = ()) -> dict[str, int]:
    """Search terms of one product's title, SKU and specifications, with their weights.

    Brand and category names are not copied into every product: the search resolves them to
    brand and category filters (see :mod:`kefu.search`).
    """
    weighted: dict[str, int] = {}
    weighted_terms([value for pair in attributes for value in pair], WEIGHT_ATTRIBUTE, weighted)
    weighted_terms([product.title_zh, product.title_en, product.sku], WEIGHT_TITLE, weighted)
    return weighted


def teach_segmenter(session: Session) -> None:
    """Make the segmenter keep the shop's brand and category names whole."""
    words = []
    for brand in session.scalars(select(Brand)):
        words += names_of(brand.name_zh, brand.name_en, brand.synonyms)
    for category in session.scalars(select(Category)):
        words += names_of(category.name_zh, category.name_en, category.synonyms)
    segment.add_words(words)


def reindex_products(session: Session, product_ids: list[int], refresh_stock: bool = True) -> None:
    """Rebuild the search terms (and, unless the caller set them, stock totals) of products."""
    if not product_ids:
        return
    teach_segmenter(session)
    attributes: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for chunk in chunks(product_ids, 900):
        rows = session.execute(
            select(
                ProductAttribute.product_id, ProductAttribute.value_zh, ProductAttribute.value_en
            ).where(ProductAttribute.product_id.in_(chunk))
        )
        for product_id, value_zh, value_en in rows:
            attributes[product_id].append((value_zh, value_en))
    rows = []
    for chunk in chunks(product_ids, 900):
        session.execute(delete(SearchTerm).where(SearchTerm.product_id.in_(chunk)))
        titles = session.execute(
            select(Product.id, Product.title_zh, Product.title_en, Product.sku).where(
                Product.id.in_(chunk)
            )
        )
        for product in titles:
            terms = product_terms(product, attributes.get(product.id, ()))
            rows += [{"term": t, "product_id": product.id, "weight": w} for t, w in terms.items()]
    bulk_insert(session, SearchTerm, rows)
    if refresh_stock:
        refresh_stock_totals(session, product_ids)


def bulk_insert(session: Session, model: type, rows: list[dict]) -> None:
    """Insert many rows fast: straight through the SQLite driver, or as Core executemany.

    A key missing from a row is NULL.  SQLAlchemy's per-row parameter processing costs more
    than SQLite's own inserts for the million-row imports of a large catalog.
    """
    if not rows:
        return
    columns = sorted(set().union(*rows))
    if session.get_bind().dialect.name != "sqlite":
        for chunk in chunks(rows, 5000):
            session.execute(insert(model), [{c: row.get(c) for c in columns} for row in chunk])
        return
    sql = (
        f"INSERT INTO {model.__tablename__} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    connection = session.connection()
    for chunk in chunks(rows, 20000):
        connection.exec_driver_sql(
            sql, [tuple(_sqlite_value(row.get(c)) for c in columns) for row in chunk]
        )


def _sqlite_value(value: object) -> object:
    """Values the sqlite3 driver takes as they are (money as REAL, like SQLAlchemy does)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def refresh_stock_totals(session: Session, product_ids: list[int]) -> None:
    """products.stock_total = the sum of the variants' stock."""
    for chunk in chunks(product_ids, 900):
        totals = dict(
            session.execute(
                select(ProductVariant.product_id, func.sum(ProductVariant.stock))
                .where(ProductVariant.product_id.in_(chunk))
                .group_by(ProductVariant.product_id)
            ).all()
        )
        session.bulk_update_mappings(
            Product, [{"id": pid, "stock_total": int(totals.get(pid) or 0)} for pid in chunk]
        )


def chunks(items: list, size: int) -> Iterable[list]:
    """Consecutive slices of at most ``size`` items (keeps SQL IN lists and batches small)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
