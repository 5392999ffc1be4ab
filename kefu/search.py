"""Product search: free text in Chinese and English plus structured filters and sorting.

Free text is segmented (:mod:`kefu.segment`), never scanned with LIKE.  Each query word must
match every product found, in one of three ways: it names the product's category or a parent
category (手机 / phone / smartphone), it names its brand (苹果 / Apple / iPhone), or it, or a
shorter word jieba finds inside it, is a term of the product's title or specifications (the
``search_terms`` inverted index).  Query words the shop does not know (推荐, "recommend") are
ignored and reported back.

The same SQL runs on SQLite and PostgreSQL; every value is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from sqlalchemy import distinct, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from kefu import segment
from kefu.catalog import CategoryTree, names_of
from kefu.models import Brand, Product, ProductAttribute, ProductVariant, SearchTerm
from kefu.text import fold_width

Sort = Literal["relevance", "newest", "price_asc", "price_desc", "rating", "sales"]
SORTS: tuple[str, ...] = ("relevance", "newest", "price_asc", "price_desc", "rating", "sales")
MAX_QUERY_WORDS = 12
MAX_QUERY_CHARS = 200  # what is segmented of a query: its first 12 words fit well within this
MAX_LIMIT = 100
COUNT_LIMIT = 1000  # "1000+ products": counting further costs time and helps nobody


class SearchError(ValueError):
    """The search request itself is invalid (not: nothing found)."""


@dataclass
class SearchQuery:
    """What to look for.  Every field is optional."""

    text: str = ""
    category: str | None = None  # key, name or synonym; includes sub-categories
    brands: list[str] = field(default_factory=list)  # keys or names
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # key → value (zh or en)
    color: str | None = None
    size: str | None = None
    storage: str | None = None
    in_stock_only: bool = False
    exclude_brands: list[str] = field(default_factory=list)  # keys or names
    exclude_ids: list[int] = field(default_factory=list)  # e.g. products already shown
    product_ids: list[int] | None = None  # only among these products
    relax_text: bool = True  # drop the non-category, non-brand words when nothing has them all
    sort: Sort = "relevance"
    limit: int = 10
    offset: int = 0


@dataclass
class SearchResult:
    product_ids: list[int]
    total: int  # at most COUNT_LIMIT; see more_than_total
    ignored_words: list[str]
    more_than_total: bool = False


class Vocabulary:
    """What the shop calls its categories and brands, in both languages, for reading queries."""

    def __init__(
        self,
        tree: CategoryTree,
        brands: list[Brand],
        variant_values: list[tuple[str | None, str | None, str | None, str | None]] = (),
    ) -> None:
        self.tree = tree
        # what customers may type → the values stored on variants
        self.colors: dict[str, set[str]] = {}
        self.sizes: dict[str, set[str]] = {}
        self.storages: dict[str, set[str]] = {}
        for color_zh, color_en, size, storage in variant_values:
            if color_zh:
                for name in (color_zh, color_en or color_zh):
                    self.colors.setdefault(_norm(name), set()).add(color_zh)
            if size:
                self.sizes.setdefault(_norm(size), set()).add(size)
            if storage:
                self.storages.setdefault(_norm(storage), set()).add(storage)
        self.categories: dict[str, set[int]] = {}
        self.brands: dict[str, set[int]] = {}
        for category in tree.by_id.values():
            for name in names_of(category.name_zh, category.name_en, category.synonyms):
                key = fold_width(name).strip().lower()
                self.categories.setdefault(key, set()).update(tree.descendants(category.id))
        for brand in brands:
            for name in [brand.key, *names_of(brand.name_zh, brand.name_en, brand.synonyms)]:
                self.brands.setdefault(fold_width(name).strip().lower(), set()).add(brand.id)

    @classmethod
    def load(cls, session: Session) -> Vocabulary:
        """Read the category tree, the brands and the variant colours, sizes and storages."""
        values = session.execute(
            select(
                ProductVariant.color_zh,
                ProductVariant.color_en,
                ProductVariant.size,
                ProductVariant.storage,
            ).distinct()
        ).all()
        return cls(CategoryTree.load(session), list(session.scalars(select(Brand))), values)

    def category_ids(self, name: str) -> set[int]:
        """The category named ``name`` (key, name or path, else a synonym) and those below it."""
        category = self.tree.find(name)
        if category is not None:
            return set(self.tree.descendants(category.id))
        return set(self.categories.get(_norm(name), ()))

    def brand_ids(self, names: list[str]) -> set[int]:
        return {i for n in names for i in self.brands.get(fold_width(n).strip().lower(), ())}


def _text_filters(
    session: Session, text: str, vocabulary: Vocabulary
) -> tuple[list, list[str], list[str]]:
    """Conditions for the query words that name categories or brands, the words to look up
    in the term index, and the ignored words.

    A word the shop does not know as a whole ("新款手机") is replaced by the known shorter words
    inside it (手机), each of which must then match.
    """
    words = segment.coarse_words(text[:MAX_QUERY_CHARS])[:MAX_QUERY_WORDS]
    pieces = {w: [t for t in segment.terms(w) if t != w and len(t) > 1] for w in words}
    known = _known_terms(session, words + [t for ts in pieces.values() for t in ts])

    conditions: list = []
    terms: list[str] = []

    def use(word: str) -> bool:
        if word in vocabulary.categories or word in vocabulary.brands:
            options = []
            if word in vocabulary.categories:
                options.append(Product.category_id.in_(sorted(vocabulary.categories[word])))
            if word in vocabulary.brands:
                options.append(Product.brand_id.in_(sorted(vocabulary.brands[word])))
            conditions.append(or_(*options))
            return True
        if word in known:
            terms.append(word)
            return True
        return False

    ignored = [w for w in words if not use(w) and not [p for p in pieces[w] if use(p)]]
    return conditions, terms, ignored


def search(
    session: Session, query: SearchQuery, vocabulary: Vocabulary | None = None
) -> SearchResult:
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

    vocabulary = vocabulary or Vocabulary.load(session)
    conditions = [Product.is_active.is_(True)]
    if query.category:
        category_ids = vocabulary.category_ids(query.category)
        if not category_ids:
            return SearchResult([], 0, [])
        conditions.append(Product.category_id.in_(sorted(category_ids)))
    if query.brands:
        brand_ids = vocabulary.brand_ids(query.brands)
        if not brand_ids:
            return SearchResult([], 0, [])
        conditions.append(Product.brand_id.in_(sorted(brand_ids)))
    excluded_brands = vocabulary.brand_ids(query.exclude_brands)
    if excluded_brands:
        conditions.append(Product.brand_id.not_in(sorted(excluded_brands)))
    if query.exclude_ids:
        conditions.append(Product.id.not_in(sorted(set(query.exclude_ids))))
    if query.product_ids is not None:
        conditions.append(Product.id.in_(sorted(set(query.product_ids))))
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
    conditions += _variant_conditions(vocabulary, query)
    text_conditions, terms, ignored = _text_filters(session, query.text, vocabulary)
    conditions += text_conditions

    # With a category, brand or list of products to start from, terms are checked per product
    # (primary-key probes); otherwise the rarest term's postings drive the query.
    narrowed = bool(
        query.category or query.brands or text_conditions or query.product_ids is not None
    )
    matches = select(Product.id)
    for index, term in enumerate(dict.fromkeys(terms)):
        alias = aliased(SearchTerm, name=f"t{index}")
        on = (alias.product_id == Product.id) & (alias.term == term)
        matches = matches.where(exists().where(on)) if narrowed else matches.join(alias, on)
    matches = matches.where(*conditions)
    counted = session.scalar(
        select(func.count()).select_from(matches.limit(COUNT_LIMIT + 1).subquery())
    )
    total = int(counted or 0)
    ids = []
    if total > query.offset:
        statement = (
            matches.order_by(*SORT_ORDER[query.sort], Product.id.asc())
            .limit(query.limit)
            .offset(query.offset)
        )
        ids = list(session.scalars(statement))
    if (
        total == 0
        and query.relax_text
        and terms
        and (text_conditions or len(terms) > 1)
        and query.offset == 0
    ):
        # nothing has every word: keep the categories and brands named, drop the other words
        relaxed = replace(query, text=" ".join(category_and_brand_words(query.text, vocabulary)))
        if relaxed.text:
            result = search(session, relaxed, vocabulary)
            result.ignored_words = list(dict.fromkeys(ignored + terms + result.ignored_words))
            return result
    return SearchResult(ids, min(total, COUNT_LIMIT), ignored, total > COUNT_LIMIT)


SORT_ORDER = {
    "newest": [Product.release_date.desc(), Product.sales_count.desc()],
    "price_asc": [Product.price.asc()],
    "price_desc": [Product.price.desc()],
    "rating": [Product.rating.desc(), Product.sales_count.desc()],
    "sales": [Product.sales_count.desc()],
    # every match contains every query word; among them the most popular come first
    "relevance": [Product.sales_count.desc(), Product.rating.desc()],
}


def category_and_brand_words(text: str, vocabulary: Vocabulary) -> list[str]:
    """The words of ``text`` (or shorter words inside them) that name categories or brands."""
    words = []
    for word in segment.coarse_words(text[:MAX_QUERY_CHARS])[:MAX_QUERY_WORDS]:
        for candidate in [word, *segment.terms(word)]:
            if candidate in vocabulary.categories or candidate in vocabulary.brands:
                words.append(candidate)
                break
    return words


def _norm(value: str) -> str:
    return fold_width(value).strip().lower()


def _variant_conditions(vocabulary: Vocabulary, query: SearchQuery) -> list:
    """Colour / size / storage: products with at least one such variant (in stock if asked)."""
    filters = []
    for wanted, known, column in (
        (query.color, vocabulary.colors, ProductVariant.color_zh),
        (query.size, vocabulary.sizes, ProductVariant.size),
        (query.storage, vocabulary.storages, ProductVariant.storage),
    ):
        if wanted:
            values = known.get(_norm(wanted))
            if not values:
                return [false()]
            filters.append(column.in_(sorted(values)))
    if not filters:
        return []
    if query.in_stock_only:
        filters.append(ProductVariant.stock > 0)
    return [exists().where(ProductVariant.product_id == Product.id, *filters)]


def _known_terms(session: Session, candidates: list[str]) -> set[str]:
    if not candidates:
        return set()
    rows = session.execute(
        select(distinct(SearchTerm.term)).where(SearchTerm.term.in_(sorted(set(candidates))))
    )
    return {row[0] for row in rows}
