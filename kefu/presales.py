"""The pre-sales conversation's state, read without Rasa: what the customer is searching for and
which product they mean.

The actions keep the search in slots (category, brand, budget, colour…) and the products shown
in a list; these functions turn that state into a :class:`~kefu.recommend.RecommendationRequest`,
apply follow-ups ("更便宜的", "换个牌子") and resolve references ("第二个", "these two").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from kefu.budget import Budget, parse_budget
from kefu.recommend import RecommendationRequest

ANY = "any"  # the customer skipped the question ("随便" / "no preference")
CHEAPER_STEP = Decimal("0.01")


@dataclass
class SearchState:
    """What the customer asked for, as kept in the conversation."""

    category: str | None = None
    brand: str | None = None
    budget: Budget | None = None
    color: str | None = None
    size: str | None = None
    storage: str | None = None
    prefer: str = "balanced"
    excluded_brands: list[str] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)  # every product shown in this search

    def request(self, limit: int, customer_id: int | None = None) -> RecommendationRequest:
        """The recommendation request for the next page of this search."""
        budget = self.budget if self.budget is not None and self.budget.usable else None
        return RecommendationRequest(
            category=None if self.category in (None, ANY) else self.category,
            brands=[self.brand] if self.brand else [],
            exclude_brands=list(self.excluded_brands),
            min_price=budget.minimum if budget else None,
            max_price=budget.maximum if budget else None,
            color=self.color,
            size=self.size,
            storage=self.storage,
            prefer=self.prefer,  # type: ignore[arg-type]
            exclude_product_ids=list(self.seen),
            customer_id=customer_id,
            limit=limit,
        )


def budget_from_value(
    value: object, exchange_rates: dict[str, Decimal] | None = None
) -> Budget | None:
    """A budget from a slot value: the extractor's "3000-5000 CNY", a raw text, or None / "any".

    Amounts in another currency are converted to CNY with ``exchange_rates`` (CNY per unit).
    """
    if value is None or value == ANY:
        return None
    if not isinstance(value, str):
        return None
    budget = Budget.from_value(value) or parse_budget(value, expected=True)
    if budget is None or budget.currency == "CNY" or budget.problem:
        return budget
    rate = (exchange_rates or {}).get(budget.currency)
    if rate is None:
        return replace(budget, problem="currency")
    convert = lambda v: None if v is None else (v * rate).quantize(Decimal("1"))  # noqa: E731
    return Budget(convert(budget.minimum), convert(budget.maximum), "CNY")


def refine(
    state: SearchState,
    refinement: str | None,
    shown_prices: Iterable[Decimal],
    shown_brands: Iterable[str],
) -> SearchState:
    """The search after a follow-up about the products just shown.

    cheaper → below the cheapest shown; pricier → above the dearest shown; other_brand → none of
    the shown brands; newest / popular / best_rated → re-ordered.  Products already seen are not
    shown again only when paging ("还有吗"); a refinement starts a fresh list.
    """
    prices = sorted(shown_prices)
    new = replace(state, seen=[])
    if refinement == "cheaper" and prices:
        new.budget = Budget(minimum=None, maximum=prices[0] - CHEAPER_STEP, currency="CNY")
        new.prefer = "balanced"
    elif refinement == "pricier" and prices:
        new.budget = Budget(minimum=prices[-1] + CHEAPER_STEP, maximum=None, currency="CNY")
        new.prefer = "balanced"
    elif refinement == "other_brand":
        named = [state.brand] if state.brand else []  # "不要苹果的" names the brand to drop
        new.excluded_brands = list(dict.fromkeys([*state.excluded_brands, *named, *shown_brands]))
        new.brand = None
    elif refinement in ("newest", "popular", "best_rated"):
        new.prefer = refinement
    else:
        new.seen = list(state.seen)  # no refinement understood: show more of the same
    return new


def targets(
    shown: list[int],
    positions: Iterable[int],
    mentioned: list[int],
    focus: int | None,
) -> list[int]:
    """The products the customer means, best evidence first.

    Positions in the last list ("第二个") win, then products named in the message, then the
    product last talked about, then the only product shown.
    """
    from kefu.products import pick

    picked = pick(shown, positions)
    if picked:
        return picked
    if mentioned:
        return list(dict.fromkeys(mentioned))
    if focus is not None:
        return [focus]
    return list(shown) if len(shown) == 1 else []
