"""The pre-sales search state: budgets from slots, follow-ups and references."""

from decimal import Decimal as D

from kefu.budget import Budget
from kefu.presales import ANY, SearchState, budget_from_value, refine, targets


def test_budget_from_the_extractors_value_raw_text_or_skip():
    assert budget_from_value("-2000 CNY") == Budget(None, D("2000"), "CNY")
    assert budget_from_value("3000") == Budget(D("2400"), D("3600"), "CNY")
    assert budget_from_value(ANY) is None and budget_from_value(None) is None


def test_foreign_currency_is_converted_or_flagged():
    assert budget_from_value("-300 USD", {"USD": D("7.1")}) == Budget(None, D("2130"), "CNY")
    assert budget_from_value("-300 USD", {}).problem == "currency"


def test_request_carries_the_search_and_leaves_out_what_was_seen():
    state = SearchState(category="phones", brand="华为", budget=Budget(None, D("5000")), seen=[3])
    request = state.request(limit=3, customer_id=7)
    assert (request.category, request.brands, request.max_price) == ("phones", ["华为"], D("5000"))
    assert request.exclude_product_ids == [3] and request.customer_id == 7
    assert SearchState(category=ANY).request(3).category is None


def test_unusable_budget_is_not_a_constraint():
    state = SearchState(budget=Budget(D("5000"), D("1000"), problem="contradictory"))
    assert state.request(3).max_price is None


def test_refinements_change_the_search():
    state = SearchState(category="phones", brand="apple", seen=[1, 2, 3])
    prices, brands = [D("3999"), D("5999")], ["苹果"]
    cheaper = refine(state, "cheaper", prices, brands)
    assert cheaper.budget.maximum == D("3998.99") and cheaper.seen == []
    assert refine(state, "pricier", prices, brands).budget.minimum == D("5999.01")
    other = refine(state, "other_brand", prices, brands)
    assert other.brand is None and other.excluded_brands == ["apple", "苹果"]
    assert refine(state, "newest", prices, brands).prefer == "newest"
    assert refine(state, None, prices, brands).seen == [1, 2, 3]


def test_targets_prefer_positions_then_names_then_focus():
    shown = [10, 20, 30]
    assert targets(shown, [2], [99], 5) == [20]
    assert targets(shown, [], [99], 5) == [99]
    assert targets(shown, [], [], 5) == [5]
    assert targets([10], [], [], None) == [10]
    assert targets(shown, [], [], None) == []
