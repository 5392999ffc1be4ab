"""Questions about one named product: which product, and which of its facts answer.

"格力云佳1匹空调能装在12平的房间吗" names a product (its distinctive title words are in the
question) and asks about an aspect (房间 / 平 → the room-size specification).  The answer is the
product's lines that cover the aspect; when the product is known but none of its lines covers
what is asked ("小米 15 支持无线充电吗": the shop's data does not say), the caller declines
honestly instead of showing unrelated specifications.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from kefu.knowledge.facts import Fact
from kefu.knowledge.index import QUESTION_WORDS, normalise
from kefu.segment import terms

# Words customers use for a line of a product fact (by the line's label, zh or en), beyond
# the label itself.
LINE_WORDS: dict[str, str] = {
    "售价": "价格 价钱 多少钱 钱 贵 便宜 售价 原价 优惠 打折 price cost costs much cheap expensive",
    "Price": "价格 价钱 多少钱 钱 贵 便宜 售价 price cost costs much cheap expensive",
    "颜色": "颜色 几种颜色 什么颜色 色 配色 黑色 白色 color colour colors colours",
    "Colours": "颜色 色 配色 color colour colors colours",
    "版本": "版本 内存 存储 容量 多大 gb tb 配置 storage memory version versions",
    "Versions": "版本 内存 存储 容量 storage memory version versions ram rom",
    "尺码": "尺码 码 码数 尺寸 大小 size sizes",
    "Sizes": "尺码 码 尺寸 size sizes fit",
    "上市": "上市 发布 新款 什么时候 released release launch",
    "Released": "上市 发布 released release launch",
    "适用面积": "面积 房间 平 平米 平方 多大 适合 适用 room rooms square area",
    "Room size": "面积 房间 平 room rooms square area size",
    "电池": "电池 电量 续航 mah 毫安 battery",
    "Battery": "电池 续航 battery mah",
    "屏幕": "屏幕 屏 尺寸 英寸 寸 screen display inch",
    "Screen": "屏幕 屏 screen display inch",
    "摄像头": "摄像头 像素 拍照 相机 镜头 camera photo megapixel",
    "Camera": "摄像头 拍照 camera photo",
    "芯片": "芯片 处理器 cpu chip processor soc",
    "Chip": "芯片 处理器 chip processor",
    "重量": "重量 多重 重 轻 克 斤 公斤 weight heavy light",
    "Weight": "重量 多重 weight heavy light",
    "匹数": "匹 匹数 制冷量 horsepower hp",
    "Horsepower": "匹 horsepower hp",
    "能效等级": "能效 耗电 省电 energy efficiency",
    "Energy grade": "能效 省电 energy efficiency grade",
    "容量": "容量 多大 升 公斤 capacity litres liters",
    "Capacity": "容量 capacity litres liters",
    "防水": "防水 游泳 water waterproof",
    "Water resistance": "防水 water waterproof swim",
    "降噪": "降噪 noise cancelling anc",
    "Noise cancelling": "降噪 noise cancelling anc",
    "保质期": "保质期 过期 多久 shelf life expiry",
    "Shelf life": "保质期 shelf life expiry expire",
    "材质": "材质 面料 材料 material fabric",
    "Material": "材质 material fabric",
}
# a title word shared by more products than this says which kind, not which product
DISTINCTIVE_MAX_PRODUCTS = 25
GENERIC_WEIGHT = 0.2  # the weight of such a word, relative to its IDF
MIN_NAME_SHARE = 0.7  # IDF-weighted share of a product's title the question must name, or
MIN_NAME_WEIGHT = 12.0  # the weight of its title words named (two or more rare words)


@dataclass(frozen=True)
class ProductAnswer:
    fact: Fact
    lines: dict[str, list[str]]  # language → lines of the fact that answer (title first)
    asked: list[str]  # the aspect words of the question
    answered: bool  # some line covers what is asked (or nothing specific was asked)


class ProductNames:
    """Title words of every product fact, weighted by how rare they are among titles, to find
    the product a question names ("小米15" names 小米 15 5G手机 more than 小米 15 Ultra)."""

    def __init__(self, facts: list[Fact]) -> None:
        self.facts = [f for f in facts if f.kind == "product"]
        self._titles: list[tuple[set[str], set[str]]] = []  # (zh title words, en title words)
        df: Counter[str] = Counter()
        for fact in self.facts:
            zh = set(terms(normalise(fact.title.zh)))
            en = set(terms(normalise(fact.title.en)))
            self._titles.append((zh, en))
            df.update(zh | en)
        n = max(len(self.facts), 1)
        # a word in many titles ("手机", "5G", "小米") says little about which product
        self._idf = {
            w: math.log(1 + n / c) * (1.0 if c <= DISTINCTIVE_MAX_PRODUCTS else GENERIC_WEIGHT)
            for w, c in df.items()
        }
        self._by_term: dict[str, list[int]] = {}
        self._all_by_term: dict[str, list[int]] = {}
        for i, (zh, en) in enumerate(self._titles):
            for word in zh | en:
                self._all_by_term.setdefault(word, []).append(i)
                if df[word] <= DISTINCTIVE_MAX_PRODUCTS:
                    self._by_term.setdefault(word, []).append(i)

    def named(self, question: str) -> list[tuple[Fact, float, set[str]]]:
        """Products the question names, best first: (fact, IDF-weighted share of its title
        named in the question, the title words named)."""
        words = set(terms(normalise(question)))
        candidates = {i for w in words for i in self._by_term.get(w, ())}
        if not candidates:  # only common words ("小米" "15"): every product with them
            candidates = {i for w in words for i in self._all_by_term.get(w, ())}
        found = []
        for i in candidates:
            share = named_weight = 0.0
            for title in self._titles[i]:
                total = sum(self._idf[w] for w in title)
                weight = sum(self._idf[w] for w in title & words)
                if total:
                    share = max(share, weight / total)
                    named_weight = max(named_weight, weight)
            if share >= MIN_NAME_SHARE or named_weight >= MIN_NAME_WEIGHT:
                zh, en = self._titles[i]
                found.append((self.facts[i], share, (zh | en) & words))
        found.sort(key=lambda f: -f[1])
        return found


def _line_words(line: str) -> set[str]:
    label = line.split("：", 1)[0] if "：" in line else line.split(": ", 1)[0]
    extra = LINE_WORDS.get(label.strip(), "")
    return set(terms(normalise(f"{line} {extra}")))


def answer_about(fact: Fact, question: str, named_words: set[str]) -> ProductAnswer:
    """The lines of a product fact that answer ``question`` (in both languages)."""
    words = [
        w for w in terms(normalise(question)) if w not in QUESTION_WORDS and w not in named_words
    ]
    title_words = set(terms(normalise(f"{fact.title.zh} {fact.title.en}")))
    asked = [w for w in words if w not in title_words]
    # a number alone ("12" in "能装在12平的房间吗") is a value, not what is asked about
    aspects = [w for w in asked if not any(c.isdigit() for c in w)]
    zh_lines = fact.text.zh.split("\n")
    en_lines = fact.text.en.split("\n")
    if not aspects:  # "小米 15 怎么样": the whole product
        whole = {"zh": [x for x in zh_lines if x], "en": [x for x in en_lines if x]}
        return ProductAnswer(fact, whole, asked, True)
    chosen = []
    for index in range(1, min(len(zh_lines), len(en_lines))):
        if not zh_lines[index] and not en_lines[index]:
            continue
        covered = _line_words(zh_lines[index]) | _line_words(en_lines[index])
        if any(w in covered for w in aspects):
            chosen.append(index)
    lines = {
        "zh": [zh_lines[0]] + [zh_lines[i] for i in chosen],
        "en": [en_lines[0]] + [en_lines[i] for i in chosen],
    }
    return ProductAnswer(fact, lines, asked, bool(chosen))
