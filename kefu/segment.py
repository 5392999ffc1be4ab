"""Word segmentation for search: the same terms for indexing products and for queries.

Chinese is segmented with jieba in search mode (long words and the shorter words inside them:
"智能手机" → 智能, 手机, 智能手机) using the project's dictionary of brand and product words;
English and other Latin-script words are lower-cased; digits stay as they are.  Full-width
characters are folded first, so "ｉＰｈｏｎｅ" and "iPhone" are the same term.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import jieba

from kefu.text import fold_width

DICTIONARY_DIR = Path(__file__).resolve().parent.parent / "data" / "dictionaries" / "jieba"
MAX_TERM_LENGTH = 64
STOPWORDS = frozenset(
    "的 了 和 与 及 或 在 是 有 吗 呢 吧 啊 我 你 他 她 它 要 想 这 那 个 些 款 "
    "a an the and or of for with to in on is are i me my you your do does any some".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-+][a-z0-9]+)*|[\u4e00-\u9fff]+")
_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _jieba() -> jieba.Tokenizer:
    """A private jieba tokenizer with kefu's user dictionaries (loaded once, thread-safe)."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            for path in sorted(DICTIONARY_DIR.glob("*.txt")):
                tokenizer.load_userdict(str(path))
            _tokenizer = tokenizer
    return _tokenizer


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter shop words (brand names, product lines) so they stay whole."""
    tokenizer = _jieba()
    for word in words:
        word = fold_width(word).strip().lower()
        if word and " " not in word:
            tokenizer.add_word(word, freq=2000)
    _terms.cache_clear()
    _chunk_terms.cache_clear()


def terms(text: str) -> list[str]:
    """Distinct search terms of ``text`` in order of first appearance, stopwords removed."""
    return list(_terms(text or ""))


@lru_cache(maxsize=200_000)
def _terms(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for chunk in _TOKEN.findall(fold_width(text).lower()):
        for piece in _chunk_terms(chunk):
            seen.setdefault(piece, None)
    return tuple(seen)


@lru_cache(maxsize=200_000)
def _chunk_terms(chunk: str) -> tuple[str, ...]:
    """Terms of one run of Chinese characters or one Latin word (titles share most runs)."""
    pieces = _jieba().cut_for_search(chunk) if chunk[0] >= "\u4e00" else [chunk]
    return tuple(
        piece
        for piece in (p.strip() for p in pieces)
        if piece and piece not in STOPWORDS and len(piece) <= MAX_TERM_LENGTH
    )


def coarse_words(text: str) -> list[str]:
    """Whole words of a query (jieba's precise mode), lower-cased, stopwords removed."""
    text = fold_width(text or "").lower()
    tokenizer = _jieba()
    words: dict[str, None] = {}
    for chunk in _TOKEN.findall(text):
        pieces = tokenizer.lcut(chunk) if chunk[0] >= "\u4e00" else [chunk]
        for piece in pieces:
            piece = piece.strip()
            if piece and piece not in STOPWORDS and len(piece) <= MAX_TERM_LENGTH:
                words.setdefault(piece, None)
    return list(words)
