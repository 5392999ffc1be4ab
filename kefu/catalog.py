"""Catalog queries and maintenance: category tree, brands, the search index, stock totals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

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
WEIGHT_BRAND = 3
WEIGHT_CATEGORY = 2
WEIGHT_ATTRIBUTE = 1


class CategoryTree:
    """The category tree in memory: look-up by key or name, descendants, ancestors."""

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

    def ancestors(self, category_id: int) -> list[Category]:
        """The category and its parents up to the root."""
        out = []
        current = self.by_id.get(category_id)
        while current is not None:
            out.append(current)
            current = self.by_id.get(current.parent_id) if current.parent_id else None
        return out

    def is_leaf(self, category_id: int) -> bool:
        return not self.children.get(category_id)


def _names(zh: str, en: str, synonyms: dict | None) -> list[str]:
    names = [zh, en]
    for values in (synonyms or {}).values():
        names.extend(values)
    return names


def product_terms(
    product: Product,
    brand: Brand,
    categories: list[Category],
    attributes: Iterable[tuple[str, str]] = (),
) -> dict[str, int]:
    """Search terms of one product with their weights (the highest weight wins)."""
    weighted: dict[str, int] = {}

    def add(texts: Iterable[str], weight: int) -> None:
        for text in texts:
            for term in segment.terms(text):
                if weighted.get(term, 0) < weight:
                    weighted[term] = weight

    add([product.title_zh, product.title_en, product.sku], WEIGHT_TITLE)
    add(_names(brand.name_zh, brand.name_en, brand.synonyms), WEIGHT_BRAND)
    for category in categories:
        add(_names(category.name_zh, category.name_en, category.synonyms), WEIGHT_CATEGORY)
    add([value for pair in attributes for value in pair], WEIGHT_ATTRIBUTE)
    return weighted


def teach_segmenter(session: Session) -> None:
    """Make the segmenter keep the shop's brand and category names whole."""
    words = []
    for brand in session.scalars(select(Brand)):
        words += _names(brand.name_zh, brand.name_en, brand.synonyms)
    for category in session.scalars(select(Category)):
        words += _names(category.name_zh, category.name_en, category.synonyms)
    segment.add_words(words)


def reindex_products(session: Session, product_ids: list[int]) -> None:
    """Rebuild the search terms and stock totals of the given products."""
    if not product_ids:
        return
    teach_segmenter(session)
    tree = CategoryTree.load(session)
    brands = {b.id: b for b in session.scalars(select(Brand))}
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
        for product in session.scalars(select(Product).where(Product.id.in_(chunk))):
            terms = product_terms(
                product,
                brands[product.brand_id],
                tree.ancestors(product.category_id),
                attributes.get(product.id, ()),
            )
            rows += [{"term": t, "product_id": product.id, "weight": w} for t, w in terms.items()]
    for chunk in chunks(rows, 5000):
        session.execute(insert(SearchTerm), chunk)
    refresh_stock_totals(session, product_ids)


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
