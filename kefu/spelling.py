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

import json
import logging
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

MIN_FUZZY_LENGTH = 5  # shorter words are too often another real word one edit away
LONG_WORD = 8  # from this length two edits are allowed
MAX_CORRECTIONS = 8  # unknown words looked up per message
MIN_PINYIN_LENGTH = 4  # "xie" (鞋) would match too much; "erji" (耳机) is fine

PINYIN_CHILD_SECONDS = 120
MAX_ENGLISH_BYTES = 24  # longer dictionary words (9 of 160,000) are left out of the list
logger = logging.getLogger(__name__)
_lock = threading.Lock()
_english: WordList | None = None
_pinyin_known: dict[str, list[str]] = {}  # name → pinyin forms, for the process's lifetime


class WordList:
    """A large read-only set of words in one sorted array of fixed-width bytes: the 160,000
    English words take 4 MB instead of the 35 MB of a ``frozenset``."""

    def __init__(self, words: Iterable[str], max_bytes: int = MAX_ENGLISH_BYTES) -> None:
        encoded = {w.encode("utf-8") for w in words}
        self._words = np.array(sorted(e for e in encoded if 0 < len(e) <= max_bytes), dtype=bytes)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or not word:
            return False
        key = word.encode("utf-8")
        if len(key) > self._words.dtype.itemsize or key.endswith(b"\0"):
            return False
        at = int(np.searchsorted(self._words, key))
        return at < len(self._words) and self._words[at] == key

    def __len__(self) -> int:
        return len(self._words)


def english_words() -> WordList:
    """English words (pyspellchecker's frequency list, shipped in its wheel), loaded once."""
    global _english
    if _english is None:
        with _lock:
            if _english is None:
                from spellchecker import SpellChecker

                _english = WordList(SpellChecker(language="en").word_frequency.dictionary)
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


def _is_chinese_name(name: str) -> bool:
    return bool(name) and all("\u4e00" <= c <= "\u9fff" for c in name)


def pinyin_forms_of(names: Iterable[str]) -> dict[str, list[str]]:
    """:func:`pinyin_forms` of many names, worked out in a child process: pypinyin's tables
    cost 57 MB that a server process would keep for good, for a few hundred names that are
    looked up only when the catalog changes.  In this process if the child cannot run."""
    chinese = {name for name in names if _is_chinese_name(name)}
    wanted = sorted(chinese - _pinyin_known.keys())  # names seen before are remembered
    if wanted:
        _pinyin_known.update(_pinyin_in_child(wanted))
    return {name: _pinyin_known[name] for name in chinese}


def _pinyin_in_child(wanted: list[str]) -> dict[str, list[str]]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kefu.spelling"],
            input=json.dumps(wanted, ensure_ascii=False),
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=True,
            timeout=PINYIN_CHILD_SECONDS,
        )
        forms = json.loads(done.stdout)
        return {name: list(forms.get(name, [])) for name in wanted}
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        logger.warning("pinyin in a child process failed (%s); computing it here", error)
        return {name: pinyin_forms(name) for name in wanted}


def pinyin_forms(name: str) -> list[str]:
    """Pinyin spellings of an all-Chinese name: one word per Chinese word, and all joined."""
    if not _is_chinese_name(name):
        return []
    import jieba
    from pypinyin import lazy_pinyin

    words = ["".join(lazy_pinyin(word)) for word in jieba.lcut(name)]
    joined = "".join(words)
    if len(joined) < MIN_PINYIN_LENGTH or joined in english_words():
        return []
    return list(dict.fromkeys([" ".join(words), joined]))


if __name__ == "__main__":  # the child of pinyin_forms_of: names in, their forms out (JSON)
    json.dump(
        {name: pinyin_forms(name) for name in json.load(sys.stdin)}, sys.stdout, ensure_ascii=False
    )
