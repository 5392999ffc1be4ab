"""The agents' console for human hand-off (``kefu agent serve``).

When the bot hands a conversation to a person it opens a ticket (:mod:`kefu.handoff`) and pauses
the Rasa conversation: Rasa keeps recording the customer's messages but the bot stays silent.
Agents work the queue here:

* ``/`` lists the open and claimed tickets, oldest first, refreshed every few seconds from
  ``/tickets.json`` (``agent_static/console.js``);
* ``/tickets/{id}`` shows a ticket: summary, intents and entities, the transcript saved on the
  ticket, the live conversation since it was opened (read from Rasa's HTTP API, polled every
  2 s from ``/tickets/{id}/live.json``), the customer's recent orders (personal data masked), a
  reply box and the Claim / Close buttons.

A reply is delivered through Rasa (a ``bot`` event appended to the conversation with
``output_channel=latest``, which Rasa sends through the customer's latest input channel) and
stored on the ticket in one transaction that commits only once Rasa accepted it; if Rasa
cannot be reached or refuses, nothing is stored (and an automatic claim made by the reply is
undone).  Closing appends ``resume`` and a "the bot is back" message the same way, so the
conversation's slots and form stay as they were.

A customer can leave while waiting.  The queue abandons (客户已离开) the tickets of customers
silent for ``handoff.customer_gone_minutes`` (shop.yml, equal to the bot's session expiry), and
the bot abandons a conversation's ticket itself when a new session starts there
(``actions/session.py``).  Replies to an abandoned ticket are refused like those to a closed one.

Agents are configured in ``KEFU_AGENTS`` (``name:pbkdf2_sha256$iterations$salt$hash``, comma
separated; ``kefu agent hash-password`` makes a hash), the session cookie is signed with
``KEFU_AGENT_SECRET`` and Rasa's HTTP API token comes from ``KEFU_API_TOKEN``.  The house
rules of :mod:`kefu.demo.site` apply: templates escape everything, a strict
Content-Security-Policy (scripts from this site only), CSRF tokens on every form, an
HttpOnly SameSite=Strict session cookie, and logs with neither customers' data nor tokens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from kefu import handoff
from kefu.config import HandoffSettings, shop_config
from kefu.demo.site import ACCESS_LOG_FORMAT, resolve_bot_url
from kefu.handoff import TicketClosed, TicketNotFound, TicketTaken, TicketView
from kefu.identity import mask_email, mask_name, mask_phone, redact
from kefu.models import Customer
from kefu.orders import recent_orders
from kefu.products import money
from kefu.ratelimit import RateLimiter
from kefu.sentiment import NEUTRAL_BAND
from kefu.web import html_templates, run_in_session, sign

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "agent_templates"
STATIC = HERE / "agent_static"

AGENTS_ENV = "KEFU_AGENTS"
SECRET_ENV = "KEFU_AGENT_SECRET"
API_TOKEN_ENV = "KEFU_API_TOKEN"
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
MIN_SECRET_BYTES = 32

HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256
MIN_ITERATIONS = 10_000  # weaker hashes are refused at start-up
SALT_BYTES = 16
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
AGENT_NAME = re.compile(r"[\w.@-]{1,64}")  # \w includes CJK: "小李"

SESSION_COOKIE = "kefu_agent_session"
LOGIN_CSRF_COOKIE = "kefu_agent_csrf"
SESSION_SECONDS = 8 * 3600
SIGNING_DOMAIN = "agent-console"
# login attempts: 5 at once, then one every 30 s, per client address and per agent name
LOGIN_BURST = 5
LOGIN_PER_MINUTE = 2

RASA_TIMEOUT_SECONDS = 10.0
MAX_LIVE_MESSAGES = 200
RECENT_ORDERS = 5
SWEEP_INTERVAL_SECONDS = 60.0  # how often the queue looks for customers who left
MAX_SWEPT = 20  # tickets looked at per sweep (one call to Rasa each)
HANDOFF_SLOT = "handoff_ticket"  # the domain slot holding the conversation's ticket id

# what the bot says when the agent closes the ticket, in the ticket's language
BOT_IS_BACK = {
    "zh": "人工客服已离开对话，我回来啦！有什么问题都可以继续问我。",
    "en": "The agent has left the chat — I'm back. Ask me anything!",
}
REASONS = {
    "requested": "客户要求 · asked for a person",
    "fallbacks": "机器人没听懂 · bot did not understand",
    "complaint": "投诉 · complaint",
    "frustration": "客户不满 · frustrated",
}
STATUSES = {
    "open": "待认领 · open",
    "claimed": "处理中 · claimed",
    "closed": "已关闭 · closed",
    "abandoned": "客户已离开 · abandoned",
}
# the Content-Security-Policy of every page: everything from this site, nothing inline
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

T = TypeVar("T")


class ConsoleConfigError(ValueError):
    """The console cannot start: a setting is missing or malformed."""


# ---- passwords --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(
    password: str, iterations: int = HASH_ITERATIONS, salt: bytes | None = None
) -> str:
    """``pbkdf2_sha256$<iterations>$<salt_b64>$<hash_b64>`` of ``password``, for KEFU_AGENTS."""
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"at least {MIN_ITERATIONS} iterations are required")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def parse_password_hash(encoded: str) -> tuple[int, bytes, bytes]:
    """Iterations, salt and digest of a stored hash; ValueError (without the hash) if
    malformed or weaker than :data:`MIN_ITERATIONS`."""
    parts = encoded.strip().split("$")
    if len(parts) != 4 or parts[0] != HASH_SCHEME or not parts[1].isdigit():
        raise ValueError(f"a password hash looks like {HASH_SCHEME}$<iterations>$<salt>$<hash>")
    iterations = int(parts[1])
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"a password hash needs at least {MIN_ITERATIONS} iterations")
    try:
        salt, digest = _unb64(parts[2]), _unb64(parts[3])
    except (binascii.Error, ValueError):
        raise ValueError("the salt and hash of a password hash must be base64") from None
    if len(salt) < 8 or len(digest) < 16:
        raise ValueError("a password hash needs a salt of 8 bytes and a hash of 16 at least")
    return iterations, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison)."""
    iterations, salt, digest = parse_password_hash(encoded)
    candidate = hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8", "replace"), salt, iterations, len(digest)
    )
    return hmac.compare_digest(candidate, digest)


# ---- configuration ----------------------------------------------------------------------------


def parse_agents(value: str | None) -> dict[str, str]:
    """``KEFU_AGENTS`` as ``{name: password hash}``; ConsoleConfigError naming the bad entry
    (never its hash)."""
    agents: dict[str, str] = {}
    for number, item in enumerate((value or "").split(","), start=1):
        item = item.strip()
        if not item:
            continue
        name, colon, encoded = item.partition(":")
        name = name.strip()
        if not colon or not AGENT_NAME.fullmatch(name):
            raise ConsoleConfigError(
                f"{AGENTS_ENV}: entry {number} must be name:password_hash, with a name of 1 to "
                "64 letters, digits or . _ @ -"
            )
        if name in agents:
            raise ConsoleConfigError(f"{AGENTS_ENV}: agent {name!r} is listed twice")
        try:
            parse_password_hash(encoded)
        except ValueError as error:
            raise ConsoleConfigError(
                f"{AGENTS_ENV}: the password hash of agent {name!r} is not valid: {error} "
                "(make one with `kefu agent hash-password`)"
            ) from None
        agents[name] = encoded.strip()
    return agents


@dataclass(frozen=True)
class ConsoleSettings:
    agents: Mapping[str, str]  # name → password hash
    secret: str = field(repr=False)
    rasa_url: str = DEFAULT_RASA_URL
    api_token: str = field(default="", repr=False)
    rasa_timeout: float = RASA_TIMEOUT_SECONDS


def load_settings(
    rasa_url: str | None = None, environ: Mapping[str, str] | None = None
) -> ConsoleSettings:
    """The settings from the environment; ConsoleConfigError with what to do when the secret,
    the agents or the API token are missing or malformed."""
    environ = os.environ if environ is None else environ
    secret = environ.get(SECRET_ENV, "")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        state = "is not set" if not secret else f"has {len(secret.encode('utf-8'))} bytes"
        raise ConsoleConfigError(
            f"{SECRET_ENV} {state}: set it to a random secret of at least {MIN_SECRET_BYTES} "
            "bytes (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    agents = parse_agents(environ.get(AGENTS_ENV))
    if not agents:
        raise ConsoleConfigError(
            f"{AGENTS_ENV} lists no agents: set it to name:password_hash pairs, comma "
            "separated; `kefu agent hash-password` prints a hash"
        )
    token = environ.get(API_TOKEN_ENV, "")
    if not token:
        raise ConsoleConfigError(
            f"{API_TOKEN_ENV} is not set: the console needs the token of the Rasa server's HTTP "
            "API (scripts/run.sh keeps it in .kefu/api_token)"
        )
    try:
        url = resolve_bot_url(rasa_url or DEFAULT_RASA_URL)
    except ValueError as error:
        raise ConsoleConfigError(str(error)) from None
    return ConsoleSettings(agents=agents, secret=secret, rasa_url=url, api_token=token)


# ---- sessions and CSRF ------------------------------------------------------------------------

_NAME_B64 = re.compile(r"[A-Za-z0-9_-]{2,344}")  # 64 characters of 4 bytes
_EXPIRY = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _name_b64(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).rstrip(b"=").decode("ascii")


def session_value(
    agent: str, secret: str, now: float | None = None, nonce: str | None = None
) -> str:
    """The session cookie of ``agent``: ``name.expiry.nonce.signature`` (name base64url)."""
    expires = str(int(time.time() if now is None else now) + SESSION_SECONDS)
    nonce = nonce or secrets.token_urlsafe(18)
    name = _name_b64(agent)
    signature = sign(secret, SIGNING_DOMAIN, "session", name, expires, nonce)
    return f"{name}.{expires}.{nonce}.{signature}"


def session_agent(value: str | None, secret: str, now: float | None = None) -> tuple[str, str]:
    """The agent and nonce of a genuine, unexpired session cookie; ``("", "")`` otherwise."""
    parts = (value or "").split(".")
    if (
        len(parts) != 4
        or not _NAME_B64.fullmatch(parts[0])
        or not _EXPIRY.fullmatch(parts[1])
        or not _NONCE.fullmatch(parts[2])
    ):
        return "", ""
    expected = sign(secret, SIGNING_DOMAIN, "session", *parts[:3])
    if not hmac.compare_digest(expected.encode("ascii"), parts[3].encode("ascii", "replace")):
        return "", ""
    if int(parts[1]) <= (time.time() if now is None else now):
        return "", ""
    try:
        name = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return name, parts[2]


def csrf_token(session: str, secret: str) -> str:
    """The CSRF token of every form of a logged-in agent: bound to their session."""
    return sign(secret, SIGNING_DOMAIN, "csrf", session)


def _same(expected: str, sent: str) -> bool:
    return bool(expected) and hmac.compare_digest(
        expected.encode("utf-8"), sent.encode("utf-8", "replace")
    )


# ---- Rasa's HTTP API --------------------------------------------------------------------------


class RasaError(Exception):
    """Rasa did not do what was asked; ``str()`` is a message for the agent (no token, no
    customer data)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # unreachable | timeout | unauthorized | failed


class RasaClient:
    """The two calls of Rasa's HTTP API the console makes, with the API token."""

    def __init__(self, base_url: str, token: str, timeout: float = RASA_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _url(self, conversation_id: str, tail: str = "") -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker{tail}"

    async def _call(self, method: str, url: str, params: dict[str, str], **kwargs: Any) -> Any:
        if self._session is None:
            raise RuntimeError("the Rasa client is not started")
        where = self.base_url
        try:
            async with self._session.request(
                method, url, params={**params, "token": self._token}, **kwargs
            ) as response:
                if response.status in (401, 403):
                    logger.warning("agent console: the bot server refused the API token")
                    raise RasaError(
                        "unauthorized",
                        f"机器人服务器（{where}）拒绝了控制台的 API 令牌（KEFU_API_TOKEN）。"
                        f" · The bot server at {where} refused the console's API token "
                        f"(KEFU_API_TOKEN, HTTP {response.status}).",
                    )
                if response.status >= 300:
                    logger.warning(
                        "agent console: the bot server answered HTTP %s", response.status
                    )
                    raise RasaError(
                        "failed",
                        f"机器人服务器（{where}）出错（HTTP {response.status}）。"
                        f" · The bot server at {where} answered HTTP {response.status}.",
                    )
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    raise RasaError(
                        "failed",
                        f"机器人服务器（{where}）的回答无法识别。"
                        f" · The bot server at {where} gave an unusable answer.",
                    ) from None
        except asyncio.TimeoutError:
            logger.warning("agent console: the bot server did not answer in time")
            raise RasaError(
                "timeout",
                f"机器人服务器（{where}）没有及时响应。"
                f" · The bot server at {where} did not answer in time.",
            ) from None
        except aiohttp.ClientError:  # connection refused or reset, bad answer …
            logger.warning("agent console: the bot server cannot be reached")
            raise RasaError(
                "unreachable",
                f"无法连接机器人服务器（{where}）。 · The bot server at {where} cannot be reached.",
            ) from None

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker (its events since the last restart)."""
        state = await self._call("GET", self._url(conversation_id), {})
        if not isinstance(state, dict):
            raise RasaError(
                "failed", "机器人服务器的回答无法识别。 · The bot server's answer is unusable."
            )
        return state

    async def append(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Append ``events`` and run their side effects: bot messages go out through the
        customer's latest input channel."""
        params = {"output_channel": "latest", "execute_side_effects": "true"}
        await self._call("POST", self._url(conversation_id, "/events"), params, json=events)


# ---- what the pages show ----------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def waiting_text(seconds: float) -> str:
    """A compact duration: "45s", "12m", "1h05m", "2d03h"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def mood(sentiment: float | None) -> str:
    """negative / neutral / positive for a CSS class; "" without a score."""
    if sentiment is None:
        return ""
    if sentiment <= -NEUTRAL_BAND:
        return "negative"
    return "positive" if sentiment >= NEUTRAL_BAND else "neutral"


def _clock(settings: HandoffSettings, moment: datetime | None) -> str:
    """A stored (naive UTC) time on the shop's clock: "03-03 10:05"."""
    return settings.local(moment).strftime("%m-%d %H:%M") if moment else ""


def ticket_row(view: TicketView, now: datetime, settings: HandoffSettings) -> dict[str, Any]:
    """One line of the queue (the page and ``/tickets.json``)."""
    waited = (_utc(now) - _utc(view.created_at)).total_seconds()
    return {
        "id": view.id,
        "href": f"/tickets/{view.id}",
        "status": view.status,
        "status_text": STATUSES.get(view.status, view.status),
        "reason": view.reason,
        "reason_text": REASONS.get(view.reason, view.reason),
        "language": view.language,
        "channel": view.channel,
        "opened": _clock(settings, view.created_at),
        "waiting_seconds": int(max(0, waited)),
        "waiting": waiting_text(waited),
        "summary": view.summary,
        "sentiment": view.sentiment,
        "sentiment_text": "" if view.sentiment is None else f"{view.sentiment:+.2f}",
        "mood": mood(view.sentiment),
        "agent": view.agent,
    }


def queue_data(session: Session, now: datetime, settings: HandoffSettings) -> list[dict]:
    return [ticket_row(view, now, settings) for view in handoff.open_tickets(session)]


def last_customer_message_at(events: object) -> float | None:
    """When the customer last wrote (a Unix time), from a tracker's events; None if never."""
    if not isinstance(events, list):
        return None
    stamps = [
        event["timestamp"]
        for event in events
        if isinstance(event, dict)
        and event.get("event") == "user"
        and isinstance(event.get("timestamp"), (int, float))
    ]
    return max(stamps, default=None)


def waiting_since_before(session: Session, cutoff: datetime) -> list[TicketView]:
    """Active tickets opened before ``cutoff`` (naive UTC): those whose customer may be gone."""
    return [view for view in handoff.open_tickets(session) if view.created_at < cutoff]


def _transcript_time(value: object, settings: HandoffSettings) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    return settings.local(moment).strftime("%H:%M:%S")


def _entity_text(value: object) -> str:
    if isinstance(value, list):
        return " / ".join(str(v) for v in value)
    return "" if value is None else str(value)


def customer_data(session: Session, customer_id: int, language: str) -> dict[str, Any] | None:
    """The customer, masked, with their recent orders; None if the row is gone."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    if customer.erased_at is not None:
        return {"erased": True, "id": customer.id, "orders": []}
    orders = recent_orders(session, customer_id, limit=RECENT_ORDERS, language=language)
    return {
        "erased": False,
        "id": customer.id,
        "name": mask_name(customer.name),
        "phone": mask_phone(customer.phone),
        "email": mask_email(customer.email),
        "language": customer.preferred_language,
        "orders": [
            {
                "order_no": order.order_no,
                "created": order.created.isoformat(),
                "status": order.status,
                "status_text": order.status_text,
                "total": money(order.total),
                "items": order.items_text,
            }
            for order in orders
        ],
    }


def ticket_data(session: Session, ticket_id: int, settings: HandoffSettings) -> dict[str, Any]:
    """Everything on a ticket's page but the live conversation; TicketNotFound if none."""
    view = handoff.ticket(session, ticket_id)
    return {
        "ticket": view,
        "row": ticket_row(view, handoff.stored_time(None), settings),
        "closed_at": _clock(settings, view.closed_at),
        "entities": [(name, _entity_text(value)) for name, value in view.entities.items()],
        "transcript": [
            {
                "who": item.get("who", ""),
                "text": item.get("text", ""),
                "at": _transcript_time(item.get("at"), settings),
            }
            for item in view.transcript
        ],
        "customer": (
            customer_data(session, view.customer_id, view.language)
            if view.customer_id is not None
            else None
        ),
    }


def live_messages(
    events: list[Any], view: TicketView, settings: HandoffSettings
) -> list[dict[str, Any]]:
    """The customer's and the bot's (or an agent's) messages of the conversation while the
    ticket is or was open, oldest first, texts redacted."""
    start = _utc(view.created_at).timestamp()
    end = _utc(view.closed_at).timestamp() if view.closed_at else math.inf
    shown = []
    for event in events:
        if not isinstance(event, dict) or event.get("event") not in ("user", "bot"):
            continue
        at = event.get("timestamp")
        if not isinstance(at, (int, float)) or not start <= at <= end:
            continue
        metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        agent = metadata.get("agent") if event["event"] == "bot" else None
        text = event.get("text")
        shown.append(
            {
                "who": "customer" if event["event"] == "user" else ("agent" if agent else "bot"),
                "agent": str(agent) if agent else None,
                "text": redact(text)[: handoff.MAX_TEXT_CHARS]
                if isinstance(text, str) and text
                else "（非文字消息 · not a text message）",
                "at": settings.local(datetime.fromtimestamp(at, timezone.utc)).strftime("%H:%M:%S"),
                "timestamp": at,
            }
        )
    return shown[-MAX_LIVE_MESSAGES:]


# ---- the web application ----------------------------------------------------------------------


@dataclass
class Console:
    factory: sessionmaker
    settings: ConsoleSettings
    templates: jinja2.Environment
    rasa: RasaClient
    limiter: RateLimiter
    handoff: HandoffSettings
    revoked: dict[str, float] = field(default_factory=dict)  # logged-out nonce → expiry
    last_sweep: float = -math.inf  # time.monotonic() of the last look for departed customers

    def revoke(self, nonce: str) -> None:
        now = time.time()
        for old in [n for n, expires in self.revoked.items() if expires <= now]:
            del self.revoked[old]
        self.revoked[nonce] = now + SESSION_SECONDS


CONSOLE = web.AppKey("agent_console", Console)
AGENT = "kefu_agent"  # request key: the logged-in agent's name, or None
SESSION = "kefu_agent_session"  # request key: their session cookie (the CSRF tokens' anchor)
PUBLIC_PATHS = ("/login", "/static/", "/favicon.ico")


async def in_db(request: web.Request, work: Callable[..., T], *args: Any) -> T:
    """``work(session, *args)`` in one transaction, on a worker thread."""
    return await run_in_session(request.app[CONSOLE].factory, work, *args)


class Transaction:
    """One database transaction spanning awaits (a call to Rasa in the middle): its work runs
    on worker threads, one step at a time; commit at the end, rollback on any error."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(work, self.session, *args)


@asynccontextmanager
async def transaction(request: web.Request) -> AsyncIterator[Transaction]:
    session = request.app[CONSOLE].factory()
    try:
        yield Transaction(session)
        await asyncio.to_thread(session.commit)
    except BaseException:
        await asyncio.to_thread(session.rollback)
        raise
    finally:
        await asyncio.to_thread(session.close)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    console = request.app[CONSOLE]
    session = request.get(SESSION)
    body = console.templates.get_template(template).render(
        agent=request.get(AGENT),
        csrf=csrf_token(session, console.settings.secret) if session else "",
        **context,
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _secure_headers(headers, static: bool = False) -> None:
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cache-Control", "no-cache" if static else "no-store")


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    static = request.path.startswith("/static/")
    try:
        response = await handler(request)
    except web.HTTPException as error:  # redirects and refusals are raised, not returned
        _secure_headers(error.headers, static)
        raise
    _secure_headers(response.headers, static)
    return response


def _json_request(request: web.Request) -> bool:
    return request.path.endswith(".json")


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    """Every page but the login needs an agent's session; every form post its CSRF token."""
    console = request.app[CONSOLE]
    name, nonce = session_agent(request.cookies.get(SESSION_COOKIE), console.settings.secret)
    if name and name in console.settings.agents and nonce not in console.revoked:
        request[AGENT] = name
        request[SESSION] = request.cookies[SESSION_COOKIE]
    else:
        request[AGENT] = request[SESSION] = None
    if request.path.startswith(PUBLIC_PATHS):
        return await handler(request)
    if request[AGENT] is None:
        if _json_request(request):
            return web.json_response({"error": "login"}, status=401)
        raise web.HTTPSeeOther("/login")
    if request.method == "POST":
        form = await request.post()
        expected = csrf_token(request[SESSION], console.settings.secret)
        if not _same(expected, str(form.get("csrf", ""))):
            return render(
                request,
                "message.html",
                status=403,
                title="表单已过期 · Form expired",
                message="表单已过期：请刷新页面再试。 · The form has expired: reload the page "
                "and try again.",
            )
    return await handler(request)


def _cookie(request: web.Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "Strict", "secure": request.secure, "path": "/"}


# ---- login and logout -------------------------------------------------------------------------


def login_allowed(limiter: RateLimiter, address: str, name: str) -> bool:
    """One attempt for the client address and one for the agent name; False when either is
    over the limit (both are charged, so guessing one name from many addresses is slow too)."""
    by_address = limiter.allow(f"address:{address}")
    by_name = limiter.allow(f"name:{name.casefold()}")
    return by_address and by_name


def _login_page(request: web.Request, status: int = 200, error: str = "", name: str = ""):
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, login_csrf=csrf, error=error, name=name)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=3600, **_cookie(request))
    return response


async def login_form(request: web.Request) -> web.Response:
    if request[AGENT]:
        raise web.HTTPSeeOther("/")
    return _login_page(request)


async def login(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    if not _same(request.cookies.get(LOGIN_CSRF_COOKIE, ""), str(form.get("csrf", ""))):
        return _login_page(
            request, 403, "登录表单已过期，请再试一次。 · The login form has expired: try again."
        )
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))[:MAX_PASSWORD_CHARS]
    limiter = console.limiter
    if not login_allowed(limiter, request.remote or "unknown", name):
        wait = math.ceil(
            max(
                limiter.retry_after(f"address:{request.remote or 'unknown'}"),
                limiter.retry_after(f"name:{name.casefold()}"),
            )
        )
        logger.warning("agent console: too many login attempts")
        response = _login_page(
            request,
            429,
            f"尝试次数过多，请 {wait} 秒后再试。 · Too many attempts: try again in {wait} s.",
            name,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    known = console.settings.agents.get(name)
    # an unknown name costs as much time as a known one
    stored = known or next(iter(console.settings.agents.values()))
    matches = await asyncio.to_thread(verify_password, password, stored)
    if known is None or not matches:
        logger.info("agent console: a login failed")
        return _login_page(request, 401, "用户名或密码不对。 · Wrong name or password.", name)
    redirect = web.HTTPSeeOther("/")
    redirect.set_cookie(
        SESSION_COOKIE,
        session_value(name, console.settings.secret),
        max_age=SESSION_SECONDS,
        **_cookie(request),
    )
    redirect.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    logger.info("agent console: agent %s logged in", name)
    raise redirect


async def logout(request: web.Request) -> NoReturn:
    console = request.app[CONSOLE]
    _, nonce = session_agent(request[SESSION], console.settings.secret)
    console.revoke(nonce)  # the cookie is worthless from now on, even if it was copied
    logger.info("agent console: agent %s logged out", request[AGENT])
    redirect = web.HTTPSeeOther("/login")
    redirect.del_cookie(SESSION_COOKIE, path="/")
    raise redirect


# ---- the queue --------------------------------------------------------------------------------


async def sweep_departed(request: web.Request) -> None:
    """Abandon the tickets whose customer has been silent for ``customer_gone_minutes`` (their
    conversation's session is over; the bot starts a new one when they come back).  Runs at
    most once a minute and looks at no more than :data:`MAX_SWEPT` tickets; a ticket whose
    conversation Rasa cannot show is left as it is."""
    console = request.app[CONSOLE]
    started = time.monotonic()
    if started - console.last_sweep < SWEEP_INTERVAL_SECONDS:
        return
    console.last_sweep = started
    cutoff = handoff.stored_time(None) - timedelta(minutes=console.handoff.customer_gone_minutes)
    for view in (await in_db(request, waiting_since_before, cutoff))[:MAX_SWEPT]:
        try:
            state = await console.rasa.tracker(view.conversation_id)
        except RasaError:
            continue
        last = last_customer_message_at(state.get("events"))
        if last is None or last < cutoff.replace(tzinfo=timezone.utc).timestamp():
            await in_db(request, handoff.abandon, view.id)
            logger.info("agent console: ticket %s abandoned, the customer left", view.id)


async def queue_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    await sweep_departed(request)
    rows = await in_db(request, queue_data, handoff.stored_time(None), console.handoff)
    return render(request, "tickets.html", tickets=rows)


async def queue_json(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    await sweep_departed(request)
    rows = await in_db(request, queue_data, handoff.stored_time(None), console.handoff)
    return web.json_response({"tickets": rows})


# ---- one ticket -------------------------------------------------------------------------------


def _ticket_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def _live(request: web.Request, view: TicketView) -> dict[str, Any]:
    """The live conversation from Rasa, or the error to show instead."""
    console = request.app[CONSOLE]
    try:
        state = await console.rasa.tracker(view.conversation_id)
    except RasaError as error:
        return {"messages": [], "paused": None, "error": str(error)}
    events = state.get("events") if isinstance(state.get("events"), list) else []
    return {
        "messages": live_messages(events, view, console.handoff),
        "paused": bool(state.get("paused")),
        "error": None,
    }


async def _ticket_or_404(request: web.Request) -> dict[str, Any]:
    try:
        return await in_db(request, ticket_data, _ticket_id(request), request.app[CONSOLE].handoff)
    except TicketNotFound:
        raise web.HTTPNotFound() from None


async def _ticket_page(
    request: web.Request, status: int = 200, error: str = "", notice: str = "", draft: str = ""
) -> web.Response:
    data = await _ticket_or_404(request)
    live = await _live(request, data["ticket"])
    view: TicketView = data["ticket"]
    agent = request[AGENT]
    mine_or_free = view.agent in (None, agent)
    return render(
        request,
        "ticket.html",
        status=status,
        live=live,
        error=error,
        notice=notice,
        draft=draft,
        can_claim=view.status == handoff.OPEN,
        can_reply=view.active and mine_or_free,
        can_close=view.active and mine_or_free,
        max_text=handoff.MAX_TEXT_CHARS,
        **data,
    )


async def ticket_page(request: web.Request) -> web.Response:
    notices = {
        "claimed": "已认领，客户等您回复。 · Claimed: the customer is waiting for you.",
        "sent": "已发送。 · Sent.",
        "closed": "已关闭工单，机器人已恢复。 · Closed: the bot is back in the conversation.",
    }
    return await _ticket_page(request, notice=notices.get(request.query.get("done", ""), ""))


async def ticket_live_json(request: web.Request) -> web.Response:
    data = await _ticket_or_404(request)
    view: TicketView = data["ticket"]
    live = await _live(request, view)
    return web.json_response(
        {"status": view.status, "agent": view.agent, "row": data["row"], **live}
    )


def taken_text(agent: str | None) -> str:
    return f"这个工单已被 {agent} 认领。 · Already taken by {agent}."


def closed_text(view_status: str) -> str:
    return (
        f"这个工单已{'关闭' if view_status == handoff.CLOSED else '结束（客户已离开）'}，"
        "不能再回复。 · This ticket is "
        f"{'closed' if view_status == handoff.CLOSED else 'over (the customer left)'}: "
        "it takes no more replies."
    )


def _current(session: Session, ticket_id: int) -> TicketView:
    return handoff.ticket(session, ticket_id)


async def _refusal(request: web.Request, error: Exception, draft: str = "") -> web.Response:
    """The ticket page again with why the action was refused (409)."""
    current = await in_db(request, _current, _ticket_id(request))
    if isinstance(error, TicketTaken):
        message = taken_text(current.agent)
    elif isinstance(error, TicketClosed):
        message = closed_text(current.status)
    else:
        message = str(error)
    return await _ticket_page(request, status=409, error=message, draft=draft)


async def claim_ticket(request: web.Request) -> web.Response:
    agent = request[AGENT]
    try:
        await in_db(request, handoff.claim, _ticket_id(request), agent)
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    except (TicketTaken, TicketClosed) as error:
        return await _refusal(request, error)
    logger.info("agent console: agent %s claimed ticket %s", agent, _ticket_id(request))
    raise web.HTTPSeeOther(f"/tickets/{_ticket_id(request)}?done=claimed")


def _claim_for_reply(session: Session, ticket_id: int, agent: str) -> TicketView:
    """The ticket, claimed by ``agent`` now if nobody had it; TicketTaken / TicketClosed."""
    view = handoff.ticket(session, ticket_id)
    if view.status == handoff.OPEN:
        return handoff.claim(session, ticket_id, agent)
    if not view.active:
        raise TicketClosed(f"hand-off ticket {ticket_id} is {view.status}")
    if view.agent != agent:
        raise TicketTaken(f"hand-off ticket {ticket_id} is claimed by another agent")
    return view


async def reply(request: web.Request) -> web.Response:
    """Deliver the agent's message through Rasa and store it, both or neither."""
    agent = request[AGENT]
    ticket_id = _ticket_id(request)
    text = str((await request.post()).get("text", "")).strip()
    if not text:
        return await _ticket_page(
            request, 400, error="请先写回复。 · Write a reply first.", draft=text
        )
    if len(text) > handoff.MAX_TEXT_CHARS:
        return await _ticket_page(
            request,
            400,
            error=f"回复太长（最多 {handoff.MAX_TEXT_CHARS} 字）。 · The reply is too long "
            f"(at most {handoff.MAX_TEXT_CHARS} characters).",
            draft=text,
        )
    console = request.app[CONSOLE]
    try:
        async with transaction(request) as tx:
            view = await tx.run(_claim_for_reply, ticket_id, agent)
            # stored (and the ticket locked against a close) but committed only once delivered
            await tx.run(handoff.add_message, ticket_id, "agent", text, agent)
            event = {"event": "bot", "text": text, "metadata": {"agent": agent}}
            await console.rasa.append(view.conversation_id, [event])
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    except (TicketTaken, TicketClosed) as error:
        return await _refusal(request, error, draft=text)
    except RasaError as error:
        return await _ticket_page(
            request,
            502,
            error=f"{error} "
            + (
                "回复没有保存，客户可能已经收到。 · The reply was not saved and may have reached "
                "the customer."
                if error.kind == "timeout"
                else "回复没有发出，也没有保存。 · The reply was not saved and did not reach the "
                "customer."
            ),
            draft=text,
        )
    logger.info("agent console: agent %s replied on ticket %s", agent, ticket_id)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}?done=sent")


def hand_back_events(language: str) -> list[dict[str, str]]:
    """Rasa events that give a conversation back to the bot: ``resume``; a turn boundary (the
    customer's messages during the hand-off got no bot action, so the next one must start a
    fresh turn, or the bot's rules would not recognise it); the ticket slot cleared; and the bot's
    "I'm back"."""
    back = BOT_IS_BACK["en" if language == "en" else "zh"]
    return [
        {"event": "resume"},
        {"event": "slot", "name": HANDOFF_SLOT, "value": None},
        {"event": "action", "name": "action_listen"},
        {"event": "bot", "text": back},
    ]


async def close_ticket(request: web.Request) -> web.Response:
    """Close the ticket and give the conversation back to the bot, both or neither."""
    agent = request[AGENT]
    ticket_id = _ticket_id(request)
    console = request.app[CONSOLE]
    try:
        async with transaction(request) as tx:
            view = await tx.run(handoff.close, ticket_id, agent)
            await console.rasa.append(view.conversation_id, hand_back_events(view.language))
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    except (TicketTaken, TicketClosed) as error:
        return await _refusal(request, error)
    except RasaError as error:
        return await _ticket_page(
            request,
            502,
            error=f"{error} 工单仍未关闭，机器人没有恢复。 · The ticket is still open and the "
            "bot was not resumed.",
        )
    logger.info("agent console: agent %s closed ticket %s", agent, ticket_id)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}?done=closed")


async def not_found(request: web.Request) -> web.Response:
    return render(
        request,
        "message.html",
        status=404,
        title="找不到 · Not found",
        message="没有这个页面或工单。 · There is no such page or ticket.",
    )


@web.middleware
async def pages_for_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if _json_request(request):
            return web.json_response({"error": "not found"}, status=404)
        return await not_found(request)


async def favicon(request: web.Request) -> web.Response:
    """No icon, and no 404 in the browser's console for it."""
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


def create_app(
    factory: sessionmaker,
    settings: ConsoleSettings,
    limiter: RateLimiter | None = None,
) -> web.Application:
    """The console on the shop database of ``factory``, talking to Rasa at settings.rasa_url."""
    if not settings.agents:
        raise ConsoleConfigError(f"{AGENTS_ENV} lists no agents")
    if len(settings.secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConsoleConfigError(f"{SECRET_ENV} must have at least {MIN_SECRET_BYTES} bytes")
    app = web.Application(middlewares=[security_headers, authenticate, pages_for_errors])
    console = Console(
        factory=factory,
        settings=settings,
        templates=html_templates(TEMPLATES),
        rasa=RasaClient(settings.rasa_url, settings.api_token, settings.rasa_timeout),
        limiter=(  # not `limiter or …`: an empty RateLimiter has len() 0
            limiter
            if limiter is not None
            else RateLimiter(LOGIN_BURST, LOGIN_PER_MINUTE, max_senders=10_000)
        ),
        handoff=shop_config().handoff,
    )
    app[CONSOLE] = console

    async def rasa_client(app: web.Application) -> AsyncIterator[None]:
        await console.rasa.start()
        yield
        await console.rasa.close()

    app.cleanup_ctx.append(rasa_client)
    ticket = r"/tickets/{id:[1-9][0-9]{0,8}}"
    app.router.add_get("/", queue_page, name="queue")
    app.router.add_get("/tickets.json", queue_json, name="queue_json")
    app.router.add_get(ticket, ticket_page, name="ticket")
    app.router.add_get(ticket + "/live.json", ticket_live_json, name="live_json")
    app.router.add_post(ticket + "/claim", claim_ticket, name="claim")
    app.router.add_post(ticket + "/reply", reply, name="reply")
    app.router.add_post(ticket + "/close", close_ticket, name="close")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_static("/static/", STATIC, name="static")
    app.router.add_get("/favicon.ico", favicon)
    return app


def serve(
    factory: sessionmaker, settings: ConsoleSettings, host: str = "127.0.0.1", port: int = 8100
) -> None:
    """Run the console until Ctrl-C."""
    app = create_app(factory, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(
        f"agent console on http://{host}:{port}/ for {len(settings.agents)} agent(s), "
        f"bot server {settings.rasa_url}",
        flush=True,
    )
    web.run_app(app, host=host, port=port, access_log_format=ACCESS_LOG_FORMAT, print=None)
