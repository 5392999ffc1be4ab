"""Customer-needs and satisfaction metrics: pure functions over plain data.

Input is what :mod:`kefu.report.sources` reads, as plain dataclasses: tracker events
(:class:`Event`), satisfaction ratings (:class:`Rating`) and hand-off tickets (:class:`Ticket`),
times in epoch seconds (UTC).
:func:`build_report` turns them into a :class:`Report`; ``Report.to_dict()`` is the JSON.

Definitions (also shown in the report):

* **Session**: a sender's events split where a new session starts (Rasa's
  ``action_session_start`` action or ``session_started`` event; they belong to the new session).
  A **conversation** is a session with at least one customer message that *started* in the
  period; sessions with bot events only (a widget that opened and closed) are counted apart and
  left out of every rate.
* **Fallback message**: a customer message with the intent ``nlu_fallback``, or answered with
  ``action_default_fallback`` before the next customer message.  **Out of scope**: intent
  ``out_of_scope``.
* **Handed off**: the conversation has a ``pause`` event (a person took over), a hand-off ticket,
  or a rating that says a person was involved.  **Contained**: not handed off.
* Tickets and ratings are linked to a conversation by ``conversation_id`` (Rasa's sender id) and
  time: the sender's latest session that started no later than 5 minutes after the row was
  written.
* **Re-contacted within 24 h**: the same sender starts another conversation at most 24 hours
  (inclusive) after the last event of this one.
* **Estimated satisfaction** (for conversations without a rating): the mean sentiment ``s`` in
  [-1, 1] of the customer's messages (stored with the message, else computed by the given
  scorer), shown as ``3 + 2·s`` on the 1-5 scale; ``s ≤ -0.3`` counts as negative, ``s ≥ 0.3``
  as positive (kefu.sentiment's neutral band).  It is an estimate, never mixed with ratings.
* **Unmet needs**: fallback and out-of-scope messages, redacted, segmented into keywords
  (jieba's search mode for Chinese, words for English, stop words and numbers dropped), then
  grouped greedily: the keyword shared by the most ungrouped messages, weighted by its inverse
  document frequency over all customer messages of the period (so words customers use
  everywhere weigh little), becomes a topic with every ungrouped message containing it; repeat
  while a keyword is shared by two or more messages.  Messages that share nothing form
  "other".  Ties go to the alphabetically first keyword, so the result does not depend on the
  input order.  Words that jieba does not know come out as single characters ("猫粮" → 猫, 粮):
  the topic then shows the keywords that most of its messages share ("猫 · 粮").
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # they import this module
    from kefu.report.satisfaction import Satisfaction
    from kefu.report.topics import Embedder, Topics

SCHEMA = "kefu.report/1"
DAY = 86_400.0
RECONTACT_SECONDS = 24 * 3600.0
LINK_TOLERANCE_SECONDS = 300.0
GOOD_RATING = 4
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTION = "action_default_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
SESSION_START_ACTION = "action_session_start"
HANDOFF_REASONS = ("requested", "fallbacks", "complaint", "frustration")
TICKET_STATUSES = ("open", "claimed", "closed", "abandoned")
PRICE_BANDS = ("<500", "500-1000", "1000-2000", "2000-5000", "5000+")
OTHER_CURRENCY = "other currency"
_BAND_EDGES = (500, 1000, 2000, 5000)
# the neutral band of kefu.sentiment (NEUTRAL_BAND): |s| < 0.3 is neutral
SENTIMENT_NEGATIVE = -0.3
SENTIMENT_POSITIVE = 0.3
TOP_N = 15
MAX_TOPICS = 12
EXAMPLES_PER_TOPIC = 3
EXAMPLE_MAX_CHARS = 200
OTHER_TOPIC = "other"

Scorer = Callable[[str, "str | None"], "float | None"]


# ---- input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One tracker event, reduced to what the report reads."""

    sender_id: str
    type: str  # Rasa's type_name: user, bot, action, slot, session_started, pause, resume, ...
    timestamp: float
    intent: str | None = None
    action: str | None = None  # action name; the slot name for slot events
    text: str | None = None
    entities: tuple[tuple[str, Any], ...] = ()
    language: str | None = None  # parse_data.language (user events)
    sentiment: float | None = None  # parse_data.sentiment in [-1, 1], when stored
    channel: str | None = None  # input_channel (user events)
    value: Any = None  # slot value (slot events)


@dataclass(frozen=True)
class Rating:
    """A row of ``csat_ratings``."""

    conversation_id: str
    rating: int
    created_at: float
    intents: tuple[str, ...] = ()
    language: str | None = None
    channel: str | None = None
    human_involved: bool = False
    customer_id: int | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Ticket:
    """A row of ``handoff_tickets``."""

    conversation_id: str
    reason: str
    status: str
    created_at: float
    language: str | None = None
    channel: str | None = None
    sentiment: float | None = None
    claimed_at: float | None = None
    closed_at: float | None = None


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in epoch seconds; days are counted on the shop's clock (UTC offset)."""

    start: float
    end: float
    utc_offset_hours: int = 0

    def contains(self, moment: float) -> bool:
        return self.start <= moment < self.end

    def local_date(self, moment: float) -> str:
        zone = timezone(timedelta(hours=self.utc_offset_hours))
        return datetime.fromtimestamp(moment, zone).date().isoformat()

    def local_text(self, moment: float) -> str:
        zone = timezone(timedelta(hours=self.utc_offset_hours))
        return datetime.fromtimestamp(moment, zone).isoformat(timespec="minutes")


# ---- sessions ---------------------------------------------------------------------------------


@dataclass
class Turn:
    """A customer message and what followed it until the next one."""

    event: Event
    fallback: bool = False
    out_of_scope: bool = False


@dataclass
class Session:
    """One conversation session of one sender."""

    sender_id: str
    events: list[Event] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.events[0].timestamp

    @property
    def end(self) -> float:
        return self.events[-1].timestamp

    @property
    def user_events(self) -> list[Event]:
        return [e for e in self.events if e.type == "user"]

    @property
    def bot_events(self) -> list[Event]:
        return [e for e in self.events if e.type == "bot"]

    @property
    def has_customer(self) -> bool:
        return any(e.type == "user" for e in self.events)

    @property
    def paused(self) -> bool:
        """A person took the conversation over (Rasa's ``pause`` event)."""
        return any(e.type == "pause" for e in self.events)

    def turns(self) -> list[Turn]:
        turns: list[Turn] = []
        for event in self.events:
            if event.type == "user":
                turns.append(
                    Turn(
                        event,
                        fallback=event.intent == FALLBACK_INTENT,
                        out_of_scope=event.intent == OUT_OF_SCOPE_INTENT,
                    )
                )
            elif event.type == "action" and event.action == FALLBACK_ACTION and turns:
                turns[-1].fallback = True
        return turns

    def language(self) -> str:
        """The ``language`` slot's last value, else the most frequent language of the customer's
        messages (as parsed, else detected from the text), else "unknown"."""
        from kefu.language import detect_language

        slot = [e.value for e in self.events if e.type == "slot" and e.action == "language"]
        slot = [v for v in slot if isinstance(v, str) and v]
        if slot:
            return slot[-1]
        found = Counter(e.language or detect_language(e.text or "") for e in self.user_events)
        found.pop(None, None)
        return _most_common(found) or "unknown"

    def channel(self) -> str:
        for event in self.user_events:
            if event.channel:
                return event.channel
        return "unknown"


def _starts_session(event: Event) -> bool:
    return event.type == "session_started" or (
        event.type == "action" and event.action == SESSION_START_ACTION
    )


def split_sessions(events: Iterable[Event]) -> list[Session]:
    """Every sender's events split into sessions, in order of sender and time.

    Rasa writes ``action_session_start`` then ``session_started``: both open the same session.
    """
    by_sender: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_sender[event.sender_id].append(event)
    sessions: list[Session] = []
    for sender in sorted(by_sender):
        current: Session | None = None
        for event in sorted(by_sender[sender], key=lambda e: e.timestamp):
            opens = _starts_session(event) and not (
                current is not None
                and event.type == "session_started"
                and all(_starts_session(e) for e in current.events)
            )
            if current is None or opens:
                current = Session(sender)
                sessions.append(current)
            current.events.append(event)
    return sessions


def link(sessions: Sequence[Session], moment: float) -> Session | None:
    """The sender's session a ticket or rating written at ``moment`` belongs to: the latest one
    that started no later than :data:`LINK_TOLERANCE_SECONDS` after it."""
    found = None
    for session in sessions:
        if session.start <= moment + LINK_TOLERANCE_SECONDS and (
            found is None or session.start >= found.start
        ):
            found = session
    return found


# ---- output -----------------------------------------------------------------------------------


@dataclass
class Count:
    key: str
    count: int
    share: float | None = None
    label: str | None = None


@dataclass
class Group:
    key: str
    count: int
    average: float | None


@dataclass
class Volume:
    conversations: int = 0
    customer_messages: int = 0
    bot_messages: int = 0
    messages: int = 0
    customers: int = 0
    sessions_without_customer_messages: int = 0
    by_channel: list[Count] = field(default_factory=list)
    by_language: list[Count] = field(default_factory=list)


@dataclass
class DayCount:
    date: str
    conversations: int


@dataclass
class Containment:
    conversations: int = 0
    contained: int = 0
    rate: float | None = None


@dataclass
class Handoff:
    conversations: int = 0
    rate: float | None = None
    paused_in_tracker: int = 0
    tickets: int = 0
    reasons: list[Count] = field(default_factory=list)
    statuses: list[Count] = field(default_factory=list)
    median_minutes_to_claim: float | None = None


@dataclass
class Fallback:
    customer_messages: int = 0
    messages: int = 0
    message_rate: float | None = None
    conversations: int = 0
    conversation_rate: float | None = None
    out_of_scope_messages: int = 0
    out_of_scope_rate: float | None = None


@dataclass
class Csat:
    count: int = 0
    average: float | None = None
    distribution: dict[str, int] = field(default_factory=lambda: {str(r): 0 for r in range(1, 6)})
    by_intent: list[Group] = field(default_factory=list)
    by_language: list[Group] = field(default_factory=list)
    by_channel: list[Group] = field(default_factory=list)
    linked_to_conversations: int = 0
    without_conversation: int = 0


@dataclass
class Estimate:
    is_estimate: bool = True
    method: str = (
        "mean sentiment s in [-1, 1] of the customer's messages, shown as 3 + 2s on the 1-5 "
        "scale; s <= -0.3 negative, s >= 0.3 positive"
    )
    conversations_without_rating: int = 0
    conversations_covered: int = 0
    coverage: float | None = None
    average_sentiment: float | None = None
    estimated_rating: float | None = None
    distribution: dict[str, int] = field(
        default_factory=lambda: {"negative": 0, "neutral": 0, "positive": 0}
    )
    messages_scored_stored: int = 0
    messages_scored_estimated: int = 0


@dataclass
class Demand:
    categories: list[Count] = field(default_factory=list)
    brands: list[Count] = field(default_factory=list)
    price_bands: list[Count] = field(default_factory=list)


@dataclass
class Topic:
    label: str
    keywords: list[str]
    count: int
    examples: list[str]


@dataclass
class UnmetNeeds:
    messages: int = 0
    fallback_messages: int = 0
    out_of_scope_messages: int = 0
    topics: list[Topic] = field(default_factory=list)
    method: str = (
        "greedy: the keyword shared by the most ungrouped messages, weighted by inverse document "
        "frequency over all customer messages, becomes a topic; repeated while a keyword is "
        "shared by two or more messages; the rest is 'other'"
    )


@dataclass
class Resolution:
    conversations: int = 0
    contained: int = 0
    rated: int = 0
    good_rating: int = 0
    contained_with_good_rating: int = 0
    handed_off: int = 0
    recontacted_24h: int = 0
    contained_recontacted_24h: int = 0


@dataclass
class PeriodInfo:
    start: str
    end: str
    days: float
    utc_offset_hours: int


@dataclass
class Report:
    period: PeriodInfo
    generated_at: str
    has_data: bool
    volume: Volume
    per_day: list[DayCount]
    containment: Containment
    handoff: Handoff
    fallback: Fallback
    csat: Csat
    estimated_satisfaction: Estimate
    satisfaction: Satisfaction
    intents: list[Count]
    demand: Demand
    unmet_needs: UnmetNeeds
    topics: Topics
    resolution: Resolution
    sources: dict[str, str] = field(default_factory=dict)
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the ``--json`` file)."""
        data = asdict(self)
        return {"schema": data.pop("schema"), **data}


# ---- helpers ----------------------------------------------------------------------------------


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return round(ordered[middle], 1)
    return round((ordered[middle - 1] + ordered[middle]) / 2, 1)


def _most_common(counter: Counter) -> Any:
    """The most frequent key, ties broken by the key's text (deterministic)."""
    if not counter:
        return None
    return min(counter.items(), key=lambda item: (-item[1], str(item[0])))[0]


def ranked(counter: Mapping[str, int], total: int | None = None, limit: int = TOP_N) -> list[Count]:
    """The ``limit`` largest counts, largest first, ties by key; share of ``total`` if given."""
    items = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [Count(key, n, rate(n, total) if total is not None else None) for key, n in items]


def _groups(pairs: Iterable[tuple[str, int]]) -> list[Group]:
    values: dict[str, list[int]] = defaultdict(list)
    for key, rating in pairs:
        values[key].append(rating)
    groups = [Group(key, len(v), _mean(v)) for key, v in values.items()]
    return sorted(groups, key=lambda g: (-g.count, g.key))


def _valid_sentiment(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if math.isnan(value) or not -1.0 <= value <= 1.0:
        return None
    return value


# ---- price bands ------------------------------------------------------------------------------

# Optional parts with the spaces after them, so that a run of spaces is read one way only.
_COMPACT_BUDGET = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)?\s*-\s*(?:(-?\d+(?:\.\d+)?)\s*)?"
    r"(?:([A-Za-z]{3})(?:\s+([a-z_]+))?\s*)?$"
)
_NUMBER = re.compile(
    r"^\s*(?:[¥￥$]\s*)?(\d+(?:,\d{3})*(?:\.\d+)?)\s*(?:(?:元|块|rmb|cny|yuan)\s*)?$", re.I
)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    if isinstance(value, str):
        match = _NUMBER.match(value)
        if match:
            return Decimal(match.group(1).replace(",", ""))
    return None


def price_band(value: Any) -> str | None:
    """The price band of a ``price`` entity value, or None when it says no usable price.

    Accepted: a dict ``{"min", "max", "currency", "problem"}``, the same as JSON text, kefu's
    compact text ("-5000 CNY", "3000-5000 CNY", "5000- CNY"), or a plain number.  The band is
    chosen by the maximum, else the minimum or the single number.  A maximum is an upper bound
    ("under 1000" → 500-1000); a minimum or a number falls in the band it starts ("over 5000",
    "5000" → 5000+).  Amounts in another currency than CNY are "other currency"; budgets with a
    ``problem`` (contradictory, implausible, not positive) are left out.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            try:
                return price_band(json.loads(text))
            except ValueError:
                return None
        match = _COMPACT_BUDGET.match(text)
        if match and match.group(3) and (match.group(1) or match.group(2)):
            low, high, currency, problem = match.groups()
            return price_band({"min": low, "max": high, "currency": currency, "problem": problem})
    if isinstance(value, Mapping):
        if value.get("problem"):
            return None
        currency = str(value.get("currency") or "CNY").upper()
        high = _number(value.get("max"))
        low = _number(value.get("min"))
        if high is None and low is None:
            return None
        if currency != "CNY":
            return OTHER_CURRENCY
        if high is not None:
            return _band(high, upper=True)
        return _band(low, upper=False)
    if isinstance(value, (list, tuple)):
        return None
    number = _number(value)
    return _band(number, upper=False) if number is not None else None


def _band(amount: Decimal, upper: bool) -> str | None:
    if amount <= 0:
        return None
    for edge, label in zip(_BAND_EDGES, PRICE_BANDS, strict=False):
        if amount < edge or (upper and amount == edge):
            return label
    return PRICE_BANDS[-1]


# ---- entities ---------------------------------------------------------------------------------


def _entity_values(event: Event, name: str) -> list[Any]:
    values: list[Any] = []
    for entity, value in event.entities:
        if entity != name:
            continue
        values.extend(value if isinstance(value, (list, tuple)) else [value])
    return values


def _names(values: Iterable[Any]) -> set[str]:
    """Distinct non-empty text values, case-folded (for counting)."""
    return {
        str(v).strip().casefold() for v in values if isinstance(v, (str, int)) and str(v).strip()
    }


# ---- unmet needs ------------------------------------------------------------------------------

STOP_WORDS = frozenset(
    """
    的 了 和 与 及 或 在 是 有 吗 呢 吧 啊 呀 哦 嗯 哈 我 你 您 他 她 它 我们 你们 他们 要
    想 这 那 这个 那个 这些 那些 个 些 款 就 都 也 还 又 很 太 更 最 能 会 可以 可能 一下
    一个 一些 怎么 怎么样 什么 为什么 如何 哪 哪里 哪个 请问 请 麻烦 帮 帮我 帮忙 谢谢 你好 您好
    好 好的 嗨 在吗 客服 一 不 没 没有 是不是 有没有 能不能 可不可以 多少 几 给 让 把 被 对 从
    到 么 啦 下 上 去 来 说 问 知道
    a an the and or of for with to in on at by from is are was were be been am i me my mine you
    your we our us they them their he she it its this that these those do does did done can
    could would should will shall may might must have has had any some there here what which who
    whom how why when where please thanks thank hi hello hey ok okay yes no not just also too
    very so if then than but about as into out up down get got want wanted need needs like com
    www http https im dont cant ill ive youre whats
    """.split()
)
_HAS_DIGIT = re.compile(r"\d")
_LATIN_WORD = re.compile(r"^[a-z][a-z'.+-]*$")
# digits in groups joined by spaces and/or a dash, as kefu.identity reads order numbers
_DIGIT_RUN = re.compile(r"\d+(?:(?:[^\S\n]*[-－‐‑‒–—―][^\S\n]*|[^\S\n]+)\d+)*")
# where a piece ends for the phone-digit search: after each group of exactly 4 digits
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
MASK = "****"


@lru_cache(maxsize=65_536)  # customers repeat themselves ("谢谢", "hello")
def scrub(text: str | None) -> str:
    """A customer's message fit for the report: :func:`kefu.identity.redact` (mobile numbers,
    e-mails), then any number of 7 or more digits (order numbers, card, tracking or ID numbers,
    also written in groups joined by spaces or dashes, as :func:`kefu.identity.find_order_number`
    reads them), then phone digits after a cue ("尾号6093") or a message of just 4 digits masked
    as "****"; control characters removed and white space collapsed.

    Reads the first :data:`kefu.text.MAX_PARSE_CHARS` characters, each of them a bounded number
    of times: the text is searched piece by piece, never again from its start after each find."""
    from kefu.identity import find_phone, redact
    from kefu.text import blank_control_chars, clip

    text = _DIGIT_RUN.sub(
        lambda m: MASK if len(re.sub(r"\D", "", m.group())) >= 7 else m.group(), redact(clip(text))
    )
    masked, rest = [], 0  # a cue masks the first 4 digits after it only
    for start, piece in _four_digit_pieces(text):
        span = find_phone(piece + "x")  # "x": a piece is never a message of just 4 digits
        if span is not None:
            masked += [text[rest : start + span[0]], MASK]
            rest = start + span[1]
    # what follows the last cue may still be a message of just 4 digits ("6093", "是6093")
    span = find_phone(text[rest:]) if rest < len(text) else None
    if span is not None:
        masked += [text[rest : rest + span[0]], MASK]
        rest += span[1]
    text = "".join([*masked, text[rest:]])
    return " ".join(blank_control_chars(text).split())


def _four_digit_pieces(text: str) -> Iterator[tuple[int, str]]:
    """``text`` cut after each group of exactly 4 digits, as (start, piece): the phone digits a
    cue names ("尾号 6093") end such a group, and nothing between a cue and its digits is a
    digit, so a cue and its digits lie within one piece."""
    start = 0
    for group in _FOUR_DIGITS.finditer(text):
        yield start, text[start : group.end()]
        start = group.end()


def keywords(text: str) -> list[str]:
    """Informative words of a message: jieba's search-mode words for Chinese (long words and
    the words inside them, so "专用发票" also yields "发票"), lower-cased words for English (a
    plural "s" dropped), without stop words, numbers or single Latin letters."""
    from kefu.segment import terms

    found: dict[str, None] = {}
    for word in terms(text):
        word = word.strip("'.+-")
        if not word or word in STOP_WORDS or _HAS_DIGIT.search(word):
            continue
        if _LATIN_WORD.match(word):
            if len(word) < 2:
                continue
            if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
                word = word[:-1]
            if word in STOP_WORDS:
                continue
        found.setdefault(word, None)
    return list(found)


def group_topics(
    messages: Sequence[str],
    corpus: Sequence[str] = (),
    max_topics: int = MAX_TOPICS,
    examples: int = EXAMPLES_PER_TOPIC,
) -> list[Topic]:
    """Group (already redacted) ``messages`` into topics by shared keywords (see the module
    docstring); ``corpus`` (all customer messages) gives the inverse document frequencies.
    Topics come largest first; "other" (messages sharing no keyword, and topics beyond
    ``max_topics``) comes last."""
    words = [set(keywords(m)) for m in messages]
    documents = [set(keywords(m)) for m in corpus] if corpus else words
    total = len(documents)
    frequency: Counter = Counter()
    for doc in documents:
        frequency.update(doc)

    def idf(word: str) -> float:
        return math.log((1 + total) / (1 + frequency[word])) + 1.0

    ungrouped = set(range(len(messages)))
    topics: list[Topic] = []
    while ungrouped and len(topics) < max_topics:
        shared: Counter = Counter()
        for index in ungrouped:
            shared.update(words[index])
        candidates = [(w, n) for w, n in shared.items() if n >= 2]
        if not candidates:
            break
        word, _ = min(candidates, key=lambda wn: (-wn[1] * idf(wn[0]), -wn[1], wn[0]))
        members = sorted(i for i in ungrouped if word in words[i])
        ungrouped.difference_update(members)
        companions: Counter = Counter()
        for index in members:
            companions.update(words[index] - {word})
        extra = [
            w
            for w, n in sorted(companions.items(), key=lambda wn: (-wn[1], wn[0]))
            if n * 2 >= len(members) and n >= 2
        ][:2]
        topic_words = [word, *extra]
        topics.append(
            Topic(
                label=" · ".join(topic_words),
                keywords=topic_words,
                count=len(members),
                examples=_examples(messages, members, examples),
            )
        )
    if ungrouped:
        rest = sorted(ungrouped)
        topics.append(Topic(OTHER_TOPIC, [], len(rest), _examples(messages, rest, examples)))
    return topics


def _examples(messages: Sequence[str], members: Sequence[int], limit: int) -> list[str]:
    """Up to ``limit`` distinct messages, the shortest first (they read best), then by text."""
    distinct = sorted({messages[i].strip() for i in members if messages[i].strip()})
    chosen = sorted(distinct, key=lambda m: (len(m), m))[:limit]
    return [m if len(m) <= EXAMPLE_MAX_CHARS else m[: EXAMPLE_MAX_CHARS - 1] + "…" for m in chosen]


# ---- the report -------------------------------------------------------------------------------


def build_report(
    events: Iterable[Event],
    ratings: Iterable[Rating],
    tickets: Iterable[Ticket],
    period: Period,
    scorer: Scorer | None = None,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    generated_at: float | None = None,
    embed: Embedder | None = None,
) -> Report:
    """The whole report for ``period``.

    ``events`` may reach beyond the period (to see whole sessions and re-contacts after it);
    only sessions that started in the period count.  Ratings and tickets count when written in
    the period.  ``scorer(text, language)`` gives the sentiment of messages stored without one.
    ``labels`` maps ``"product_category"``/``"brand"`` values (case-folded) to display names.
    ``embed`` (texts → unit vectors) groups the report topics by meaning; without it, by
    keywords.  Satisfaction for every conversation: :mod:`kefu.report.satisfaction`; report
    topics: :mod:`kefu.report.topics`.
    """
    from kefu.report.satisfaction import satisfaction
    from kefu.report.topics import report_topics

    sessions = split_sessions(events)
    by_sender: dict[str, list[Session]] = defaultdict(list)
    for session in sessions:
        by_sender[session.sender_id].append(session)
    in_period = [s for s in sessions if period.contains(s.start)]
    conversations = [s for s in in_period if s.has_customer]
    ratings = [r for r in ratings if period.contains(r.created_at)]
    tickets = [t for t in tickets if period.contains(t.created_at)]

    rating_of: dict[int, Rating] = {}
    unlinked_ratings = 0
    for rating in sorted(ratings, key=lambda r: r.created_at):
        session = link(by_sender.get(rating.conversation_id, []), rating.created_at)
        if session is None or not session.has_customer:
            unlinked_ratings += 1
        else:
            rating_of[id(session)] = rating  # the latest rating of a conversation counts
    ticketed: set[int] = set()
    for ticket in tickets:
        session = link(by_sender.get(ticket.conversation_id, []), ticket.created_at)
        if session is not None:
            ticketed.add(id(session))

    def handed_off(session: Session) -> bool:
        rating = rating_of.get(id(session))
        return (
            session.paused
            or id(session) in ticketed
            or (rating is not None and rating.human_involved)
        )

    volume = _volume(conversations, in_period)
    per_day = _per_day(conversations, period)
    handed = [s for s in conversations if handed_off(s)]
    contained = len(conversations) - len(handed)
    containment = Containment(len(conversations), contained, rate(contained, len(conversations)))
    handoff = _handoff(conversations, handed, tickets)
    turns = {id(s): s.turns() for s in conversations}
    fallback = _fallback(conversations, turns)
    csat = _csat(ratings, rating_of, unlinked_ratings)
    estimate = _estimate(conversations, rating_of, scorer)
    all_turns = [t for s in conversations for t in turns[id(s)]]
    intents = ranked(Counter(t.event.intent or "(none)" for t in all_turns), total=len(all_turns))
    demand = _demand(conversations, labels or {})
    unmet = _unmet(all_turns)
    scores, each = satisfaction(conversations, rating_of, tickets, by_sender, period, scorer)
    score_of = {index: score.score for index, score in enumerate(each)}
    topics = report_topics(conversations, handed_off, score_of, embed)
    resolution = _resolution(conversations, by_sender, rating_of, handed_off)
    has_data = bool(conversations or ratings or tickets)
    return Report(
        period=PeriodInfo(
            start=period.local_text(period.start),
            end=period.local_text(period.end),
            days=round((period.end - period.start) / DAY, 2),
            utc_offset_hours=period.utc_offset_hours,
        ),
        generated_at=period.local_text(
            generated_at if generated_at is not None else datetime.now(timezone.utc).timestamp()
        ),
        has_data=has_data,
        volume=volume,
        per_day=per_day,
        containment=containment,
        handoff=handoff,
        fallback=fallback,
        csat=csat,
        estimated_satisfaction=estimate,
        satisfaction=scores,
        intents=intents,
        demand=demand,
        unmet_needs=unmet,
        topics=topics,
        resolution=resolution,
    )


def _volume(conversations: list[Session], in_period: list[Session]) -> Volume:
    customer = sum(len(s.user_events) for s in conversations)
    bot = sum(len(s.bot_events) for s in conversations)
    total = len(conversations)
    return Volume(
        conversations=total,
        customer_messages=customer,
        bot_messages=bot,
        messages=customer + bot,
        customers=len({s.sender_id for s in conversations}),
        sessions_without_customer_messages=len(in_period) - total,
        by_channel=ranked(Counter(s.channel() for s in conversations), total),
        by_language=ranked(Counter(s.language() for s in conversations), total),
    )


def _per_day(conversations: list[Session], period: Period) -> list[DayCount]:
    counts = Counter(period.local_date(s.start) for s in conversations)
    if period.end <= period.start:
        return []
    first = datetime.fromisoformat(period.local_date(period.start)).date()
    last = datetime.fromisoformat(period.local_date(period.end - 1e-3)).date()
    days: list[DayCount] = []
    day = first
    while day <= last:
        days.append(DayCount(day.isoformat(), counts.get(day.isoformat(), 0)))
        day += timedelta(days=1)
    return days


def _handoff(conversations: list[Session], handed: list[Session], tickets: list[Ticket]) -> Handoff:
    reasons = Counter(t.reason or "unknown" for t in tickets)
    statuses = Counter(t.status or "unknown" for t in tickets)
    waits = [
        (t.claimed_at - t.created_at) / 60
        for t in tickets
        if t.claimed_at is not None and t.claimed_at >= t.created_at
    ]

    def ordered(counter: Counter, known: Sequence[str]) -> list[Count]:
        keys = [*known, *sorted(k for k in counter if k not in known)]
        return [Count(k, counter.get(k, 0), rate(counter.get(k, 0), len(tickets))) for k in keys]

    return Handoff(
        conversations=len(handed),
        rate=rate(len(handed), len(conversations)),
        paused_in_tracker=sum(s.paused for s in conversations),
        tickets=len(tickets),
        reasons=ordered(reasons, HANDOFF_REASONS),
        statuses=ordered(statuses, TICKET_STATUSES),
        median_minutes_to_claim=_median(waits),
    )


def _fallback(conversations: list[Session], turns: Mapping[int, list[Turn]]) -> Fallback:
    all_turns = [t for s in conversations for t in turns[id(s)]]
    fallback_messages = sum(t.fallback for t in all_turns)
    out_of_scope = sum(t.out_of_scope for t in all_turns)
    with_fallback = sum(any(t.fallback for t in turns[id(s)]) for s in conversations)
    return Fallback(
        customer_messages=len(all_turns),
        messages=fallback_messages,
        message_rate=rate(fallback_messages, len(all_turns)),
        conversations=with_fallback,
        conversation_rate=rate(with_fallback, len(conversations)),
        out_of_scope_messages=out_of_scope,
        out_of_scope_rate=rate(out_of_scope, len(all_turns)),
    )


def _csat(ratings: list[Rating], rating_of: Mapping[int, Rating], unlinked: int) -> Csat:
    valid = [r for r in ratings if isinstance(r.rating, int) and 1 <= r.rating <= 5]
    csat = Csat(count=len(valid), average=_mean([r.rating for r in valid]))
    for r in valid:
        csat.distribution[str(r.rating)] += 1
    csat.by_intent = _groups(
        (intent, r.rating) for r in valid for intent in (dict.fromkeys(r.intents) or ["(none)"])
    )
    csat.by_language = _groups((r.language or "unknown", r.rating) for r in valid)
    csat.by_channel = _groups((r.channel or "unknown", r.rating) for r in valid)
    csat.linked_to_conversations = len(rating_of)
    csat.without_conversation = unlinked
    return csat


def _estimate(
    conversations: list[Session], rating_of: Mapping[int, Rating], scorer: Scorer | None
) -> Estimate:
    estimate = Estimate()
    unrated = [s for s in conversations if id(s) not in rating_of]
    estimate.conversations_without_rating = len(unrated)
    means: list[float] = []
    for session in unrated:
        language = session.language()
        language = None if language == "unknown" else language
        scores: list[float] = []
        for event in session.user_events:
            score = _valid_sentiment(event.sentiment)
            if score is not None:
                estimate.messages_scored_stored += 1
            elif scorer is not None and event.text:
                try:
                    score = _valid_sentiment(scorer(event.text, event.language or language))
                except (ValueError, TypeError, LookupError):
                    score = None
                if score is not None:
                    estimate.messages_scored_estimated += 1
            if score is not None:
                scores.append(score)
        if scores:
            mean = sum(scores) / len(scores)
            means.append(mean)
            if mean <= SENTIMENT_NEGATIVE:
                estimate.distribution["negative"] += 1
            elif mean >= SENTIMENT_POSITIVE:
                estimate.distribution["positive"] += 1
            else:
                estimate.distribution["neutral"] += 1
    estimate.conversations_covered = len(means)
    estimate.coverage = rate(len(means), len(unrated))
    if means:
        average = sum(means) / len(means)
        estimate.average_sentiment = round(average, 3)
        estimate.estimated_rating = round(3 + 2 * average, 2)
    return estimate


def _demand(conversations: list[Session], labels: Mapping[str, Mapping[str, str]]) -> Demand:
    categories: Counter = Counter()
    brands: Counter = Counter()
    bands: Counter = Counter()
    for session in conversations:
        users = session.user_events
        categories.update(_names(v for e in users for v in _entity_values(e, "product_category")))
        brands.update(_names(v for e in users for v in _entity_values(e, "brand")))
        found = {price_band(v) for e in users for v in _entity_values(e, "price")}
        bands.update(b for b in found if b)
    total = len(conversations)

    def named(counts: list[Count], kind: str) -> list[Count]:
        names = labels.get(kind, {})
        for count in counts:
            count.label = names.get(count.key, count.key)
        return counts

    band_keys = [*PRICE_BANDS, *([OTHER_CURRENCY] if bands.get(OTHER_CURRENCY) else [])]
    return Demand(
        categories=named(ranked(categories, total), "product_category"),
        brands=named(ranked(brands, total), "brand"),
        price_bands=[Count(b, bands.get(b, 0), rate(bands.get(b, 0), total)) for b in band_keys],
    )


def _unmet(turns: list[Turn]) -> UnmetNeeds:
    unmet = [t for t in turns if (t.fallback or t.out_of_scope) and (t.event.text or "").strip()]
    messages = [scrub(t.event.text) for t in unmet]
    corpus = [scrub(t.event.text) for t in turns if t.event.text]
    return UnmetNeeds(
        messages=len(unmet),
        fallback_messages=sum(t.fallback for t in unmet),
        out_of_scope_messages=sum(t.out_of_scope for t in unmet),
        topics=group_topics(messages, corpus),
    )


def _resolution(
    conversations: list[Session],
    by_sender: Mapping[str, list[Session]],
    rating_of: Mapping[int, Rating],
    handed_off: Callable[[Session], bool],
) -> Resolution:
    result = Resolution(conversations=len(conversations))
    for session in conversations:
        rating = rating_of.get(id(session))
        good = rating is not None and rating.rating >= GOOD_RATING
        handed = handed_off(session)
        later = [
            s.start
            for s in by_sender[session.sender_id]
            if s.has_customer and s.start > session.end
        ]
        recontacted = bool(later) and min(later) - session.end <= RECONTACT_SECONDS
        result.rated += rating is not None
        result.good_rating += good
        result.handed_off += handed
        result.contained += not handed
        result.contained_with_good_rating += good and not handed
        result.recontacted_24h += recontacted
        result.contained_recontacted_24h += recontacted and not handed
    return result
