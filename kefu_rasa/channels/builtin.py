"""Rasa's own connectors (REST, Slack, Facebook Messenger, Telegram) behind kefu's guard.

Each class is the Rasa connector with two changes: every message passes the guard (length and
per-sender rate, ``guard.py``) before it reaches the bot, and bad requests are refused up front.
The channel names stay Rasa's (``rest``, ``slack``, ``facebook``, ``telegram``), so webhook
URLs and tracker data look exactly as with the built-in connectors.  Slack and Facebook already
check their platform's request signature (``slack_signing_secret``, ``secret``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
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

from kefu_rasa.channels.guard import guarded

logger = logging.getLogger(__name__)

Handler = Callable[[UserMessage], Awaitable[Any]]
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class GuardedChannel:
    """Mixin: hand the connector a guarded message handler."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return super().blueprint(guarded(on_new_message, self.name()))  # type: ignore[misc]


class RestChannel(GuardedChannel, RestInput):
    """REST: ``POST /webhooks/rest/webhook`` with ``{"sender": ..., "message": ...}``."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        bp = super().blueprint(on_new_message)

        @bp.middleware("request")
        async def require_sender_and_message(request: Request) -> Any:
            if request.method != "POST":
                return None
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage for a body that is not JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "the body must be a JSON object"}, status=400)
            sender, message = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender.strip() or len(sender) > 128:
                return response.json(
                    {"error": "'sender' must be a non-empty string of at most 128 characters"},
                    status=400,
                )
            if not isinstance(message, str):
                return response.json({"error": "'message' must be a string"}, status=400)
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
        """The Bot API client (Rasa's connector would also re-register the webhook here)."""
        output = TelegramOutput(self.access_token)
        if self.api_base:
            output.server = TelegramAPIServer.from_base(self.api_base.rstrip("/"))
        return output

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
