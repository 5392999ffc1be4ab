"""The review queue in the shop database (``review_items``): filled from conversations, one
item per normalised masked text, annotated by people, marked when exported.

An item is ``pending`` until a person confirms or corrects its intent (``annotated``) or
discards it (``discarded``); ``kefu review export`` makes the annotated ones ``exported``.  A text
seen again counts in ``seen`` and adds its reasons; an annotation is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.models import REVIEW_STATUSES, ReviewCursor, ReviewItem
from kefu.review.masking import item_key, mask
from kefu.review.turns import Turn

PENDING, ANNOTATED, DISCARDED, EXPORTED = REVIEW_STATUSES
MAX_ENTITIES = 20
MAX_NAME_CHARS = 64


class ReviewError(ValueError):
    """An annotation that cannot be stored (unknown intent or entity, entity not in the text)."""


class ItemNotFound(LookupError):
    pass


@dataclass
class Collected:
    """What one collection did."""

    conversations: int = 0
    messages: int = 0  # messages with a reason, read this time
    added: int = 0  # new items
    merged: int = 0  # messages that were already in the queue


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def _masked_entities(turn: Turn, text: str) -> list[dict[str, str]]:
    entities = []
    for entity in turn.entities[:MAX_ENTITIES]:
        shown = mask(entity["text"])
        if shown and shown in text and entity not in entities:
            entities.append({"entity": entity["entity"], "text": shown})
    return entities


def add_turn(session: Session, turn: Turn, new: bool) -> bool:
    """Queue ``turn`` (masked); merge it into the item of the same text if there is one.
    ``new``: the message was not read by an earlier collection (it counts in ``seen``).
    True when a new item was added."""
    text = mask(turn.text)
    key = item_key(text)
    item = session.scalar(select(ReviewItem).where(ReviewItem.key == key))
    seen_at = _utc(turn.timestamp)
    if item is None:
        session.add(
            ReviewItem(
                key=key,
                text=text,
                language=turn.language,
                reasons=sorted(turn.reasons),
                predicted_intent=turn.intent,
                confidence=turn.confidence,
                predicted_entities=_masked_entities(turn, text),
                sentiment=turn.sentiment,
                seen=1,
                first_seen_at=seen_at,
                last_seen_at=seen_at,
                status=PENDING,
                entities=[],
            )
        )
        session.flush()
        return True
    item.reasons = sorted(set(item.reasons) | set(turn.reasons))
    if new:
        item.seen += 1
        item.last_seen_at = max(item.last_seen_at, seen_at)
    return False


def collect(
    session: Session, conversations: Iterable[Sequence[Turn]], since: float
) -> tuple[Collected, float]:
    """Queue the turns of ``conversations`` (from :func:`kefu.review.turns.review_turns`) that
    are news after ``since`` (Unix time: a later message or a later reason); returns what was
    done and the newest time read."""
    done, newest = Collected(), since
    for turns in conversations:
        done.conversations += 1
        for turn in turns:
            if turn.language is None or turn.latest <= since:
                continue
            newest = max(newest, turn.latest)
            done.messages += 1
            if add_turn(session, turn, new=turn.timestamp > since):
                done.added += 1
            else:
                done.merged += 1
    return done, newest


def cursor(session: Session, source: str) -> float:
    """How far ``source`` was collected (Unix time); 0 at first."""
    row = session.get(ReviewCursor, source)
    return row.collected_until if row else 0.0


def move_cursor(session: Session, source: str, until: float) -> None:
    row = session.get(ReviewCursor, source)
    if row is None:
        session.add(ReviewCursor(source=source, collected_until=until))
    else:
        row.collected_until = max(row.collected_until, until)


def items(
    session: Session,
    status: str | None = PENDING,
    limit: int = 50,
    offset: int = 0,
) -> list[ReviewItem]:
    """Items with ``status`` (all with None), the most often seen first, then the newest."""
    query = select(ReviewItem)
    if status is not None:
        query = query.where(ReviewItem.status == status)
    query = query.order_by(
        ReviewItem.seen.desc(), ReviewItem.last_seen_at.desc(), ReviewItem.id.desc()
    )
    return list(session.scalars(query.limit(limit).offset(offset)))


def counts(session: Session) -> dict[str, int]:
    """The number of items by status (every status, 0 when none)."""
    rows = session.execute(
        select(ReviewItem.status, func.count()).group_by(ReviewItem.status)
    ).all()
    found = {status: 0 for status in REVIEW_STATUSES}
    found.update({status: count for status, count in rows})
    return found


def item(session: Session, item_id: int) -> ReviewItem:
    found = session.get(ReviewItem, item_id)
    if found is None:
        raise ItemNotFound(item_id)
    return found


def _clean_entities(
    entities: Iterable[Any], text: str, known_entities: Iterable[str]
) -> list[dict[str, str]]:
    known, cleaned = set(known_entities), []
    for entity in entities:
        name = str(entity.get("entity") or "").strip()
        words = str(entity.get("text") or "").strip()
        if not name and not words:
            continue
        if name not in known:
            raise ReviewError(f"unknown entity {name[:MAX_NAME_CHARS]!r}")
        if not words or words not in text:
            raise ReviewError(f"the entity {name} must be words of the message")
        if {"entity": name, "text": words} not in cleaned:
            cleaned.append({"entity": name, "text": words})
    if len(cleaned) > MAX_ENTITIES:
        raise ReviewError(f"at most {MAX_ENTITIES} entities")
    return cleaned


def annotate(
    session: Session,
    item_id: int,
    intent: str,
    entities: Iterable[Any],
    agent: str,
    known_intents: Iterable[str],
    known_entities: Iterable[str],
    now: datetime,
) -> ReviewItem:
    """Confirm or correct the intent and entities of an item (``{"entity", "text"}``, the text
    being words of the message).  An exported item annotated again is exported again."""
    found = item(session, item_id)
    if intent not in set(known_intents):
        raise ReviewError(f"unknown intent {intent[:MAX_NAME_CHARS]!r}")
    found.entities = _clean_entities(entities, found.text, known_entities)
    found.intent = intent
    found.status = ANNOTATED
    found.annotated_by = agent
    found.annotated_at = now
    found.export_note = None
    return found


def discard(session: Session, item_id: int, agent: str, now: datetime) -> ReviewItem:
    """Not worth learning from (nonsense, another language, a customer's private story)."""
    found = item(session, item_id)
    found.status = DISCARDED
    found.annotated_by = agent
    found.annotated_at = now
    return found
