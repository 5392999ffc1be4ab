"""Which customer messages of a conversation are worth a person's review, and why.

A conversation is the list of its events as Rasa stores them (``event.as_dict()``: ``user``,
``action``, ``slot``, ``pause``, ``resume``, ``session_started`` …).  A customer message is queued
for one or more reasons (:data:`kefu.review.settings.REASONS`):

* ``fallback``: its intent is the fallback intent, or the bot answered it with the core fallback
  action before the customer wrote again;
* ``low_confidence``: another intent, with a confidence below ``low_confidence``;
* ``negative_sentiment``: its sentiment (kefu_rasa.sentiment_analyzer) is at or below
  ``negative_sentiment``;
* ``handoff``: the conversation was handed to a person (the hand-off slot set) right after it:
  the last ``context_messages`` customer messages of that session;
* ``bad_rating``: the customer then rated the conversation ``bad_rating`` or lower
  (:func:`kefu.csat.parse_rating`): the last ``context_messages`` messages before the rating.

Button payloads ("/intent{…}") are not customer language, and what a customer writes while a
person has the conversation (between ``pause`` and ``resume``) is not for the bot: neither is
queued.  Plain functions, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kefu.csat import parse_rating
from kefu.language import detect_language
from kefu.review.settings import ReviewSettings

LANGUAGES = ("zh", "en")


@dataclass
class Turn:
    """A customer message and why it is worth a review: reason → the time (Unix) of the
    event that gave the reason."""

    text: str
    timestamp: float
    language: str | None
    intent: str | None
    confidence: float | None
    entities: list[dict[str, Any]]
    sentiment: float | None
    session: int
    reasons: dict[str, float] = field(default_factory=dict)

    def add(self, reason: str, at: float) -> None:
        self.reasons[reason] = max(at, self.reasons.get(reason, at))

    @property
    def latest(self) -> float:
        """When the newest reason arose."""
        return max(self.reasons.values(), default=self.timestamp)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _entities(parse: Mapping[str, Any], text: str) -> list[dict[str, Any]]:
    """The entities as the words the customer wrote: ``{"entity", "text"}``."""
    found = []
    for entity in parse.get("entities") or []:
        if not isinstance(entity, Mapping) or not isinstance(entity.get("entity"), str):
            continue
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            found.append({"entity": entity["entity"], "text": text[start:end]})
    return found


def _turn(event: Mapping[str, Any], session: int) -> Turn | None:
    text = event.get("text")
    if not isinstance(text, str) or not text.strip() or text.lstrip().startswith("/"):
        return None
    parse = event.get("parse_data") if isinstance(event.get("parse_data"), Mapping) else {}
    intent = parse.get("intent") if isinstance(parse.get("intent"), Mapping) else {}
    language = parse.get("language")
    if language not in LANGUAGES:
        language = detect_language(text)
    return Turn(
        text=text,
        timestamp=_number(event.get("timestamp")) or 0.0,
        language=language if language in LANGUAGES else None,
        intent=intent.get("name") if isinstance(intent.get("name"), str) else None,
        confidence=_number(intent.get("confidence")),
        entities=_entities(parse, text),
        sentiment=_number(parse.get("sentiment")),
        session=session,
    )


def _rating(event: Mapping[str, Any]) -> int | None:
    parse = event.get("parse_data") if isinstance(event.get("parse_data"), Mapping) else {}
    for entity in parse.get("entities") or []:
        if isinstance(entity, Mapping) and entity.get("entity") == "rating":
            found = parse_rating(str(entity.get("value")))
            if found.rating is not None:
                return found.rating
    text = event.get("text")
    if isinstance(text, str) and text.startswith("/"):
        return None  # a payload without a rating entity
    return parse_rating(text or "").rating


def _intent_of(event: Mapping[str, Any]) -> str | None:
    parse = event.get("parse_data") if isinstance(event.get("parse_data"), Mapping) else {}
    intent = parse.get("intent") if isinstance(parse.get("intent"), Mapping) else {}
    name = intent.get("name")
    return name if isinstance(name, str) else None


def _own_reasons(turn: Turn, settings: ReviewSettings) -> None:
    if turn.intent == settings.fallback_intent:
        turn.add("fallback", turn.timestamp)
    elif turn.confidence is not None and turn.confidence < settings.low_confidence:
        turn.add("low_confidence", turn.timestamp)
    if turn.sentiment is not None and turn.sentiment <= settings.negative_sentiment:
        turn.add("negative_sentiment", turn.timestamp)


def review_turns(events: Iterable[Mapping[str, Any]], settings: ReviewSettings) -> list[Turn]:
    """The customer messages of one conversation worth a review, oldest first, each with its
    reasons (only those ``settings.reasons`` lists)."""
    turns: list[Turn] = []
    session, paused = 0, False
    last: Turn | None = None  # the customer's latest message, until the bot's next one

    def context(kind: str, at: float) -> None:
        mine = [t for t in turns if t.session == session]
        for turn in mine[-settings.context_messages :]:
            turn.add(kind, at)

    for event in events:
        if not isinstance(event, Mapping):
            continue
        kind, at = event.get("event"), _number(event.get("timestamp")) or 0.0
        if kind == "session_started":
            session, paused, last = session + 1, False, None
        elif kind in ("pause", "resume"):
            paused = kind == "pause"
        elif kind == "user":
            last = None
            if paused:
                continue
            if _intent_of(event) == settings.rating_intent:
                rating = _rating(event)
                if rating is not None and rating <= settings.bad_rating:
                    context("bad_rating", at)
            turn = _turn(event, session)
            if turn is not None:
                _own_reasons(turn, settings)
                turns.append(turn)
                last = turn
        elif kind == "action" and event.get("name") == settings.fallback_action and last:
            last.add("fallback", at)
        elif (
            kind == "slot"
            and event.get("name") == settings.handoff_slot
            and event.get("value") not in (None, "", 0)
        ):
            context("handoff", at)
    wanted = set(settings.reasons)
    for turn in turns:
        turn.reasons = {r: at for r, at in turn.reasons.items() if r in wanted}
    return [turn for turn in turns if turn.reasons]
