"""Agents' session cookies and CSRF tokens, signed with ``KEFU_AGENT_SECRET``.

A session cookie is ``name.expiry.nonce.signature``; logging out revokes its nonce in the shop
database (:mod:`kefu.console.guard`), so a copied cookie is worthless afterwards, on every
console process and after restarts.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import time

from kefu.web import sign

SESSION_COOKIE = "kefu_agent_session"
LOGIN_CSRF_COOKIE = "kefu_agent_csrf"
SESSION_SECONDS = 8 * 3600
SIGNING_DOMAIN = "agent-console"

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


def same(expected: str, sent: str) -> bool:
    """Whether ``sent`` is the non-empty ``expected`` (constant-time)."""
    return bool(expected) and hmac.compare_digest(
        expected.encode("utf-8"), sent.encode("utf-8", "replace")
    )
