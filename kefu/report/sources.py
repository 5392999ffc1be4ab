"""What the report reads: Rasa's tracker store (the ``events`` table of its SQL tracker store)
and the shop database (satisfaction ratings, hand-off tickets, category and brand names).

The tracker store is read with SQLAlchemy Core, without Rasa, and decrypted with the data keys
(kefu.privacy.conversations).  Its URL is ``--tracker-db``, else
``KEFU_TRACKER_DB_URL``, else ``sqlite:///.kefu/trackers.db`` (endpoints.yml's file, relative to
the working directory like Rasa's).  Nothing is written to either database.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from kefu.privacy.cipher import DecryptionError
from kefu.privacy.conversations import open_rows
from kefu.privacy.keys import KeyConfigError
from kefu.report.metrics import Event, Rating, Ticket

DEFAULT_TRACKER_DB_URL = "sqlite:///.kefu/trackers.db"
# Events this far before the period are read to find where its first sessions really started,
# and this far after it to see whole sessions and re-contacts within 24 hours.
LOOKBACK_SECONDS = 2 * 86_400.0
LOOKAHEAD_SECONDS = 2 * 86_400.0
EVENT_TYPES = ("user", "bot", "action", "slot", "session_started", "pause", "resume")
# of the actions (most are action_listen) only these matter: a session start and a fallback
ACTIONS = ("action_session_start", "action_default_fallback")

_metadata = MetaData()
EVENTS = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
"""Rasa's ``SQLTrackerStore`` table, as far as the report reads it."""


class TrackerStoreError(Exception):
    """The tracker store cannot be read; the message names its URL without the password."""


def tracker_db_url(explicit: str | None = None) -> str:
    """``explicit``, else ``KEFU_TRACKER_DB_URL``, else the embedded SQLite file."""
    return explicit or os.environ.get("KEFU_TRACKER_DB_URL") or DEFAULT_TRACKER_DB_URL


def safe_url(url: str) -> str:
    """``url`` for messages: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _error_text(error: Exception, url: str) -> str:
    """The first line of the driver's message, with the password taken out if it appears."""
    original = getattr(error, "orig", None) or error
    text = (str(original).strip().splitlines() or [type(original).__name__])[0]
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    return text.replace(str(password), "***") if password else text


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _entities(parse_data: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    entities = parse_data.get("entities")
    if not isinstance(entities, list):
        return ()
    return tuple(
        (str(e["entity"]), e.get("value"))
        for e in entities
        if isinstance(e, dict) and e.get("entity")
    )


def to_event(
    sender_id: str,
    type_name: str,
    timestamp: float,
    intent_name: str | None,
    action_name: str | None,
    data: str | None,
) -> Event:
    """A row of the ``events`` table as an :class:`Event`."""
    if type_name == "user":
        payload = _json(data)
        parse_data = payload.get("parse_data")
        parse_data = parse_data if isinstance(parse_data, dict) else {}
        intent = parse_data.get("intent")
        name = intent.get("name") if isinstance(intent, dict) else None
        language = parse_data.get("language")
        channel = payload.get("input_channel")
        return Event(
            sender_id=sender_id,
            type=type_name,
            timestamp=float(timestamp),
            intent=name if isinstance(name, str) else intent_name,
            text=payload.get("text") if isinstance(payload.get("text"), str) else None,
            entities=_entities(parse_data),
            language=language if isinstance(language, str) else None,
            sentiment=parse_data.get("sentiment"),
            channel=channel if isinstance(channel, str) else None,
        )
    if type_name in ("slot", "bot"):
        payload = _json(data)
        text = payload.get("text")
        return Event(
            sender_id=sender_id,
            type=type_name,
            timestamp=float(timestamp),
            action=action_name or payload.get("name"),
            text=text if isinstance(text, str) else None,
            value=payload.get("value"),
        )
    return Event(
        sender_id=sender_id,
        type=type_name,
        timestamp=float(timestamp),
        intent=intent_name,
        action=action_name,
    )


def read_events(url: str, start: float, end: float) -> list[Event]:
    """The events of every sender active in ``[start, end)``, from
    :data:`LOOKBACK_SECONDS` before to :data:`LOOKAHEAD_SECONDS` after; slot events only for
    the ``language`` slot, action events only for :data:`ACTIONS`.  :class:`TrackerStoreError`
    when the store cannot be read."""
    shown = safe_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise TrackerStoreError(f"'{shown}' is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            raise TrackerStoreError(f"there is no tracker database at {shown}")
    try:
        engine = create_engine(url, future=True)
    except (SQLAlchemyError, ImportError, ValueError) as error:
        raise TrackerStoreError(
            f"cannot open the tracker store at {shown}: {_error_text(error, url)}"
        ) from None
    events = EVENTS.c
    active = select(events.sender_id).where(events.timestamp >= start, events.timestamp < end)
    query = (
        select(
            events.sender_id,
            events.type_name,
            events.timestamp,
            events.intent_name,
            events.action_name,
            events.data,
        )
        .where(
            events.sender_id.in_(active.distinct().scalar_subquery()),
            events.timestamp >= start - LOOKBACK_SECONDS,
            events.timestamp < end + LOOKAHEAD_SECONDS,
            events.type_name.in_(EVENT_TYPES),
            (events.type_name != "slot") | (events.action_name == "language"),
            (events.type_name != "action") | events.action_name.in_(ACTIONS),
        )
        .order_by(events.sender_id, events.timestamp, events.id)
    )
    try:
        with engine.connect() as connection:
            return [to_event(*row) for row in open_rows(connection, connection.execute(query))]
    except (KeyConfigError, DecryptionError) as error:
        raise TrackerStoreError(f"cannot decrypt the tracker store at {shown}: {error}") from None
    except SQLAlchemyError as error:
        raise TrackerStoreError(
            f"cannot read the tracker store at {shown}: {_error_text(error, url)}"
        ) from None
    finally:
        engine.dispose()


def epoch(moment: datetime | None) -> float | None:
    """A database datetime (naive means UTC, as in kefu's models) as epoch seconds."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def utc(seconds: float) -> datetime:
    """Epoch seconds as a naive UTC datetime (for comparing with the models' columns)."""
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


def _intents(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value if isinstance(v, str) and v)
    return ()


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_ratings(session: Session, start: float, end: float) -> list[Rating]:
    """The satisfaction ratings written in ``[start, end)``."""
    from kefu.models import CsatRating

    rows = session.scalars(
        select(CsatRating)
        .where(CsatRating.created_at >= utc(start), CsatRating.created_at < utc(end))
        .order_by(CsatRating.created_at)
    )
    return [
        Rating(
            conversation_id=str(row.conversation_id),
            rating=int(row.rating),
            created_at=epoch(row.created_at),
            intents=_intents(row.intents),
            language=row.language,
            channel=row.channel,
            human_involved=bool(row.human_involved),
            customer_id=row.customer_id,
            comment=row.comment,
        )
        for row in rows
    ]


def read_tickets(session: Session, start: float, end: float) -> list[Ticket]:
    """The hand-off tickets opened in ``[start, end)``."""
    from kefu.models import HandoffTicket

    rows = session.scalars(
        select(HandoffTicket)
        .where(HandoffTicket.created_at >= utc(start), HandoffTicket.created_at < utc(end))
        .order_by(HandoffTicket.created_at)
    )
    return [
        Ticket(
            conversation_id=str(row.conversation_id),
            reason=row.reason,
            status=row.status,
            created_at=epoch(row.created_at),
            language=row.language,
            channel=row.channel,
            sentiment=_float(row.sentiment),
            claimed_at=epoch(row.claimed_at),
            closed_at=epoch(row.closed_at),
        )
        for row in rows
    ]


def _display(name_zh: str, name_en: str) -> str:
    return name_zh if name_zh == name_en else f"{name_zh} {name_en}"


def read_labels(session: Session) -> dict[str, dict[str, str]]:
    """Display names ("手机 Phones") of categories and brands by their key and names,
    case-folded, as ``{"product_category": {...}, "brand": {...}}``."""
    from kefu.models import Brand, Category

    labels: dict[str, dict[str, str]] = {}
    for kind, model in (("product_category", Category), ("brand", Brand)):
        names: dict[str, str] = {}
        rows: Iterable = session.execute(select(model.key, model.name_zh, model.name_en))
        for key, name_zh, name_en in rows:
            display = _display(name_zh, name_en)
            for value in (name_en, name_zh, key):  # the key wins over a name
                names[str(value).strip().casefold()] = display
        labels[kind] = names
    return labels
