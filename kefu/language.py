"""Which language a customer wrote in: Chinese, English, something else, or no language at all.

kefu serves Chinese and English.  The decision is made per message from the scripts used, so it
costs microseconds and needs no model:

* Chinese characters that outweigh the Latin words  → ``zh`` ("iPhone 15 有货吗" is Chinese)
* Latin words that outweigh the Chinese characters  → ``en``, unless the words are clearly
  another Latin-script language (Spanish, French, German, ...)      → ``other``
* kana, Hangul, Cyrillic, Arabic, Thai, ... dominating              → ``other``
* digits, emoji and punctuation only                                → ``None`` (keep the
  conversation's current language)
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from kefu.text import fold_width

Language = Literal["zh", "en", "other"]
SUPPORTED_LANGUAGES: tuple[str, ...] = ("zh", "en")

_LATIN_WORD = re.compile(r"[A-Za-z\u00C0-\u024F]+(?:'[A-Za-z]+)?")

# Frequent function words that are not English; two or more hits (and more than English
# function words) mark a Latin-script message as another language.
_FOREIGN_FUNCTION_WORDS = frozenset(
    """
    el los las una unos por para con como pero porque qué que está estoy tengo quiero hola gracias
    le les des une est avec pour pas je vous nous bonjour merci oui très c'est
    der die das und ist nicht ich sie ein eine mit bitte danke hallo guten
    não você obrigado olá uma com
    il che della sono ciao grazie
    saya anda tidak terima kasih apa
    """.split()
)
_ENGLISH_FUNCTION_WORDS = frozenset(
    """
    the a an is are am was do does did i you he she it we they my your me to of in on for with and
    or not no yes can could would will please thanks thank hi hello hey what where when how why
    this that there have has get want need order my
    """.split()
)


def _script(char: str) -> str | None:
    """Coarse script class of one character."""
    code = ord(char)
    if (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FA1F
    ):
        return "han"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if char.isascii():
        return "latin" if char.isalpha() else None
    if unicodedata.category(char).startswith("L"):
        name = unicodedata.name(char, "")
        return "latin" if name.startswith("LATIN") else "foreign"
    return None


def detect_language(text: str) -> Language | None:
    """Return ``"zh"``, ``"en"``, ``"other"``, or ``None`` when the text has no letters."""
    folded = fold_width(text)
    counts = {"han": 0, "kana": 0, "hangul": 0, "latin": 0, "foreign": 0}
    for char in folded:
        script = _script(char)
        if script:
            counts[script] += 1
    words = [w.lower() for w in _LATIN_WORD.findall(folded)]
    han, latin_words = counts["han"], len(words)
    foreign = counts["kana"] + counts["hangul"] + counts["foreign"]

    if han == 0 and latin_words == 0 and foreign == 0:
        return None
    if counts["kana"] > 0 and counts["kana"] * 4 >= han:
        return "other"  # Japanese: kana next to kanji
    if foreign > han + counts["latin"]:
        return "other"
    if han >= latin_words and han > 0:
        return "zh"
    if latin_words == 0:
        return "other"
    return "other" if _looks_like_other_latin_language(words) else "en"


def _looks_like_other_latin_language(words: list[str]) -> bool:
    foreign_hits = sum(w in _FOREIGN_FUNCTION_WORDS for w in words)
    english_hits = sum(w in _ENGLISH_FUNCTION_WORDS for w in words)
    return foreign_hits >= 2 and foreign_hits > english_hits


# ---- the language a customer asks to be answered in ("请用英文", "can we continue in english")

_LANGUAGE_NAMES = re.compile(
    r"(?P<zh>中文|汉语|漢語|华语|國語|国语|普通话|普通話|chinese|mandarin|putonghua|zhongwen)"
    r"|(?P<en>英文|英语|英語|english|eng\b)",
    re.IGNORECASE,
)
# a language named right after one of these is the one the customer does not want or read
_NOT_THIS = re.compile(
    r"(不要|别用|不用|不会|不懂|看不懂|听不懂|不太懂|no|not|don'?t|without)\s*\S{0,2}\s*$", re.I
)
_NOT_CONTEXT_CHARS = 8


def requested_language(text: str) -> tuple[str, int, int] | None:
    """The language the customer names as wanted, with its span: the first language name not
    preceded by a refusal ("看不懂英文", "not english").  Linear in the text (one regex scan
    with no nested repetition, a fixed look-back per match)."""
    for match in _LANGUAGE_NAMES.finditer(text):
        before = text[max(0, match.start() - _NOT_CONTEXT_CHARS) : match.start()]
        if _NOT_THIS.search(before):
            continue
        return ("zh" if match.group("zh") else "en"), match.start(), match.end()
    return None
