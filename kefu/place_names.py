"""Chinese place names in English replies: "上海" → "Shanghai", "广东省" → "Guangdong".

Carriers report tracking updates in Chinese ("【上海转运中心】"); an English-speaking customer
should read "Shanghai".  Names are written in Hanyu Pinyin without tones, as Chinese places are
in English (pypinyin), with the administrative ending dropped, except the few places English
knows by another name (:data:`CONVENTIONAL`).
"""

from __future__ import annotations

import re

# English names that are not the plain pinyin
CONVENTIONAL = {
    "香港": "Hong Kong",
    "澳门": "Macau",
    "西藏": "Tibet",
    "内蒙古": "Inner Mongolia",
    "西安": "Xi'an",
    "乌鲁木齐": "Urumqi",
    "呼和浩特": "Hohhot",
    "哈尔滨": "Harbin",
    "拉萨": "Lhasa",
}
_ENDINGS = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "省",
    "市",
    "县",
    "区",
)
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def _strip_ending(name: str) -> str:
    for ending in _ENDINGS:
        if name.endswith(ending) and len(name) > len(ending) + 1:
            return name[: -len(ending)]
    return name


def english_place(name: str) -> str:
    """One Chinese place name in English; text without Chinese is returned unchanged."""
    from pypinyin import lazy_pinyin

    base = _strip_ending(name.strip())
    if base in CONVENTIONAL:
        return CONVENTIONAL[base]
    if not _HAN_RUN.fullmatch(base):
        return name
    return "".join(lazy_pinyin(base)).capitalize()


def in_english(text: str) -> str:
    """``text`` with every run of Chinese characters read as a place name in English."""
    return _HAN_RUN.sub(lambda m: english_place(m.group()), text) if text else text
