"""Personal data out of review texts, and back in as made-up values for training.

:func:`mask` replaces what identifies a customer with placeholders: order numbers
(``<order_no>``), mobile numbers (``<phone>``), the last phone digits given as a proof
(``<phone_last4>``), e-mail addresses (``<email>``), street addresses (``<address>``: the road or
estate with its house number; the province, city and district stay) and any other number of 7 or
more digits (``<number>``: tracking, card or ID numbers).  Phones and e-mails are found by
:func:`kefu.handoff_text.mask_proofs`, order numbers by :func:`kefu.identity.find_order_number`.

:func:`fill_placeholders` turns a reviewed text into a training example: each placeholder becomes
a made-up value of the same kind (stable for the same text), annotated as the entity the training
data uses for it (``order_id``, ``phone``, ``email``).  :func:`text_key` is the comparison key
that makes two texts the same (width, case, spaces, punctuation, Traditional characters).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from kefu.handoff_text import mask_proofs
from kefu.hanzi import to_simplified
from kefu.identity import find_order_number
from kefu.text import blank_control_chars, clip, fold_width

MAX_TEXT_CHARS = 500  # a review text is a customer's message, clipped
MAX_SPANS = 20  # order numbers masked per text, at most

ORDER, PHONE, LAST4, EMAIL, ADDRESS, NUMBER = (
    "<order_no>",
    "<phone>",
    "<phone_last4>",
    "<email>",
    "<address>",
    "<number>",
)
PLACEHOLDERS = (ORDER, PHONE, LAST4, EMAIL, ADDRESS, NUMBER)
# the entity a placeholder's made-up value is annotated as in training data
PLACEHOLDER_ENTITIES = {ORDER: "order_id", PHONE: "phone", LAST4: "phone", EMAIL: "email"}

# what mask_proofs leaves: "z***@example.com", "138****", "****"
_MASKED_EMAIL = re.compile(r"[^\s@]?\*{3}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MASKED_MOBILE = re.compile(r"(?<!\d)\d{3}\*{4}")
_MASKED_DIGITS = re.compile(r"\*{4}")
_LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[\d\s-]{0,30}\d)?(?!\d)")
MIN_NUMBER_DIGITS = 7

# a road or estate name: Chinese characters, but not across a division ("朝阳区") nor words
# that lead up to an address ("寄到", "住在", "地址是")
_NOT_IN_NAME = "区县市省镇乡旗州到在是为寄送住改我的址"
_NAME = rf"(?:(?![{_NOT_IN_NAME}])[\u4e00-\u9fff]){{1,6}}?"
_UNIT = r"(?:\s*[\dA-Za-z-]+\s*(?:号楼|栋|幢|座|单元|室|楼|层|号))*(?:\s*\d{1,5}(?!\d))?"
_ADDRESS = re.compile(
    # 建国路88号3栋502室, 幸福里小区5栋2单元301
    rf"{_NAME}(?:大道|大街|路|街|巷|胡同|弄)\s*\d+\s*(?:号|弄){_UNIT}"
    rf"|{_NAME}(?:小区|花园|公寓|大厦|家园|苑|村)\s*\d+\s*(?:号楼|栋|幢|座|号){_UNIT}"
    # 12 Example Road, Apt 5
    r"|\b\d{1,5}\s+(?:[A-Za-z][A-Za-z'-]*\s+){1,4}"
    r"(?:road|rd|street|st|avenue|ave|lane|ln|boulevard|blvd|drive|dr|way|court|ct|place|pl)\b"
    r"\.?(?:,?\s*(?:apt|apartment|room|unit|suite|flat)\.?\s*[\dA-Za-z-]+)?",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


def _orders_masked(text: str) -> str:
    for _ in range(MAX_SPANS):
        found = find_order_number(text)
        if found is None:
            break
        _, start, end = found
        text = f"{text[:start]}{ORDER}{text[end:]}"
    return text


def _long_number(match: re.Match) -> str:
    digits = sum(c.isdigit() for c in match.group())
    return NUMBER if digits >= MIN_NUMBER_DIGITS else match.group()


def mask(text: str | None) -> str:
    """``text`` (clipped, white space collapsed) with personal data replaced by placeholders:
    "订单2602260900000001，手机13812345678" → "订单<order_no>，手机<phone>"."""
    text = " ".join(blank_control_chars(clip(text or "", MAX_TEXT_CHARS)).split())
    text = _orders_masked(text)
    text = mask_proofs(text)
    text = _MASKED_EMAIL.sub(EMAIL, text)
    text = _MASKED_MOBILE.sub(PHONE, text)
    text = _MASKED_DIGITS.sub(LAST4, text)
    text = _ADDRESS.sub(ADDRESS, text)
    return _LONG_NUMBER.sub(_long_number, text)


def text_key(text: str) -> str:
    """The comparison key of a text: width, case, spaces, punctuation and Traditional
    characters do not make a sentence new."""
    text = to_simplified(fold_width(text)).lower()
    return "".join(c for c in text if not (c.isspace() or unicodedata.category(c)[0] == "P"))


def item_key(text: str) -> str:
    """The queue's de-duplication key of a masked text (a SHA-256 hex digest)."""
    return hashlib.sha256(text_key(text).encode("utf-8")).hexdigest()


def _digits(seed: bytes, count: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed).digest(), "big")
    return str(number).zfill(count)[-count:]


def made_up_value(placeholder: str, text: str, index: int, language: str) -> str:
    """A made-up value for the ``index``-th placeholder of ``text``, stable for the text."""
    seed = f"{text}\x00{index}".encode()
    digits = _digits(seed, 12)
    if placeholder == ORDER:  # yymmddHHMM + serial, a real date and time
        day, hour, minute = int(digits[:2]) % 28 + 1, int(digits[2:4]) % 24, int(digits[4:6]) % 60
        return f"2601{day:02d}{hour:02d}{minute:02d}{digits[6:12]}"
    if placeholder == PHONE:
        return "13" + digits[:9]
    if placeholder == LAST4:
        return digits[:4]
    if placeholder == EMAIL:
        return f"customer{digits[:3]}@example.com"
    if placeholder == ADDRESS:
        number = int(digits[:2]) + 1
        return f"幸福路{number}号" if language == "zh" else f"{number} Example Road"
    return digits[:10]


def fill_placeholders(text: str, language: str) -> tuple[str, list[tuple[int, int, str]]]:
    """``text`` with every placeholder replaced by a made-up value; with the spans
    ``(start, end, entity)`` of the values that are entities in the training data."""
    out, spans, position = [], [], 0
    for index, found in enumerate(_PLACEHOLDER.finditer(text)):
        out.append(text[position : found.start()])
        value = made_up_value(found.group(), text, index, language)
        start = sum(len(part) for part in out)
        out.append(value)
        entity = PLACEHOLDER_ENTITIES.get(found.group())
        if entity:
            spans.append((start, start + len(value), entity))
        position = found.end()
    out.append(text[position:])
    return "".join(out), spans


def has_placeholder(text: str) -> bool:
    return _PLACEHOLDER.search(text) is not None
