"""Catalog entities in customer messages: categories, brands, products, colours, sizes, storage.

A spaCy ``PhraseMatcher`` (attribute ``LOWER``, on a blank pipeline) holds every name the shop
uses, built offline from the database.  Messages are tokenised here rather than by spaCy's
Chinese character segmenter, which splits Latin text into single letters (so "mi" would match
inside "mini"):

* every Han / kana / Hangul character is a token; a run of letters is one token; a run of digits
  is one token ("iPhone17Pro" → iphone · 17 · pro), so a term never matches inside a longer
  Latin word or number ("mi" not in "mini" or "Xiaomi", "iPhone 1" not in "iPhone 17");
* customers' spellings count: the pinyin of Chinese category and brand names ("xiaomi shouji")
  and, for a word the catalog does not know, the one catalog word it is a typo of ("iphnoe",
  "labtop"; :mod:`kefu.spelling`);
* separators do not count: spaces, hyphens, underscores, middle dots, apostrophes and brackets
  ("iphone17", "iPhone 17" and "iPhone-17" are the same, "《三体》" is "三体");
* full-width characters are folded first (``ＩＰＨＯＮＥ １７``); offsets stay the original's;
* where letters and digits touch ("mi17", "iPhone 17e"), a match may end or start there only if
  another match continues on the other side ("iphone17pro256g"), so "mi17" is no brand "mi" and
  "iPhone 17e" is never "iPhone 17".

Overlapping matches: the one with the most tokens (then characters) wins, then the earlier one,
then the entity in :data:`ENTITIES` order after brand and category (brand, category, product,
colour, storage, size).  Product names come from the titles (see :func:`product_names`); one
that equals a category or brand name (spaces aside) is never used, nor one made only of
numbers, single letters and words many models share ("17", "17 Pro", "X 500", "Ultra").

Normalisation of variant values (the ``value`` is always as stored on the variants):

* colours: Chinese and English names; a Chinese name ending in 色 also without it when two or
  more characters remain (深空灰色 → 深空灰); a one-character stem only directly before 的 and
  not inside a Chinese word ("要黑的", "白的有吗", but not "明白的"); "gray" also as "grey";
* storage: "256GB" also "256G" (not for one-digit numbers: 4G / 5G are networks), "1TB" also
  "1T"; "12GB+512GB" also "12G+512G", "12+512", "12+512G", "12/512", …;
* sizes: letter sizes of two or more letters as they are ("XL", "XXL" also "2XL", "3XL" also
  "XXXL"); one-letter and numeric sizes only with a marker ("M码", "L号", "size M", "M size",
  "尺码M", "42码", "EU 42"), because a bare "M" or "42" is rarely a size; "65-inch" also "65英寸",
  "65寸", "65吋", "65 inch(es)".

A name several entries share belongs to the entry that lists it among its first two names (its
own Chinese and English names, or a product's titles) over one that lists it later (synonyms,
derived names); on a tie, categories, brands and colours keep the first entry and products
drop the name, as two products of the same name cannot be told apart ("Legion Y9000P" for the
2025 and 2026 models).
"""

from __future__ import annotations

import gc
import hashlib
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from kefu.catalog import names_of
from kefu.models import Brand, Category, Product, ProductVariant
from kefu.series import SERIES_WORDS, Family, families
from kefu.spelling import CatalogSpelling, english_words, pinyin_forms_of
from kefu.text import clip, normalize_for_nlu

ENTITIES = ("product_category", "brand", "product", "color", "size", "storage")
# which entity wins when two matches cover exactly the same tokens
_PRIORITY = {
    **{"brand": 0, "product_category": 1, "product": 2, "series": 2},
    **{"color": 3, "storage": 4, "size": 5},
}

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_SEPARATORS = "\\s\\-‐‑‒–—―_·・•'\"“”‘’`()\\[\\]{}（）【】「」『』〔〕《》〈〉<>"
_TOKEN = re.compile(rf"(?P<C>[{_CJK}])|(?P<D>\d+)|(?P<L>[^\W\d_{_CJK}]+)|(?P<O>[^{_SEPARATORS}])")
_HAS_CJK = re.compile(f"[{_CJK}]")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_HAS_DIGIT = re.compile(r"\d")
_LETTER, _DIGIT, _HAN = "L", "D", "C"
_UNKNOWN = "<unk>"  # never a token: "<" and ">" are separators

# one-character colour stems are used before 的 only after these characters (or a non-Han one)
_STEM_MAY_FOLLOW = set("要有买拿选换成是那这个款种只双件台部来给")
_SIZE_MARKERS_AFTER = ("码", "号", "size")
_SIZE_MARKERS_BEFORE = ("size", "尺码", "码数", "eu")
_INCH = re.compile(r"^(\d+(?:\.\d+)?)\s*-?\s*(?:inch|inches|in|英寸|寸|吋|\")$", re.IGNORECASE)
_STORAGE_PART = re.compile(r"^(\d+)\s*(GB|TB|G|T)$", re.IGNORECASE)
_LETTER_SIZE = re.compile(r"^(?:(\d)X|(X*))([SML])$", re.IGNORECASE)

# words many models share: a product name needs more than these, numbers and single letters
_MODEL_WORDS = frozenset(
    "pro max ultra plus mini air lite se fe neo fold flip note edge prime new the of and for "
    "with gen series edition version".split()
)
# trailing words a product title may carry that customers leave out
_GENERIC_SUFFIXES = ("5G", "4G")
_TRAILING_BRACKET = re.compile(r"\s*[(（][^()（）]*[)）]$")
_GENERATION = re.compile(r"^第[一二三四五六七八九十\d]{1,3}代$")
_YEAR_SUFFIX = re.compile(r"\s*[(（]?(?:19|20)\d\d\s*(?:年?款|版)?[)）]?$")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while tens of thousands of small objects are made:
    each collection they would trigger walks every object in the process (TensorFlow, Rasa)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class CatalogMatch:
    entity: str  # one of ENTITIES
    value: str  # category key, brand key, product sku, colour (zh), size or storage as stored
    start: int  # character offsets into the original text
    end: int
    text: str  # original[start:end]


@dataclass(frozen=True)
class CatalogTerms:
    """What the shop calls things, as plain data, so a matcher can be built without a database.

    Names are listed best first: an entry's own names before its synonyms.
    """

    categories: list[tuple[str, list[str]]]  # (key, [zh name, en name, *synonyms])
    brands: list[tuple[str, list[str]]]  # (key, [zh name, en name, *synonyms, key])
    products: list[tuple[str, list[str]]]  # (sku, names customers use: see product_names)
    colors: list[tuple[str, list[str]]]  # (color_zh, [color_zh, color_en]); stems: the matcher
    sizes: list[str]  # as stored on variants; other spellings: the matcher
    storages: list[str]
    families: list[Family] = field(default_factory=list)  # "iPhone", "Mate" (kefu.series)

    @classmethod
    @_gc_paused()
    def from_session(cls, session: Session) -> CatalogTerms:
        """Read every category, brand, product (active or not) and variant value."""
        categories = session.execute(
            select(
                Category.id,
                Category.parent_id,
                Category.key,
                Category.name_zh,
                Category.name_en,
                Category.synonyms,
            ).order_by(Category.id)
        ).all()
        category_names = {c.id: names_of(c.name_zh, c.name_en, c.synonyms) for c in categories}
        parents = {c.id: c.parent_id for c in categories}
        brands = session.execute(
            select(Brand.id, Brand.key, Brand.name_zh, Brand.name_en, Brand.synonyms).order_by(
                Brand.id
            )
        ).all()
        brand_names = {b.id: [*names_of(b.name_zh, b.name_en, b.synonyms), b.key] for b in brands}
        products = session.execute(
            select(
                Product.sku,
                Product.title_zh,
                Product.title_en,
                Product.brand_id,
                Product.category_id,
            ).order_by(Product.id)
        ).all()
        product_terms = [
            (
                p.sku,
                product_names(
                    p.title_zh,
                    p.title_en,
                    brand_names[p.brand_id],
                    [n for c in _lineage(p.category_id, parents) for n in category_names[c]],
                ),
            )
            for p in products
        ]
        colors: dict[str, list[str]] = {}
        sizes: set[str] = set()
        storages: set[str] = set()
        variants = session.execute(
            select(
                ProductVariant.color_zh,
                ProductVariant.color_en,
                ProductVariant.size,
                ProductVariant.storage,
            ).distinct()
        )
        for color_zh, color_en, size, storage in variants:
            if color_zh:
                names = colors.setdefault(color_zh, [color_zh])
                if color_en and color_en not in names:
                    names.append(color_en)
            if size:
                sizes.add(size)
            if storage:
                storages.add(storage)
        brand_keys = {b.id: b.key for b in brands}
        category_keys = {c.id: c.key for c in categories}
        reserved = {
            n.lower() for names in [*category_names.values(), *brand_names.values()] for n in names
        }
        return cls(
            categories=[(c.key, category_names[c.id]) for c in categories],
            brands=[(b.key, brand_names[b.id]) for b in brands],
            products=product_terms,
            colors=sorted(colors.items()),
            sizes=sorted(sizes),
            storages=sorted(storages),
            families=families(
                [
                    (p.title_en, brand_keys[p.brand_id], category_keys[p.category_id])
                    for p in products
                ],
                {brand_keys[i]: names for i, names in brand_names.items()},
                reserved,
                english_words(),
            ),
        )


def _lineage(category_id: int, parents: dict[int, int | None]) -> list[int]:
    chain: list[int] = []
    current: int | None = category_id
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def product_names(
    title_zh: str, title_en: str, brand_names: list[str], category_names: list[str]
) -> list[str]:
    """The names customers use for a product, best first.

    ``brand_names`` are best first (Chinese name, English name, synonyms).  The names: the
    titles; the titles shortened step by step by trailing category words, brackets and
    generations ("苹果 iPhone 17 Pro 5G手机" → "苹果 iPhone 17 Pro"; "… Headphones (2nd Gen)" →
    "… Headphones" → "…"); the titles without the brand ("Gazelle", "iPhone 17 Pro") and the
    shortened ones without it unless one bare word remains ("拯救者 Y9000P 2025", not "Matte"
    from "MAC Matte Lipstick"); a model that starts with another name of the brand also without
    it when letters and digits remain ("Redmi K90 Pro" → "K90 Pro"); each model after the
    brand's own names and its Chinese synonyms ("华为 Mate 80 Pro", "Dyson V8 Slim Fluffy",
    "红米 K90 Pro"); and all of these without a trailing year.  Bare numbers and names equal to
    a brand or category are removed by the matcher.
    """
    brands = sorted({b.strip() for b in brand_names if b and b.strip()}, key=len, reverse=True)
    prefixes = [b for i, b in enumerate(brand_names) if b and (i < 2 or _HAS_CJK.search(b))]
    titles = [title_en.strip(), title_zh.strip()]
    stages = [_strip_suffixes(t, category_names) for t in titles]
    shortened = [s for title_stages in stages for s in title_stages]
    models = [m for m in (_strip_brand(t, brands) for t in titles) if m]
    models += [
        m
        for m in (_strip_brand(s, brands) for s in shortened)
        if m and (" " in m or _HAS_DIGIT.search(m) or _HAS_CJK.search(m))
    ]
    cores = [
        c
        for c in (_strip_brand(m, brands) for m in models)
        if c and _HAS_DIGIT.search(c) and _HAS_LETTER.search(c)
    ]
    # the brand before the shortest models: "华为" + "Mate 80 Pro", "红米" + "K90 Pro"
    shortest = [m for m in (_strip_brand(s[-1], brands) for s in stages) if m]
    shortest += [c for c in (_strip_brand(m, brands) for m in shortest) if c in cores]
    bare = [m for m in dict.fromkeys(shortest) if _strip_brand(m, brands) is None]
    names = [*titles, *shortened, *models]
    names += [f"{b} {m}" for m in bare for b in dict.fromkeys(prefixes)]
    names += cores
    names += [y for y in (_YEAR_SUFFIX.sub("", n) for n in names) if _HAS_DIGIT.search(y)]
    return list(dict.fromkeys(n for n in names if n))


def _strip_suffixes(title: str, category_names: list[str]) -> list[str]:
    """The title shortened step by step by trailing category words ("5G手机", "笔记本电脑",
    "Laptop", "5G"), brackets ("(2nd Gen)", "(USB-C)") and generations ("第二代"), shortest last;
    the title itself when nothing comes off."""
    cjk = [n for n in category_names if _HAS_CJK.search(n)]
    latin = sorted(
        {n.lower() for n in [*category_names, *_GENERIC_SUFFIXES] if not _HAS_CJK.search(n)},
        key=len,
        reverse=True,
    )
    stages = [title.strip()]
    while " " in stages[-1]:
        current = stages[-1]
        head, last = current.rsplit(" ", 1)
        bracket = _TRAILING_BRACKET.search(current)
        suffix = next((n for n in latin if current.lower().endswith(" " + n)), None)
        if _GENERATION.match(last) or (_HAS_CJK.search(last) and any(map(last.endswith, cjk))):
            stages.append(head.rstrip())
        elif bracket and bracket.start() > 0:
            stages.append(current[: bracket.start()])
        elif suffix:
            stages.append(current[: len(current) - len(suffix)].rstrip())
        else:
            break
    return stages[1:] or stages


def _strip_brand(name: str, brands: list[str]) -> str | None:
    """``name`` without a leading brand name, or ``None`` when it does not start with one."""
    lowered = name.lower()
    for brand in brands:
        if not lowered.startswith(brand.lower()):
            continue
        rest = name[len(brand) :]
        if not rest.strip():
            return None
        if rest[0].isspace() or (_HAS_CJK.search(brand[-1]) and not _HAS_CJK.match(rest[0])):
            return rest.strip()
    return None


class _Token(NamedTuple):
    start: int
    end: int
    kind: str  # C: Han / kana / Hangul character, D: digits, L: letters, O: anything else


def _tokens(text: str) -> list[_Token]:
    """Tokens of already width-folded text (see the module docstring)."""
    return [_Token(t.start(), t.end(), t.lastgroup) for t in _TOKEN.finditer(text)]


def _key(name: str) -> tuple[str, ...]:
    folded = normalize_for_nlu(name)
    return tuple(folded[t.start : t.end].lower() for t in _tokens(folded))


@dataclass(frozen=True)
class _Label:
    entity: str
    value: str
    trim_right: int = 0  # context tokens at the end that are not part of the entity ("黑的")
    guarded: bool = False  # a one-character colour stem: not after an unrelated Han character


class CatalogMatcher:
    """Finds the shop's categories, brands, products, colours, sizes and storage in a message."""

    @_gc_paused()
    def __init__(self, terms: CatalogTerms) -> None:
        self._nlp = spacy.blank("zh")  # its vocabulary only: messages are tokenised here
        self._matcher = PhraseMatcher(self._nlp.vocab, attr="LOWER")
        self._labels: dict[int, _Label] = {}
        # surface form → (priority, rank), entry index, label (None: two products share it)
        forms: dict[tuple[str, ...], tuple[tuple[int, int], int, _Label | None]] = {}
        reserved = {
            "".join(_key(n)) for _, names in [*terms.categories, *terms.brands] for n in names
        }
        for label, name, rank, entry in self._forms(terms):
            key = _key(name)
            if not key or (label.entity == "product" and not _usable_product_name(key, reserved)):
                continue
            score = (_PRIORITY[label.entity], min(rank, 2))  # own names, then all others
            best = forms.get(key)
            if best is None or score < best[0]:
                forms[key] = (score, entry, label)
            elif score == best[0] and entry != best[1] and label.entity == "product":
                forms[key] = (score, best[1], None)
        patterns: dict[_Label, list[Doc]] = defaultdict(list)
        self._words: set[str] = set()  # every word of every pattern, lower-cased
        for key, (_, _, label) in forms.items():
            if label is not None:
                patterns[label].append(Doc(self._nlp.vocab, words=list(key)))
                self._words.update(key)
        for label, docs in patterns.items():
            name = f"{label.entity}\x1f{label.value}\x1f{label.trim_right}\x1f{label.guarded}"
            self._labels[self._nlp.vocab.strings.add(name)] = label
            self._matcher.add(name, docs)
        self._spelling = CatalogSpelling(self._words)

    @classmethod
    def from_session(cls, session: Session) -> CatalogMatcher:
        """A matcher for the catalog in the database."""
        return cls(CatalogTerms.from_session(session))

    @staticmethod
    def _forms(terms: CatalogTerms) -> Iterator[tuple[_Label, str, int, int]]:
        """(label, surface form, rank within the entry, entry index) for every name."""
        pinyin = pinyin_forms_of(
            n for _, names in [*terms.categories, *terms.brands] for n in names
        )
        for entity, entries in (
            ("product_category", terms.categories),
            ("brand", terms.brands),
            ("product", terms.products),
        ):
            for index, (value, names) in enumerate(entries):
                for rank, name in enumerate(names):
                    yield _Label(entity, value), name, rank, index
                if entity != "product":  # "shouji", "xiaomi": few names, worth the pinyin
                    for name in {form for n in names for form in pinyin.get(n, ())}:
                        yield _Label(entity, value), name, len(names), index
        for index, (value, names) in enumerate(terms.colors):
            for rank, (name, trim, guarded) in enumerate(_color_forms(names)):
                yield _Label("color", value, trim, guarded), name, rank, index
        for index, value in enumerate(terms.storages):
            for name in _storage_forms(value):
                yield _Label("storage", value), name, 0, index
        for index, value in enumerate(terms.sizes):
            for name in _size_forms(value):
                yield _Label("size", value), name, 0, index
        for index, family in enumerate(terms.families):
            value = f"{family.brand}|{family.category or ''}"
            if not family.needs_series_word:
                yield _Label("series", value), family.name, 0, index
            for word in SERIES_WORDS:  # "Mate 系列", "Galaxy series"
                trim = len(_key(word))
                yield _Label("series", value, trim), f"{family.name} {word}", 0, index

    def match(self, text: str) -> list[CatalogMatch]:
        """Catalog entities in ``text``: sorted by start, non-overlapping, longest first."""
        # the first MAX_PARSE_CHARS characters, width-folded, Traditional read as Simplified
        folded = normalize_for_nlu(clip(text))
        tokens = _tokens(folded)
        if not tokens:
            return []
        # words no pattern has become one placeholder: the vocabulary does not grow with traffic
        words = [folded[t.start : t.end].lower() for t in tokens]
        words = self._spelling.correct_all(words, self._words)  # "iphnoe", "labtop"
        doc = Doc(self._nlp.vocab, words=[w if w in self._words else _UNKNOWN for w in words])
        found = [(self._labels[match_id], s, e) for match_id, s, e in self._matcher(doc)]
        starts = {s for _, s, _ in found}
        ends = {e for _, _, e in found}
        candidates = [
            (label, s, e)
            for label, s, e in found
            if _edges_ok(tokens, s, e, starts, ends)
            and not (label.guarded and _after_han_word(tokens, folded, s))
        ]
        candidates.sort(
            key=lambda c: (
                -(c[2] - c[1]),
                -(tokens[c[2] - 1].end - tokens[c[1]].start),
                c[1],
                _PRIORITY[c[0].entity],
            )
        )
        taken = [False] * len(tokens)
        matches = []
        for label, s, e in candidates:
            if any(taken[s:e]):
                continue
            taken[s:e] = [True] * (e - s)
            start, end = tokens[s].start, tokens[e - 1 - label.trim_right].end
            matches.extend(_matches_for(label, start, end, text[start:end]))
        return _without_repeats(sorted(matches, key=lambda m: m[0].start))


def _matches_for(label: _Label, start: int, end: int, text: str) -> list[tuple[CatalogMatch, bool]]:
    """The entities a match stands for, each with whether it comes from a product family:
    a family is its brand (and its category)."""
    if label.entity != "series":
        return [(CatalogMatch(label.entity, label.value, start, end, text), False)]
    brand, category = label.value.split("|")
    found = [(CatalogMatch("brand", brand, start, end, text), True)]
    if category:
        found.append((CatalogMatch("product_category", category, start, end, text), True))
    return found


def _without_repeats(matches: list[tuple[CatalogMatch, bool]]) -> list[CatalogMatch]:
    """A family's brand or category dropped where the message names that brand or category
    anyway ("华为Mate系列", "Pura 系列的手机")."""
    named = {(m.entity, m.value) for m, from_family in matches if not from_family}
    kept, seen = [], set()
    for m, from_family in matches:
        key = (m.entity, m.value)
        if from_family and (key in named or key in seen):
            continue
        seen.add(key)
        kept.append(m)
    return kept


def _usable_product_name(key: tuple[str, ...], reserved: set[str]) -> bool:
    """Not a category or brand name (spaces aside: "eye shadow" is "eyeshadow"), and more than
    numbers, single letters and words that many models share ("17", "17 Pro", "X 500")."""
    if "".join(key) in reserved:
        return False
    return any(
        _HAS_CJK.match(t) or (len(t) > 1 and _HAS_LETTER.match(t) and t not in _MODEL_WORDS)
        for t in key
    )


def _glued(tokens: list[_Token], left: int) -> bool:
    """Whether token ``left`` and the next one touch as letters against digits ("mi17")."""
    a, b = tokens[left], tokens[left + 1]
    return a.end == b.start and {a.kind, b.kind} == {_LETTER, _DIGIT}


def _edges_ok(tokens: list[_Token], s: int, e: int, starts: set[int], ends: set[int]) -> bool:
    """A match may end where letters and digits touch only if another match continues there."""
    if s > 0 and _glued(tokens, s - 1) and s not in ends:
        return False
    return not (e < len(tokens) and _glued(tokens, e - 1) and e not in starts)


def _after_han_word(tokens: list[_Token], folded: str, s: int) -> bool:
    """Whether a one-character colour stem directly follows an unrelated Han character."""
    if s == 0 or tokens[s - 1].end != tokens[s].start or tokens[s - 1].kind != _HAN:
        return False
    return folded[tokens[s - 1].start] not in _STEM_MAY_FOLLOW


def _color_forms(names: list[str]) -> Iterator[tuple[str, int, bool]]:
    """(form, context tokens to trim, guarded) for a colour's names."""
    for name in names:
        yield name, 0, False
        if "gray" in name.lower():
            yield re.sub("gray", "grey", name, flags=re.IGNORECASE), 0, False
    for name in names:
        if _HAS_CJK.search(name) and name.endswith("色") and len(name) > 1:
            stem = name[:-1]
            if len(stem) >= 2:
                yield stem, 0, False
            elif _HAS_CJK.match(stem):
                yield stem + "的", 1, True


def _storage_forms(value: str) -> list[str]:
    """ "256GB" → 256GB, 256G; "12GB+512GB" → 12GB+512GB, 12G+512G, 12+512, 12/512, …"""
    parts = re.split(r"\s*[+/]\s*", value.strip())
    options = [_storage_part_forms(p) for p in parts]
    if len(parts) == 1:
        return [value, *options[0]]
    if len(parts) != 2 or not options[0] or not options[1]:
        return [value]
    first_number = _STORAGE_PART.match(parts[0]).group(1)  # type: ignore[union-attr]
    second_number, second_unit = _STORAGE_PART.match(parts[1]).groups()  # type: ignore[union-attr]
    firsts = [*options[0], first_number]
    seconds = [*options[1]]
    if second_unit.upper().startswith("G"):
        seconds.append(second_number)
    forms = [value]
    forms += [f"{a}{sep}{b}" for a in firsts for b in seconds for sep in "+/"]
    return forms


def _storage_part_forms(part: str) -> list[str]:
    found = _STORAGE_PART.match(part)
    if not found:
        return []
    number, unit = found.group(1), found.group(2).upper()[0]
    forms = [f"{number}{unit}B"]
    if unit == "T" or len(number) > 1:  # "4G" / "5G" are mobile networks, not storage
        forms.append(f"{number}{unit}")
    return forms


def _size_forms(value: str) -> list[str]:
    """Forms of a size as customers write it (see the module docstring)."""
    size = value.strip()
    inch = _INCH.match(size)
    if inch:
        number = inch.group(1)
        return [size, *(f"{number}{u}" for u in ("inch", "inches", "英寸", "寸", "吋"))]
    bare = size.isdigit() or len(size) == 1
    forms = [] if bare else [size]
    letters = _LETTER_SIZE.match(size)
    if letters:  # XXL = 2XL, 3XL = XXXL
        count = int(letters.group(1)) if letters.group(1) else len(letters.group(2))
        if count >= 2:
            forms += [f"{count}X{letters.group(3)}", "X" * count + letters.group(3)]
    if bare:
        forms += [f"{size}{m}" for m in _SIZE_MARKERS_AFTER]
        forms += [f"{m} {size}" for m in _SIZE_MARKERS_BEFORE]
    return forms


def catalog_fingerprint(session: Session) -> str:
    """A short hash that changes whenever a category, brand, product or variant name changes.

    One aggregate query: per table the row count and the sum of a hash of the columns the
    matcher reads (names, synonyms, SKUs, brand and category of products, variant colours,
    sizes and storage).  Prices and stock do not count.  SQLite and PostgreSQL hash in SQL;
    other databases fall back to reading those columns.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        connection = session.connection().connection
        connection.create_function("kefu_crc32", 1, _crc32, deterministic=True)
        row_hash = "kefu_crc32({})"
    elif dialect == "postgresql":
        row_hash = "('x' || substr(md5({}), 1, 8))::bit(32)::int"
    else:
        return _fingerprint_by_reading(session)
    parts = []
    for table, columns in _FINGERPRINT_COLUMNS:
        concatenated = " || '\x1f' || ".join(f"coalesce(CAST({c} AS TEXT), '')" for c in columns)
        parts.append(f"(SELECT count(*) FROM {table})")
        parts.append(f"(SELECT coalesce(sum({row_hash.format(concatenated)}), 0) FROM {table})")
    row = session.execute(sql("SELECT " + ", ".join(parts))).one()
    return _digest(row)


_FINGERPRINT_COLUMNS = (
    ("categories", ("id", "parent_id", "key", "name_zh", "name_en", "synonyms")),
    ("brands", ("id", "key", "name_zh", "name_en", "synonyms")),
    ("products", ("id", "sku", "title_zh", "title_en", "brand_id", "category_id")),
    ("product_variants", ("product_id", "color_zh", "color_en", "size", "storage")),
)


def _crc32(value: str | None) -> int:
    return zlib.crc32((value or "").encode("utf-8"))


def _fingerprint_by_reading(session: Session) -> str:
    values: list[object] = []
    for table, columns in _FINGERPRINT_COLUMNS:
        rows = session.execute(sql(f"SELECT {', '.join(columns)} FROM {table}"))
        values.append(sorted(repr(tuple(r)) for r in rows))
    return _digest(values)


def _digest(values: Iterable[object]) -> str:
    return hashlib.sha256(repr(tuple(values)).encode("utf-8")).hexdigest()[:16]
