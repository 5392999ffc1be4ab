"""Helpers shared by all actions."""

from __future__ import annotations

import logging

from rasa_sdk import Tracker

from kefu.config import shop_config

LANGUAGE_SLOT = "language"

logger = logging.getLogger(__name__)


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


TOKEN_METADATA_KEY = "customer_token"  # the shop's front end sends its signed token here


def identified_customer(tracker: Tracker) -> int | None:
    """The customer id from the signed token in the latest message's metadata.

    The shop's front end sends the token with every message, so a message without one comes
    from nobody in particular: after a logout the conversation no longer sees that customer's
    orders.  A forged or expired token identifies nobody (logged without the token); without a
    configured secret (``KEFU_IDENTITY_SECRET``) tokens are not accepted at all.
    """
    from kefu.identity import IdentityError, IdentitySecretError, identity_secret, verify_token

    token = (tracker.latest_message.get("metadata") or {}).get(TOKEN_METADATA_KEY)
    if not isinstance(token, str) or not token:
        return None
    try:
        return verify_token(token, identity_secret())
    except IdentitySecretError:
        logger.warning("A customer token arrived but KEFU_IDENTITY_SECRET is not set")
    except IdentityError as error:
        logger.info("Customer token rejected: %s", type(error).__name__)
    return None


VERIFICATION_SLOT = "verification"


def verification_state(tracker: Tracker):
    """This conversation's :class:`kefu.identity.VerificationState`, logged in when a valid
    customer token came with the message (or earlier)."""
    from kefu.identity import VerificationState

    try:
        state = VerificationState.from_dict(tracker.get_slot(VERIFICATION_SLOT))
    except ValueError:
        logger.warning("Discarding an invalid verification state")
        state = VerificationState()
    customer = identified_customer(tracker)
    return state.logged_in(customer) if customer else state.logged_out()


def send_replies(dispatcher, replies, language: str) -> None:
    """Utter :class:`kefu.order_tasks.Reply` messages: library text, or a domain response
    filled with its values and the shop's contact details."""
    for reply in replies:
        if reply.text:
            dispatcher.utter_message(text=reply.text)
        elif reply.response:
            dispatcher.utter_message(
                response=reply.response, **{**contact_details(language), **reply.params}
            )
