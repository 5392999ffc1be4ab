"""How a customer feels, from -1 (angry) through 0 (neutral) to +1 (pleased), per message.

Two off-the-shelf models do the reading; both ship their data inside the package and read
only files from site-packages (nothing is downloaded):

* Chinese: SnowNLP's naive-Bayes sentiment classifier (trained on product reviews), ``p`` in
  [0, 1] mapped to ``2p - 1``.  It is slow on long text, so it reads the first
  :data:`MODEL_MAX_CHARS` characters.
* English: VADER's ``compound`` score, already in [-1, 1].  Its time grows with the square of
  the number of words, so it reads the first :data:`VADER_MAX_CHARS` characters.

Both are loaded on first use and kept for the process (SnowNLP's model through
:mod:`kefu.zh_sentiment`, which gives its scores in 20 MB instead of 400);
:func:`preload` loads them ahead of time.

**Calibration.**  SnowNLP is unreliable on the short, plain messages customers send: it scores
neutral questions such as "可以货到付款吗" near -0.9 and misses shop slang, and VADER misses
shop words ("garbage", "money back", "still not delivered").  So each language has a short,
explicit list of cue words and phrases (:data:`ZH_CUES`, :data:`EN_CUES`) whose weights are
summed into a cue score ``c`` in [-1, 1] with four rules:

1. longest match first, and a match consumes its characters: "不满意" is not also "满意";
   "false friends" with weight 0 ("麻烦" is polite, not "烦"; "差不多" is not "差") shield
   ordinary words from a cue inside them;
2. a negator right before a positive cue turns it negative ("不耐心", "not helpful"); an
   intensifier before a Chinese cue ("非常", "太") strengthens it;
3. in Chinese the clause after a contrast ("但是", "不过") counts more than the one before;
4. in a question, positive cues count little ("这个好用吗" asks, it does not praise); the same
   holds for a positive VADER score of an English question ("which methods do you accept?").

Repeated "!" or "？" strengthen a cue score.  Then:

* cues found: ``score = w·c + (1 - w)·model`` with ``w`` = :data:`CUE_WEIGHT` (the cue
  list decides the sign, the model the shading);
* no cue, Chinese: ``score = trust·model``, where the trust in SnowNLP grows with the number of
  Chinese characters (:data:`ZH_TRUST_FULL_CHARS`) between :data:`ZH_TRUST_MIN` and
  :data:`ZH_TRUST_MAX`, and is multiplied by :data:`ZH_QUESTION_TRUST` for a question or a
  request ("我想换个地址");
* English: VADER's score as is without cues (it is calibrated for short texts), the cue score
  alone when VADER knows none of the words.

What this achieves on the phrases in ``tests/unit/test_sentiment.py``: clear complaints score
below -0.3, clear thanks and praise above +0.3, and plain questions and requests stay within
the neutral band ±0.3 (:data:`NEUTRAL_BAND`); it is a heuristic, not a judgement.

The language is the one given, else :func:`kefu.language.detect_language` (mixed text counts
as its dominant language).  Text without letters (digits, emoji, punctuation) and languages
other than Chinese and English score 0.0.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from kefu.language import detect_language
from kefu.text import fold_width

MODEL_MAX_CHARS = 64  # SnowNLP reads at most this much of a message (~0.4 ms a character)
VADER_MAX_CHARS = 500  # VADER reads at most this much (it lower-cases every word for each word)
TEXT_MAX_CHARS = 2000  # the cues read at most this much
NEUTRAL_BAND = 0.3  # |score| below this is "neutral" in the tests and the summary wording

# weight of the cue score against the model's score when a message has cues
CUE_WEIGHT = {"zh": 0.75, "en": 0.6}
# how far SnowNLP is trusted without cues: the trust grows linearly with the number of Chinese
# characters up to ZH_TRUST_FULL_CHARS, clamped to [ZH_TRUST_MIN, ZH_TRUST_MAX]; questions less
ZH_TRUST_MIN, ZH_TRUST_MAX, ZH_TRUST_FULL_CHARS = 0.2, 0.7, 24
ZH_QUESTION_TRUST = 0.4
QUESTION_POSITIVE_FACTOR = 0.3  # a positive cue inside a question
NEGATED_FACTOR = -0.8  # a negated positive cue
INTENSIFIED_FACTOR = 1.3  # a Chinese cue after 非常 / 太 / 特别 ...
CONTRAST_BEFORE, CONTRAST_AFTER = 0.5, 1.5  # Chinese cues before / after the last "但是"
EMPHASIS_STEP, EMPHASIS_MAX_MARKS = 0.1, 3  # each "!" / repeated "?" adds 10 %, up to 3

# Frustration (:func:`frustrated`): the customer's last FRUSTRATION_WINDOW messages
FRUSTRATION_WINDOW = 3
STRONG_NEGATIVE = -0.5  # two such messages in the window
NEGATIVE = -NEUTRAL_BAND  # a negative message with "??" / "!!"
REPEAT_SIMILARITY = 0.85  # the same question again (difflib ratio of the normalised texts)
REPEAT_MIN_CHARS = 4  # "ok" / "好的" twice is not a repeated question
REPEAT_MAX_CHARS = 500  # compared at most (difflib's time grows faster than the length)

# Chinese cues: weight in [-1, 1]; 0 marks a false friend that shields the words inside it.
ZH_CUES: dict[str, float] = {
    # strongly negative: insults, fraud, giving up on the shop, escalation
    "垃圾": -0.9, "辣鸡": -0.9, "骗子": -1.0, "骗人": -0.9, "诈骗": -1.0, "欺诈": -1.0,
    "欺骗": -0.9, "假货": -0.9, "上当": -0.8, "忽悠": -0.8, "坑人": -0.9, "坑爹": -0.9,
    "坑": -0.7, "气死": -0.9, "生气": -0.7, "太差": -0.9, "很差": -0.8, "好差": -0.8,
    "真差": -0.8, "极差": -1.0, "超差": -0.9, "质量差": -0.8, "态度差": -0.8, "差劲": -0.9,
    "差评": -0.8, "恶劣": -0.9, "恶心": -0.9, "太烂": -0.9, "烂透": -1.0, "破东西": -0.8,
    "再也不买": -1.0, "再也不来": -1.0, "再也不会": -0.8, "投诉": -0.8, "曝光": -0.8,
    "消协": -0.8, "12315": -0.8, "退钱": -0.8, "失望": -0.7, "后悔": -0.6, "离谱": -0.7,
    "过分": -0.7, "受不了": -0.7, "崩溃": -0.7, "心累": -0.6, "有病": -0.8, "拉黑": -0.7,
    "敷衍": -0.7, "糊弄": -0.7, "不靠谱": -0.7, "什么鬼": -0.7, "搞什么": -0.6,
    "妈的": -0.9, "他妈": -0.9, "tmd": -0.9, "尼玛": -0.8, "傻逼": -1.0, "sb": -0.8,
    "无语": -0.6, "醉了": -0.5, "真服了": -0.6, "我服了": -0.6, "呵呵": -0.4,
    "卧槽": -0.4, "我靠": -0.4, "烦死": -0.8, "烦": -0.5,
    # negative about the service: slow, broken, ignored, unresolved, dissatisfied
    "太慢": -0.6, "好慢": -0.5, "慢死": -0.8, "还没到": -0.4, "还没发货": -0.5,
    "不发货": -0.5, "没人管": -0.6, "没人理": -0.6, "没人回": -0.6, "不回复": -0.5,
    "不理人": -0.6, "坏了": -0.5, "破损": -0.6, "碎了": -0.5, "发错": -0.5, "延迟": -0.4,
    "延误": -0.4, "怎么回事": -0.4, "到底": -0.3, "没解决": -0.6, "没有解决": -0.6,
    "不满意": -0.7, "很不满意": -0.9, "非常不满意": -1.0, "不太满意": -0.5,
    "不是很满意": -0.6, "不好用": -0.6, "不好": -0.5, "不太好": -0.4, "不行": -0.4,
    "不能用": -0.5, "用不了": -0.5, "没用": -0.5, "不喜欢": -0.6,
    # positive: thanks, praise, satisfaction
    "谢谢": 0.6, "谢啦": 0.6, "多谢": 0.6, "感谢": 0.7, "非常感谢": 0.9, "辛苦": 0.6,
    "满意": 0.7, "很满意": 0.9, "非常满意": 1.0, "好评": 0.8, "点赞": 0.7, "赞": 0.6,
    "太棒": 0.9, "很棒": 0.8, "真棒": 0.8, "棒": 0.7, "很好": 0.6, "非常好": 0.8,
    "挺好": 0.5, "不错": 0.6, "给力": 0.7, "靠谱": 0.5, "喜欢": 0.6, "爱了": 0.7,
    "完美": 0.8, "惊喜": 0.6, "好用": 0.6, "耐心": 0.5, "专业": 0.4, "贴心": 0.6,
    "热情": 0.5, "用心": 0.5, "解决了": 0.5, "很快": 0.4, "超快": 0.5, "真快": 0.4,
    "开心": 0.6, "高兴": 0.6, "yyds": 0.8, "没问题": 0.3, "好的": 0.2, "哈哈": 0.3,
    "回购": 0.6, "杠杠的": 0.7,
    "👍": 0.6, "😊": 0.5, "🙂": 0.4, "😄": 0.5, "❤️": 0.6, "🥰": 0.6, "🙏": 0.4,
    "😡": -0.8, "🤬": -0.9, "😤": -0.6, "😠": -0.7, "👎": -0.7, "💢": -0.6, "😭": -0.4,
    # false friends: ordinary words that contain a cue
    "麻烦": 0.0, "差不多": 0.0, "差价": 0.0, "差额": 0.0, "出差": 0.0, "相差": 0.0,
    "行不行": 0.0, "没用过": 0.0, "不好意思": 0.0, "好不好": 0.0, "棒球": 0.0,
    "赞助": 0.0, "坑位": 0.0, "满意度": 0.0,
}  # fmt: skip

ZH_NEGATORS = (
    "一点都不",
    "一点也不",
    "不是很",
    "不怎么",
    "不太",
    "不够",
    "没有",
    "并不",
    "不",
    "没",
    "别",
)
ZH_INTENSIFIERS = ("非常", "特别", "十分", "极其", "超级", "太", "超", "真", "很", "巨", "贼", "好")
ZH_CONTRASTS = ("但是", "可是", "不过", "然而", "只是", "但")
ZH_QUESTION = re.compile(
    r"[?？]|[吗嘛呢][\s~～。.!！]*$|怎么|什么|哪|多少|几|是否|能不能|可不可以|有没有|会不会|是不是"
)
# requests say what the customer wants, not how they feel: SnowNLP is trusted as little as
# for a question
ZH_REQUEST = re.compile(r"^(?:请|麻烦|帮我|帮忙|我想|我要|想要|给我|能否)")

# English cues: words and phrases VADER does not know or misreads in a shop (it reads
# "not delivered, ridiculous" as positive: its "not" flips "ridiculous").
EN_CUES: dict[str, float] = {
    "garbage": -0.8, "trash": -0.7, "junk": -0.7, "crap": -0.7, "scammer": -0.9,
    "scammers": -0.9, "scamming": -0.9, "scam": -0.9, "rip-off": -0.8, "ripoff": -0.8,
    "rip off": -0.8, "money back": -0.6, "refund now": -0.6, "complaint": -0.6,
    "complain": -0.6, "never again": -0.8, "never buy": -0.8, "never order": -0.8,
    "never shop": -0.8, "waste of money": -0.8, "waste of time": -0.8, "fed up": -0.8,
    "sick of": -0.6, "tired of": -0.6, "not delivered": -0.5, "not received": -0.5,
    "never arrived": -0.6, "never received": -0.6, "hasn't arrived": -0.5,
    "has not arrived": -0.5, "haven't received": -0.5, "have not received": -0.5,
    "didn't arrive": -0.5, "did not arrive": -0.5, "didn't receive": -0.5,
    "not shipped": -0.5, "not fixed": -0.4, "still waiting": -0.5, "still haven't": -0.5,
    "charged me twice": -0.6,
    "nobody answers": -0.6, "nobody helps": -0.6, "no one answers": -0.6,
    "no one helps": -0.6, "nobody cares": -0.6, "where the hell": -0.8,
    "what the hell": -0.7, "this is the third time": -0.5, "3rd time": -0.5,
    "third time": -0.5, "broke": -0.5, "ridiculous": -0.6, "unacceptable": -0.7,
    "tysm": 0.8, "much appreciated": 0.7, "appreciate it": 0.7, "well done": 0.6,
    "problem solved": 0.6, "cheers": 0.5,
}  # fmt: skip
EN_NEGATORS = re.compile(r"\b(?:not|never|no|hardly|isn't|wasn't|aren't|don't)\s+(?:\w+\s+)?$")
# EN_NEGATORS on the original text, searched only in the two words before a cue
_EN_NEGATED = re.compile(EN_NEGATORS.pattern, re.IGNORECASE)
_NEGATOR_REACH = 8  # longer than any negator ("hardly")
EN_QUESTION = re.compile(
    r"\?|^\s*(?:can|could|do|does|did|is|are|will|would|how|what|where|when|which|why)\b",
    re.IGNORECASE,
)

_REPEATED_MARKS = re.compile(r"[?？!！]{2,}")
_EMPHASIS = re.compile(r"[!！]|(?<=[?？])[?？]")
_NOT_A_WORD_CHAR = re.compile(r"[\W_]+")


def _bounded(key: str) -> str:
    """``key`` as a pattern that does not match inside a Latin word or a number ("sb" is not
    in "usb", "12315" not in "123156")."""
    start = r"(?<![A-Za-z0-9])" if key[0].isascii() and key[0].isalnum() else ""
    end = r"(?![A-Za-z0-9])" if key[-1].isascii() and key[-1].isalnum() else ""
    return start + re.escape(key) + end


def _cue_pattern(cues: dict[str, float]) -> re.Pattern[str]:
    """One alternation of the cues, longest first (the regex prefers the first that matches)."""
    keys = sorted(cues, key=len, reverse=True)
    return re.compile("|".join(_bounded(k) for k in keys), re.IGNORECASE)


_ZH_PATTERN = _cue_pattern(ZH_CUES)
_EN_PATTERN = _cue_pattern(EN_CUES)


@lru_cache(maxsize=1)
def _snownlp() -> Any:
    """SnowNLP's sentiment classifier, loaded once: the same scores from compact arrays,
    without the 400 MB that importing SnowNLP costs (:mod:`kefu.zh_sentiment`)."""
    from kefu.zh_sentiment import NaiveBayesSentiment

    return NaiveBayesSentiment()


@lru_cache(maxsize=1)
def _vader() -> Any:
    """VADER's analyser, loaded once."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def preload() -> None:
    """Load both models now (importing SnowNLP takes seconds) rather than on the first
    message."""
    _snownlp()
    _vader()


def _clamp(value: float) -> float:
    return max(-1.0, min(1.0, value))


def _emphasis(text: str) -> float:
    """The factor repeated "!" and "??" give a cue score: 1.0 to 1.3."""
    marks = min(len(_EMPHASIS.findall(text)), EMPHASIS_MAX_MARKS)
    return 1.0 + EMPHASIS_STEP * marks


def _zh_cues(text: str) -> float | None:
    """The Chinese cue score in [-1, 1], or None when the text has no cue."""
    matches = [m for m in _ZH_PATTERN.finditer(text) if ZH_CUES[m.group().lower()] != 0.0]
    if not matches:
        return None
    question = bool(ZH_QUESTION.search(text))
    contrast = max((text.rfind(word) for word in ZH_CONTRASTS), default=-1)
    total = 0.0
    for match in matches:
        weight = ZH_CUES[match.group().lower()]
        before = text[max(0, match.start() - 4) : match.start()]
        if weight > 0 and before.endswith(ZH_NEGATORS):
            weight *= NEGATED_FACTOR
        elif before.endswith(ZH_INTENSIFIERS) and not match.group().startswith(ZH_INTENSIFIERS):
            weight = _clamp(weight * INTENSIFIED_FACTOR)
        if weight > 0 and question:
            weight *= QUESTION_POSITIVE_FACTOR
        if contrast >= 0:
            weight *= CONTRAST_AFTER if match.start() > contrast else CONTRAST_BEFORE
        total += weight
    return _clamp(total * _emphasis(text))


def _en_cues(text: str) -> float | None:
    """The English cue score in [-1, 1], or None when the text has no cue."""
    matches = list(_EN_PATTERN.finditer(text))
    if not matches:
        return None
    question = bool(EN_QUESTION.search(text))
    total = 0.0
    for match in matches:
        weight = EN_CUES[match.group().lower()]
        if weight > 0 and _en_negated(text, match.start()):
            weight *= NEGATED_FACTOR
        if weight > 0 and question:
            weight *= QUESTION_POSITIVE_FACTOR
        total += weight
    return _clamp(total * _emphasis(text))


def _en_negated(text: str, start: int) -> bool:
    """Whether a negator is one or two words before ``start`` ("not helpful", "not very
    helpful"): :data:`EN_NEGATORS` searched from a few characters before those words."""
    low = start
    for is_part in (str.isspace, _is_word_char, str.isspace):
        while low > 0 and is_part(text[low - 1]):
            low -= 1
    return _EN_NEGATED.search(text, max(0, low - _NEGATOR_REACH), start) is not None


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what \w matches


def _han_count(text: str) -> int:
    return sum(1 for char in text if "\u3400" <= char <= "\u9fff")


def _score_zh(text: str) -> float:
    model = 2.0 * _snownlp().classify(text[:MODEL_MAX_CHARS]) - 1.0
    cues = _zh_cues(text)
    if cues is not None:
        weight = CUE_WEIGHT["zh"]
        return _clamp(weight * cues + (1.0 - weight) * model)
    trust = min(ZH_TRUST_MAX, max(ZH_TRUST_MIN, _han_count(text) / ZH_TRUST_FULL_CHARS))
    if ZH_QUESTION.search(text) or ZH_REQUEST.search(text):
        trust *= ZH_QUESTION_TRUST
    return _clamp(trust * model)


def _score_en(text: str) -> float:
    scores = _vader().polarity_scores(text[:VADER_MAX_CHARS])
    model = float(scores["compound"])
    if model > 0 and EN_QUESTION.search(text):
        model *= QUESTION_POSITIVE_FACTOR  # "what payment methods do you accept?" asks
    cues = _en_cues(text)
    if cues is None:
        return _clamp(model)
    if scores["neu"] >= 1.0:
        return cues  # VADER knows none of the words: its 0.0 is no opinion, not neutral
    weight = CUE_WEIGHT["en"]
    return _clamp(weight * cues + (1.0 - weight) * model)


def score(text: str, language: str | None = None) -> float:
    """The sentiment of one message in [-1, 1]: below 0 negative, 0 neutral, above 0 positive.

    ``language`` ("zh" / "en") is detected from the text when not given; other languages and
    texts without letters score 0.0.
    """
    text = fold_width((text or "")[:TEXT_MAX_CHARS]).strip()
    detected = detect_language(text)
    if detected is None:
        return 0.0  # digits, emoji and punctuation only
    language = language or detected
    if language == "zh":
        return round(_score_zh(text), 4)
    if language == "en":
        return round(_score_en(text), 4)
    return 0.0


# ----------------------------------------------------------------------------- frustration


def _normalised(text: str) -> str:
    return _NOT_A_WORD_CHAR.sub("", fold_width(text[:TEXT_MAX_CHARS]).lower())[:REPEAT_MAX_CHARS]


def frustrated(recent: Sequence[tuple[str, float]], neutral_repeats: bool = True) -> bool:
    """Whether the customer's last messages, oldest first as ``(text, score)``, show frustration.

    Within the last :data:`FRUSTRATION_WINDOW` messages, any of:

    * two or more strongly negative ones (score ≤ :data:`STRONG_NEGATIVE`);
    * the latest is negative (≤ :data:`NEGATIVE`) with repeated "?" / "!" ("到底发不发货？？");
    * the latest repeats an earlier one, not positive and not trivially short ("where is my
      order" asked again means the bot's answer did not help).  With ``neutral_repeats`` off
      the repeat must be negative too: on an ordinary turn "再来几个看看" twice is browsing.
    """
    window = list(recent)[-FRUSTRATION_WINDOW:]
    if not window:
        return False
    if sum(1 for _, value in window if value <= STRONG_NEGATIVE) >= 2:
        return True
    text, value = window[-1]
    if value <= NEGATIVE and _REPEATED_MARKS.search(fold_width(text[:TEXT_MAX_CHARS])):
        return True
    latest = _normalised(text)
    counts = value < NEUTRAL_BAND if neutral_repeats else value <= NEGATIVE
    if len(latest) < REPEAT_MIN_CHARS or not counts:
        return False
    return any(
        difflib.SequenceMatcher(None, latest, _normalised(earlier)).ratio() >= REPEAT_SIMILARITY
        for earlier, _ in window[:-1]
    )
