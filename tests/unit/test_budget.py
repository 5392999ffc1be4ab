from decimal import Decimal as D

import pytest

from kefu.budget import Budget, chinese_number, parse_budget


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("两千", 2000),
        ("三千五", 3500),
        ("一万二", 12000),
        ("十五", 15),
        ("三百五", 350),
        ("一百万亿", 10**14),
        ("三亿五千万", 350_000_000),
        ("零", 0),
    ],
)
def test_chinese_numerals(text, value):
    assert chinese_number(text) == value


@pytest.mark.parametrize(
    ("text", "minimum", "maximum"),
    [
        ("2000以内", None, D(2000)),
        ("不超过1500块", None, D(1500)),
        ("１５００元以下", None, D(1500)),
        ("5000以上", D(5000), None),
        ("三千到五千", D(3000), D(5000)),
        ("3k-5k", D(3000), D(5000)),
        ("between 3000 and 5000", D(3000), D(5000)),
        ("两千左右", D(1600), D(2400)),
        ("预算一万二", D(9600), D(14400)),
        ("around 800 yuan", D(640), D(960)),
    ],
)
def test_budgets(text, minimum, maximum):
    budget = parse_budget(text)
    assert (budget.minimum, budget.maximum, budget.currency) == (minimum, maximum, "CNY")
    assert budget.usable


def test_dollars_are_flagged_not_converted():
    assert parse_budget("under $300") == Budget(None, D(300), "USD")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0元", "not_positive"),
        ("负100元", "not_positive"),
        ("一百万亿元", "implausible"),
        ("5000以上1000以下", "contradictory"),
    ],
)
def test_impossible_budgets_say_why(text, problem):
    budget = parse_budget(text)
    assert budget.problem == problem and not budget.usable


@pytest.mark.parametrize("text", ["你好", "iPhone 15 有货吗", "买两件", "", "订单12345678901"])
def test_text_without_a_budget(text):
    assert parse_budget(text) is None


def test_a_bare_number_is_a_budget_only_when_one_was_asked_for():
    assert parse_budget("3000") is None
    assert parse_budget("3000", expected=True) == Budget(D(2400), D(3600))
    assert parse_budget("负100", expected=True).problem == "not_positive"


@pytest.mark.parametrize(
    ("text", "span_text"),
    [
        ("有没有两千左右的手机", "两千左右"),
        ("不超过1500块的耳机", "不超过1500块"),
        ("三千到五千吧", "三千到五千"),
        ("any laptop under $300?", "under $300"),
    ],
)
def test_span_covers_the_budget_phrase(text, span_text):
    budget = parse_budget(text)
    start, end = budget.span
    assert text[start:end] == span_text


@pytest.mark.parametrize(
    "text", ["2000以内", "三千到五千", "5000以上", "5000以上1000以下", "under $300"]
)
def test_value_round_trips(text):
    budget = parse_budget(text)
    assert Budget.from_value(budget.to_value()) == budget


def test_value_form_is_compact_and_rejects_other_text():
    assert parse_budget("2000以内").to_value() == "-2000 CNY"
    assert parse_budget("5000以上1000以下").to_value() == "5000-1000 CNY contradictory"
    assert Budget.from_value("两千以内") is None
