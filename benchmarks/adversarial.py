"""Crafted long inputs against every parser of customer text, timed against a budget.

Each parser in :data:`PARSERS` reads what a customer types (a budget, an address, an invoice
title, a rating, ...).  :func:`cases` crafts inputs of a given length against the regular
expressions and loops of each one: long runs of one character class, separators repeated,
digits, CJK, and near-matches (a lead word followed by a long run that never completes the
match) that make a backtracking regex or a per-match rescan of the text blow up.

Run as a program it times every parser on every crafted input of :data:`LENGTH` (1,000)
characters, writes ``benchmarks/results/adversarial.json`` with each parser's worst time and
whether it is within :data:`BUDGET_MS`, and exits non-zero when one is not.  The unit test
``tests/security/test_parsers.py`` uses the same inputs to check that the work grows linearly
with the length of the input.

Usage: python -m benchmarks.adversarial [--length 1000] [--budget-ms 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LENGTH = 1000
BUDGET_MS = 50.0

Parser = Callable[[str], object]


def fill(n: int, unit: str, head: str = "", tail: str = "") -> str:
    """``head`` + ``unit`` repeated + ``tail``, exactly ``n`` characters (``tail`` kept whole)."""
    body = max(0, n - len(head) - len(tail))
    return (head + unit * (body // max(1, len(unit)) + 1))[: n - len(tail)] + tail


@dataclass(frozen=True)
class Shape:
    """A family of crafted inputs: ``unit`` repeated between ``head`` and ``tail``."""

    name: str
    unit: str
    head: str = ""
    tail: str = ""

    def text(self, n: int) -> str:
        return fill(n, self.unit, self.head, self.tail)


# Against every parser: runs of each character class, separators repeated, near-matches.
GENERIC: tuple[Shape, ...] = (
    Shape("spaces", " ", "a", "x"),
    Shape("leading-spaces", " ", "", "x"),
    Shape("spaces-after-digit", " ", "1", "x"),
    Shape("spaces-after-cjk", " ", "深", "x"),
    Shape("tabs", "\t", "a", "x"),
    Shape("newlines", "\n", "a", "x"),
    Shape("ideographic-spaces", "\u3000", "a", "x"),
    Shape("digits", "1"),
    Shape("digits-then-letter", "1", "", "x"),
    Shape("full-width-digits", "１"),
    Shape("letters", "a"),
    Shape("upper", "A"),
    Shape("cjk", "深"),
    Shape("cjk-numerals", "一二三"),
    Shape("digit-space", "1 "),
    Shape("digit-spaces", "1  "),
    Shape("letter-space", "a "),
    Shape("word-space", "abc "),
    Shape("digit-dash", "1-"),
    Shape("digit-dot", "1."),
    Shape("letter-dot", "a."),
    Shape("digit-comma", "1,"),
    Shape("cjk-comma", "深，"),
    Shape("cjk-space", "深 "),
    Shape("dash-space", "- "),
    Shape("colon-space", ": "),
    Shape("slash", "1/"),
    Shape("plus", "1+"),
    Shape("hash", "#"),
    Shape("bangs", "!"),
    Shape("questions", "？"),
    Shape("stars", "★"),
    Shape("tildes", "~"),
    Shape("apostrophes", "a'"),
    Shape("parens", "(a)"),
    Shape("mixed", "a1深 ,.-"),
    Shape("emoji", "😀"),
    Shape("control", "\x01"),
)

# Against one parser each: lead words with runs that never complete, repeated phrases.
SPECIFIC: dict[str, tuple[Shape, ...]] = {
    "customer_input.parse_invoice_title": (
        Shape("space-co-1", " co 1"),
        Shape("co-space", "co "),
        Shape("ltd-space", "ltd ", tail="ltdx"),
        Shape("ltd-comma", "ltd, "),
        Shape("name-space", "a Ltd "),
        Shape("company-run", "公司", tail="a"),
        Shape("company-suffixes", "公司", "a", "a公司"),
        Shape("name-then-suffix", "深", tail="有限公司"),
        Shape("lead-spaces", " ", "名称", "x"),
        Shape("title-spaces", " ", "title:", ""),
        Shape("tax-lead-spaces", " ", "税号", "x"),
        Shape("tax-lead-digits", "1 ", "税号"),
        Shape("lead-in-words", "抬头是"),
        Shape("lead-verbs", "请麻烦帮我"),
        Shape("en-lead-words", "the ", tail="Acme Ltd"),
        Shape("personal", "个人"),
        Shape("not-personal", "不是个人"),
        Shape("llc", "l.l.c. "),
        Shape("tax-like", "91440300MA5", tail=""),
    ),
    "customer_input.mentions_last_order": (
        Shape("phrase", "最近的订单"),
        Shape("negated", "不是最近的订单"),
        Shape("en-phrase", "my last order "),
        Shape("my-spaces", " ", "my", "x"),
        Shape("negation-spaces", " ", "不", "最近的订单"),
    ),
    "customer_input.parse_return_reason": (
        Shape("phrase", "坏了"),
        Shape("negated", "不是坏了"),
        Shape("en-phrase", "broken "),
        Shape("en-negated", "not broken "),
        Shape("mixed", "不喜欢坏了"),
    ),
    "customer_input.parse_newsletter_choice": (
        Shape("phrase", "订阅"),
        Shape("negated", "不要订阅"),
        Shape("refusal-window", "不要推"),
        Shape("td-spaces", " ", "td", "x"),
        Shape("en-phrase", "unsubscribe "),
    ),
    "customer_input.parse_invoice_kind": (Shape("phrase", "专票"),),
    "address.parse_address": (
        Shape("address", "广东省深圳市南山区科技园路18号"),
        Shape("phone-lead-spaces", " ", "电话", "x"),
        Shape("phone-lead-digits", "1 ", "电话"),
        Shape("recipient-spaces", " ", "收件人", "1"),
        Shape("name-spaces", " ", "name", "1"),
        Shape("recipient-words", "收件人是"),
        Shape("leads", "请"),
        Shape("leads-mixed", "请改成地址 "),
        Shape("thanks", "谢谢"),
        Shape("thanks-bangs", "!", "北京市朝阳区建国路88号谢谢"),
        Shape("parts", "a,"),
        Shape("place-parts", "Shenzhen, "),
        Shape("district-spaces", " ", "a", "x district"),
        Shape("district-words", "a district "),
        Shape("postcode-spaces", " ", "邮编", "x"),
        Shape("cjk-spaces", " ", "广东省深圳市南山区a", "1"),
        Shape("phones", "13812345678 "),
        Shape("provinces", "广东"),
        Shape("my-address", "my ", tail="x"),
    ),
    "address.mobile_number": (
        Shape("phone-lead-spaces", " ", "电话", "x"),
        Shape("spaced-digits", "1 3 8 "),
    ),
    "budget.parse_budget": (
        Shape("range-spaces", " ", "1", "x"),
        Shape("digits-spaces", " ", "1" * 300, "x"),
        Shape("numbers", "1 "),
        Shape("number-units", "100元 "),
        Shape("leads", "不超过1 "),
        Shape("lead-spaces", " ", "不超过", "1"),
        Shape("minus-spaces", " ", "minus", "x"),
        Shape("between-spaces", " ", "between", "x"),
        Shape("cn-numbers", "三千 "),
        Shape("cn-run", "三", tail="到"),
        Shape("approx", "~ "),
        Shape("tails", "元以内"),
    ),
    "budget.Budget.from_value": (Shape("digits", "1", tail="x"),),
    "references.find_positions": (
        Shape("ordinals", "第一个"),
        Shape("ordinal-list", "第一个和"),
        Shape("list", "1和"),
        Shape("bare-list", "1 and 2, "),
        Shape("bare-list-lead", "比较1和3 "),
        Shape("last-spaces", " ", "最后", "x"),
        Shape("marker-spaces", " ", "#", "x"),
        Shape("en-ordinals", "the second one "),
        Shape("en-ordinal-words", "second "),
        Shape("en-ordinal-list", "1st and "),
        Shape("first-n", "前两个"),
        Shape("from-end", "倒数第二个"),
        Shape("words", "abc "),
    ),
    "references.find_refinement": (
        Shape("new-spaces", " ", "new", "x"),
        Shape("exclude", "不要苹果的"),
        Shape("exclude-spaces", " ", "不要", "1"),
        Shape("en-exclude", "not apple "),
        Shape("en-not", "not "),
    ),
    "csat.parse_rating": (
        Shape("fraction-digits", "1", tail="x"),
        Shape("fraction-cn", "五", tail="x"),
        Shape("fractions", "4/5 "),
        Shape("units", "5分 "),
        Shape("words", "good "),
        Shape("filler", "给你"),
    ),
    "sentiment.score/zh": (
        Shape("cues", "太差了"),
        Shape("negated", "不好"),
        Shape("question", "吗!"),
    ),
    "sentiment.score/en": (
        Shape("cues", "garbage "),
        Shape("negated", "not good "),
        Shape("negators", "not "),
        Shape("negator-spaces", " ", "not", "good"),
    ),
    "sentiment.frustrated": (
        Shape("repeat", "where is my order "),
        Shape("alternating", "ab"),
    ),
    "report.metrics.scrub": (
        Shape("order-numbers", "2507021316645123 "),
        Shape("phone-cues", "尾号6093 "),
        Shape("digit-groups", "1 2 3 4 5 6 7 8 "),
    ),
    "report.metrics.price_band": (Shape("spaces", " ", "1", "x"),),
    "identity.find_order_number": (
        Shape("digit-groups", "1 "),
        Shape("digit-dashes", "12-"),
        Shape("order-like", "25070213 "),
    ),
    "identity.find_phone": (
        Shape("spaces", " ", "是", "x"),
        Shape("cue", "尾号 "),
    ),
    "identity.redact": (
        Shape("email-local", "a"),
        Shape("email-like", "a.b"),
        Shape("at", "a@a"),
    ),
}


# ---- the parsers ------------------------------------------------------------------------------


@cache
def _catalog_matcher() -> Parser:
    from kefu.matcher import CatalogMatcher, CatalogTerms

    terms = CatalogTerms(
        categories=[("phone", ["手机", "phone", "智能手机"]), ("laptop", ["笔记本", "laptop"])],
        brands=[("apple", ["苹果", "Apple", "apple"]), ("xiaomi", ["小米", "Xiaomi", "mi"])],
        products=[("P1", ["iPhone 17 Pro", "iPhone 17"]), ("P2", ["小米15 Ultra", "Xiaomi 15"])],
        colors=[("黑色", ["黑色", "black"]), ("深空灰色", ["深空灰色", "space gray"])],
        sizes=["M", "XL", "42"],
        storages=["256GB", "12GB+512GB"],
    )
    return CatalogMatcher(terms).match


def _segment(name: str) -> Parser:
    from kefu import segment

    function = getattr(segment, name)

    def call(text: str) -> object:
        segment._terms.cache_clear()  # the caches would time a dictionary look-up
        segment._chunk_terms.cache_clear()
        return function(text)

    return call


def _wechat(text: str) -> object:
    from xml.sax.saxutils import escape

    from kefu.wechat import WeChatProtocolError, parse_message

    body = (
        "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType>text</MsgType>"
        f"<Content>{escape(text)}</Content><MsgId>1</MsgId></xml>"
    )
    try:
        return parse_message(body.encode("utf-8"))
    except WeChatProtocolError:  # control characters are not XML: refused, as they should be
        return None


def _parsers() -> dict[str, Callable[[], Parser]]:
    """Name → factory of the parser (imports happen when a parser is first used)."""

    def attr(module: str, name: str) -> Callable[[], Parser]:
        def factory() -> Parser:
            import importlib

            target: object = importlib.import_module(module)
            for part in name.split("."):
                target = getattr(target, part)
            return target  # type: ignore[return-value]

        return factory

    def scrub() -> Parser:
        from kefu.report.metrics import scrub

        return scrub.__wrapped__  # not the cache

    def sentiment(language: str) -> Callable[[], Parser]:
        def factory() -> Parser:
            from kefu import sentiment

            sentiment.preload()
            return lambda text: sentiment.score(text, language)

        return factory

    def frustrated() -> Parser:
        from kefu.sentiment import frustrated

        return lambda text: frustrated([(text[::-1], 0.0), (text, 0.0)])

    def budget_expected() -> Parser:
        from kefu.budget import parse_budget

        return lambda text: parse_budget(text, expected=True)

    return {
        "customer_input.mentions_last_order": attr("kefu.customer_input", "mentions_last_order"),
        "customer_input.parse_return_reason": attr("kefu.customer_input", "parse_return_reason"),
        "customer_input.parse_newsletter_choice": attr(
            "kefu.customer_input", "parse_newsletter_choice"
        ),
        "customer_input.parse_invoice_title": attr("kefu.customer_input", "parse_invoice_title"),
        "customer_input.parse_invoice_kind": attr("kefu.customer_input", "parse_invoice_kind"),
        "address.parse_address": attr("kefu.address", "parse_address"),
        "address.mobile_number": attr("kefu.address", "mobile_number"),
        "address.normalize_province": attr("kefu.address", "normalize_province"),
        "budget.parse_budget": attr("kefu.budget", "parse_budget"),
        "budget.parse_budget/expected": budget_expected,
        "budget.Budget.from_value": attr("kefu.budget", "Budget.from_value"),
        "references.find_positions": attr("kefu.references", "find_positions"),
        "references.find_refinement": attr("kefu.references", "find_refinement"),
        "language.detect_language": attr("kefu.language", "detect_language"),
        "csat.parse_rating": attr("kefu.csat", "parse_rating"),
        "sentiment.score/zh": sentiment("zh"),
        "sentiment.score/en": sentiment("en"),
        "sentiment.frustrated": frustrated,
        "segment.terms": lambda: _segment("terms"),
        "segment.coarse_words": lambda: _segment("coarse_words"),
        "matcher.CatalogMatcher.match": _catalog_matcher,
        "wechat.parse_message": lambda: _wechat,
        "report.metrics.scrub": scrub,
        "report.metrics.keywords": lambda: _segment_keywords(),
        "report.metrics.price_band": attr("kefu.report.metrics", "price_band"),
        "change_request.asks_for_change": lambda: _asks_for_change,
        "handoff_text.mask_proofs": attr("kefu.handoff_text", "mask_proofs"),
        "identity.find_order_number": attr("kefu.identity", "find_order_number"),
        "identity.find_phone": attr("kefu.identity", "find_phone"),
        "identity.parse_phone_last4": attr("kefu.identity", "parse_phone_last4"),
        "identity.redact": attr("kefu.identity", "redact"),
    }


def _asks_for_change(text: str) -> object:
    from kefu.change_request import asks_for_change

    return asks_for_change("cancel_order", text)


def _segment_keywords() -> Parser:
    from kefu import segment
    from kefu.report.metrics import keywords

    def call(text: str) -> object:
        segment._terms.cache_clear()
        segment._chunk_terms.cache_clear()
        return keywords(text)

    return call


PARSERS: dict[str, Callable[[], Parser]] = _parsers()


@cache
def parser(name: str) -> Parser:
    """The parser called ``name`` (a key of :data:`PARSERS`), imported on first use."""
    return PARSERS[name]()


def shapes(name: str) -> tuple[Shape, ...]:
    """The crafted input families for parser ``name``: the generic ones and its own."""
    base = name.split("/")[0]
    return GENERIC + SPECIFIC.get(name, ()) + (SPECIFIC.get(base, ()) if base != name else ())


def cases() -> Iterator[tuple[str, Shape]]:
    """Every (parser name, input family) pair."""
    for name in PARSERS:
        for shape in shapes(name):
            yield name, shape


# ---- timing -----------------------------------------------------------------------------------


def time_call(function: Parser, text: str, repeat: int = 3) -> float:
    """The fastest of ``repeat`` calls, in seconds (the others met a busy machine), with the
    garbage collector paused as :mod:`timeit` does."""
    best = float("inf")
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            function(text)
            best = min(best, time.perf_counter() - start)
    finally:
        if collecting:
            gc.enable()
    return best


def run(length: int = LENGTH, budget_ms: float = BUDGET_MS, repeat: int = 3) -> dict:
    """Each parser's worst time over its crafted inputs of ``length`` characters."""
    report: dict = {
        "length": length,
        "budget_ms": budget_ms,
        "repeat": repeat,
        "parsers": {},
    }
    for name in PARSERS:
        worst_ms, worst_shape = 0.0, ""
        try:
            function = parser(name)
            function("warm up")
            for shape in shapes(name):
                elapsed = time_call(function, shape.text(length), repeat) * 1000
                if elapsed > worst_ms:
                    worst_ms, worst_shape = elapsed, shape.name
        except Exception as error:  # a parser that fails misses its budget, with the reason
            report["parsers"][name] = {"error": f"{type(error).__name__}: {error}", "met": False}
            continue
        report["parsers"][name] = {
            "worst_ms": round(worst_ms, 3),
            "worst_input": worst_shape,
            "inputs": len(shapes(name)),
            "met": worst_ms <= budget_ms,
        }
    report["met"] = all(entry["met"] for entry in report["parsers"].values())
    return report


def main(argv: list[str] | None = None) -> int:
    parser_ = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser_.add_argument("--length", type=int, default=LENGTH)
    parser_.add_argument("--budget-ms", type=float, default=BUDGET_MS)
    parser_.add_argument("--repeat", type=int, default=3)
    parser_.add_argument("--out", type=Path, default=RESULTS / "adversarial.json")
    args = parser_.parse_args(argv)
    report = run(args.length, args.budget_ms, args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    width = max(map(len, report["parsers"]))
    for name, entry in report["parsers"].items():
        if "error" in entry:
            print(f"{name:<{width}}  FAILED: {entry['error']}")
            continue
        verdict = "ok" if entry["met"] else "OVER BUDGET"
        print(f"{name:<{width}}  {entry['worst_ms']:8.2f} ms  ({entry['worst_input']})  {verdict}")
    print(
        f"budget {args.budget_ms:g} ms per call on {args.length}-character inputs: "
        + ("met" if report["met"] else "NOT met")
        + f"; written to {args.out}"
    )
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
