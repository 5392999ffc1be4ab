"""Traditional → Simplified Chinese, one character for one character, with OpenCC.

Customers in Hong Kong, Macao and Taiwan write 訂單, 退貨, 手機; kefu's training data, catalog and
replies are in Simplified Chinese.  Messages are read in Simplified form, but entity offsets must
still point into what the customer typed, so :func:`to_simplified` never changes the length of
the text: OpenCC's phrase-level conversion is used when it keeps every character in place, and
otherwise each character is converted on its own.
"""

from __future__ import annotations

import threading
from functools import lru_cache

_lock = threading.Lock()
_converter = None

# Code points below this are not Han characters: pure ASCII/Latin text skips OpenCC.
_FIRST_HAN = 0x2E80


def _opencc():
    """The shared OpenCC ``t2s`` converter (loaded once; thread-safe to call)."""
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter


@lru_cache(maxsize=8192)
def _char(c: str) -> str:
    converted = _opencc().convert(c)
    return converted if len(converted) == 1 else c


def to_simplified(text: str) -> str:
    """``text`` with Traditional characters in Simplified form; same length, same offsets."""
    if not text or all(ord(c) < _FIRST_HAN for c in text):
        return text
    converted = _opencc().convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_char(c) if ord(c) >= _FIRST_HAN else c for c in text)


def has_traditional(text: str) -> bool:
    """True when the message contains a character written differently in Simplified Chinese."""
    return to_simplified(text) != text
