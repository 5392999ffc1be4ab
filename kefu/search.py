"""Product search: free text in Chinese and English plus structured filters and sorting.

Free text is segmented (:mod:`kefu.segment`) and looked up in the ``search_terms`` inverted
index, never scanned with LIKE.  Each query word is a group of alternatives (the word and the
shorter words jieba finds inside it); a product must match every group the catalog knows.
Query words that no product has (推荐, "recommend") are ignored and reported back.

The same SQL runs on SQLite and PostgreSQL; every value is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from sqlalchemy import and_, case, distinct, exists, func, select
from sqlalchemy.orm import Session

from kefu import segment
from kefu.catalog import CategoryTree
from kefu.models import Brand, Product, ProductAttribute, ProductVariant, SearchTerm

Sort = Literal["relevance", "newest", "price_asc", "price_desc", "rating", "sales"]
SORTS: tuple[str, ...] = ("relevance", "newest", "price_asc", "price_desc", "rating", "sales")
MAX_QUERY_WORDS = 12
MAX_LIMIT = 100


class SearchError(ValueError):
    """The search request itself is invalid (not: nothing found)."""


@dataclass
class SearchQuery:
    """What to look for.  Every field is optional."""

    text: str = ""
    category: str | None = None  # key or name; includes sub-categories
    brands: list[str] = field(default_factory=list)  # keys or names
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # key → value (zh or en)
    color: str | None = None
    size: str | None = None
    storage: str | None = None
    in_stock_only: bool = False
    sort: Sort = "relevance"
    limit: int = 10
    offset: int = 0


@dataclass
class SearchResult:
    product_ids: list[int]
    total: int
    ignored_words: list[str]


def _word_groups(text: str) -> list[tuple[str, list[str]]]:
    """(word, alternatives) for each word of the query text."""
    groups = []
    for word in segment.coarse_words(text)[:MAX_QUERY_WORDS]:
        alternatives = [word] + [t for t in segment.terms(word) if t != word and len(t) > 1]
        groups.append((word, alternatives))
    return groups


def search(session: Session, query: SearchQuery, tree: CategoryTree | None = None) -> SearchResult:
    """Product ids matching ``query`` in the requested order, with the total count."""
    if query.sort not in SORTS:
        raise SearchError(f"unknown sort '{query.sort}', use one of {', '.join(SORTS)}")
    if not 1 <= query.limit <= MAX_LIMIT or query.offset < 0:
        raise SearchError(f"limit must be 1–{MAX_LIMIT} and offset ≥ 0")
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise SearchError("min_price is above max_price")

    conditions = [Product.is_active.is_(True)]
    tree = tree or CategoryTree.load(session)
    if query.category:
        category = tree.find(query.category)
        if category is None:
            return SearchResult([], 0, [])
        conditions.append(Product.category_id.in_(tree.descendants(category.id)))
    if query.brands:
        brand_ids = _brand_ids(session, query.brands)
        if not brand_ids:
            return SearchResult([], 0, [])
        conditions.append(Product.brand_id.in_(brand_ids))
    if query.min_price is not None:
        conditions.append(Product.price >= query.min_price)
    if query.max_price is not None:
        conditions.append(Product.price <= query.max_price)
    if query.in_stock_only:
        conditions.append(Product.stock_total > 0)
    for key, value in query.attributes.items():
        conditions.append(
            exists().where(
                ProductAttribute.product_id == Product.id,
                ProductAttribute.key == key,
                (ProductAttribute.value_zh == value) | (ProductAttribute.value_en == value),
            )
        )
    variant_filters = []
    if query.color:
        color = query.color.strip()
        variant_filters.append(
            (func.lower(ProductVariant.color_en) == color.lower())
            | (ProductVariant.color_zh == color)
        )
    if query.size:
        variant_filters.append(func.upper(ProductVariant.size) == query.size.strip().upper())
    if query.storage:
        variant_filters.append(func.upper(ProductVariant.storage) == query.storage.strip().upper())
    if variant_filters:
        if query.in_stock_only:
            variant_filters.append(ProductVariant.stock > 0)
        conditions.append(exists().where(ProductVariant.product_id == Product.id, *variant_filters))

    groups = _word_groups(query.text)
    known = _known_terms(session, [t for _, alts in groups for t in alts])
    used = [(w, [t for t in alts if t in known]) for w, alts in groups]
    ignored = [w for w, alts in used if not alts]
    used = [(w, alts) for w, alts in used if alts]

    if not used:
        statement = select(Product.id, func.cast(0, Product.sales_count.type).label("score"))
        statement = statement.where(and_(*conditions))
    else:
        group_of = {t: i for i, (_, alts) in enumerate(used) for t in alts}
        group = case(group_of, value=SearchTerm.term)
        statement = (
            select(Product.id, func.sum(SearchTerm.weight).label("score"))
            .join(SearchTerm, SearchTerm.product_id == Product.id)
            .where(SearchTerm.term.in_(list(group_of)), *conditions)
            .group_by(Product.id)
            .having(func.count(distinct(group)) == len(used))
        )
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    ordered = statement.order_by(*_order(query.sort, bool(used))).limit(query.limit)
    ids = [row[0] for row in session.execute(ordered.offset(query.offset))]
    return SearchResult(ids, int(total or 0), ignored)


def _order(sort: str, has_text: bool) -> list:
    score = func.sum(SearchTerm.weight) if has_text else None
    by = {
        "newest": [Product.release_date.desc(), Product.sales_count.desc()],
        "price_asc": [Product.price.asc()],
        "price_desc": [Product.price.desc()],
        "rating": [Product.rating.desc(), Product.sales_count.desc()],
        "sales": [Product.sales_count.desc()],
        "relevance": ([score.desc()] if has_text else []) + [Product.sales_count.desc()],
    }[sort]
    return [*by, Product.id.asc()]


def _known_terms(session: Session, candidates: list[str]) -> set[str]:
    if not candidates:
        return set()
    rows = session.execute(
        select(distinct(SearchTerm.term)).where(SearchTerm.term.in_(sorted(set(candidates))))
    )
    return {row[0] for row in rows}


def _brand_ids(session: Session, names: list[str]) -> list[int]:
    wanted = {n.strip().lower() for n in names}
    ids = []
    for brand in session.scalars(select(Brand)):
        names_of = {brand.key, brand.name_zh.lower(), brand.name_en.lower()}
        for values in (brand.synonyms or {}).values():
            names_of.update(v.lower() for v in values)
        if names_of & wanted:
            ids.append(brand.id)
    return ids
