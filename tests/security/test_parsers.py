"""Crafted long inputs against every parser of customer text: the right answer, in linear time.

A regular expression that backtracks over a run of the text, or a loop that rescans the text
before each match, makes a parser's time grow with the square (or worse) of the input: a
1,000-character invoice title once took a second.  The inputs come from
:mod:`benchmarks.adversarial` (runs of each character class, separators, near-matches crafted
against each parser's expressions).

Time is not compared with a threshold in milliseconds (that would fail on a busy machine and
pass a quadratic parser on a fast one).  Instead the *growth* is measured: the CPU time of this
thread (not wall time: other processes do not count) for an input of 1,000 characters against
one of 250, the fastest of several runs each.  Linear work grows 4 times, quadratic work 16
times; a ratio above :data:`GROWTH_LIMIT` fails, after being measured again (noise only ever
slows a run down, so a quadratic parser cannot pass by luck, and a linear one gets a second
chance when the machine was busy).  :func:`test_the_measure_tells_quadratic_from_linear` checks
the measure itself on the expression that made the old invoice-title parser slow.
"""

from __future__ import annotations

import gc
import math
import re
import time
from collections.abc import Callable

import pytest

from benchmarks.adversarial import GENERIC, PARSERS, Shape, fill, parser, shapes
from kefu.text import MAX_PARSE_CHARS

SMALL, LARGE = 250, 1000
GROWTH_LIMIT = 8.0  # linear: 4; n log n: 5; quadratic: 16
ATTEMPTS = 3
BATCH_NS = 1_000_000  # calls are batched to take at least this long at the small size

# ---- measuring --------------------------------------------------------------------------------


def _cpu_ns(function: Callable[[str], object], text: str, number: int, repeat: int) -> float:
    """The least CPU time of this thread for one call, over ``repeat`` batches of ``number``
    (with the garbage collector paused, as :mod:`timeit` does: a collection walks every object
    of the process, whatever the parser did)."""
    best = math.inf
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.thread_time_ns()
            for _ in range(number):
                function(text)
            best = min(best, (time.thread_time_ns() - start) / number)
    finally:
        if collecting:
            gc.enable()
    return best


def growth(
    function: Callable[[str], object],
    make: Callable[[int], str],
    small: int = SMALL,
    large: int = LARGE,
) -> float:
    """How many times longer ``function`` takes on ``make(large)`` than on ``make(small)``:
    the least ratio of up to :data:`ATTEMPTS` measurements, stopping at the first within
    :data:`GROWTH_LIMIT`."""
    short, long_ = make(small), make(large)
    function(short)  # warm up: imports, compiled expressions, caches of the parser's own data
    once = max(1.0, _cpu_ns(function, short, 1, 1))
    number = max(1, min(50, math.ceil(BATCH_NS / once)))
    ratios = []
    for attempt in range(ATTEMPTS):
        repeat = 2 + 2 * attempt
        ratio = _cpu_ns(function, long_, number, repeat) / max(
            1.0, _cpu_ns(function, short, number, repeat)
        )
        ratios.append(ratio)
        if ratio <= GROWTH_LIMIT:
            break
    return min(ratios)


def _slow_shapes(name: str) -> dict[str, float]:
    function = parser(name)
    ratios = {shape.name: growth(function, shape.text) for shape in shapes(name)}
    return {shape: round(r, 1) for shape, r in ratios.items() if r > GROWTH_LIMIT}


# ---- the measure ------------------------------------------------------------------------------

# how the old parse_invoice_title read an English company name: from every character of a run,
# with spaces that "\s*,?\s*" could split in many ways
_OLD_COMPANY_EN = re.compile(
    r"[A-Za-z0-9&'.\- ]*[A-Za-z0-9)]\s*,?\s*\b(?:ltd|inc|co\.|limited)"
    r"(?:\s*,?\s*\b(?:ltd|inc|co\.|limited))*(?![A-Za-z])",
    re.IGNORECASE,
)


def test_the_measure_tells_quadratic_from_linear():
    def old(text: str) -> object:
        return list(_OLD_COMPANY_EN.finditer(text))

    assert growth(old, lambda n: fill(n, "1 ")) > GROWTH_LIMIT
    assert growth(str.split, lambda n: fill(n, "1 ")) <= GROWTH_LIMIT
    assert growth(lambda t: re.findall(r"\d+", t), lambda n: fill(n, "1 ")) <= GROWTH_LIMIT


# ---- linear time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    list(PARSERS),
)
def test_parser_time_grows_linearly_on_crafted_input(name):
    slow = _slow_shapes(name)
    assert not slow, f"{name} grows faster than linearly (1,000 vs 250 characters): {slow}"


# parsers that read only the first MAX_PARSE_CHARS characters (or less) of a text (not those
# that normalise one short value: a province name, a slot value)
CLIPPED = [
    name
    for name in PARSERS
    if (
        name.split(".")[0] in ("customer_input", "address", "budget", "references", "csat")
        and name not in ("address.normalize_province", "budget.Budget.from_value")
    )
    or name in ("sentiment.score/zh", "sentiment.score/en", "matcher.CatalogMatcher.match")
]


@pytest.mark.parametrize("name", CLIPPED)
def test_parser_reads_a_bounded_prefix_of_a_huge_text(name):
    function = parser(name)
    worst = max(
        (
            growth(function, shape.text, small=MAX_PARSE_CHARS, large=20 * MAX_PARSE_CHARS)
            for shape in GENERIC[:12]
        ),
    )
    assert worst <= 3.0, f"{name} reads more than {MAX_PARSE_CHARS} characters: {worst:.1f}"


@pytest.mark.parametrize("name", list(PARSERS))
def test_parser_answers_every_crafted_input(name):
    function = parser(name)
    for shape in shapes(name):
        for n in (1, 7, LARGE):
            function(shape.text(n))  # no exception: a crafted input is not an answer, not a crash


# ---- right answers on crafted input -----------------------------------------------------------


def test_invoice_title_after_a_long_crafted_lead():
    from kefu.customer_input import InvoiceTitle, parse_invoice_title

    title = "深圳市某某科技有限公司"
    assert parse_invoice_title(fill(900, "，") + "抬头是" + title) == InvoiceTitle(
        title, None, personal=False
    )
    assert parse_invoice_title(fill(900, " co 1") + ", title: Acme Trading Co., Ltd.") == (
        InvoiceTitle("Acme Trading Co., Ltd.", None, personal=False)
    )
    found = parse_invoice_title(
        "抬头：" + title + "，税号" + fill(20, "1 ") + fill(900, " ") + "91440300MA5FXXXX1X"
    )
    assert found is not None and found.title == title
    assert parse_invoice_title(fill(1000, "1 ")) is None
    assert parse_invoice_title(fill(1000, "公司", tail="a")) is None  # endings only, no name
    assert parse_invoice_title(fill(1000, "a", tail=" Ltd")) == InvoiceTitle(
        fill(1000, "a", tail=" Ltd"), None, personal=False
    )
    assert parse_invoice_title(fill(1000, "个人")).personal
    assert parse_invoice_title(fill(996, " ", "名称", "x")) is None


def test_company_endings_are_read_as_before():
    from kefu.customer_input import _stem_length_en, _stem_length_zh

    assert _stem_length_zh("深圳某某科技有限公司") == 6
    assert _stem_length_zh("中心公司") == 0
    assert _stem_length_zh("公司" * 400) == 0
    assert _stem_length_zh("公司" * 400 + "a公司") == 801
    assert _stem_length_en("Acme Co., Ltd.") == 4
    assert _stem_length_en("Acme Holdings Group, Inc") == 4
    assert _stem_length_en("Co., Ltd") == 0
    assert _stem_length_en("ltd " * 200 + "zz ltd") == 802


def test_negations_are_read_next_to_the_phrase_only():
    from kefu.customer_input import (
        mentions_last_order,
        parse_newsletter_choice,
        parse_return_reason,
    )

    assert parse_return_reason(fill(1000, "不是坏了")) is None
    assert parse_return_reason(fill(996, "不是坏了") + "坏了") == "defect"
    assert parse_return_reason("不是" + fill(998, " ") + "坏了") is None  # spaces count once
    assert parse_return_reason("cannot " + "x" * 45 + " broken") == "defect"
    assert parse_return_reason("not " + "x" * 60 + " broken") == "defect"  # three words away
    assert parse_newsletter_choice(fill(1000, "不要订阅")) == "unsubscribe"
    assert mentions_last_order(fill(1000, "不是最近的订单")) is False
    assert mentions_last_order(fill(1000, "my last order ")) is True


def test_address_in_a_long_crafted_text():
    from kefu.address import MAX_PARTS, mobile_number, parse_address

    parsed = parse_address("广东省深圳市南山区科技园路18号3栋502 张三 13812345678" + fill(900, " "))
    assert parsed.complete and parsed.fields["phone"] == "13812345678"
    assert parsed.fields["detail"] == "科技园路18号3栋502"
    assert parse_address(fill(1000, "请")).missing == (
        "recipient",
        "phone",
        "province",
        "city",
        "detail",
    )
    thanks = parse_address("北京市朝阳区建国路88号 李四 13912345678 谢谢" + fill(900, "!"))
    assert thanks.fields["detail"] == "建国路88号" and thanks.complete
    assert parse_address(fill(1000, "a,")).missing  # no address in junk, many parts
    assert len(fill(1000, "a,").split(",")) > MAX_PARTS
    assert mobile_number("电话" + fill(990, " ") + "13812345678") == "13812345678"
    assert mobile_number("电话" + fill(998, " ") + "x") is None


def test_budget_in_a_long_crafted_text():
    from decimal import Decimal

    from kefu.budget import parse_budget

    assert parse_budget(fill(1000, "1 ")) is None  # bare numbers are no budget
    found = parse_budget("不超过" + fill(500, " ") + "3000元")
    assert found.maximum == Decimal(3000) and found.minimum is None
    ranged = parse_budget(fill(600, "1") + fill(390, " ") + "到2000")
    assert ranged.problem == "implausible"  # a 600-digit amount is no budget
    assert parse_budget("1" * 40, expected=True).problem == "implausible"  # not an exception
    assert parse_budget(fill(1000, "三千元以上 ")).minimum == Decimal(3000)


def test_references_and_ratings_in_long_crafted_text():
    from kefu.csat import parse_rating
    from kefu.references import MAX_POSITION, find_positions, parse_positions

    assert parse_positions(fill(1000, "第一个和")) == [1]
    assert len(find_positions(fill(1000, "第一个和"))) == 250
    listed = "第一" + fill(998, "、二")
    assert find_positions(listed) == [(0, 2 + 2 * MAX_POSITION, [1] + [2] * MAX_POSITION)]
    assert parse_positions(listed) == [1, 2]  # a list is followed MAX_POSITION items at most
    assert parse_positions(fill(1000, "the second one ")) == [2]
    assert parse_rating(fill(1000, "1")).problem == "out_of_range"  # not an exception
    assert parse_rating(fill(1000, "5分 ")).rating == 5
    assert parse_rating(fill(1000, "4/5 ")).rating == 4


def test_every_parser_is_in_the_benchmark():
    """A new parser of customer text belongs in benchmarks/adversarial.py (and so here)."""
    import kefu.address
    import kefu.budget
    import kefu.csat
    import kefu.customer_input
    import kefu.references

    public = {
        f"{module.__name__.removeprefix('kefu.')}.{name}"
        for module in (kefu.customer_input, kefu.address, kefu.budget, kefu.references, kefu.csat)
        for name in dir(module)
        if name.startswith(("parse_", "find_", "mentions_")) and callable(getattr(module, name))
    }
    covered = {name.split("/")[0] for name in PARSERS}
    wrapped = {"references.parse_positions", "references.parse_refinement"}  # find_* inside
    assert public - covered - wrapped == set()


def test_shapes_are_the_length_asked_for():
    for shape in (*GENERIC, Shape("x", "ab", "head", "tail")):
        assert [len(shape.text(n)) for n in (LARGE, 17)] == [LARGE, 17]
