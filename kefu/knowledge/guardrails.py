"""Checks on an answer composed by an LLM before it may reach a customer.

:func:`check` returns the problems found (empty: the answer may be sent).  An answer passes
only if:

* **numbers** — every number in it (prices, quantities, days, dates, times, percentages,
  Chinese numerals with a unit such as 七天, English number words) appears in the cited facts;
* **phone numbers, URLs and e-mail addresses** appear in the cited facts as written;
* **names** — every brand the shop knows (from the database's products, plus well-known
  brands it does not sell) and every distinctive Chinese product-title word it mentions
  appears in the cited facts, and so does every Latin-script word that may be a name (in a
  Chinese answer all of them; in an English one those with a digit or a capital letter not
  starting a sentence: "Galaxy", "S25");
* **language** — it is written in the customer's language (Chinese: mostly CJK; English: no
  CJK beyond names quoted from the facts);
* **no claimed action** — it does not say it refunded, cancelled, changed or ordered anything
  ("已为您退款", "I have cancelled"): only the confirmed order flows act;
* it carries no leftover instructions or markup (role tags, "ignore previous instructions").

Anything else falls back to the extractive answer, which quotes the facts as written.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence

from kefu.knowledge.facts import Fact
from kefu.text import fold_width

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PHONE = re.compile(r"(?<![\d])(?:\+?\d[\d\- ]{5,}\d)(?![\d])")
_URL = re.compile(r"(?:https?://|www\.)[^\s，。；、)）\"'<>]+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-']*|\d+[A-Za-z][A-Za-z0-9\-]*")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CN_DIGITS.update({"七": 7, "八": 8, "九": 9})
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUMBER = re.compile(
    r"([零〇一二两三四五六七八九十百千万]+)(?=\s*(?:天|日|个|年|月|周|小时|分钟|秒|元|块|件|次|位|台|"
    r"匹|寸|英寸|岁|克|斤|公斤|升|毫升|倍|成|折|%|号|张|种|款|米|平))"
)
_EN_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "hundred": 100, "thousand": 1000,
}  # fmt: skip
_ACTION_CLAIMS = re.compile(
    r"(已|已经|我已|已为您|已帮您|帮您|为您)(经)?(为您|帮您)?(办理|申请|提交|完成|处理|安排)?"
    r"(了)?(退款|退货|取消|撤销|修改|更改|改好|下单|补发|换货|开具|开好|寄出|发出|退回|赔付)"
    r"|(退款|取消|修改|下单|补发|换货)(已|已经)(成功|完成|办理|提交)"
    r"|\bI(?:'ve| have| had|'ll| will| just)?\s+(?:already\s+|now\s+|just\s+)?"
    r"(?:refunded|cancell?ed|changed|updated|placed|ordered|issued|sent|processed|"
    r"submitted|arranged|returned|refund|cancel|change|update|place|issue|send|process|submit)\b"
    r"|\b(?:has|have) been (?:refunded|cancell?ed|changed|updated|processed|issued)\b"
    r"|\byour (?:refund|cancellation|order|return) (?:is|has been) "
    r"(?:done|complete|completed|processed|confirmed|approved)\b",
    re.I,
)
_INJECTION = re.compile(
    r"ignore (?:all |the )?(?:previous|above|prior)|system prompt|<\s*/?\s*(?:system|assistant|"
    r"user|script)|忽略(?:之前|以上|上面)|\bBEGIN\b|```",
    re.I,
)


def carries_instructions(text: str) -> bool:
    """Whether customer text carries instructions for a model ("ignore previous ...")."""
    return _INJECTION.search(text or "") is not None


# brands customers mention that a shop may not sell: an answer must not bring them in
OTHER_BRANDS = (
    "三星 Samsung 诺基亚 Nokia 索尼 Sony 戴尔 Dell 惠普 HP 谷歌 Google Pixel 一加 OnePlus "
    "魅族 Meizu 摩托罗拉 Motorola 京东 淘宝 天猫 拼多多 亚马逊 Amazon 特斯拉 Tesla 微软 Microsoft "
    "飞利浦 Philips 松下 Panasonic 西门子 Siemens 博世 Bosch LG 阿迪达斯 Adidas 彪马 Puma"
).split()
_lock = threading.Lock()
_names_cache: dict[int, tuple[list[str], list[str]]] = {}


def _fold(text: str) -> str:
    return fold_width(text or "").lower()


def _numbers(text: str) -> set[str]:
    """Numbers in ``text`` as canonical strings ("4,999" → "4999", "7.0" → "7")."""
    out = set()
    for match in _NUMBER.findall(fold_width(text or "")):
        thousands = re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", match)
        value = match.replace(",", "") if thousands else match
        for part in re.split(r"[,]", value):
            out.add(_canonical(part))
    return out


def _canonical(number: str) -> str:
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number.lstrip("0") or "0"


def _chinese_number(text: str) -> int | None:
    total, section, digit = 0, 0, None
    for char in text:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        elif char in _CN_UNITS:
            unit = _CN_UNITS[char]
            if unit == 10000:
                total += (section + (digit or 0)) * unit
                section, digit = 0, None
            else:
                section += (1 if digit is None else digit) * unit
                digit = None
        else:
            return None
    return total + section + (digit or 0)


def _spelled_numbers(text: str, language: str) -> set[str]:
    out = set()
    for match in _CN_NUMBER.findall(text):
        value = _chinese_number(match)
        if value is not None:
            out.add(str(value))
    for word in re.findall(r"[A-Za-z]+", text):
        if word.lower() in _EN_NUMBERS:
            out.add(str(_EN_NUMBERS[word.lower()]))
    return out


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def known_names(kb=None) -> tuple[list[str], list[str]]:
    """(brand names, distinctive product-title words) the shop knows, from its database via
    the knowledge base's product facts; cached per index."""
    index = kb.index() if kb is not None else None
    key = id(index)
    with _lock:
        if key in _names_cache:
            return _names_cache[key]
    brands: set[str] = set(OTHER_BRANDS)
    words: dict[str, int] = {}
    if index is not None:
        for fact in index.facts:
            if fact.kind != "product" or len(fact.names) < 4:
                continue
            brands.update(n for n in fact.names[:2] if n)
            for title in fact.names[2:]:
                for word in re.split(r"\s+", title):
                    if len(word) >= 2 and not word.isdigit():
                        words[word] = words.get(word, 0) + 1
    distinctive = [w for w, c in words.items() if c <= 20 and _CJK.search(w)]
    result = (sorted(brands, key=len, reverse=True), distinctive)
    with _lock:
        _names_cache.clear()
        _names_cache[key] = result
    return result


def check(text: str, facts: Sequence[Fact], language: str, kb=None) -> list[str]:
    """The problems of ``text`` as an answer from ``facts`` in ``language`` (empty: fine)."""
    problems: list[str] = []
    evidence = "\n".join(
        part for f in facts for part in (f.text.zh, f.text.en, f.title.zh, f.title.en)
    )
    folded_evidence = _fold(evidence)
    body = fold_width(text or "")
    if not body.strip():
        return ["empty: no text"]
    # numbers (digits, Chinese numerals with a unit, English number words)
    allowed = _numbers(evidence) | _spelled_numbers(evidence, language)
    for number in sorted((_numbers(body) | _spelled_numbers(body, language)) - allowed):
        problems.append(f"number: {number} is not in the facts")
    # phone numbers, URLs, e-mail addresses: as written
    evidence_digits = {_digits(p) for p in _PHONE.findall(fold_width(evidence))}
    for phone in _PHONE.findall(body):
        if _digits(phone) not in evidence_digits and _digits(phone) not in _digits(evidence):
            problems.append(f"phone: {phone.strip()} is not in the facts")
    for url in _URL.findall(body):
        if _fold(url.rstrip(".,;:!?")) not in folded_evidence:
            problems.append(f"url: {url} is not in the facts")
    for email in _EMAIL.findall(body):
        if _fold(email) not in folded_evidence:
            problems.append(f"email: {email} is not in the facts")
    # names
    brands, title_words = known_names(kb)
    folded_body = _fold(body)
    for brand in brands:
        needle = _fold(brand)
        if needle and _contains_name(folded_body, needle) and needle not in folded_evidence:
            problems.append(f"brand: {brand} is not in the facts")
    for word in title_words:
        if word in body and word not in evidence:
            problems.append(f"product: {word} is not in the facts")
    for word in _name_like_words(_strip_links(body), language):
        if word.lower() not in folded_evidence:
            problems.append(f"name: {word} is not in the facts")
    # language
    problems.extend(_language_problems(body, language))
    # claims of having acted, leftover instructions
    claim = _ACTION_CLAIMS.search(body)
    if claim:
        problems.append(f"action: claims an action ({claim.group(0).strip()})")
    injection = _INJECTION.search(body)
    if injection:
        problems.append(f"instructions: {injection.group(0)}")
    return list(dict.fromkeys(problems))


def _strip_links(text: str) -> str:
    return _EMAIL.sub(" ", _URL.sub(" ", text))


def _contains_name(folded_text: str, name: str) -> bool:
    """``name`` in ``folded_text``; a Latin name only as a whole word ("mi" is not in "mini")."""
    if _CJK.search(name):
        return name in folded_text
    return re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", folded_text) is not None


def _name_like_words(text: str, language: str) -> Iterable[str]:
    """Latin words that may be names: in a Chinese answer every one; in an English answer those
    with a digit ("S25", "5G") or a capital letter not starting a sentence ("Galaxy")."""
    for match in _LATIN_WORD.finditer(text):
        word = match.group(0).strip("'-")
        if not word:
            continue
        if language == "zh" or any(c.isdigit() for c in word):
            yield word
            continue
        if not any(c.isupper() for c in word) or word == "I":
            continue
        before = text[: match.start()].rstrip(" \t\"'“‘(（*")
        if not before or before[-1] in ".!?:;\n·•-—。！？：；":
            continue  # the first word of a sentence or of a list item
        yield word


def _language_problems(body: str, language: str) -> Iterable[str]:
    cjk = len(_CJK.findall(body))
    latin = sum(len(w) for w in re.findall(r"[A-Za-z]+", body))
    if language == "zh":
        if cjk == 0 or latin > 2 * cjk:
            yield "language: not written in Chinese"
    elif latin == 0 or cjk * 4 > latin:
        yield "language: not written in English"
