"""Satisfaction for every conversation: the customer's rating where there is one, else an
estimate from what happened, each with its reason; and how well the estimate agrees with the
ratings that exist.

The estimate (1-5) starts from the customer's mood and adds what the conversation shows:

* mood: ``3 + 2·s``, ``s`` the mean sentiment of the customer's messages in [-1, 1], the last
  message counting twice (how a conversation ends weighs most); 3 without any score;
* every question the bot could not answer (a fallback the knowledge layer did not answer, or an
  out-of-scope message): :data:`UNANSWERED` each, at most :data:`MAX_UNANSWERED`;
* every repeated ask (the same words again, or the same request with the same details right
  after): :data:`REPEATED` each, at most :data:`MAX_REPEATED`;
* a hand-off to a person: :data:`HANDED_OFF`; :data:`LEFT_WAITING` more when the customer left
  before anyone answered (the ticket was abandoned);
* thanks from the customer: :data:`THANKED`.

The result is kept within 1-5.  With at least :data:`MIN_CALIBRATION` rated conversations in the
period, the estimates are shifted by the mean difference between ratings and the estimates of
those same conversations (calibration), and the report says so; the agreement (mean absolute
error, share within one star, share on the same side: poor ≤ 2, middle 3, good ≥ 4) is always
reported.  Plain functions over the report's sessions; nothing personal is shown (no sender
ids, no message texts).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kefu.handoff_text import GENERIC_INTENTS
from kefu.report.metrics import (
    FALLBACK_ACTION,
    FALLBACK_INTENT,
    OUT_OF_SCOPE_INTENT,
    Event,
    Period,
    Rating,
    Scorer,
    Session,
    Ticket,
    _valid_sentiment,
    link,
)
from kefu.text import fold_width

UNANSWERED, MAX_UNANSWERED = 0.5, 1.5
REPEATED, MAX_REPEATED = 0.5, 1.0
HANDED_OFF, LEFT_WAITING = 0.25, 1.25
THANKED = 0.5
MIN_CALIBRATION = 10
LOWEST_SHOWN = 10
THANKS_INTENT = "thank"
ABANDONED = "abandoned"
# what the knowledge layer's answers end with ("来源：…" / "Source: …": kefu.knowledge.answer)
_ANSWER_SOURCE = re.compile(r"(?m)^(?:来源：|Source: )")
_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)


@dataclass
class ConversationScore:
    """One conversation's satisfaction; ``score`` is the rating if given, else the estimate."""

    started: str  # local time on the shop's clock
    channel: str
    language: str
    topic: str  # the customer's main request (intent), or "(none)"
    score: float
    source: str  # "rating" | "estimate"
    rating: int | None
    estimate: float  # always computed, also for rated conversations (agreement)
    reason: str


@dataclass
class Agreement:
    rated: int = 0
    mean_absolute_error: float | None = None
    within_one_star: float | None = None
    same_side: float | None = None
    calibration_offset: float = 0.0
    calibrated: bool = False


@dataclass
class TopicScore:
    key: str
    conversations: int
    average: float


@dataclass
class Satisfaction:
    conversations: int = 0
    average: float | None = None
    rated: int = 0
    average_rating: float | None = None
    estimated: int = 0
    average_estimate: float | None = None
    distribution: dict[str, int] = field(default_factory=lambda: {str(r): 0 for r in range(1, 6)})
    by_topic: list[TopicScore] = field(default_factory=list)
    agreement: Agreement = field(default_factory=Agreement)
    lowest: list[ConversationScore] = field(default_factory=list)
    method: str = (
        "rating where given, else 3 + 2s (s: mean sentiment, the last message twice) "
        f"- {UNANSWERED} per unanswered question (max {MAX_UNANSWERED}) - {REPEATED} per repeated "
        f"ask (max {MAX_REPEATED}) - {HANDED_OFF} if handed off - {LEFT_WAITING} more if the "
        f"customer left waiting + {THANKED} if they thanked, within 1-5; shifted by the mean "
        f"rating-estimate difference when {MIN_CALIBRATION}+ conversations are rated"
    )


@dataclass
class Signals:
    """What happened in one conversation."""

    sentiment: float | None = None
    unanswered: int = 0
    repeated: int = 0
    handed_off: bool = False
    left_waiting: bool = False
    thanked: bool = False


def _normalised(text: str | None) -> str:
    return _PUNCTUATION.sub("", fold_width(text or "").lower())


def _turns(session: Session) -> list[tuple[Event, list[Event]]]:
    """Each customer message with the events that followed it until the next one."""
    turns: list[tuple[Event, list[Event]]] = []
    for event in session.events:
        if event.type == "user":
            turns.append((event, []))
        elif turns:
            turns[-1][1].append(event)
    return turns


def unanswered(message: Event, after: Sequence[Event]) -> bool:
    """A message the bot could not answer: out of scope, or a fallback that got no answer from
    the shop's knowledge."""
    if message.intent == OUT_OF_SCOPE_INTENT:
        return True
    fallback = message.intent == FALLBACK_INTENT or any(
        e.type == "action" and e.action == FALLBACK_ACTION for e in after
    )
    if not fallback:
        return False
    return not any(e.type == "bot" and _ANSWER_SOURCE.search(e.text or "") for e in after)


def signals(
    session: Session, ticket: Ticket | None, scorer: Scorer | None, language: str | None
) -> Signals:
    found = Signals(handed_off=session.paused or ticket is not None)
    found.left_waiting = ticket is not None and ticket.status == ABANDONED
    weights: list[tuple[float, float]] = []
    seen: set[str] = set()
    previous: tuple[str | None, tuple] | None = None
    turns = _turns(session)
    for position, (message, after) in enumerate(turns):
        score = _valid_sentiment(message.sentiment)
        if score is None and scorer is not None and message.text:
            try:
                score = _valid_sentiment(scorer(message.text, message.language or language))
            except (ValueError, TypeError, LookupError):
                score = None
        if score is not None:
            weights.append((score, 2.0 if position == len(turns) - 1 else 1.0))
        found.unanswered += unanswered(message, after)
        text = _normalised(message.text)
        request = (message.intent, tuple(sorted(map(str, message.entities))))
        again = bool(text) and text in seen
        again = again or (
            message.intent not in GENERIC_INTENTS
            and message.intent is not None
            and request == previous
        )
        found.repeated += again
        if text:
            seen.add(text)
        previous = request
        found.thanked = found.thanked or message.intent == THANKS_INTENT
    if weights:
        found.sentiment = sum(s * w for s, w in weights) / sum(w for _, w in weights)
    return found


def estimate(found: Signals) -> tuple[float, str]:
    """The estimated rating (1-5, one decimal) and why, in Chinese and English."""
    score = 3.0 + 2.0 * (found.sentiment or 0.0)
    reasons = []
    if found.sentiment is not None:
        mood = (
            "情绪负面 negative mood"
            if found.sentiment <= -0.3
            else "情绪正面 positive mood"
            if found.sentiment >= 0.3
            else "情绪平稳 neutral mood"
        )
        reasons.append(f"{mood} ({found.sentiment:+.2f})")
    else:
        reasons.append("无情绪分 no sentiment")
    if found.unanswered:
        score -= min(MAX_UNANSWERED, UNANSWERED * found.unanswered)
        reasons.append(f"{found.unanswered} 个问题未能回答 unanswered")
    if found.repeated:
        score -= min(MAX_REPEATED, REPEATED * found.repeated)
        reasons.append(f"重复提问 {found.repeated} 次 asked again")
    if found.handed_off:
        score -= HANDED_OFF
        reasons.append("转人工 handed off")
    if found.left_waiting:
        score -= LEFT_WAITING
        reasons.append("等待人工时离开 left waiting")
    if found.thanked:
        score += THANKED
        reasons.append("客户致谢 thanked")
    return round(min(5.0, max(1.0, score)), 1), "; ".join(reasons)


def _side(value: float) -> int:
    return -1 if value <= 2.5 else (1 if value >= 3.5 else 0)


def _agreement(pairs: Sequence[tuple[int, float]]) -> Agreement:
    found = Agreement(rated=len(pairs))
    if not pairs:
        return found
    errors = [abs(r - e) for r, e in pairs]
    found.mean_absolute_error = round(sum(errors) / len(errors), 2)
    found.within_one_star = round(sum(e <= 1.0 for e in errors) / len(errors), 4)
    found.same_side = round(sum(_side(r) == _side(e) for r, e in pairs) / len(pairs), 4)
    if len(pairs) >= MIN_CALIBRATION:
        found.calibration_offset = round(sum(r - e for r, e in pairs) / len(pairs), 2)
        found.calibrated = True
    return found


def _main_topic(session: Session) -> str:
    topics = [e.intent for e in session.user_events if e.intent and e.intent not in GENERIC_INTENTS]
    return Counter(topics).most_common(1)[0][0] if topics else "(none)"


def satisfaction(
    conversations: Sequence[Session],
    rating_of: Mapping[int, Rating],
    tickets: Sequence[Ticket],
    by_sender: Mapping[str, Sequence[Session]],
    period: Period,
    scorer: Scorer | None = None,
) -> tuple[Satisfaction, list[ConversationScore]]:
    """The period's satisfaction and every conversation's score, in the order of
    ``conversations`` (see the module docstring)."""
    ticket_of: dict[int, Ticket] = {}
    for ticket in sorted(tickets, key=lambda t: t.created_at):
        session = link(by_sender.get(ticket.conversation_id, []), ticket.created_at)
        if session is not None:
            ticket_of[id(session)] = ticket  # the latest ticket of a conversation counts
    scores: list[ConversationScore] = []
    for session in conversations:
        language = session.language()
        found = signals(
            session,
            ticket_of.get(id(session)),
            scorer,
            None if language == "unknown" else language,
        )
        value, reason = estimate(found)
        rating = rating_of.get(id(session))
        rated = rating is not None and isinstance(rating.rating, int) and 1 <= rating.rating <= 5
        head = f"客户评分 rated {rating.rating}★ · 估计 estimate {value}: " if rated else ""
        scores.append(
            ConversationScore(
                started=period.local_text(session.start),
                channel=session.channel(),
                language=language,
                topic=_main_topic(session),
                score=float(rating.rating) if rated else value,
                source="rating" if rated else "estimate",
                rating=rating.rating if rated else None,
                estimate=value,
                reason=head + reason,
            )
        )
    agreement = _agreement([(s.rating, s.estimate) for s in scores if s.rating is not None])
    if agreement.calibrated:
        for s in scores:
            s.estimate = round(min(5.0, max(1.0, s.estimate + agreement.calibration_offset)), 1)
            if s.source == "estimate":
                s.score = s.estimate
    return _summary(scores, agreement), scores


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _summary(scores: list[ConversationScore], agreement: Agreement) -> Satisfaction:
    result = Satisfaction(conversations=len(scores), agreement=agreement)
    result.average = _mean([s.score for s in scores])
    rated = [s.score for s in scores if s.source == "rating"]
    estimated = [s.score for s in scores if s.source == "estimate"]
    result.rated, result.average_rating = len(rated), _mean(rated)
    result.estimated, result.average_estimate = len(estimated), _mean(estimated)
    for s in scores:
        result.distribution[str(min(5, max(1, int(s.score + 0.5))))] += 1
    by_topic: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        by_topic[s.topic].append(s.score)
    result.by_topic = sorted(
        (TopicScore(k, len(v), _mean(v) or 0.0) for k, v in by_topic.items()),
        key=lambda t: (-t.conversations, t.key),
    )
    result.lowest = sorted(scores, key=lambda s: (s.score, s.started))[:LOWEST_SHOWN]
    return result
