"""Follow-up references to the list the bot showed last, and requests to refine it, in Chinese
and English, read by rules.

Positions: "第二个" / "the second one" → [2], "前两个" / "the first two" → [1, 2], "第一个和第三个"
/ "1st and 3rd" → [1, 3], "最后一个" / "the last one" → [-1] (negative positions count from the
end: "倒数第二" → [-2]), "#3" / "number 2" / "option 2" → [3] / [2].  Numbers are read as
positions only in reference-like wording, so model names, storage, prices, budgets, dates and
quantities are not ("iPhone 17 Pro 256G", "两千以内", "买2个", "3号发货", "first time"):

* bare digits only as a list of two or more ("1和3有啥区别", "compare 1 and 2", "2 vs 3"), at the
  start of the message or after a pause or a verb like 比较 / 看看 / compare / between, and
  without a unit after any of them ("1和3号", "1 and 2 thousand" are not positions).  A lone
  bare digit ("2", "要2") and "2号" are never a position: too often a quantity or a date;
* 第N needs a measure word (个, 款, 台, …) or a following word that continues a reference
  (怎么样, 和, 的, …), so 第一次, 第三方, 第二天 are not positions; 前N / 头N need a measure word
  (前两天 is a date), and 之前 / 以前 / 提前 do not count;
* English ordinals need "the" or a noun like "one" / "option" after them, or a list
  ("1st and 3rd"), and not a word like "time", "week" or "order" after them, nor "my", "at",
  "a" or a month before them ("my first order", "at last", "a second", "May 3rd").  "top 3"
  is not read: it is as often a new request ("top 10 phones").

Positions above :data:`MAX_POSITION` are dropped.

The first :data:`kefu.text.MAX_PARSE_CHARS` characters are read, in time linear in them
(tests/security/test_parsers.py): what decides a match is read right next to it, a list is
followed for at most :data:`MAX_POSITION` more items, and a reference inside one already found is
not followed again.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Literal

from kefu.budget import chinese_number
from kefu.text import clip, fold_width

MAX_POSITION = 20

Refinement = Literal["cheaper", "pricier", "other_brand", "newest", "popular", "best_rated"]

_CN_NUMBER = "[一二两三四五六七八九十]{1,3}"
_EN_CARDINALS = {
    w: i + 1 for i, w in enumerate("one two three four five six seven eight nine ten".split())
}
_EN_ORDINALS = {
    w: i + 1
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth".split()
    )
}
_EN_CARDINAL = "|".join(_EN_CARDINALS)
_EN_ORDINAL = (
    r"(?:second|2nd)(?:\s+|-)(?:to(?:\s+|-))?last|penultimate|last\s+but\s+one|last|"
    + "|".join(_EN_ORDINALS)
    + r"|\d{1,2}(?:st|nd|rd|th)"
)
_NUMBER = rf"(?:\d+|{_CN_NUMBER}|{_EN_CARDINAL})"
# measure words after a Chinese ordinal or count
_CLASSIFIER = "(?:个|款|种|件|台|部|条|项|只|双|本|套|位|家|支|把|张|样|瓶|盒|辆|副|顶|组)"
# a measure word followed by these is a duration ("第一个月", "前两个小时"); this and
# _UNIT_AFTER are matched where a reference ends (``pattern.match(text, end)``)
_DURATION_AFTER = re.compile(r"(?:月|小时|钟头|星期|礼拜|工作日|季度)")
# what may follow "第二" without a measure word and still be a reference
_ZH_AFTER_ORDINAL = set("和跟与及或还、比怎好吧呢吗啊呀的有是多价贵便能可要买拿来给看选咋这那嘛哦")
_SEPARATOR = r"(?:以及|或者|还是|和|跟|与|及|或|、|,|，|&|and|or|vs\.?|versus)"
_UNIT_AFTER = re.compile(
    r"\s*(?:[kKwW万千百十元块号月日年点岁天周个台件部只双套瓶盒袋箱码寸吋斤人次折楼层%]"
    r"|(?:gb?|tb?|mb|inch(?:es)?|yuan|rmb|usd|dollars?|bucks|pcs|pieces|units|days?|weeks?"
    r"|months?|years?|hours?|mins?|minutes?|am|pm|percent|x|mm|cm|kg|ml|l|thousand|hundred"
    r"|grand)\b)",
    re.IGNORECASE,
)
# text a bare list of digits may follow ("比较一下1和3", "compare 1 and 2"), or the start of
# the message; searched in the few characters before the list
_BARE_LEAD = re.compile(
    r"(?:[,，.。!！?？:：;；~～]|比较一下|比较|对比一下|对比|比一下|比比|看看|看一下|看下|看|"
    r"选|要|想要|喜欢|介绍一下|介绍|说说|说一下|讲讲|那|就|还有|"
    r"\b(?:compare|between|about|choose|pick|take|want|like|prefer|see|show|of|options?|items?"
    r"|numbers?|and))$",
    re.IGNORECASE,
)
_EN_LEFT_DENY = frozenset(
    "my your our his her their its at a an one per every each this that on since until till by "
    "before after from jan feb mar apr may jun jul aug sep sept oct nov dec january february "
    "march april june july august september october november december".split()
)
_EN_RIGHT_DENY = frozenset(
    "time times of place week weeks month months year years day days night nights order orders "
    "purchase purchases hand half thing things aid class floor name step steps priority "
    "impression gen generation edition version anniversary birthday century date quarter round "
    "attempt try love lady person party instance glance sight line page chapter digit digits "
    "number numbers letter letters character characters hour hours minute minutes second "
    "seconds payment delivery installment grade rate come thought thoughts off".split()
)
_EN_NOUNS = frozenset(
    "one ones option options item items choice choices product products model models phone "
    "phones laptop laptops pick result results suggestion suggestions recommendation please".split()
)


def _value(token: str) -> int | None:
    """1-based position of a number or ordinal token, negative from the end, or None."""
    word = re.sub(r"\s+|-", " ", token.strip().lower())
    if word.isdigit():
        return int(word)
    if word in _EN_CARDINALS:
        return _EN_CARDINALS[word]
    if word in _EN_ORDINALS:
        return _EN_ORDINALS[word]
    if word == "last":
        return -1
    if word.endswith("last") or word in ("penultimate", "last but one"):
        return -2
    numeric = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)", word)
    if numeric:
        return int(numeric.group(1))
    return chinese_number(word)


def _usable(position: int | None) -> bool:
    return position is not None and position != 0 and abs(position) <= MAX_POSITION


# an item continuing a list after a reference: "和第三个", "、三", " and the third", " or 3"
_CONTINUATION = re.compile(
    rf"\s*{_SEPARATOR}\s*(?:the\s+)?(?:第\s*)?(?P<item>{_EN_ORDINAL}|{_NUMBER})"
    rf"\s*(?:{_CLASSIFIER}|one\b)?",
    re.IGNORECASE,
)


def _continue(text: str, end: int, found: list[int]) -> int:
    """Extend ``found`` with list items after ``end`` (at most :data:`MAX_POSITION` of them:
    a longer list repeats itself); returns the new end."""
    for _ in range(MAX_POSITION):
        more = _CONTINUATION.match(text, end)
        if not more or _UNIT_AFTER.match(text, more.end("item")):
            return end
        value = _value(more.group("item"))
        if not _usable(value):  # "第二个，3000以内的" is position 2 and a budget
            return end
        found.append(value)
        end = more.end()
    return end


_ZH_FROM_END = re.compile(rf"倒数第\s*(?P<n>{_NUMBER})\s*{_CLASSIFIER}?")
_ZH_LAST = re.compile(
    rf"最后面?的?\s*(?:(?:(?P<n>{_NUMBER})|那一?|这一?)\s*)?{_CLASSIFIER}", re.IGNORECASE
)
_ZH_FIRST_N = re.compile(  # not 之前 / 以前 / 提前 / 目前 …
    rf"(?<![之以提目当眼跟从事生向])(?:前面?的?|头)\s*(?P<n>{_NUMBER})\s*{_CLASSIFIER}"
)
_ZH_ORDINAL = re.compile(rf"第\s*(?P<n>{_NUMBER})\s*(?P<cls>{_CLASSIFIER})?")
_MARKER = re.compile(
    rf"(?:[#＃№]|\b(?:number|no\.|num\.|option|item|choice)|选项|编号|序号)\s*(?:#\s*)?"
    rf"(?P<n>\d+|{_EN_CARDINAL})\b",
    re.IGNORECASE,
)
_EN_COUNT = re.compile(
    rf"\b(?P<the>the\s+)?(?P<which>first|last)\s+(?P<n>\d{{1,2}}|{_EN_CARDINAL})\b",
    re.IGNORECASE,
)
_EN_ORDINAL_RE = re.compile(rf"\b(?P<the>the\s+)?(?P<n>{_EN_ORDINAL})\b", re.IGNORECASE)
_BARE_LIST = re.compile(
    rf"(?<![\d.#])(?P<n>\d+)(?![\d.])(?:\s*{_SEPARATOR}\s*\d+(?![\d.]))+", re.IGNORECASE
)
_WORD = re.compile(r"[a-z]+", re.IGNORECASE)
_NEXT_WORD = re.compile(r"\s*([a-z]+)", re.IGNORECASE)
_NEXT_DIGIT = re.compile(r"\s*\d")
_ONES = re.compile(r"\s*(?:ones?\b)?")
_BARE_LEAD_REACH = 12  # longer than any word a bare list may follow ("compare", "介绍一下")


def parse_positions(text: str) -> list[int]:
    """1-based positions the customer refers to in the last list shown; -1 = the last one.

    "第二个怎么样" → [2]; "比较一下前两个" → [1, 2]; "第一个和第三个" → [1, 3]; "1和3有啥区别" →
    [1, 3]; "最后一个" → [-1]; "the second one" → [2]; "compare the first two" → [1, 2]; "#3" →
    [3]; "number 2" → [2]; "1st and 3rd" → [1, 3]; "the last one" → [-1]; "前三个" → [1, 2, 3];
    "iPhone 17 Pro 256G", "两千以内" → [] (see the module docstring for what counts).
    """
    return list(dict.fromkeys(p for _, _, positions in find_positions(text) for p in positions))


def find_positions(text: str) -> list[tuple[int, int, list[int]]]:
    """Each reference in ``text`` as (start, end, positions), in text order; see
    :func:`parse_positions`.  Offsets are those of the original text."""
    text = fold_width(clip(text))
    spans: list[tuple[int, int, list[int]]] = []
    taken = bytearray(len(text) + 1)  # 1 where a claimed reference is
    context = _EnglishContext(text)

    def claim(start: int, end: int, positions: list[int]) -> None:
        if taken.find(1, start, end) != -1:
            return
        if positions and all(_usable(p) for p in positions):
            spans.append((start, end, positions))
            taken[start:end] = b"\x01" * (end - start)

    for found in _ZH_FROM_END.finditer(text):
        n = _value(found.group("n"))
        claim(found.start(), found.end(), [-n] if n else [])
    for found in _ZH_LAST.finditer(text):
        if _DURATION_AFTER.match(text, found.end()):
            continue
        n = _value(found.group("n")) if found.group("n") else 1
        claim(found.start(), found.end(), list(range(-n, 0)) if n else [])
    for found in _ZH_FIRST_N.finditer(text):
        if _DURATION_AFTER.match(text, found.end()):
            continue
        n = _value(found.group("n"))
        claim(found.start(), found.end(), list(range(1, n + 1)) if n else [])
    for found in _ZH_ORDINAL.finditer(text):
        if taken[found.start()]:
            continue  # inside a list already claimed: it could not be claimed again
        end = found.end()
        if found.group("cls") and _DURATION_AFTER.match(text, end):
            continue
        if not found.group("cls") and end < len(text) and not _continues_ordinal(text[end]):
            continue
        if found.group("cls") is None and _UNIT_AFTER.match(text, end):
            continue
        positions = [_value(found.group("n"))]
        claim(found.start(), _continue(text, end, positions), positions)
    for found in _MARKER.finditer(text):
        if taken[found.start()] or _UNIT_AFTER.match(text, found.end()):
            continue
        positions = [_value(found.group("n"))]
        claim(found.start(), _continue(text, found.end(), positions), positions)
    for found in _EN_COUNT.finditer(text):
        if not context.ok(found, found.group("the") is not None, count=True):
            continue
        n = _value(found.group("n")) or 0
        first = found.group("which").lower() == "first"
        claim(found.start(), found.end(), list(range(1, n + 1) if first else range(-n, 0)))
    for found in _EN_ORDINAL_RE.finditer(text):
        if taken[found.start()] or not context.ok(found, found.group("the") is not None):
            continue
        positions = [_value(found.group("n"))]
        end = _ONES.match(text, found.end()).end()
        claim(found.start(), _continue(text, end, positions), positions)
    for found in _BARE_LIST.finditer(text):
        lead = found.start()
        while lead > 0 and text[lead - 1].isspace():
            lead -= 1
        if lead and not _BARE_LEAD.search(text, max(0, lead - _BARE_LEAD_REACH), lead):
            continue
        numbers = list(_DIGITS.finditer(text, found.start(), found.end()))
        if any(_UNIT_AFTER.match(text, m.end()) for m in numbers):
            continue
        claim(found.start(), found.end(), [int(m.group()) for m in numbers])

    return sorted(spans)


_DIGITS = re.compile(r"\d+")


def _continues_ordinal(first: str) -> bool:
    """Whether the character after "第N" (no measure word) still reads as a reference."""
    return not ("\u4e00" <= first <= "\u9fff") or first in _ZH_AFTER_ORDINAL


class _EnglishContext:
    """The words around English ordinals in one text, read once for all of them."""

    def __init__(self, text: str) -> None:
        self.text = text
        words = list(_WORD.finditer(text))
        self.word_ends = [word.end() for word in words]
        self.words = [word.group().lower() for word in words]
        self.blank_until = len(text) - len(text.lstrip())  # the text before is only spaces
        self.marks_from = len(text.rstrip(" .!?？！。"))  # the text after is only marks

    def _word_before(self, start: int) -> str | None:
        index = bisect_right(self.word_ends, start) - 1
        return self.words[index] if index >= 0 else None

    def ok(self, found: re.Match, with_the: bool, count: bool = False) -> bool:
        """The words around an English ordinal or "first two" make it a reference."""
        text, start, end = self.text, found.start(), found.end()
        before = self._word_before(start)
        if before in _EN_LEFT_DENY:
            return False
        after = _NEXT_WORD.match(text, end)
        next_word = after.group(1).lower() if after else ""
        if next_word in _EN_RIGHT_DENY or _NEXT_DIGIT.match(text, end):
            return False
        if with_the or count or next_word in _EN_NOUNS:
            return True
        if _CONTINUATION.match(text, end):
            return True  # "1st and 3rd"
        if before in ("and", "or", "vs", "versus"):
            return True
        # the message is nothing but the ordinal ("second", "3rd?")
        return start <= self.blank_until and end >= self.marks_from


_REFINEMENTS: tuple[tuple[Refinement, re.Pattern[str]], ...] = (
    (
        "best_rated",
        re.compile(
            r"评价最好|评价好|评价高|评价更好|评分最高|评分高|评分更高|好评|口碑|星级高|"
            r"\b(?:best|top|highest|highly|better)[\s-]rated\b|\bbest[\s-]reviewed\b|"
            r"\b(?:best|good|great|better) reviews\b|\bhighest rating\b",
            re.IGNORECASE,
        ),
    ),
    (
        "popular",
        re.compile(
            r"卖得最好|卖的最好|卖得好|卖的好|最畅销|畅销|爆款|热销|热卖|销量(?:最)?(?:高|好)|"
            r"人气|最火|大家都买|买的人多|"
            r"\bbest[\s-]?sell(?:ing|ers?)\b|\bpopular\b|\btop[\s-]selling\b|\bmost bought\b|"
            r"\btrending\b|\bhot sellers?\b",
            re.IGNORECASE,
        ),
    ),
    (
        "cheaper",
        re.compile(
            r"更便宜|便宜点|便宜一点|便宜些|便宜一些|便宜的|再便宜|最便宜|低一点的?价|价格低|价位低|"
            r"低价|实惠|划算点|太贵|贵了|预算(?:有限|不多|少)|"
            r"\bcheaper\b|\bcheapest\b|\bless expensive\b|\blower[\s-]pric(?:e|ed)\b|"
            r"\bmore affordable\b|\baffordable\b|\binexpensive\b|\btoo (?:expensive|pricey)\b|"
            r"\bbudget (?:option|one|pick|model)s?\b|\bnot so expensive\b",
            re.IGNORECASE,
        ),
    ),
    (
        "pricier",
        re.compile(
            r"贵一点|贵点|更贵|贵些|贵一些|高端|高档|档次高|更好的|好一点的|好点的|更好一点|"
            r"再好一点|配置(?:更)?高|旗舰|预算(?:可以)?(?:高|多)一?点|"
            r"\bpricier\b|\bmore expensive\b|\bhigher[\s-]end\b|\bhigh[\s-]end\b|\bpremium\b|"
            r"\b(?:a|something|anything) better\b|\bbetter ones?\b|\bupgrade\b|"
            r"\btop of the line\b|\bflagship\b|\bfancier\b",
            re.IGNORECASE,
        ),
    ),
    (
        "other_brand",
        re.compile(
            r"(?:换|换个|换一个|换一家|别的|其他|其它|另外的?|另一个|不同的?)\s*(?:牌子|品牌|家)|"
            r"别家|其他家|"
            r"\b(?:other|another|different|else's)\s+(?:brands?|makers?|manufacturers?)\b|"
            r"\bnot\s+(?:this|that)\s+brand\b",
            re.IGNORECASE,
        ),
    ),
    (
        "newest",
        re.compile(
            r"新款|最新(?!物流|进度|状态|消息|动态|情况|订单)|新出的|新品|新上市|新上架|新到|刚出的|"
            r"最近出的|新一代|"
            r"\bnewest\b|\bnewer\b|\blatest\b(?!\s+(?:order|parcel|package|delivery|shipment|"
            r"purchase|invoice|refund|message|update|news))|\bnew (?:ones?|models?|releases?|"
            r"arrivals?|versions?|products?|stuff)\b|\b(?:anything|something|what's) new\b|"
            r"^\s*new\s*(?:[?!.]+\s*)?$",
            re.IGNORECASE,
        ),
    ),
)

# "不要苹果", "除了华为", "not apple", "anything but Samsung": leaving out a brand by name
_EXCLUDE_ZH = re.compile(
    r"(?:不要|不想要|不考虑|不喜欢|除了|别推荐?)\s*(?P<name>[A-Za-z][A-Za-z0-9 ]{1,15}|"
    r"[\u4e00-\u9fff]{2,4}?)(?:的|家的?|牌子的?|品牌的?|之外|以外)?\s*(?:[,，.。!！?？~～]|吧|啦|呢|$)"
)
_EXCLUDE_EN = re.compile(
    r"\b(?:not|no|except|besides|other than|anything but|but not)\s+(?:an?\s+|the\s+)?"
    r"(?P<name>[a-z][a-z0-9'-]*)(?:\s+(?:ones?|brand|please|phones?|products?|stuff))?"
    r"\s*(?:[.,!?]|$)",
    re.IGNORECASE,
)
# words after 不要 / not that are not brand names
_NOT_A_BRAND_ZH = re.compile(
    r"^(?:这|那|太|了|再|退|换|买|发|等|取消|订|付|用|看|推荐|给|说|问|打|联系|客服|人工|钱|"
    r"发票|快递|顺丰|包装|赠品|优惠|颜色|尺码|大|小的|贵|便宜|新|旧|二手|翻新|官翻|"
    r"[\u4e00-\u9fff]*[色款码号版个件])"
)
_NOT_A_BRAND_EN = frozenset(
    "sure bad really now yet that this it too so very much interested available today me one "
    "thanks thank problem worries way idea quite exactly necessarily needed good great working "
    "right okay ok cheap expensive more less longer anymore big small new used refurbished "
    "black white red blue green pink gold silver gray grey purple yellow orange brown "
    "wait worry hurry rush need thing matter change changes refund return cancel longer "
    "idea clue rush pressure deal bother".split()
)


def parse_refinement(text: str) -> Refinement | None:
    """How the customer wants the last list changed, or ``None``.

    "更便宜的" / "cheaper" → cheaper; "贵一点" / "higher end" → pricier; "换个牌子" / "不要苹果" /
    "not apple" → other_brand; "新款" / "latest" → newest; "爆款" / "best selling" → popular;
    "好评" / "top rated" → best_rated.  When a message asks for several, the first in that
    order of checks wins: best_rated, popular, cheaper, pricier, other_brand, newest.
    """
    found = find_refinement(text)
    return found[0] if found else None


def find_refinement(text: str) -> tuple[Refinement, int, int] | None:
    """The refinement of :func:`parse_refinement` with the (start, end) of the words saying it."""
    text = fold_width(clip(text))
    if not text.strip():
        return None
    for refinement, pattern in _REFINEMENTS:
        found = pattern.search(text)
        if found:
            return refinement, found.start(), found.end()
    for found in _EXCLUDE_ZH.finditer(text):
        if not _NOT_A_BRAND_ZH.match(found.group("name")):
            return "other_brand", found.start(), found.end("name")
    for found in _EXCLUDE_EN.finditer(text):
        if found.group("name").lower() not in _NOT_A_BRAND_EN:
            return "other_brand", found.start(), found.end("name")
    return None
