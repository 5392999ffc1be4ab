"""Customer satisfaction (CSAT): reading a 1–5 rating from what customers type, and storing it.

At the end of a conversation the bot asks for a rating.  Buttons send a payload that Rasa
handles (``/rate_satisfaction{"rating": "4"}``); a typed answer goes through
:func:`parse_rating`, which accepts numbers ("5", "５分", "4/5", "4 out of 5"), Chinese numerals
("五分", "五星"), stars ("★★★★") and words in both languages ("非常满意", "一般", "excellent",
"ok").  A number outside 1–5 ("0分", "10分", "-1") is ``out_of_range``; anything else is
``not_a_rating``, so the bot can ask again or move on.

Ratings are stored once per conversation session (:func:`already_rated`) with the intents of
the conversation, language, channel and whether a person took part, for analytics.  The
conversation id and comments are personal data, stored encrypted (the id is found by its blind
index, :class:`kefu.models.OfConversation`); comments are redacted
(:func:`kefu.identity.redact`), capped at :data:`MAX_COMMENT_CHARS` and cleared when the
customer's data is erased.

:func:`parse_rating` reads the first :data:`kefu.text.MAX_PARSE_CHARS` characters, in time linear
in them (tests/security/test_parsers.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kefu.handoff import stored_time
from kefu.identity import redact
from kefu.models import CsatRating
from kefu.text import clip, fold_width

MIN_RATING, MAX_RATING = 1, 5
MAX_COMMENT_CHARS = 1000

Problem = Literal["out_of_range", "not_a_rating"]
OUT_OF_RANGE: Problem = "out_of_range"
NOT_A_RATING: Problem = "not_a_rating"


@dataclass(frozen=True)
class RatingParse:
    """A rating from 1 to 5, or why there is none (``problem``)."""

    rating: int | None
    problem: Problem | None = None


# Words that are a rating on their own.  Longest first in the pattern, so "非常不满意" is not
# read as "满意" and "not bad" not as "bad".
RATING_WORDS: dict[str, int] = {
    # Chinese
    "非常满意": 5, "很满意": 5, "十分满意": 5, "特别满意": 5, "超满意": 5, "超级满意": 5,
    "太棒了": 5, "非常好": 5, "完美": 5,
    "满意": 4, "很好": 4, "挺好": 4, "不错": 4, "还不错": 4, "挺满意": 4,
    "一般": 3, "一般般": 3, "还行": 3, "还可以": 3, "凑合": 3, "马马虎虎": 3,
    "不满意": 2, "不太满意": 2, "不是很满意": 2, "不太好": 2, "不好": 2, "较差": 2, "差": 2,
    "差不多": 3, "好评": 5, "差评": 1, "满分": 5,
    "非常不满意": 1, "很不满意": 1, "十分不满意": 1, "很差": 1, "非常差": 1, "太差": 1,
    "极差": 1, "垃圾": 1, "糟糕": 1, "很糟糕": 1,
    # English
    "excellent": 5, "very satisfied": 5, "extremely satisfied": 5, "great": 5, "perfect": 5,
    "amazing": 5, "awesome": 5, "outstanding": 5, "fantastic": 5, "very good": 5,
    "good": 4, "satisfied": 4, "pretty good": 4, "nice": 4, "quite good": 4,
    "ok": 3, "okay": 3, "average": 3, "fine": 3, "so-so": 3, "so so": 3, "not bad": 3,
    "alright": 3, "meh": 3, "mediocre": 3, "nothing special": 3, "decent": 4, "solid": 4,
    "superb": 5, "brilliant": 5, "top notch": 5, "subpar": 2, "lousy": 1,
    "highest score": 5, "best score": 5,
    "not happy": 2, "unhappy": 2, "not pleased": 2, "not very happy": 2,
    "happy": 4, "pleased": 4, "mostly satisfied": 4, "mostly happy": 4,
    "very happy": 5, "really happy": 5, "super happy": 5, "very pleased": 5,
    "really pleased": 5, "top marks": 5, "full marks": 5, "top score": 5, "full score": 5,
    "bad": 2, "poor": 2, "unsatisfied": 2, "dissatisfied": 2, "not good": 2,
    "not satisfied": 2, "not great": 2, "disappointing": 2, "no good": 2,
    "terrible": 1, "awful": 1, "very dissatisfied": 1, "very unsatisfied": 1, "very bad": 1,
    "very poor": 1, "horrible": 1, "the worst": 1, "worst": 1, "useless": 1,
}  # fmt: skip

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})
_EN_NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_EN_NUMBERS.update({"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10})
_STARS = "★⭐🌟"

_NUMBER = r"-?\d+(?:\.\d+)?"
_CN_NUMBER = r"[零〇一二两三四五六七八九十]+"
_EN_NUMBER = r"\b(?:" + "|".join(_EN_NUMBERS) + r")\b"
# A number in a text is read from its first digit (numeral) on: trying every digit of a long
# run as a start would read the rest of the run once per digit.
_ANY_NUMBER = (
    r"(?:-?(?<!\d)\d+(?:\.\d+)?"
    rf"|(?<![零〇一二两三四五六七八九十]){_CN_NUMBER}"
    rf"|{_EN_NUMBER})"
)
# "4/5", "4 out of 5", "four out of five"
_FRACTION = re.compile(rf"({_ANY_NUMBER})\s*(?:/|out\s+of)\s*({_ANY_NUMBER})", re.IGNORECASE)
# a number with a unit: "5分", "五星", "4 stars", "3颗星"; not "5分钟", "三分之一", "分期"
_WITH_UNIT = re.compile(
    rf"({_ANY_NUMBER})\s*(?:颗星|星星|星|分(?![钟之析期开别享类店])|stars?\b|points?\b|pts\b)",
    re.IGNORECASE,
)
# A Chinese character right after "三星" / "一星" makes it a word ("三星手机" is Samsung,
# "一星期" a week), except the start of an evaluation: "五星好评", "5分满意", "4分吧".
_HAN = re.compile(r"[\u3400-\u9fff]")
_EVALUATION_START = "好差满很非不太挺还超真给吧啊呀啦了的呢哈哦嗯"
_STAR_RUN = re.compile(rf"[{_STARS}]+")
_BARE_NUMBER = re.compile(rf"({_ANY_NUMBER})")
_WORDS = re.compile(
    "|".join(
        rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])"
        for w in sorted(RATING_WORDS, key=len, reverse=True)
    ),
    re.IGNORECASE,
)
# what may stand around a rating word or a bare number: "给五分吧", "I'd say good", "服务很好，谢谢"
_FILLER = re.compile(
    r"给你们|给你|给|打|评|我觉得|觉得|感觉|总体|整体|总的来说|这次|服务|客服|体验|态度|还是|"
    r"吧|啊|呀|哦|噢|嗯|啦|了|的|呢|哈|亲|谢谢|感谢|多谢|"
    r"\b(?:i'?d|i|would|say|give|it|it's|its|was|is|the|a|an|service|support|experience|"
    r"overall|rating|rate|really|very|quite|thanks?|thank you|you|so|much|just|my|pretty|"
    r"stars?|points?)\b",
    re.IGNORECASE,
)
_PUNCTUATION = re.compile(r"[\s\W_]+")
MAX_LEFTOVER_CHARS = 4  # what may remain of a word answer besides filler ("服务很好" is fine)


def _number(token: str) -> float | None:
    """The value of "5", "-1", "4.5", "五", "十", "二十", "four"; None when it is none."""
    token = token.strip().lower()
    if re.fullmatch(_NUMBER, token):
        return float(token)
    if token in _EN_NUMBERS:
        return float(_EN_NUMBERS[token])
    if len(token) == 1 and token in _CN_DIGITS:
        return float(_CN_DIGITS[token])
    tens, ten, ones = token.partition("十")
    if ten and len(tens) <= 1 and len(ones) <= 1:  # 十, 十五, 二十, 二十五
        return float((_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + _CN_DIGITS.get(ones, 0))
    return None


def _judge(value: float | None) -> RatingParse:
    """A stated number as a rating: whole and from 1 to 5, else out of range."""
    if value is None:
        return RatingParse(None, NOT_A_RATING)
    if not MIN_RATING <= value <= MAX_RATING or value != int(value):  # 1e400 is inf: no int
        return RatingParse(None, OUT_OF_RANGE)
    return RatingParse(int(value), None)


def _leftover(text: str) -> int:
    """How much of ``text`` is not filler or punctuation (characters)."""
    return len(_PUNCTUATION.sub("", _FILLER.sub(" ", text)))


def _is_part_of_a_word(text: str, match: re.Match[str]) -> bool:
    """Whether a Chinese number and unit belong to a longer word: "三星手机", "一星期",
    "十分满意" (十分 = "very")."""
    number = match.group(1)
    following = text[match.end() : match.end() + 1]
    if not _HAN.fullmatch(number[-1]) or not _HAN.fullmatch(following or "a"):
        return False
    return number == "十" or following not in _EVALUATION_START


def _explicit(text: str) -> list[RatingParse]:
    """Ratings stated with a scale or a unit, anywhere in the text."""
    found: list[RatingParse] = []
    for match in _FRACTION.finditer(text):
        if _number(match.group(2)) == MAX_RATING:
            found.append(_judge(_number(match.group(1))))
        else:
            found.append(RatingParse(None, OUT_OF_RANGE))  # "8/10": we ask on a scale of 5
    rest = _FRACTION.sub(" ", text)
    for match in _WITH_UNIT.finditer(rest):
        if not _is_part_of_a_word(rest, match):
            found.append(_judge(_number(match.group(1))))
    for run in _STAR_RUN.findall(rest):
        found.append(_judge(len(run)))
    return found


def parse_rating(text: str) -> RatingParse:
    """A 1–5 rating from what the customer typed, or the problem: ``out_of_range`` for a number
    outside 1–5 (or on another scale, "8/10"), ``not_a_rating`` for anything else, including
    answers that state two different ratings.

    Numbers with a unit or a scale ("5分", "4 stars", "4/5", "★★★★") count anywhere in the
    text ("5分，物流很快"); a bare number or a word ("5", "五", "满意", "good") only when the
    answer is little more than that ("给五分吧", "服务很好，谢谢").
    """
    folded = fold_width(clip(text)).replace("\ufe0f", "").strip().lower()
    explicit = set(_explicit(folded))
    if explicit:
        if len(explicit) == 1:
            return explicit.pop()
        in_range = {parse.rating for parse in explicit if parse.rating is not None}
        return RatingParse(None, NOT_A_RATING if in_range else OUT_OF_RANGE)

    words = list(_WORDS.finditer(folded))
    if words:
        values = {RATING_WORDS[match.group()] for match in words}
        if len(values) == 1 and _leftover(_WORDS.sub(" ", folded)) <= MAX_LEFTOVER_CHARS:
            return RatingParse(values.pop(), None)
        return RatingParse(None, NOT_A_RATING)

    bare = _BARE_NUMBER.search(_FILLER.sub(" ", folded))
    if bare and _leftover(folded.replace(bare.group(1), " ", 1)) == 0:
        return _judge(_number(bare.group(1)))
    return RatingParse(None, NOT_A_RATING)


# ----------------------------------------------------------------------------- storage


def _clean_comment(comment: str | None) -> str | None:
    """The comment redacted, then capped (capping first could cut a phone number in two and
    leave its digits unmasked); None when blank."""
    if comment is None or not comment.strip():
        return None
    # What is redacted is bounded too (twice what is kept: masks make the text shorter).
    return redact(comment.strip()[: 2 * MAX_COMMENT_CHARS])[:MAX_COMMENT_CHARS]


def record_rating(
    session: Session,
    *,
    conversation_id: str,
    rating: int,
    comment: str | None,
    intents: Sequence[str],
    language: str,
    channel: str,
    human_involved: bool,
    customer_id: int | None = None,
    now: datetime | None = None,
) -> CsatRating:
    """Store a rating from 1 to 5 (ValueError otherwise) in the caller's transaction; the
    comment is redacted and capped.  Check :func:`already_rated` first: this does not."""
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise ValueError(f"a rating is a whole number from 1 to 5, not {rating!r}")
    if not MIN_RATING <= rating <= MAX_RATING:
        raise ValueError(f"a rating is from {MIN_RATING} to {MAX_RATING}, not {rating}")
    if not conversation_id:
        raise ValueError("a rating needs the conversation it rates")
    row = CsatRating(
        conversation_id=conversation_id,
        customer_id=customer_id,
        rating=rating,
        comment=_clean_comment(comment),
        intents=[str(intent) for intent in intents],
        language=language,
        channel=channel,
        human_involved=bool(human_involved),
        created_at=stored_time(now),
    )
    session.add(row)
    session.flush()
    return row


def already_rated(session: Session, conversation_id: str, since: datetime) -> bool:
    """Whether the conversation was rated at or after ``since`` (the start of its session):
    customers are asked once per session."""
    query = select(
        exists().where(
            CsatRating.of_conversation(conversation_id),
            CsatRating.created_at >= stored_time(since),
        )
    )
    return bool(session.scalar(query))


def add_comment(session: Session, rating_id: int, comment: str) -> CsatRating:
    """Add the customer's comment to rating ``rating_id`` (after an earlier one, if any), redacted
    and capped at :data:`MAX_COMMENT_CHARS` in all; a blank comment changes nothing.
    ValueError for an unknown rating."""
    row = session.get(CsatRating, rating_id, with_for_update=True)
    if row is None:
        raise ValueError(f"there is no rating with id {rating_id}")
    cleaned = _clean_comment(comment)
    if cleaned is not None:
        combined = f"{row.comment}\n{cleaned}" if row.comment else cleaned
        row.comment = combined[:MAX_COMMENT_CHARS]
        session.flush()
    return row
