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
