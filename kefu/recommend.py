"""Product recommendations: the search's hard constraints, then a transparent re-ranking.

1. Hard constraints (category, brands, excluded brands, budget, colour / size / storage, stock,
   text words, products already shown) go through :func:`kefu.search.search`.  When nothing
   meets them, constraints are dropped one at a time in ``RELAXATION_ORDER`` — colour, size,
   storage, the text words that name no category or brand, then in-stock — and every dropped one
   is reported in ``RecommendationResult.relaxed``.  Category, brands, excluded brands and
   budget are never relaxed: the result is empty and the bot says so.  Neither are the products
   already shown: when they were all there was, the result is empty too.
2. Candidates: the first ``POOL_SIZE`` matches in each sort order that suits ``prefer``, plus,
   for an identified customer, the matches most similar to what they bought or viewed
   (:class:`kefu.similarity.ItemSimilarity`).
3. Score: a weighted sum (:class:`RankingWeights`) of popularity (log sales), recency (release
   date half-life), rating, budget fit, discount and the personal similarity score, less a
   penalty for what the customer already bought.  A ``prefer`` other than "balanced" sorts by
   its own key first (release month, price, sales, rating) and by the score among equals, so
   "有什么新款手机推荐" lists the newest phones first.
4. Every recommendation gets one or two reasons (:class:`Reason`); :func:`reason_text` words
   them in Chinese or English.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.clock import utc_today
from kefu.models import CustomerEvent, Product
from kefu.search import (
    MAX_LIMIT,
    SearchError,
    SearchQuery,
    SearchResult,
    Sort,
    Vocabulary,
    category_and_brand_words,
    search,
)
from kefu.similarity import EVENT_WEIGHTS, ItemSimilarity, recent_items

Prefer = Literal["balanced", "newest", "cheapest", "priciest", "popular", "best_rated"]
PREFERS: tuple[str, ...] = get_args(Prefer)
SIGNALS = ("popularity", "recency", "rating", "budget_fit", "on_sale", "personal")

POOL_SIZE = MAX_LIMIT  # candidates per sort order
# "relevance" (sales) always comes first: it gives the total and the bestseller threshold
POOL_SORTS: dict[str, tuple[Sort, ...]] = {
    "balanced": ("relevance", "newest", "rating"),
    "newest": ("relevance", "newest"),
    "cheapest": ("relevance", "price_asc"),
    "priciest": ("relevance", "price_desc"),
    "popular": ("relevance",),
    "best_rated": ("relevance", "rating"),
}
BUDGET_SORT: Sort = "price_desc"  # with a maximum price, "balanced" also looks near the top of it
RELAXATION_ORDER = ("color", "size", "storage", "text", "in_stock_only")
PERSONAL_CANDIDATES = 50  # the customer's most similar products checked against the constraints
HISTORY_EVENTS = 200  # the customer's latest events read for personalisation
MAX_REASONS = 2

RECENCY_HALF_LIFE_DAYS = 180.0
NEW_ARRIVAL_DAYS = 90
RATING_FLOOR = 3.5  # ratings at or below it add nothing
TOP_RATED_MIN = Decimal("4.5")
BESTSELLER_SHARE = 0.1  # the best-selling 10 % of the matching products
BUDGET_TARGET_SHARE = 0.7  # prices from 70 % of the maximum up use the budget well
FULL_DISCOUNT_SHARE = 0.2  # 20 % off and more counts fully
PERSONAL_REASON_MIN = 0.25  # share of the best personal score that earns an "also bought" reason
PREFER_REASON_BONUS = 10.0  # the reason matching ``prefer`` comes first,
PERSONAL_REASON_BONUS = 5.0  # then "customers who bought X …", then by signal strength

PREFER_REASONS: dict[str, tuple[str, ...]] = {
    "newest": ("new_this_month", "new_arrival"),
    "cheapest": ("on_sale", "fits_budget"),
    "popular": ("bestseller",),
    "best_rated": ("top_rated",),
}
REASON_CODES = (
    "new_this_month",
    "new_arrival",
    "bestseller",
    "top_rated",
    "fits_budget",
    "on_sale",
    "also_bought",
    "also_viewed",
    "matches_request",
)


@dataclass
class RecommendationRequest:
    """What the customer asked for; every field is optional."""

    category: str | None = None  # key or name (zh/en/synonym), includes sub-categories
    brands: list[str] = field(default_factory=list)  # keys or names
    exclude_brands: list[str] = field(default_factory=list)  # keys or names ("换个牌子")
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    color: str | None = None
    size: str | None = None
    storage: str | None = None
    text: str = ""  # other words, e.g. "降噪" / "gaming"
    prefer: Prefer = "balanced"
    exclude_product_ids: list[int] = field(default_factory=list)  # already shown
    customer_id: int | None = None  # identified customer → personalised
    limit: int = 3
    in_stock_only: bool = True


@dataclass(frozen=True)
class Reason:
    """Why a product is recommended: a code from ``REASON_CODES`` and its values."""

    code: str
    params: dict


@dataclass
class Recommendation:
    product_id: int
    score: float
    reasons: list[Reason]


@dataclass
class RecommendationResult:
    items: list[Recommendation]
    total: int  # products meeting the (possibly relaxed) constraints, not shown yet; capped
    relaxed: list[str]  # constraints dropped to find anything, in RELAXATION_ORDER


@dataclass(frozen=True)
class RankingWeights:
    """How much each signal (``SIGNALS``, each scaled to 0–1) counts in the score."""

    popularity: float = 1.0
    recency: float = 0.8
    rating: float = 0.8
    budget_fit: float = 0.6
    on_sale: float = 0.3
    personal: float = 2.0
    already_bought: float = 1.5  # subtracted for products the customer bought


@dataclass
class _Candidate:
    id: int
    price: Decimal
    list_price: Decimal | None
    release_date: date | None
    rating: Decimal | None
    sales: int
    signals: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    affinity: float = 0.0  # personal score, 1 = the customer's strongest
    source: int | None = None  # the history product behind the personal score


@dataclass
class _Customer:
    history: dict[int, float]  # recent products → strongest event weight
    bought: set[int]


class Recommender:
    """Recommends products for one request at a time, within one database session."""

    def __init__(
        self,
        session: Session,
        vocabulary: Vocabulary | None = None,
        similarity: ItemSimilarity | None = None,
        today: date | None = None,
        weights: RankingWeights | None = None,
    ) -> None:
        """Without ``similarity`` nothing is personalised; ``today`` defaults to each call's
        date."""
        self.session = session
        self.vocabulary = vocabulary or Vocabulary.load(session)
        self.similarity = similarity
        self.today = today
        self.weights = weights or RankingWeights()

    def recommend(self, request: RecommendationRequest) -> RecommendationResult:
        """The best ``request.limit`` products for the request, with reasons.

        Raises :class:`kefu.search.SearchError` for an invalid request (unknown ``prefer``,
        limit outside 1–100, minimum price above the maximum).
        """
        if request.prefer not in PREFERS:
            raise SearchError(f"unknown prefer '{request.prefer}', use one of {', '.join(PREFERS)}")
        if not 1 <= request.limit <= MAX_LIMIT:
            raise SearchError(f"limit must be 1–{MAX_LIMIT}")
        query, relaxed, first = self._constrained(request)
        if first is None:
            return RecommendationResult([], 0, [])

        sorts = POOL_SORTS[request.prefer]
        if request.prefer == "balanced" and request.max_price is not None:
            sorts += (BUDGET_SORT,)
        pool = dict.fromkeys(first.product_ids)
        for sort in sorts[1:]:
            pool.update(dict.fromkeys(self._search(query, sort).product_ids))
        customer = self._customer(request.customer_id)
        affinities = self.similarity.score(customer.history) if customer and self.similarity else {}
        if affinities:
            closest = sorted(affinities, key=lambda p: (-affinities[p].score, p))
            query_personal = replace(query, product_ids=closest[:PERSONAL_CANDIDATES])
            pool.update(dict.fromkeys(self._search(query_personal, "relevance").product_ids))

        candidates = self._load(list(pool))
        today = self.today or utc_today()  # not the host's local date
        threshold = _bestseller_threshold(first, candidates)
        # scaled by the customer's strongest affinity over all products, not just these, so
        # that a category they never looked at gets weak personal scores
        strongest = max((a.score for a in affinities.values()), default=0.0)
        for candidate in candidates:
            if candidate.id in affinities:
                candidate.affinity = affinities[candidate.id].score / strongest
                candidate.source = affinities[candidate.id].source
        self._score(candidates, request, customer, today)
        candidates.sort(key=_ORDER[request.prefer])
        chosen = candidates[: request.limit]
        titles = self._titles({c.source for c in chosen if c.source is not None})
        items = [
            Recommendation(
                c.id,
                round(c.score, 4),
                _reasons(c, request, customer, today, threshold, titles, self.weights),
            )
            for c in chosen
        ]
        return RecommendationResult(items, first.total, relaxed)

    # ------------------------------------------------------------------ constraints

    def _search(self, query: SearchQuery, sort: Sort, limit: int = POOL_SIZE) -> SearchResult:
        return search(self.session, replace(query, sort=sort, limit=limit), self.vocabulary)

    def _constrained(
        self, request: RecommendationRequest
    ) -> tuple[SearchQuery, list[str], SearchResult | None]:
        """The query to rank from, the constraints dropped to find anything, and its first pool
        search; no search result when nothing can be found."""
        base = SearchQuery(
            text=request.text,
            category=request.category,
            brands=list(request.brands),
            exclude_brands=list(request.exclude_brands),
            min_price=request.min_price,
            max_price=request.max_price,
            color=request.color,
            size=request.size,
            storage=request.storage,
            in_stock_only=request.in_stock_only,
            exclude_ids=list(request.exclude_product_ids),
            relax_text=False,
        )
        result = self._search(base, "relevance")
        if result.total:
            return base, [], result
        if base.exclude_ids and self._search(replace(base, exclude_ids=[]), "relevance", 1).total:
            return base, [], None  # every match has been shown: nothing to relax
        query, dropped = base, []
        for step in RELAXATION_ORDER:
            loosened = self._relax(query, step)
            if loosened is None:
                continue
            query = loosened
            dropped.append(step)
            result = self._search(query, "relevance")
            if result.total:
                break
        else:
            return base, [], None
        # drop as little as possible: put back what was dropped before and is not in the way
        for step in dropped[:-1]:
            restored = replace(query, **{step: getattr(base, step)})
            attempt = self._search(restored, "relevance")
            if attempt.total:
                query, result = restored, attempt
                dropped.remove(step)
        return query, dropped, result

    def _relax(self, query: SearchQuery, step: str) -> SearchQuery | None:
        """``query`` without the constraint ``step``, or None when it has no such constraint."""
        if step == "text":
            kept = " ".join(category_and_brand_words(query.text, self.vocabulary))
            return replace(query, text=kept) if kept != query.text.strip() else None
        if not getattr(query, step):
            return None
        return replace(query, **{step: False if step == "in_stock_only" else None})

    # ------------------------------------------------------------------ data

    def _customer(self, customer_id: int | None) -> _Customer | None:
        if customer_id is None:
            return None
        events = self.session.execute(
            select(CustomerEvent.product_id, CustomerEvent.at, CustomerEvent.kind)
            .where(CustomerEvent.customer_id == customer_id)
            .order_by(CustomerEvent.at.desc(), CustomerEvent.id.desc())
            .limit(HISTORY_EVENTS)
        ).all()
        history = recent_items((p, at, EVENT_WEIGHTS[kind]) for p, at, kind in events)
        return _Customer(history, {p for p, _, kind in events if kind == "purchase"})

    def _load(self, ids: list[int]) -> list[_Candidate]:
        if not ids:
            return []
        rows = self.session.execute(
            select(
                Product.id,
                Product.price,
                Product.list_price,
                Product.release_date,
                Product.rating,
                Product.sales_count,
            ).where(Product.id.in_(ids))
        )
        return [_Candidate(*row) for row in rows]

    def _titles(self, ids: set[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        rows = self.session.execute(
            select(Product.id, Product.title_zh, Product.title_en).where(Product.id.in_(ids))
        )
        return {pid: (zh, en) for pid, zh, en in rows}

    # ------------------------------------------------------------------ ranking

    def _score(
        self,
        candidates: list[_Candidate],
        request: RecommendationRequest,
        customer: _Customer | None,
        today: date,
    ) -> None:
        top_sales = max((c.sales for c in candidates), default=0)
        for c in candidates:
            c.signals = _signals(c, request, today, top_sales)
            c.score = sum(getattr(self.weights, name) * v for name, v in c.signals.items())
            if customer and c.id in customer.bought:
                c.score -= self.weights.already_bought


def _signals(
    c: _Candidate,
    request: RecommendationRequest,
    today: date,
    top_sales: int,
) -> dict[str, float]:
    """The candidate's ranking signals, each scaled to 0–1 (names as in RankingWeights)."""
    signals = dict.fromkeys(SIGNALS, 0.0)
    if top_sales:
        signals["popularity"] = math.log1p(c.sales) / math.log1p(top_sales)
    if c.release_date is not None:
        age = max(0, (today - c.release_date).days)
        signals["recency"] = 0.5 ** (age / RECENCY_HALF_LIFE_DAYS)
    if c.rating is not None:
        signals["rating"] = _clamp((float(c.rating) - RATING_FLOOR) / (5 - RATING_FLOOR))
    if request.max_price:
        target = float(request.max_price) * BUDGET_TARGET_SHARE
        signals["budget_fit"] = _clamp(float(c.price) / target)
    if _saving(c):
        signals["on_sale"] = _clamp(float(_saving(c) / c.list_price) / FULL_DISCOUNT_SHARE)
    signals["personal"] = c.affinity
    return signals


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _saving(c: _Candidate) -> Decimal:
    return c.list_price - c.price if c.list_price and c.list_price > c.price else Decimal(0)


def _bestseller_threshold(first: SearchResult, candidates: list[_Candidate]) -> int:
    """Sales needed to be among the best-selling ``BESTSELLER_SHARE`` of the matches.

    ``first`` lists the matches by sales, best first (up to POOL_SIZE of them).
    """
    sales = {c.id: c.sales for c in candidates}
    position = min(len(first.product_ids), math.ceil(first.total * BESTSELLER_SHARE)) - 1
    return max(1, sales[first.product_ids[max(0, position)]])


_ORDER: dict[str, Callable[[_Candidate], tuple]] = {
    "balanced": lambda c: (-c.score, c.id),
    "newest": lambda c: (
        -(c.release_date.year * 12 + c.release_date.month) if c.release_date else 0,
        -c.score,
        c.id,
    ),
    "cheapest": lambda c: (c.price, -c.score, c.id),
    "priciest": lambda c: (-c.price, -c.score, c.id),
    "popular": lambda c: (-c.sales, -c.score, c.id),
    "best_rated": lambda c: (-(c.rating or 0), -c.score, c.id),
}


# ---------------------------------------------------------------------- reasons


def _reasons(
    c: _Candidate,
    request: RecommendationRequest,
    customer: _Customer | None,
    today: date,
    bestseller_threshold: int,
    titles: dict[int, tuple[str, str]],
    weights: RankingWeights,
) -> list[Reason]:
    """One or two reasons: the one ``prefer`` asks for, the personal one, then those whose
    signal counts most."""
    options: list[tuple[float, Reason]] = []

    def offer(signal: str, code: str, **params: Any) -> None:
        strength = getattr(weights, signal) * c.signals[signal]
        if code in PREFER_REASONS.get(request.prefer, ()):
            strength += PREFER_REASON_BONUS
        elif signal == "personal":
            strength += PERSONAL_REASON_BONUS
        options.append((strength, Reason(code, params)))

    if c.source is not None and c.signals["personal"] >= PERSONAL_REASON_MIN:
        code = "also_bought" if customer and c.source in customer.bought else "also_viewed"
        zh, en = titles[c.source]
        offer("personal", code, product_id=c.source, title_zh=zh, title_en=en)
    if c.release_date is not None:
        if (c.release_date.year, c.release_date.month) == (today.year, today.month):
            offer("recency", "new_this_month", released=c.release_date.isoformat())
        elif 0 <= (today - c.release_date).days <= NEW_ARRIVAL_DAYS:
            offer("recency", "new_arrival", released=c.release_date.isoformat())
    if c.sales >= bestseller_threshold:
        offer("popularity", "bestseller", sales=c.sales)
    if c.rating is not None and c.rating >= TOP_RATED_MIN:
        offer("rating", "top_rated", rating=f"{c.rating:.1f}")
    if _saving(c):
        offer("on_sale", "on_sale", saving=f"{_saving(c):.2f}", list_price=f"{c.list_price:.2f}")
    if request.max_price is not None:
        offer("budget_fit", "fits_budget", max_price=f"{request.max_price:.2f}")
    options.sort(key=lambda option: (-option[0], REASON_CODES.index(option[1].code)))
    return [reason for _, reason in options[:MAX_REASONS]] or [Reason("matches_request", {})]


_TEXTS: dict[str, tuple[str, str]] = {  # code → (Chinese, English)
    "new_this_month": ("本月新品", "New this month"),
    "new_arrival": ("新品，{month_zh}上市", "New, out since {month_en}"),
    "bestseller": ("热销，已售 {sales} 件", "Bestseller, {sales:,} sold"),
    "top_rated": ("评分 {rating}", "Rated {rating}"),
    "fits_budget": ("在您 {max_price_yuan} 的预算内", "Within your {max_price_yuan} budget"),
    "on_sale": ("直降 {saving_yuan}", "{saving_yuan} off the list price"),
    "also_bought": (
        "买了 {title_zh} 的顾客也买了它",
        "Customers who bought {title_en} also bought this",
    ),
    "also_viewed": (
        "看过 {title_zh} 的顾客也看了它",
        "Customers who viewed {title_en} also viewed this",
    ),
    "matches_request": ("符合您的要求", "Matches what you asked for"),
}


def reason_text(reason: Reason, language: str) -> str:
    """The reason as a short phrase in ``language`` ("en"; anything else gets Chinese)."""
    zh, en = _TEXTS[reason.code]
    return (en if language == "en" else zh).format(**_display(reason.params))


def _display(params: dict) -> dict:
    """The params plus their display forms: months in both languages, amounts in yuan."""
    shown = dict(params)
    if "released" in params:
        released = date.fromisoformat(params["released"])
        shown["month_zh"] = f"{released.year}年{released.month}月"
        shown["month_en"] = f"{released:%B %Y}"
    for key in ("max_price", "saving"):
        if key in params:
            amount = Decimal(params[key])
            whole = amount == amount.to_integral_value()
            shown[f"{key}_yuan"] = f"¥{amount:.0f}" if whole else f"¥{amount:.2f}"
    return shown
