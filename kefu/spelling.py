"""Catalog words as customers actually type them: typos and pinyin.

Customers write "iphnoe", "labtop", "xiaomi shouji".  The catalog matcher (:mod:`kefu.matcher`)
matches exact words, so two things are added here:

* :func:`pinyin_forms` — the pinyin of a Chinese category or brand name ("手机" → "shouji",
  "平板电脑" → "pingban diannao" and "pingbandiannao"), registered as extra names;
* :class:`CatalogSpelling` — a word the catalog does not know, that is no English word, and that
  is one edit (two for long words) away from exactly one catalog word, is read as that word.
  Edits are Damerau's: a swapped pair of letters is one edit ("iphnoe" → "iphone").

Work per message is bounded: at most :data:`MAX_CORRECTIONS` words are looked up, each against
the catalog words of nearly the same length only, with RapidFuzz's C++ edit distance.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

MIN_FUZZY_LENGTH = 5  # shorter words are too often another real word one edit away
LONG_WORD = 8  # from this length two edits are allowed
MAX_CORRECTIONS = 8  # unknown words looked up per message
MIN_PINYIN_LENGTH = 4  # "xie" (鞋) would match too much; "erji" (耳机) is fine

_lock = threading.Lock()
_english: frozenset[str] | None = None


def english_words() -> frozenset[str]:
    """English words (pyspellchecker's frequency list, shipped in its wheel), loaded once."""
    global _english
    if _english is None:
        with _lock:
            if _english is None:
                from spellchecker import SpellChecker

                _english = frozenset(SpellChecker(language="en").word_frequency.dictionary)
    return _english


def is_ascii_word(word: str) -> bool:
    return word.isascii() and word.isalpha()


class CatalogSpelling:
    """Reads a mistyped word as the one catalog word it is closest to, if there is exactly one."""

    def __init__(self, catalog_words: Iterable[str]) -> None:
        by_length: dict[int, set[str]] = defaultdict(set)
        for word in catalog_words:
            word = word.lower()
            if len(word) >= MIN_FUZZY_LENGTH and is_ascii_word(word):
                by_length[len(word)].add(word)
        self._by_length = {size: sorted(words) for size, words in by_length.items()}

    def _candidates(self, size: int, limit: int) -> list[str]:
        return [
            w for n in range(size - limit, size + limit + 1) for w in self._by_length.get(n, ())
        ]

    def correct(self, word: str) -> str | None:
        """The catalog word ``word`` was meant as, or None (unknown, English or ambiguous)."""
        word = word.lower()
        if len(word) < MIN_FUZZY_LENGTH or not is_ascii_word(word) or not self._by_length:
            return None
        if word in english_words():
            return None
        limit = 2 if len(word) >= LONG_WORD else 1
        best = process.extract(
            word,
            self._candidates(len(word), limit),
            scorer=OSA.distance,
            score_cutoff=limit,
            limit=2,
        )
        if not best or (len(best) > 1 and best[1][1] == best[0][1]):
            return None  # nothing close, or two catalog words equally close
        return best[0][0]

    def correct_all(self, words: list[str], known: set[str]) -> list[str]:
        """``words`` with the first :data:`MAX_CORRECTIONS` unknown ones corrected if possible."""
        out = list(words)
        looked_up = 0
        for i, word in enumerate(words):
            if word in known or not is_ascii_word(word) or len(word) < MIN_FUZZY_LENGTH:
                continue
            looked_up += 1
            if looked_up > MAX_CORRECTIONS:
                break
            corrected = self.correct(word)
            if corrected is not None:
                out[i] = corrected
        return out


def pinyin_forms(name: str) -> list[str]:
    """Pinyin spellings of an all-Chinese name: one word per Chinese word, and all joined."""
    if not name or not all("\u4e00" <= c <= "\u9fff" for c in name):
        return []
    import jieba
    from pypinyin import lazy_pinyin

    words = ["".join(lazy_pinyin(word)) for word in jieba.lcut(name)]
    joined = "".join(words)
    if len(joined) < MIN_PINYIN_LENGTH or joined in english_words():
        return []
    return list(dict.fromkeys([" ".join(words), joined]))
