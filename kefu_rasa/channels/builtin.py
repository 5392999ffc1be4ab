"""Rasa's own connectors (REST, Slack, Facebook Messenger, Telegram) behind kefu's guard.

Each class is the Rasa connector with these changes: every message passes the guard
(``guard.py``: conversation ids scoped to the channel, rate limits, length, commands, metadata)
before it reaches the bot, bad requests are refused up front, and the output channels Rasa's
HTTP API uses take the channel prefix off the conversation id.  The channel names stay Rasa's
(``rest``, ``slack``, ``facebook``, ``telegram``), so webhook URLs look exactly as with the
built-in connectors.  Slack and Facebook already check their platform's request signature
(``slack_signing_secret``, ``secret``).

REST is for programs, tests and a shop's own back end.  With a ``token`` (``KEFU_REST_TOKEN``)
every request needs ``Authorization: Bearer <token>``; in production (``KEFU_PROFILE=production``)
the channel does not start without one.  A top-level ``input_channel`` in the body is ignored:
REST messages are always channel ``rest``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.bot.api import TelegramAPIServer
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.facebook import FacebookInput
from rasa.core.channels.rest import RestInput
from rasa.core.channels.slack import SlackInput
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from sanic import Blueprint, response
from sanic.request import Request

from kefu_rasa.channels.guard import CLIENT_ADDRESS, client_of, guarded, scoped_output
from kefu_rasa.channels.replay import (
    MESSAGE_ID_KEY,
    REQUEST_AGENT,
    REQUEST_MESSAGE_ID,
    handled_before,
    valid_message_id,
)

logger = logging.getLogger(__name__)

Handler = Callable[[UserMessage], Awaitable[Any]]
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PROFILE_ENV = "KEFU_PROFILE"
MIN_REST_TOKEN_CHARS = 16
MAX_SENDER = 120  # "rest:<sender>" stays within the 128 characters a conversation id may have


class GuardedChannel:
    """Mixin: hand the connector a guarded message handler; scope its output channel."""

    # whether the request's peer is the customer (else a platform relaying many customers)
    client_addresses = False

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        handler = guarded(
            on_new_message,
            self.name(),  # type: ignore[attr-defined]
            request_address=self.client_addresses,
        )
        return super().blueprint(handler)  # type: ignore[misc]

    def get_output_channel(self, *args: Any, **kwargs: Any) -> Any:
        output = super().get_output_channel(*args, **kwargs)  # type: ignore[misc]
        return scoped_output(output, self.name())  # type: ignore[attr-defined]


def production() -> bool:
    """Whether this is a production deployment (``KEFU_PROFILE=production``)."""
    return os.environ.get(PROFILE_ENV, "").strip().lower() == "production"


class RestChannel(GuardedChannel, RestInput):
    """REST: ``POST /webhooks/rest/webhook`` with ``{"sender": ..., "message": ...}``."""

    client_addresses = True

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestChannel:
        token = str((credentials or {}).get("token") or "").strip() or None
        if token is None and production():
            raise ValueError(
                "rest channel: KEFU_PROFILE=production needs KEFU_REST_TOKEN (the bearer token "
                "REST callers send), or take the REST channel out of credentials.yml"
            )
        if token is not None and len(token) < MIN_REST_TOKEN_CHARS:
            raise ValueError(
                f"rest channel: the token (KEFU_REST_TOKEN) needs at least "
                f"{MIN_REST_TOKEN_CHARS} characters"
            )
        return cls(token)

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()  # never what the body says

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        async def once(message: UserMessage) -> Any:
            if await handled_before(message):  # a re-sent message (kefu_rasa.channels.replay)
                return None
            return await on_new_message(message)

        bp = super().blueprint(once)
        expected = self.token.encode("utf-8") if self.token else None

        @bp.middleware("request")
        async def require_sender_and_message(request: Request) -> Any:
            if request.method != "POST":
                return None
            if expected is not None:
                scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(
                    given.strip().encode("utf-8"), expected
                ):
                    logger.warning("rest: refused a request without the bearer token")
                    return response.json(
                        {"error": "a bearer token is required"},
                        status=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            CLIENT_ADDRESS.set(client_of(request.ip, request.headers.getall("X-Forwarded-For", [])))
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage for a body that is not JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "the body must be a JSON object"}, status=400)
            sender, message = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER:
                return response.json(
                    {
                        "error": "'sender' must be a non-empty string of at most "
                        f"{MAX_SENDER} characters"
                    },
                    status=400,
                )
            if not isinstance(message, str):
                return response.json({"error": "'message' must be a string"}, status=400)
            message_id = body.get(MESSAGE_ID_KEY)
            if message_id is not None and not valid_message_id(message_id):
                return response.json(
                    {"error": "'message_id' must be 1-64 letters, digits, '_', '-', '.' or ':'"},
                    status=400,
                )
            REQUEST_MESSAGE_ID.set(message_id)
            REQUEST_AGENT.set(getattr(request.app.ctx, "agent", None))
            return None

        return bp


class SlackChannel(GuardedChannel, SlackInput):
    """Slack Events API; requests are checked against ``slack_signing_secret``."""


class FacebookChannel(GuardedChannel, FacebookInput):
    """Facebook Messenger; requests are checked against the app ``secret``."""


class TelegramChannel(GuardedChannel, TelegramInput):
    """Telegram with its webhook secret token checked on every update.

    Telegram sends the ``secret_token`` given to ``setWebhook`` in the
    ``X-Telegram-Bot-Api-Secret-Token`` header; updates without it are refused with 403.  The
    webhook (with the secret) is registered once at start-up when ``webhook_url`` is set.
    ``api_base`` points at a self-hosted Bot API server if the shop runs one.
    """

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramChannel:
        credentials = credentials or {}
        for key in ("access_token", "verify", "secret_token"):
            if not credentials.get(key):
                raise ValueError(f"telegram: credentials need '{key}'")
        secret = str(credentials["secret_token"])
        if len(secret) < 16 or not all(c.isalnum() or c in "_-" for c in secret):
            raise ValueError(
                "telegram: 'secret_token' must be 16-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        return cls(
            credentials["access_token"],
            credentials["verify"],
            credentials.get("webhook_url"),
            secret_token=secret,
            api_base=credentials.get("api_base") or None,
        )

    def __init__(
        self,
        access_token: str,
        verify: str,
        webhook_url: str | None,
        secret_token: str,
        api_base: str | None = None,
    ) -> None:
        super().__init__(access_token, verify, webhook_url, debug_mode=False)
        self.secret_token = secret_token
        self.api_base = api_base

    def get_output_channel(self) -> TelegramOutput:
        """The Bot API client (Rasa's connector would also re-register the webhook here),
        addressing chats by their id without the conversation's channel prefix."""
        output = TelegramOutput(self.access_token)
        if self.api_base:
            output.server = TelegramAPIServer.from_base(self.api_base.rstrip("/"))
        return scoped_output(output, self.name())  # type: ignore[return-value]

    def register_webhook(self) -> None:
        """``setWebhook`` with the secret token; a failure is logged, not fatal."""
        if not self.webhook_url:
            return

        async def register() -> None:
            output = self.get_output_channel()
            try:
                await output.request(
                    "setWebhook", {"url": self.webhook_url, "secret_token": self.secret_token}
                )
            finally:
                await output.close()

        try:
            asyncio.run(register())
            logger.info("telegram: webhook registered")
        except Exception as error:  # network down, token revoked: the bot still starts
            logger.error("telegram: could not register the webhook (%s)", type(error).__name__)

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        self.register_webhook()
        bp = super().blueprint(on_new_message)
        expected = self.secret_token.encode("utf-8")

        @bp.middleware("request")
        async def require_secret_token(request: Request) -> Any:
            if request.path.rstrip("/").endswith("/set_webhook"):
                # Rasa's public route would re-register the webhook without the secret
                return response.text("not found", status=404)
            if request.method != "POST":
                return None
            given = (request.headers.get(TELEGRAM_SECRET_HEADER) or "").encode("utf-8")
            if not hmac.compare_digest(given, expected):
                logger.warning("telegram: refused an update without the webhook secret")
                return response.text("forbidden", status=403)
            return None

        return bp
