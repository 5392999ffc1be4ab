"""The WeChat Official Account (微信公众号) server protocol, without any Rasa imports.

WeChat calls the shop's server URL with ``signature``, ``timestamp`` and ``nonce`` in the query
string: the signature is SHA-1 over the sorted strings ``token``, ``timestamp`` and ``nonce``
(plus the ``Encrypt`` payload in safe mode, as ``msg_signature``).  Messages arrive as small
XML documents; a reply sent in the same HTTP response is a "passive reply" (at most 2048
bytes of text, within five seconds), anything later goes through the customer-service API
with an access token.

Here: signature checks with replay protection, a hardened XML parser, the passive-reply XML,
safe-mode encryption (AES-256-CBC with WeChat's framing), retry de-duplication and an access
token cache.  ``kefu_rasa/channels/wechat.py`` wires them to Rasa.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException

MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 65536
TEXT_REPLY_LIMIT = 2048  # bytes of UTF-8 in one text message
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # access token invalid / malformed / expired


class WeChatProtocolError(Exception):
    """Base class of every protocol error raised here."""


class SignatureError(WeChatProtocolError):
    """The request signature is missing or does not match: not from WeChat."""


class StaleRequest(WeChatProtocolError):
    """The timestamp is not an integer or too far from the current time."""


class ReplayedRequest(WeChatProtocolError):
    """A signed request seen before inside the replay window.

    ``same_body`` tells whether the body was byte-identical to the first one (a resend of the
    same message) or different (someone reusing a captured signature for another body).
    """

    def __init__(self, message: str, *, same_body: bool) -> None:
        super().__init__(message)
        self.same_body = same_body


class MessageTooLarge(WeChatProtocolError):
    """The body is larger than the configured maximum."""


class MalformedMessage(WeChatProtocolError):
    """The body is not well-formed XML or lacks a required field."""


class UnsafeXML(MalformedMessage):
    """The body declares a DTD, entities or external references."""


class DecryptError(WeChatProtocolError):
    """A safe-mode payload that does not decrypt to a message for this account."""


# --- signatures and replay protection --------------------------------------------------------


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """SHA-1 hex digest of the sorted strings concatenated (WeChat's request signature).

    With ``extra=(encrypt,)`` this is the safe-mode ``msg_signature``.
    """
    return _sha1_of_sorted(token, timestamp, nonce, *extra)


def _sha1_of_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def verify_request(
    token: str,
    timestamp: str,
    nonce: str,
    signature: str,
    *,
    extra: Sequence[str] = (),
    now: float | None = None,
    max_skew: int = MAX_SKEW_SECONDS,
) -> None:
    """Raise ``SignatureError`` or ``StaleRequest`` unless the request is signed and fresh.

    ``extra`` holds the further signed strings (the ``Encrypt`` payload for ``msg_signature``).
    """
    expected = _sha1_of_sorted(token, timestamp or "", nonce or "", *extra)
    given = (signature or "").strip().lower().encode("utf-8")
    if not hmac.compare_digest(expected.encode("ascii"), given):
        raise SignatureError("signature does not match")
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        raise StaleRequest("timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - sent) > max_skew:
        raise StaleRequest(f"timestamp is {int(current - sent)} s away from now")


class _ExpiringKeys:
    """Keys with an expiry, oldest first, bounded in number."""

    def __init__(self, ttl_seconds: float, max_entries: int) -> None:
        if ttl_seconds <= 0 or max_entries < 1:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[object, tuple[float, object]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: float) -> None:
        while self._entries:
            key, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[key]

    def lookup(self, key: object, now: float) -> tuple[bool, object]:
        self._purge(now)
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return True, entry[1]
        return False, None

    def add(self, key: object, value: object, now: float) -> None:
        self._entries.pop(key, None)
        self._entries[key] = (now + self.ttl, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class NonceCache:
    """Remembers signed requests for ``ttl_seconds`` so none can be used twice.

    Requests older than the timestamp window are refused by ``verify_request`` anyway, so the
    cache only has to cover that window; it keeps at most ``max_entries`` (oldest go first).
    """

    def __init__(self, ttl_seconds: float = MAX_SKEW_SECONDS, max_entries: int = 10000) -> None:
        self._seen = _ExpiringKeys(ttl_seconds, max_entries)

    def __len__(self) -> int:
        return len(self._seen)

    def check(
        self,
        timestamp: str,
        nonce: str,
        signature: str,
        *,
        body: bytes = b"",
        now: float | None = None,
    ) -> None:
        """Record the request, or raise ``ReplayedRequest`` if it was seen inside the window."""
        current = time.monotonic() if now is None else now
        key = (timestamp, nonce, signature.lower())
        digest = hashlib.sha256(body).digest()
        seen, first_digest = self._seen.lookup(key, current)
        if seen:
            same = hmac.compare_digest(first_digest, digest)  # type: ignore[arg-type]
            raise ReplayedRequest("timestamp, nonce and signature seen before", same_body=same)
        self._seen.add(key, digest, current)


class Deduplicator:
    """Spots WeChat's retries: it resends a message it got no answer to (three times, 5 s apart).

    Keys: ``MsgId`` for messages, ``FromUserName + CreateTime`` for events (see ``dedup_key``).
    """

    def __init__(self, ttl_seconds: float = 60, max_entries: int = 10000) -> None:
        self._seen = _ExpiringKeys(ttl_seconds, max_entries)

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, key: str, now: float | None = None) -> bool:
        """True the first time ``key`` is seen within the TTL, False for a repeat."""
        current = time.monotonic() if now is None else now
        seen, _ = self._seen.lookup(key, current)
        if seen:
            return False
        self._seen.add(key, None, current)
        return True


# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeChatMessage:
    """One message or event pushed by WeChat (or a safe-mode envelope, with ``encrypt`` set)."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    content: str = ""
    msg_id: str = ""
    event: str = ""
    event_key: str = ""
    encrypt: str = ""
    recognition: str = ""  # a voice message's text, by WeChat's speech recognition (if enabled)

    @property
    def dedup_key(self) -> str:
        """``MsgId`` for messages, ``FromUserName`` + ``CreateTime`` for events."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"event:{self.from_user}:{self.create_time}:{self.event}"


def _field(root: Element, name: str) -> str | None:
    element = root.find(name)
    if element is None:
        return None
    return element.text or ""


def parse_message(body: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> WeChatMessage:
    """Parse a pushed message, refusing anything but plain, small, well-formed XML.

    Raises ``MessageTooLarge``, ``UnsafeXML`` (DTDs and entity declarations are refused before
    any expansion), or ``MalformedMessage`` (bad XML, wrong root, missing fields).
    """
    if len(body) > max_bytes:
        raise MessageTooLarge(f"body of {len(body)} bytes exceeds {max_bytes}")
    try:
        root = DefusedET.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise UnsafeXML(f"refused XML: {type(exc).__name__}") from None
    except (ParseError, ValueError) as exc:
        raise MalformedMessage(f"not well-formed XML: {type(exc).__name__}") from None
    if root.tag != "xml":
        raise MalformedMessage("root element is not <xml>")

    encrypt = (_field(root, "Encrypt") or "").strip()
    fields = {
        name: _field(root, name)
        for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Content")
    }
    if encrypt and fields["FromUserName"] is None:  # a safe-mode envelope
        return WeChatMessage(
            to_user=fields["ToUserName"] or "",
            from_user="",
            create_time=0,
            msg_type="",
            encrypt=encrypt,
        )

    missing = [name for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType")]
    missing = [name for name in missing if not (fields[name] or "").strip()]
    if missing:
        raise MalformedMessage(f"missing fields: {', '.join(missing)}")
    try:
        create_time = int((fields["CreateTime"] or "").strip())
    except ValueError:
        raise MalformedMessage("CreateTime is not an integer") from None
    msg_type = (fields["MsgType"] or "").strip()
    event = (_field(root, "Event") or "").strip()
    if msg_type == "text" and fields["Content"] is None:
        raise MalformedMessage("missing fields: Content")
    if msg_type == "event" and not event:
        raise MalformedMessage("missing fields: Event")
    return WeChatMessage(
        to_user=(fields["ToUserName"] or "").strip(),
        from_user=(fields["FromUserName"] or "").strip(),
        create_time=create_time,
        msg_type=msg_type,
        content=fields["Content"] or "",
        msg_id=(_field(root, "MsgId") or "").strip(),
        event=event,
        event_key=(_field(root, "EventKey") or "").strip(),
        recognition=(_field(root, "Recognition") or "").strip(),
        encrypt=encrypt,
    )


# --- replies ----------------------------------------------------------------------------------

# Characters XML 1.0 does not allow anywhere, not even in CDATA.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _cdata(text: str) -> str:
    clean = _NOT_XML_CHAR.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """The passive text reply XML.  ``to_user`` is the customer's OpenID, ``from_user`` the
    account's id (the incoming message's ``FromUserName`` and ``ToUserName`` swapped)."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


def _cut_point(data: bytes, limit: int) -> tuple[int, int]:
    """Where to cut ``data`` (longer than ``limit``): (end of this part, start of the next)."""
    window = data[: limit + 1]
    newline = window.rfind(b"\n", 0, limit + 1)
    if newline > 0:
        return newline, newline + 1
    for mark in ("。", "！", "？", "；", ". ", "! ", "? ", " "):
        encoded = mark.encode("utf-8")
        found = window.rfind(encoded, 0, limit)
        if found > 0:
            end = found + len(encoded.rstrip())  # a space after the mark starts no part
            return end, found + len(encoded)
    end = limit
    while end > 0 and (data[end] & 0xC0) == 0x80:  # never inside a UTF-8 character
        end -= 1
    return end, end


def split_for_wechat(text: str, limit: int = TEXT_REPLY_LIMIT) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-8 bytes.

    Cuts at a line break where one is in reach, else after a sentence end or a space, else at
    the last whole character.  Empty parts are dropped.
    """
    if limit < 4:
        raise ValueError("limit must be at least 4 bytes (one UTF-8 character)")
    data = text.strip("\n").encode("utf-8")
    parts: list[str] = []
    while len(data) > limit:
        end, start = _cut_point(data, limit)
        part = data[:end].rstrip(b"\n")
        if part.strip():
            parts.append(part.decode("utf-8"))
        data = data[start:].lstrip(b"\n")
    if data.strip():
        parts.append(data.decode("utf-8"))
    return parts


# --- safe mode (消息加解密, 安全模式) -------------------------------------------------------

_BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block size


class WeChatCrypto:
    """AES-256-CBC as WeChat frames it: key from the 43-character EncodingAESKey, IV = key[:16],
    plaintext = 16 random bytes + 4-byte big-endian length + message + AppID, PKCS#7 to 32.

    The ciphertext is signed (``msg_signature``) and must be verified before ``decrypt``.
    """

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
            length = len(encoding_aes_key) if isinstance(encoding_aes_key, str) else "no"
            raise ValueError(
                "encoding_aes_key must be the 43-character EncodingAESKey from the WeChat "
                f"console (got {length} characters)"
            )
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("encoding_aes_key is not valid base64") from None
        if len(key) != 32:
            raise ValueError(f"encoding_aes_key must decode to 32 bytes, not {len(key)}")
        if not app_id:
            raise ValueError("app_id is required for safe mode")
        self.token = token
        self.app_id = app_id
        self._app_id = app_id.encode("utf-8")
        self._key = key

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, message: bytes, *, random_prefix: bytes | None = None) -> str:
        """Encrypt ``message`` to WeChat's base64 ``Encrypt`` string."""
        prefix = secrets.token_bytes(16) if random_prefix is None else random_prefix
        if len(prefix) != 16:
            raise ValueError("random_prefix must be 16 bytes")
        plain = prefix + struct.pack(">I", len(message)) + message + self._app_id
        pad = _BLOCK - len(plain) % _BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypt_b64: str) -> bytes:
        """The message inside an ``Encrypt`` string; ``DecryptError`` unless it is for us."""
        try:
            data = base64.b64decode(encrypt_b64, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("Encrypt is not base64") from None
        if not data or len(data) % 16:
            raise DecryptError("ciphertext is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise DecryptError("bad padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise DecryptError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise DecryptError("message length exceeds the plaintext")
        if not hmac.compare_digest(plain[20 + length :], self._app_id):
            raise DecryptError("message is for another AppID")
        return plain[20 : 20 + length]

    def encrypt_reply(
        self, xml: str, timestamp: str, nonce: str, *, random_prefix: bytes | None = None
    ) -> str:
        """The encrypted envelope carrying the passive reply ``xml``."""
        encrypted = self.encrypt(xml.encode("utf-8"), random_prefix=random_prefix)
        msg_signature = signature(self.token, timestamp, nonce, encrypted)
        return (
            "<xml>"
            f"<Encrypt>{_cdata(encrypted)}</Encrypt>"
            f"<MsgSignature>{_cdata(msg_signature)}</MsgSignature>"
            f"<TimeStamp>{_NOT_XML_CHAR.sub('', timestamp)}</TimeStamp>"
            f"<Nonce>{_cdata(nonce)}</Nonce>"
            "</xml>"
        )


# --- access token -----------------------------------------------------------------------------


class AccessTokenCache:
    """The API access token, fetched once and shared until shortly before it expires.

    ``fetch`` is an async callable returning ``(token, expires_in_seconds)``.  Concurrent
    callers wait for a single fetch.  The token is refreshed ``refresh_margin`` seconds before
    it expires (or halfway through its life if that is shorter).
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        *,
        refresh_margin: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def _current(self) -> str | None:
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    async def get(self) -> str:
        """A valid access token, fetching a new one when needed (one fetch at a time)."""
        token = self._current()
        if token is not None:
            return token
        async with self._lock:
            token = self._current()
            if token is not None:
                return token
            token, expires_in = await self._fetch()
            if not token:
                raise ValueError("fetch returned an empty access token")
            lifetime = max(0.0, float(expires_in))
            margin = min(self._margin, lifetime / 2)
            self._token = token
            self._refresh_at = self._clock() + lifetime - margin
            return token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (WeChat rejected it) unless a newer token has replaced it already."""
        if self._token is not None and self._token == token:
            self._token = None
            self._refresh_at = 0.0
