"""Product families ("iPhone", "Mate 系列", "Galaxy series"), found in the catalog's own titles.

A family is the first word after the brand in at least :data:`MIN_PRODUCTS` of one brand's
product titles ("Apple iPhone 17 Pro", "Apple iPhone Air" → iPhone; "Huawei Mate 80" → Mate).
Nothing is hard-coded: a shop that adds a family gets it with its next catalog.  A customer who
asks for a family means its brand, and its category when all of the family is in one: the
catalog matcher reads the family's name as both (:mod:`kefu.matcher`).

A family name that is also an English word ("Mate", "Galaxy") is read only before "系列" or
"series", so "a smart watch for my mate" names no family.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass

MIN_PRODUCTS = 2
SERIES_WORDS = ("系列", "series")  # what customers put after a family's name
_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
# words many titles start with that name no family
_NOT_A_FAMILY = frozenset(
    "pro max ultra plus mini air lite se fe neo new the of and for with gen edition version "
    "smart wireless portable".split()
)


@dataclass(frozen=True)
class Family:
    name: str  # as written in the titles ("iPhone")
    brand: str  # brand key
    category: str | None  # category key when every product of the family is in it
    needs_series_word: bool  # an English word: only "Mate 系列", "Mate series"


def _first_word_after_brand(title: str, brand_names: list[str]) -> str | None:
    rest = title.strip()
    for name in sorted(brand_names, key=len, reverse=True):
        if name and rest.lower().startswith(name.lower()):
            rest = rest[len(name) :].strip()
            break
    found = _WORD.match(rest)
    if not found:
        return None
    word = found.group()
    end = found.end()
    if end < len(rest) and rest[end].isdigit():
        return None  # "X6": a model, not a family
    return None if word.lower() in _NOT_A_FAMILY else word


def families(
    products: Iterable[tuple[str, str, str]],
    brand_names: dict[str, list[str]],
    reserved: set[str],
    english: Container[str],
) -> list[Family]:
    """Families of (title_en, brand key, category key) rows; ``reserved`` names (brands,
    categories) are never families; ``english`` words need "系列"/"series" after them."""
    members: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for title, brand, category in products:
        word = _first_word_after_brand(title or "", brand_names.get(brand, []))
        if word and word.lower() not in reserved:
            members[(brand, word.lower())].append((word, category))
    found = []
    for (brand, key), rows in sorted(members.items()):
        if len(rows) < MIN_PRODUCTS:
            continue
        categories = {category for _, category in rows}
        name = max((w for w, _ in rows), key=[w for w, _ in rows].count)
        category = categories.pop() if len(categories) == 1 else None
        # "iPhone", "MateBook": a trademark's spelling is no common word; "Mate", "nova" may be
        plain = name.islower() or name == name.capitalize()
        found.append(Family(name, brand, category, plain and key in english))
    # a name two brands use for a family is nobody's
    owners: dict[str, set[str]] = defaultdict(set)
    for family in found:
        owners[family.name.lower()].add(family.brand)
    return [f for f in found if len(owners[f.name.lower()]) == 1]
