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

Security (``console`` in shop.yml, :mod:`kefu.console.guard`): the client address is the
peer's, or behind a trusted proxy (``KEFU_TRUSTED_PROXIES``) the right-most untrusted
X-Forwarded-For entry; failed logins lock out per address, per agent from one address and per
agent across many addresses, counted in the shop database; the cookie is ``Secure`` by
configuration (``KEFU_CONSOLE_SECURE_COOKIES``, on with ``KEFU_PROFILE=production``); logouts
are revoked in the database; an agent sees only queued tickets and their own, and every read,
claim, reply and close is in the audit log (``kefu agent audit``).  The customer's proofs of
identity (phone digits, e-mails) are masked everywhere.

The code lives in :mod:`kefu.console`; this module is its public face.
"""

from kefu.console.app import STATIC, TEMPLATES, create_app, favicon, serve
from kefu.console.base import (
    AGENT,
    CLIENT,
    CONSOLE,
    CONTENT_SECURITY_POLICY,
    PUBLIC_PATHS,
    SESSION,
    Console,
)
from kefu.console.clients import bucket, client_address, parse_networks
from kefu.console.login import login, logout
from kefu.console.passwords import (
    HASH_ITERATIONS,
    HASH_SCHEME,
    MAX_PASSWORD_CHARS,
    MIN_ITERATIONS,
    MIN_PASSWORD_CHARS,
    SALT_BYTES,
    hash_password,
    parse_password_hash,
    verify_password,
)
from kefu.console.rasa import RasaClient, RasaError
from kefu.console.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SIGNING_DOMAIN,
    csrf_token,
    session_agent,
    session_value,
)
from kefu.console.settings import (
    AGENT_NAME,
    AGENTS_ENV,
    API_TOKEN_ENV,
    DEFAULT_RASA_URL,
    MIN_SECRET_BYTES,
    RASA_TIMEOUT_SECONDS,
    SECRET_ENV,
    SECURE_COOKIES_ENV,
    TRUSTED_PROXIES_ENV,
    ConsoleConfigError,
    ConsoleSettings,
    load_settings,
    parse_agents,
)
from kefu.console.tickets import (
    BOT_IS_BACK,
    HANDOFF_SLOT,
    MAX_SWEPT,
    SWEEP_INTERVAL_SECONDS,
    closed_text,
    hand_back_events,
    sweep_departed,
    taken_text,
)
from kefu.console.views import (
    MAX_LIVE_MESSAGES,
    REASONS,
    RECENT_ORDERS,
    STATUSES,
    customer_data,
    last_customer_message_at,
    live_messages,
    mask_phone,
    mood,
    queue_data,
    ticket_data,
    ticket_row,
    waiting_text,
)

__all__ = [
    "AGENT",
    "AGENTS_ENV",
    "AGENT_NAME",
    "API_TOKEN_ENV",
    "BOT_IS_BACK",
    "CLIENT",
    "CONSOLE",
    "CONTENT_SECURITY_POLICY",
    "DEFAULT_RASA_URL",
    "HANDOFF_SLOT",
    "HASH_ITERATIONS",
    "HASH_SCHEME",
    "LOGIN_CSRF_COOKIE",
    "MAX_LIVE_MESSAGES",
    "MAX_PASSWORD_CHARS",
    "MAX_SWEPT",
    "MIN_ITERATIONS",
    "MIN_PASSWORD_CHARS",
    "MIN_SECRET_BYTES",
    "PUBLIC_PATHS",
    "RASA_TIMEOUT_SECONDS",
    "REASONS",
    "RECENT_ORDERS",
    "SALT_BYTES",
    "SECRET_ENV",
    "SECURE_COOKIES_ENV",
    "SESSION",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "SIGNING_DOMAIN",
    "STATIC",
    "STATUSES",
    "SWEEP_INTERVAL_SECONDS",
    "TEMPLATES",
    "TRUSTED_PROXIES_ENV",
    "Console",
    "ConsoleConfigError",
    "ConsoleSettings",
    "RasaClient",
    "RasaError",
    "bucket",
    "client_address",
    "closed_text",
    "create_app",
    "csrf_token",
    "customer_data",
    "favicon",
    "hand_back_events",
    "hash_password",
    "last_customer_message_at",
    "live_messages",
    "load_settings",
    "login",
    "logout",
    "mask_phone",
    "mood",
    "parse_agents",
    "parse_networks",
    "parse_password_hash",
    "queue_data",
    "serve",
    "session_agent",
    "session_value",
    "sweep_departed",
    "taken_text",
    "ticket_data",
    "ticket_row",
    "verify_password",
    "waiting_text",
]
