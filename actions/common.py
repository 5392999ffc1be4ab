"""Helpers shared by all actions."""

from __future__ import annotations

from rasa_sdk import Tracker

from kefu.config import shop_config

LANGUAGE_SLOT = "language"


def reply_language(tracker: Tracker) -> str:
    """The language the bot is answering in (set by LanguagePolicy before the action runs)."""
    language = tracker.get_slot(LANGUAGE_SLOT)
    return language if language in ("zh", "en") else shop_config().default_language


def contact_details(language: str) -> dict[str, str]:
    """Template values for responses that tell customers how to reach a person."""
    config = shop_config()
    service = config.customer_service
    return {
        "shop_name": config.name.get(language),
        "hotline": service.hotline,
        "email": service.email,
        "hours": service.hours.get(language),
    }


_sessions = None


def shop_session():
    """A new session on the shop database (``KEFU_DB_URL``); use as a context manager."""
    global _sessions
    if _sessions is None:
        from kefu.db import make_engine, make_session_factory

        _sessions = make_session_factory(make_engine())
    return _sessions()


def latest_entities(tracker: Tracker, entity: str) -> list:
    """Values of ``entity`` in the customer's latest message (not earlier ones)."""
    return list(tracker.get_latest_entity_values(entity))


def first_latest_entity(tracker: Tracker, entity: str):
    """The first value of ``entity`` in the latest message, or None."""
    return next(iter(tracker.get_latest_entity_values(entity)), None)


def latest_intent(tracker: Tracker) -> str | None:
    """The intent NLU gave the customer's latest message (or a button's payload)."""
    return (tracker.latest_message.get("intent") or {}).get("name")
