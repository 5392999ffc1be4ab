"""Annotating in a file, for designers who prefer their editor to the console:
``kefu review list --out review.yml`` writes the queue, the designer fills in ``intent`` (and
``entities``, or ``discard: true``), ``kefu review annotate review.yml`` stores it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy.orm import Session

from kefu.models import ReviewItem
from kefu.review import queue
from kefu.review.nlu_files import Domain

HEADER = """\
# kefu review queue. For each message set `intent` to the right one (the predicted one if it is
# right), add `entities` as {entity: <name>, text: <words of the message>}, or set
# `discard: true` when there is nothing to learn. Leave `intent` empty to decide later.
# Then: kefu review annotate <this file> --by <your name>
"""


class AnnotationFileError(ValueError):
    pass


@dataclass
class Applied:
    annotated: int = 0
    discarded: int = 0
    skipped: int = 0  # no intent given
    errors: list[str] = field(default_factory=list)


def dump_items(items: Sequence[ReviewItem]) -> str:
    """The items as an annotation file."""
    entries = [
        {
            "id": item.id,
            "text": item.text,
            "language": item.language,
            "reasons": list(item.reasons),
            "seen": item.seen,
            "predicted": f"{item.predicted_intent} ({item.confidence or 0:.2f})",
            "intent": item.intent,
            "entities": list(item.entities or item.predicted_entities or []),
        }
        for item in items
    ]
    return HEADER + yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=100)


def read_entries(text: str) -> list[dict[str, Any]]:
    """The entries of an annotation file."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise AnnotationFileError(f"not YAML: {error}") from None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(e, dict) and "id" in e for e in data):
        raise AnnotationFileError("expected a list of entries, each with an id")
    return data


def apply_entries(
    session: Session, entries: Sequence[dict[str, Any]], agent: str, domain: Domain, now: datetime
) -> Applied:
    """Store the annotations of ``entries``; an entry that cannot be stored is reported."""
    done = Applied()
    for entry in entries:
        try:
            item_id = int(entry["id"])
            if entry.get("discard") is True:
                queue.discard(session, item_id, agent, now)
                done.discarded += 1
            elif not entry.get("intent"):
                done.skipped += 1
            else:
                entities = entry.get("entities") or []
                if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
                    raise queue.ReviewError("entities must be a list of {entity, text}")
                queue.annotate(
                    session,
                    item_id,
                    str(entry["intent"]).strip(),
                    entities,
                    agent,
                    domain.intents,
                    domain.entities,
                    now,
                )
                done.annotated += 1
        except (queue.ReviewError, queue.ItemNotFound, ValueError, TypeError) as error:
            done.errors.append(f"item {entry.get('id')}: {error or 'no such item'}")
    return done
