"""Actions for people, complaints and satisfaction: hand-off to an agent, complaints, contact
details, reviews and the CSAT rating.

The decisions live in the shop library (``kefu.handoff``, ``kefu.csat``, ``kefu.sentiment``);
these actions read the conversation, call it and say the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    contact_details,
    identified_customer,
    latest_intent,
    reply_language,
    shop_session,
)
from kefu.config import shop_config
from kefu.metrics import HANDOFFS

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
HANDOFF_SLOT = "handoff_ticket"
CSAT_ASKED_SLOT = "csat_asked"
MIN_COMMENT_CHARS = 6
RATING_BUTTONS = {
    "zh": ["1 很不满意", "2 不满意", "3 一般", "4 满意", "5 非常满意"],
    "en": ["1 very poor", "2 poor", "3 okay", "4 good", "5 excellent"],
}


@dataclass
class SessionRecord:
    """What the customer said and the bot answered in this session, from the tracker."""

    transcript: list[dict[str, str]] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    customer: list[tuple[str, float]] = field(default_factory=list)  # (text, sentiment)
    fallbacks_in_a_row: int = 0
    human_involved: bool = False
    started: float | None = None


def session_record(tracker: Tracker) -> SessionRecord:
    """The current session (since the last ``session_started``) of ``tracker``."""
    record = SessionRecord()
    for event in tracker.events:
        kind = event.get("event")
        if kind == "session_started":
            record = SessionRecord(started=event.get("timestamp"))
        elif kind == "user":
            text = event.get("text") or ""
            parse = event.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name")
            if intent:
                if intent not in record.intents:
                    record.intents.append(intent)
                is_fallback = intent == FALLBACK_INTENT
                record.fallbacks_in_a_row = record.fallbacks_in_a_row + 1 if is_fallback else 0
            record.entities += [
                {"entity": e.get("entity"), "value": e.get("value")}
                for e in parse.get("entities") or []
            ]
            if not text.startswith("/"):
                record.customer.append((text, float(parse.get("sentiment") or 0.0)))
                record.transcript.append({"who": "customer", "text": text, "at": _at(event)})
        elif kind == "bot" and event.get("text"):
            record.transcript.append({"who": "bot", "text": event["text"], "at": _at(event)})
        elif kind == "pause":
            record.human_involved = True
        elif kind == "resume":
            record.customer = []  # the mood before a person took over no longer counts
    return record


def current_time() -> datetime:
    """Now, in UTC (a function so tests can fix the clock)."""
    return datetime.now(timezone.utc)


def _at(event: dict[str, Any]) -> str:
    stamp = event.get("timestamp")
    if not stamp:
        return ""
    return datetime.fromtimestamp(float(stamp), tz=timezone.utc).isoformat()


def _opening_text(opening: datetime, language: str) -> str:
    local = shop_config().handoff.local(opening)
    if language == "en":
        return local.strftime("%a %d %b, %H:%M")
    weekdays = "一二三四五六日"
    return f"{local.month}月{local.day}日（周{weekdays[local.weekday()]}）{local:%H:%M}"


def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str, record: SessionRecord
) -> list[dict[str, Any]]:
    """Open (or find) the conversation's ticket, tell the customer when a person will answer and
    pause the bot for this conversation."""
    from kefu import handoff
    from kefu.sentiment import score

    language = reply_language(tracker)
    recent = [s for _, s in record.customer[-3:]]
    mood = sum(recent) / len(recent) if recent else None
    if mood is None and record.customer:
        mood = score(record.customer[-1][0], language)
    now = current_time()
    details = contact_details(language)
    try:
        with shop_session() as session:
            ticket = handoff.open_ticket(
                session,
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "unknown",
                language=language,
                reason=reason,
                transcript=record.transcript,
                intents=record.intents,
                entities=record.entities,
                sentiment=mood,
                customer_id=identified_customer(tracker),
                now=now,
            )
            position = handoff.queue_position(session, ticket.id)
            session.commit()
    except handoff.TicketLimitReached as over:  # too many tickets this hour: no queue, other ways
        busy = shop_config().handoff.limits.busy.get(language)
        dispatcher.utter_message(text=busy.format(minutes=over.minutes, **details))
        logger.warning("hand-off: refused, ticket limit reached (%s)", over.scope)
        return []
    if handoff.is_open(now):
        dispatcher.utter_message(response="utter_handoff_queued", position=position, **details)
    else:
        opening = _opening_text(handoff.next_opening(now), language)
        dispatcher.utter_message(response="utter_handoff_after_hours", opening=opening, **details)
    logger.info("hand-off: ticket %s (%s)", ticket.id, reason)
    HANDOFFS.labels(reason).inc()
    events: list[dict[str, Any]] = [SlotSet(HANDOFF_SLOT, ticket.id)]
    if shop_config().handoff.pause_bot:
        events.append(ConversationPaused())
    return events


class ActionHandoff(Action):
    """The customer asked for a person, or the bot failed too often: hand the conversation over."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from kefu.handoff import handoff_reason
        from kefu.sentiment import frustrated

        record = session_record(tracker)
        reason = handoff_reason(
            requested=latest_intent(tracker) == "contact_human_agent",
            fallbacks=record.fallbacks_in_a_row,
            frustrated=frustrated(record.customer[-3:]),
        )
        return hand_off(dispatcher, tracker, reason or "requested", record)


class ActionHandleComplaint(Action):
    """A complaint: a strongly negative or frustrated one goes to a person at once; otherwise
    apologise and offer a person."""

    def name(self) -> str:
        return "action_handle_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from kefu.handoff import handoff_reason
        from kefu.sentiment import frustrated

        record = session_record(tracker)
        latest = record.customer[-1][1] if record.customer else None
        reason = handoff_reason(
            complaint=True, sentiment=latest, frustrated=frustrated(record.customer[-3:])
        )
        if reason:
            return hand_off(dispatcher, tracker, reason, record)
        dispatcher.utter_message(response="utter_complaint_sorry")
        return []


class ActionContactService(Action):
    """How to reach the shop's people: hotline, hours, e-mail."""

    def name(self) -> str:
        return "action_contact_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            response="utter_contact_service", **contact_details(reply_language(tracker))
        )
        return []


class ActionAskCsat(Action):
    """Ask for a 1-5 rating, once per session and not when the customer already gave one."""

    def name(self) -> str:
        return "action_ask_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from kefu.csat import already_rated

        if tracker.get_slot(CSAT_ASKED_SLOT):
            return []
        record = session_record(tracker)
        since = datetime.fromtimestamp(record.started or 0, tz=timezone.utc)
        with shop_session() as session:
            if already_rated(session, tracker.sender_id, since):
                return []
        language = reply_language(tracker)
        buttons = [
            {"title": title, "payload": f'/rate_satisfaction{{"rating": "{n}"}}'}
            for n, title in enumerate(RATING_BUTTONS[language], 1)
        ]
        dispatcher.utter_message(response="utter_ask_csat", buttons=buttons)
        return [SlotSet(CSAT_ASKED_SLOT, True)]


class ActionRecordCsat(Action):
    """Store the customer's rating (1-5) with what the conversation covered; a rating out of
    range or without a number is asked again politely."""

    def name(self) -> str:
        return "action_record_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from kefu.csat import parse_rating, record_rating

        text = tracker.latest_message.get("text") or ""
        others = [
            e for e in tracker.latest_message.get("entities") or [] if e.get("entity") != "rating"
        ]
        if latest_intent(tracker) == "inform" and others:
            # an order number or a product after the rating question is not a rating
            dispatcher.utter_message(response="utter_inform_without_context")
            return []
        entity = next(iter(tracker.get_latest_entity_values("rating")), None)
        parsed = parse_rating(str(entity)) if entity is not None else parse_rating(text)
        if parsed.rating is None and entity is not None:
            parsed = parse_rating(text)
        if parsed.rating is None:
            if parsed.problem == "out_of_range":
                response = "utter_csat_out_of_range"
            elif latest_intent(tracker) == FALLBACK_INTENT:
                response = "utter_ask_rephrase"  # not understood, and not a rating either
            elif latest_intent(tracker) == "inform":
                response = "utter_inform_without_context"  # a value, but not a rating
            else:
                response = "utter_csat_not_understood"
            dispatcher.utter_message(response=response)
            return []
        record = session_record(tracker)
        # the customer's own words beyond a bare rating ("5分 客服很耐心") are the comment
        comment = (
            text if len(text.strip()) > MIN_COMMENT_CHARS and not text.startswith("/") else None
        )
        with shop_session() as session:
            record_rating(
                session,
                conversation_id=tracker.sender_id,
                rating=parsed.rating,
                comment=comment,
                intents=[i for i in record.intents if i != "rate_satisfaction"],
                language=reply_language(tracker),
                channel=tracker.get_latest_input_channel() or "unknown",
                human_involved=record.human_involved,
                customer_id=identified_customer(tracker),
            )
            session.commit()
        if parsed.rating <= 2:
            dispatcher.utter_message(
                response="utter_csat_sorry", **contact_details(reply_language(tracker))
            )
        else:
            dispatcher.utter_message(response="utter_csat_thanks")
        return [SlotSet(CSAT_ASKED_SLOT, True)]
