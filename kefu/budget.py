"""Budgets as customers write them, in Chinese and English.

"2000以内", "两千左右", "三千到五千", "3k-5k", "under $300", "不超过1500块", "１５００元以下",
"5000以上" → a :class:`Budget` (minimum and/or maximum in the stated currency).  Chinese numerals
("两千", "三千五", "一万二", "1.5万") and full-width digits are understood.  Impossible budgets
("0元", "负100", "一百万亿", "5000以上1000以下") come back with a ``problem`` so the bot can say
so politely instead of searching for nonsense.

The first :data:`kefu.text.MAX_PARSE_CHARS` characters are read, in time linear in them
(tests/security/test_parsers.py): the words that make an amount a maximum or a minimum are
looked for right next to it, not in the whole text before and after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal

from kefu.text import clip, fold_width

MAX_PLAUSIBLE = Decimal("10000000")  # ¥10 million: above this no shop budget is meant
APPROX = Decimal("0.2")  # "左右" / "around": ±20 %
_HUGE = Decimal("1e26")  # a larger margin has more whole digits than a Decimal holds (28)

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_SUFFIX = {"k": 1000, "千": 1000, "w": 10_000, "万": 10_000, "百": 100, "十": 10}
_CN = "零〇一二两三四五六七八九十百千万亿"
NUMBER = (
    rf"(?P<neg>负|-|minus\s*)?"
    rf"(?:(?P<num>\d+(?:\.\d+)?)\s*(?P<suffix>k|w|千|万|百|十)?|(?P<cn>[{_CN}]+))"
)
_NUMBER = re.compile(NUMBER, re.IGNORECASE)
_CURRENCY = re.compile(r"\$|usd|dollars?|美元|美金", re.IGNORECASE)
# The first amount of a range starts where its digits (or Chinese numerals) start: trying every
# digit of a long run as a start would read the run once per digit.  Its unit, the currency and
# the spaces around them are written so that a run of spaces can be read one way only.
_RANGE_FIRST = (
    rf"(?P<a_neg>负|-|minus\s*)?"
    rf"(?:(?<!\d)(?P<a_num>\d+(?:\.\d+)?)(?:\s*(?P<a_suffix>k|w|千|万|百|十))?"
    rf"|(?<![{_CN}])(?P<a_cn>[{_CN}]+))"
)
_RANGE = re.compile(
    rf"(?:between\s+)?(?P<a>{_RANGE_FIRST})\s*(?:(?:元|块钱?|rmb|yuan)\s*)?"
    rf"(?:到|至|-|~|～|—|and|to)\s*(?:\$\s*)?(?P<b>{NUMBER.replace('?P<', '?P<b_')})",
    re.IGNORECASE,
)
_MAX_BEFORE = re.compile(
    r"(?:不超过|不到|低于|少于|最多|最高|under|below|less than|up to|max(?:imum)?|within|<=?)"
    r"\s*(?:[¥$]\s*)?$",
    re.IGNORECASE,
)
_MIN_BEFORE = re.compile(
    r"(?:至少|超过|高于|大于|多于|over|above|more than|at least|min(?:imum)?|>=?)\s*(?:[¥$]\s*)?$",
    re.IGNORECASE,
)
# matched right after an amount (``pattern.match(text, end)``)
_UNIT_AFTER = r"\s*(?:(?:元|块钱?|rmb|yuan|dollars?|美元)\s*)?"
_MAX_AFTER = re.compile(
    _UNIT_AFTER + r"(?:以内|以下|之内|内|封顶|or less|max|and below)", re.IGNORECASE
)
_MIN_AFTER = re.compile(
    _UNIT_AFTER + r"(?:以上|起|往上|or more|\+|and up|and above)", re.IGNORECASE
)
# what may follow an amount and still belongs to it ("1500块以内", "两千左右", "3000 or less")
_TAIL = re.compile(
    r"(?:\s*(?:元|块钱?|rmb|yuan|dollars?|美元|以内|以下|之内|封顶|以上|往上|左右|上下|"
    r"or less|or more|and below|and above|and up|max|\+))*",
    re.IGNORECASE,
)
_MONEY = re.compile(r"元|块|¥|￥|\$|rmb|yuan|预算|budget|价位|价格|price", re.IGNORECASE)
_APPROX = re.compile(
    r"左右|上下|差不多|大概|大约|around|about|approx|roughly|~\s*\d", re.IGNORECASE
)


_VALUE = re.compile(r"^(-?\d+(?:\.\d+)?)?-(-?\d+(?:\.\d+)?)? ([A-Z]{3})(?: ([a-z_]+))?$")


def _plain(value: Decimal) -> str:
    """3000 for 3000.00, 12.5 for 12.50: no exponent, no trailing zeros."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Budget:
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    currency: str = "CNY"
    problem: str | None = None  # "not_positive", "implausible", "contradictory"
    span: tuple[int, int] | None = field(default=None, compare=False)  # where in the text

    @property
    def usable(self) -> bool:
        return self.problem is None and (self.minimum is not None or self.maximum is not None)

    def to_value(self) -> str:
        """A compact text form for entity and slot values: "3000-5000 CNY", "-2000 CNY",
        "5000- CNY", "5000-1000 CNY contradictory"; :meth:`from_value` reads it back."""
        low = "" if self.minimum is None else _plain(self.minimum)
        high = "" if self.maximum is None else _plain(self.maximum)
        return f"{low}-{high} {self.currency}" + (f" {self.problem}" if self.problem else "")

    @classmethod
    def from_value(cls, value: str) -> Budget | None:
        """The budget written by :meth:`to_value`, or None when ``value`` is not in that form."""
        match = _VALUE.match(value.strip())
        if not match:
            return None
        low, high, currency, problem = match.groups()
        return cls(
            Decimal(low) if low else None, Decimal(high) if high else None, currency, problem
        )


def chinese_number(text: str) -> int | None:
    """Value of a Chinese numeral: 两千 → 2000, 三千五 → 3500, 一万二 → 12000, 一百万亿 → 10¹⁴."""
    if not text or any(c not in _DIGITS and c not in _UNITS for c in text):
        return None
    total, section, number, last_unit = 0, 0, None, None
    for char in text:
        if char in _DIGITS:
            number = _DIGITS[char]
            continue
        unit = _UNITS[char]
        if unit == 100_000_000:
            total = (total + section + (number or 0)) * unit
            section = 0
        elif unit == 10_000:
            total += (section + (number or 0)) * unit
            section = 0
        else:
            section += (1 if number is None else number) * unit
        number, last_unit = None, unit
    if number is not None:
        # "三千五" is 3500 and "一万二" 12000: a trailing digit counts in the unit below
        number *= last_unit // 10 if last_unit and last_unit >= 100 else 1
    return total + section + (number or 0)


def _value(match: re.Match, prefix: str = "") -> Decimal | None:
    group = lambda name: match.group(prefix + name)  # noqa: E731
    if group("num"):
        value = Decimal(group("num"))
        suffix = (group("suffix") or "").lower()
        value *= _SUFFIX.get(suffix, 1)
    else:
        number = chinese_number(group("cn") or "")
        if number is None:
            return None
        value = Decimal(number)
    return -value if group("neg") else value


def parse_budget(text: str, expected: bool = False) -> Budget | None:
    """The budget in ``text``, or ``None`` when the text states no amount.

    A bare number ("3000") is a budget only when ``expected`` (the bot has just asked for one)
    or when the text says it is money or approximate ("3000块", "3000左右").
    """
    text = fold_width(clip(text))  # same length as the input: spans stay valid
    currency = "USD" if _CURRENCY.search(text) else "CNY"
    found = _RANGE.search(text)
    if found:
        a, b = _value(found, "a_"), _value(found, "b_")
        if a is not None and b is not None:
            low, high = sorted((a, b))
            return _checked(Budget(low, high, currency, span=found.span()))
    minimum = maximum = None
    approx_value = None
    start, end = len(text), 0
    for match in _NUMBER.finditer(text):
        value = _value(match)
        if value is None or (
            match.group("cn") and len(match.group("cn")) == 1 and match.group("cn") in "一两"
        ):
            continue
        low = _lead_window(text, match.start())
        max_lead = _MAX_BEFORE.search(text, low, match.start())
        min_lead = _MIN_BEFORE.search(text, low, match.start())
        lead = max_lead or min_lead
        start = min(start, lead.start() if lead else match.start())
        end = max(end, _TAIL.match(text, match.end()).end())
        if max_lead or _MAX_AFTER.match(text, match.end()):
            maximum = value if maximum is None else min(maximum, value)
        elif min_lead or _MIN_AFTER.match(text, match.end()):
            minimum = value if minimum is None else max(minimum, value)
        else:
            approx_value = value
    if minimum is None and maximum is None and approx_value is None:
        return None
    if minimum is None and maximum is None:
        if not (expected or _APPROX.search(text) or _MONEY.search(text)):
            return None  # a bare number ("iPhone 15") is not a budget
        if abs(approx_value) > _HUGE:  # too many digits to round a margin: flagged below
            margin = Decimal(0)
        else:
            margin = (abs(approx_value) * APPROX).quantize(Decimal("1"))
        return _checked(
            Budget(approx_value - margin, approx_value + margin, currency, span=(start, end)),
            stated=approx_value,
        )
    if minimum is not None and maximum is not None and minimum > maximum:
        return Budget(minimum, maximum, currency, problem="contradictory", span=(start, end))
    return _checked(Budget(minimum, maximum, currency, span=(start, end)))


_LEAD_REACH = 12  # longer than any word before an amount ("not more than", "maximum")


def _lead_window(text: str, start: int) -> int:
    """Where to look for a word like "不超过" / "under" before the amount at ``start``: a few
    characters before the spaces and currency sign in front of it."""
    low = start
    while low > 0 and (text[low - 1].isspace() or text[low - 1] in "¥$"):
        low -= 1
    return max(0, low - _LEAD_REACH)


def _checked(budget: Budget, stated: Decimal | None = None) -> Budget:
    """Flag budgets no product can meet: nothing positive, or beyond any shop's prices."""
    values = [stated] if stated is not None else [budget.minimum, budget.maximum]
    values = [v for v in values if v is not None]
    if any(v <= 0 for v in values) and (
        stated is not None or budget.maximum is not None or budget.minimum < 0
    ):
        return replace(budget, problem="not_positive")
    if any(v > MAX_PLAUSIBLE for v in values):
        return replace(budget, problem="implausible")
    return budget
