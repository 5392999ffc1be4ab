"""The web chat channel: socket.io for kefu's own widget, which this channel also serves.

Compared with Rasa's ``socketio`` channel it

* binds the conversation to the socket and to a secret only its client holds: at
  ``session_request`` a client resumes a session (and joins its room, where the bot's and the
  agents' messages go) only with the session's secret, which the server issued with the
  session; a client that knows only a session id gets a fresh session.  The secret is
  ``<expiry>.<HMAC-SHA256 of session id and expiry>`` under ``session_key``
  (``KEFU_WEBCHAT_SECRET``): nothing is stored per session, every worker can check it, it
  survives restarts, and it expires ``session_ttl_hours`` after it was issued (it is renewed
  at every resume).  A message cannot name another conversation's id;
* only accepts connections from the configured origins (``cors_allowed_origins``) and frames up
  to ``max_http_buffer_size`` bytes; malformed events are dropped and logged, never raised;
* emits ``bot_typing`` around each turn and sends custom payloads (product cards) as
  ``{"custom": ...}`` instead of Rasa's keyword-argument emit;
* puts every message behind the guard (``guard.py``: the conversation id ``webchat:<session
  id>``, limits per conversation and per client address, length, commands, metadata);
* serves the widget's files (``webchat/``) at ``/webhooks/webchat/<file>``;
* with ``KEFU_REDIS_URL`` set, shares its rooms through Redis (python-socketio's
  ``AsyncRedisManager``): a reply or an agent's message sent by any Rasa instance reaches the
  customer's socket on whichever instance it is connected to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from kefu_rasa.channels.guard import (
    bounded_metadata,
    client_of,
    guarded,
    pseudonym,
    scoped_output,
)

logger = logging.getLogger(__name__)

WIDGET_DIR = Path(__file__).resolve().parents[2] / "webchat"
WIDGET_FILES = {
    "widget.js": "application/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "socket.io.min.js": "application/javascript; charset=utf-8",
}
SESSION_ID = re.compile(r"[0-9a-f]{32}")
MAX_METADATA_CHARS = 4096
DEFAULT_SESSION_TTL_HOURS = 24 * 7
MIN_SESSION_KEY_CHARS = 32
USER_EVENT = "user_uttered"
BOT_EVENT = "bot_uttered"
TYPING_EVENT = "bot_typing"


REDIS_URL_ENV = "KEFU_REDIS_URL"
REDIS_CHANNEL = "kefu-webchat"


def client_manager(environ: Mapping[str, str] | None = None) -> AsyncRedisManager | None:
    """The Redis manager that spreads emits over every instance when ``KEFU_REDIS_URL`` is
    set; None (this process only) otherwise."""
    environ = os.environ if environ is None else environ
    url = (environ.get(REDIS_URL_ENV) or "").strip()
    return AsyncRedisManager(url, channel=REDIS_CHANNEL) if url else None


def parse_origins(value: str | Iterable[str] | None) -> list[str]:
    """Origins from a space- or comma-separated string (or a list); '*' is refused."""
    if value is None:
        return []
    items = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value)
    origins = [str(item).strip().rstrip("/") for item in items if str(item).strip()]
    for origin in origins:
        if origin == "*" or not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ValueError(
                f"web chat: {origin!r} is not an allowed origin; list the shop's origins "
                "like https://shop.example.com (no wildcards, no paths)"
            )
    return origins


class SessionKeys:
    """Session secrets: ``<expiry>.<base64url HMAC-SHA256(key, "<session id>.<expiry>")>``."""

    def __init__(
        self,
        key: bytes,
        ttl_seconds: float = DEFAULT_SESSION_TTL_HOURS * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _mac(self, session_id: str, expires: int) -> str:
        digest = hmac.new(
            self._key, f"webchat-session:{session_id}.{expires}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def issue(self, session_id: str) -> str:
        """A new secret for ``session_id``, valid for ``ttl_seconds``."""
        expires = int(self._clock() + self.ttl_seconds)
        return f"{expires}.{self._mac(session_id, expires)}"

    def verify(self, session_id: str, secret: object) -> bool:
        """Whether ``secret`` was issued for ``session_id`` and has not expired."""
        if not isinstance(secret, str) or len(secret) > 128:
            return False
        expires, _, mac = secret.partition(".")
        if not expires.isdigit() or int(expires) < self._clock():
            return False
        return hmac.compare_digest(mac.encode(), self._mac(session_id, int(expires)).encode())


def checked_session_id(data: object, keys: SessionKeys | None = None) -> str:
    """The session id the widget asked for, if well-formed and (with ``keys``) presented with
    its secret; otherwise a new one."""
    requested = data.get("session_id") if isinstance(data, dict) else None
    well_formed = isinstance(requested, str) and SESSION_ID.fullmatch(requested)
    if well_formed and (keys is None or keys.verify(requested, data.get("session_secret"))):
        return requested
    return uuid.uuid4().hex


def allowed_metadata(raw: object) -> dict[str, str]:
    """The known metadata keys with short string values; anything else is dropped."""
    return bounded_metadata(raw, MAX_METADATA_CHARS)


def session_key(value: object) -> bytes:
    """The HMAC key from the credential (``KEFU_WEBCHAT_SECRET``), or a random one per process
    (then sessions are not resumed after a restart, and several workers do not share them)."""
    text = str(value or "").strip()
    if not text:
        logger.warning(
            "webchat: no session_key (KEFU_WEBCHAT_SECRET); web chat sessions end when the "
            "server restarts"
        )
        return secrets.token_bytes(32)
    if len(text) < MIN_SESSION_KEY_CHARS:
        raise ValueError(
            f"web chat: session_key (KEFU_WEBCHAT_SECRET) needs at least "
            f"{MIN_SESSION_KEY_CHARS} characters"
        )
    return text.encode("utf-8")


class WebChatOutput(OutputChannel):
    """Bot messages to every socket of one conversation (its room)."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    def __init__(self, sio: AsyncServer) -> None:
        self.sio = sio

    async def _emit(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.sio.emit(BOT_EVENT, message, room=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"text": text})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"attachment": {"type": "image", "payload": {"src": image}}})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        replies = []
        for button in buttons:
            reply = {"title": str(button.get("title", ""))}
            if button.get("url"):
                reply["url"] = str(button["url"])
            else:
                reply["payload"] = str(button.get("payload", ""))
            replies.append(reply)
        await self._emit(recipient_id, {"text": text, "quick_replies": replies})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"custom": json_message})

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: str, attachment: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"attachment": attachment})


class WebChatInput(InputChannel):
    """socket.io input for kefu's web chat widget."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        ttl_hours = float(credentials.get("session_ttl_hours") or DEFAULT_SESSION_TTL_HOURS)
        if not ttl_hours > 0:
            raise ValueError("web chat: session_ttl_hours must be positive")
        return cls(
            cors_allowed_origins=parse_origins(credentials.get("cors_allowed_origins")),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            max_http_buffer_size=int(credentials.get("max_http_buffer_size", 65536)),
            session_keys=SessionKeys(session_key(credentials.get("session_key")), ttl_hours * 3600),
        )

    def __init__(
        self,
        cors_allowed_origins: list[str],
        socketio_path: str = "/socket.io",
        max_http_buffer_size: int = 65536,
        session_keys: SessionKeys | None = None,
    ) -> None:
        self.cors_allowed_origins = cors_allowed_origins
        self.socketio_path = socketio_path
        self.max_http_buffer_size = max_http_buffer_size
        self.session_keys = session_keys or SessionKeys(secrets.token_bytes(32))
        self.sio: AsyncServer | None = None

    def get_output_channel(self) -> OutputChannel | None:
        """The output for messages the bot starts (e.g. an agent's reply, addressed to the
        conversation ``webchat:<session id>``); None before start."""
        return scoped_output(WebChatOutput(self.sio), self.name()) if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(
            async_mode="sanic",
            # an empty list would switch the origin check off; no origins means same-origin only
            cors_allowed_origins=self.cors_allowed_origins or None,
            max_http_buffer_size=self.max_http_buffer_size,
            client_manager=client_manager(),
        )
        self.sio = sio
        bp = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)
        handler = guarded(on_new_message, self.name())
        output = WebChatOutput(sio)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/<filename>", methods=["GET"])
        async def widget_file(_: Request, filename: str) -> HTTPResponse:
            if filename not in WIDGET_FILES:
                return response.json({"error": "not found"}, status=404)
            return await response.file(
                WIDGET_DIR / filename,
                mime_type=WIDGET_FILES[filename],
                headers={"Cache-Control": "public, max-age=300"},
            )

        keys = self.session_keys

        @sio.on("connect")
        async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            if request is None:
                client = "unknown"
            else:
                client = client_of(request.ip, request.headers.getall("X-Forwarded-For", []))
            await sio.save_session(sid, {"client": client})
            return True

        @sio.on("session_request")
        async def session_request(sid: str, data: Any = None) -> None:
            session_id = checked_session_id(data, keys)
            session = await sio.get_session(sid)
            previous = session.get("session_id")
            if previous and previous != session_id:
                await sio.leave_room(sid, previous)  # one socket, one conversation
            await sio.save_session(sid, {**session, "session_id": session_id})
            await sio.enter_room(sid, session_id)
            confirm = {"session_id": session_id, "session_secret": keys.issue(session_id)}
            await sio.emit("session_confirm", confirm, room=sid)

        @sio.on(USER_EVENT)
        async def user_uttered(sid: str, data: Any = None) -> None:
            session = await sio.get_session(sid)
            session_id = session.get("session_id")
            text = data.get("message") if isinstance(data, dict) else None
            if not session_id or not isinstance(text, str) or not text.strip():
                logger.warning("webchat: dropped a malformed message event from socket %s", sid)
                return
            metadata = allowed_metadata(data.get("metadata"))
            message = UserMessage(
                text, output, session_id, input_channel=self.name(), metadata=metadata
            )
            await sio.emit(TYPING_EVENT, {"on": True}, room=session_id)
            try:
                await handler(message, client=session.get("client") or "unknown")
            except Exception:
                logger.exception("webchat: the bot failed on a message from %s", pseudonym(sid))
            finally:
                await sio.emit(TYPING_EVENT, {"on": False}, room=session_id)

        return bp
