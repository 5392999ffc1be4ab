"""Hybrid retrieval over the shop's facts: keywords (jieba, BM25) + multilingual embeddings.

Both rankings are fused by reciprocal-rank fusion (RRF, k = 60).  Whether the best fact answers
the question is judged on absolute signals, not on the fused rank (see :class:`Hit`):

* ``cosine``: the highest cosine similarity between the question and one of the fact's
  embedded phrasings (question, other phrasings, title, text; in both languages);
* ``coverage``: the share of the question's keyword weight (BM25 IDF) found in the fact.  A
  question about something the fact does not mention ("小米 15 支持无线充电吗" against the
  Xiaomi 15's specifications) covers little of its weight, even though the name matches.

:class:`KnowledgeBase` keeps an index for the current shop and rebuilds it when the catalog,
``policies.yml``, ``shop.yml`` or the FAQ folder change (a cheap fingerprint, checked at most
every ``refresh_seconds``).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kefu.config import ConfigError
from kefu.hanzi import to_simplified
from kefu.knowledge.embed import EmbeddingCache
from kefu.knowledge.facts import Fact
from kefu.segment import terms
from kefu.text import fold_width

logger = logging.getLogger(__name__)

RRF_K = 60
BM25_K1 = 1.2
BM25_B = 0.75
# Words of a question that say nothing about its subject ("请问你们可以…吗", "do you ...").
QUESTION_WORDS = frozenset(
    "请问 你们 你家 我们 咱们 贵店 本店 店里 可以 可不可以 能 能不能 能否 会 会不会 是否 是不是 "
    "怎么 怎么样 怎样 如何 怎么办 什么 什么样 哪些 哪个 哪里 哪儿 多少 多大 多久 多长 多长时间 几 "
    "几种 几个 谁 吗 呢 吧 呀 啊 么 嘛 没有 有没有 一下 一个 这个 那个 这款 那款 现在 我 想 "
    "想问 问 问问 请 谢谢 亲 您好 你好 还 都 也 就 要 需要 支持 提供 东西 帮忙 之前 之后 时候 "
    "什么时候 一般 来 最多 能用 能开 能付 能装 得 地 着 过 功能 特色 参数 规格 配置 信息 "
    "what which how when where who why can could would will should shall do does did is are "
    "was were be been have has had there this that these those it its they them we our us you "
    "your i me my please tell know want like get if not no yes any about from at by as so "
    "s m t ll ve re d say much many feature spec specs detail".split()
)


def normalise(text: str) -> str:
    """Full-width folded, Traditional Chinese made Simplified."""
    return to_simplified(fold_width(text or ""))


def _stem(word: str) -> str:
    """A light English stem ("restocked" → "restock", "cars" → "car"); other words as is."""
    if len(word) <= 4 or not word.isascii() or not word.isalpha():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words_of(text: str) -> list[str]:
    """Index and query terms: jieba search-mode terms, English lightly stemmed."""
    return list(dict.fromkeys(_stem(t) for t in terms(normalise(text))))


def question_terms(text: str) -> list[str]:
    return [t for t in words_of(text) if t not in QUESTION_WORDS]


@dataclass(frozen=True)
class Hit:
    fact: Fact
    score: float  # fused RRF score (ranking)
    cosine: float  # best embedding similarity of the question to the fact
    coverage: float  # share of the question's keyword weight found in the fact
    bm25: float

    @property
    def confidence(self) -> float:
        """One number for thresholds: mostly meaning, partly keyword coverage."""
        return 0.6 * self.cosine + 0.4 * self.coverage


def _phrasings(fact: Fact) -> list[str]:
    """The texts of a fact that are embedded (each one vector)."""
    out = [f"{fact.title.zh}", f"{fact.title.en}"]
    if fact.kind == "faq":
        out += [fact.search.zh, fact.search.en, fact.text.zh, fact.text.en]
        for language in ("zh", "en"):
            out += list(fact.meta.get("also", {}).get(language, ()))
    elif fact.kind == "product":
        out = [fact.search.zh, fact.search.en]
    else:
        out += [fact.search.zh, fact.search.en]
    return [o for o in dict.fromkeys(o.strip() for o in out) if o]


class KnowledgeIndex:
    """Facts with a BM25 keyword index and embedding vectors; :meth:`search` fuses both."""

    def __init__(self, facts: Sequence[Fact], cache: EmbeddingCache | None = None) -> None:
        self.facts = list(facts)
        self.cache = cache or EmbeddingCache()
        started = time.perf_counter()
        # keywords
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._lengths = np.zeros(len(self.facts), dtype=np.float32)
        for i, fact in enumerate(self.facts):
            words = words_of(f"{fact.search.zh} {fact.search.en}")
            self._lengths[i] = max(len(words), 1)
            for word in words:
                self._postings[word].append(i)
        self._avg_length = float(self._lengths.mean()) if len(self.facts) else 1.0
        n = max(len(self.facts), 1)
        self._idf = {
            w: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for w, p in self._postings.items()
        }
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)  # a word no fact has
        # embeddings
        owners: list[int] = []
        texts: list[str] = []
        for i, fact in enumerate(self.facts):
            for phrase in _phrasings(fact):
                owners.append(i)
                texts.append(phrase)
        self._owners = np.array(owners, dtype=np.int64)
        self._vectors = self.cache.embed(texts)
        self.build_seconds = time.perf_counter() - started
        logger.info(
            "Knowledge index: %d facts, %d vectors, built in %.1f s",
            len(self.facts),
            len(texts),
            self.build_seconds,
        )

    def _keyword_scores(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
        """BM25 scores, matched IDF weight per fact, and the question's total IDF weight."""
        scores = np.zeros(len(self.facts), dtype=np.float32)
        matched = np.zeros(len(self.facts), dtype=np.float32)
        total = 0.0
        for word in dict.fromkeys(words):
            idf = self._idf.get(word)
            if idf is None:
                # a word no fact has: counts against coverage, unless it is only a longer form
                # of words the facts do have ("礼品包装" when "礼品" and "包装" are known)
                total += self._unknown_idf
                continue
            total += idf
            postings = self._postings[word]
            norm = BM25_K1 * (1 - BM25_B + BM25_B * self._lengths[postings] / self._avg_length)
            scores[postings] += idf * (BM25_K1 + 1) / (1 + norm)
            matched[postings] += idf
        return scores, matched, total

    def search(
        self,
        question: str,
        limit: int = 5,
        vector: np.ndarray | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The best facts for ``question`` (of ``kinds``, default all), best first (fused
        rank), with their signals."""
        if not self.facts:
            return []
        text = normalise(question)
        words = question_terms(text)
        # a long word the facts lack is judged by its parts ("礼品包装" → 礼品, 包装)
        words = [w for w in words if not (w not in self._idf and _has_known_parts(w, words))]
        bm25, matched, total = self._keyword_scores(words)
        coverage = matched / total if total > 0 else np.zeros_like(matched)
        if vector is None:
            vector = self.cache.encoder.encode([text])[0]
        similarities = self._vectors @ vector
        cosine = np.full(len(self.facts), -1.0, dtype=np.float32)
        np.maximum.at(cosine, self._owners, similarities)
        if kinds is not None:
            excluded = np.array([f.kind not in kinds for f in self.facts])
            cosine[excluded] = -1.0
            bm25[excluded] = 0.0
        dense_rank = np.argsort(-cosine)
        keyword_rank = np.argsort(-bm25)
        fused = np.zeros(len(self.facts), dtype=np.float64)
        depth = min(len(self.facts), 200)
        for rank, i in enumerate(dense_rank[:depth]):
            fused[i] += 1.0 / (RRF_K + rank + 1)
        for rank, i in enumerate(keyword_rank[:depth]):
            if bm25[i] > 0:
                fused[i] += 1.0 / (RRF_K + rank + 1)
        best = np.argsort(-fused)[:limit]
        return [
            Hit(
                fact=self.facts[i],
                score=float(fused[i]),
                cosine=float(cosine[i]),
                coverage=float(coverage[i]),
                bm25=float(bm25[i]),
            )
            for i in best
        ]


def _has_known_parts(word: str, words: list[str]) -> bool:
    parts = [w for w in words if w != word and w in word]
    return bool(parts) and sum(len(p) for p in parts) >= len(word)


# ----------------------------------------------------------------------------- the shop's index


class KnowledgeBase:
    """The knowledge index of the current shop, rebuilt when one of its sources changes.

    Sources: ``policies.yml`` (``KEFU_POLICIES``), ``shop.yml`` (``KEFU_SHOP_CONFIG``), the FAQ
    folder (``KEFU_FAQ_DIR``) and the shop database (``KEFU_DB_URL``, or ``session_factory``).
    """

    def __init__(
        self,
        session_factory=None,
        *,
        policies_path: str | Path | None = None,
        config_path: str | Path | None = None,
        faq_dir: str | Path | None = None,
        cache: EmbeddingCache | None = None,
        refresh_seconds: float = 30.0,
        products: bool = True,
    ) -> None:
        self._sessions = session_factory
        self.policies_path = policies_path
        self.config_path = config_path
        self.faq_dir = faq_dir
        self.cache = cache
        self.refresh_seconds = refresh_seconds
        self.products = products
        self._index: KnowledgeIndex | None = None
        self._fingerprint: str | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.config = None
        self.policies = None

    def _session_factory(self):
        if self._sessions is None:
            from kefu.db import make_engine, make_session_factory

            self._sessions = make_session_factory(make_engine())
        return self._sessions

    def _paths(self):
        from kefu.config import DEFAULT_CONFIG_PATH
        from kefu.knowledge.faq import faq_files
        from kefu.policies import DEFAULT_POLICIES_PATH

        policies_path = Path(
            self.policies_path or os.environ.get("KEFU_POLICIES") or DEFAULT_POLICIES_PATH
        )
        config_path = Path(
            self.config_path or os.environ.get("KEFU_SHOP_CONFIG") or DEFAULT_CONFIG_PATH
        )
        return policies_path, config_path, faq_files(self.faq_dir)

    def index(self) -> KnowledgeIndex:
        """The index for the shop as it is now (rebuilt first if a source changed)."""
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked_at < self.refresh_seconds:
                return self._index
            self._checked_at = now
            from kefu.knowledge.facts import database_fingerprint, file_fingerprint

            policies_path, config_path, faq = self._paths()
            session = self._session_factory()() if self.products else None
            try:
                parts = [file_fingerprint([policies_path, config_path, *faq])]
                if session is not None:
                    parts.append(database_fingerprint(session))
                fingerprint = "-".join(parts)
                if fingerprint != self._fingerprint or self._index is None:
                    try:
                        self._index = self._build(session, policies_path, config_path, faq)
                    except ConfigError as error:
                        if self._index is None:
                            raise
                        # a mistake in an edited file: keep answering from the last good one
                        logger.error("Knowledge not rebuilt, keeping the last index: %s", error)
                    else:
                        self._fingerprint = fingerprint
            finally:
                if session is not None:
                    session.close()
            return self._index

    def _build(self, session, policies_path, config_path, faq) -> KnowledgeIndex:
        from kefu.config import load_shop_config
        from kefu.knowledge.facts import all_facts
        from kefu.knowledge.faq import load_faq
        from kefu.policies import load_policies

        self.config = load_shop_config(config_path)
        self.policies = load_policies(policies_path)
        facts = all_facts(session, self.config, self.policies, load_faq(faq))
        return KnowledgeIndex(facts, self.cache)
