"""Authenticated encryption of values at rest, and keyed blind indexes for finding them.

An envelope is text: ``kefu1:<key id>:<base64url(nonce ‖ AES-256-GCM ciphertext and tag)>``.
The key id says which key of the ring opens it, so old and new keys coexist during rotation.
An optional *context* (associated data) binds a value to where it belongs: a value copied
elsewhere does not open.

A blind index is an HMAC-SHA-256 of a value under a key derived from the data key (never the
data key itself): equal values give equal indexes, so rows are found without storing the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kefu.privacy.keys import DataKey, KeyRing

PREFIX = "kefu1:"
NONCE_BYTES = 12
INDEX_HEX_CHARS = 40


class DecryptionError(ValueError):
    """An envelope is malformed, or was altered, or belongs to another context."""


def is_envelope(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def envelope_key_id(envelope: str) -> str:
    """The id of the key that sealed ``envelope``."""
    if not is_envelope(envelope):
        raise DecryptionError("not an encrypted value")
    return envelope[len(PREFIX) :].split(":", 1)[0]


def _derive(key: DataKey, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key.secret)


class Cipher:
    """Seals with the ring's active key, opens with any key of the ring."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._aead = {key.key_id: AESGCM(key.secret) for key in ring.keys}
        self._index_keys = {key.key_id: _derive(key, b"kefu blind index") for key in ring.keys}

    @property
    def active_key_id(self) -> str:
        return self.ring.active.key_id

    def encrypt(self, plaintext: str | bytes, context: str = "") -> str:
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.active_key_id].encrypt(nonce, data, context.encode("utf-8"))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{PREFIX}{self.active_key_id}:{body}"

    def decrypt_bytes(self, envelope: str, context: str = "") -> bytes:
        key_id = envelope_key_id(envelope)
        self.ring.get(key_id)  # UnknownKeyError: a clear message about the key
        try:
            raw = base64.urlsafe_b64decode(envelope[len(PREFIX) + len(key_id) + 1 :])
        except (binascii.Error, ValueError):
            raise DecryptionError("an encrypted value is malformed") from None
        if len(raw) < NONCE_BYTES + 16:
            raise DecryptionError("an encrypted value is truncated")
        try:
            return self._aead[key_id].decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8")
            )
        except InvalidTag:
            raise DecryptionError(
                f"an encrypted value (key {key_id}) was altered or belongs elsewhere"
            ) from None

    def decrypt(self, envelope: str, context: str = "") -> str:
        return self.decrypt_bytes(envelope, context).decode("utf-8")

    def reseal(self, envelope: str, context: str = "") -> str:
        """``envelope`` sealed with the active key (unchanged when it already is)."""
        if envelope_key_id(envelope) == self.active_key_id:
            return envelope
        return self.encrypt(self.decrypt_bytes(envelope, context), context)

    def blind_index(self, value: str, purpose: str, key_id: str | None = None) -> str:
        """The keyed index of ``value`` for ``purpose`` under a key (default: the active)."""
        key = self._index_keys[key_id or self.active_key_id]
        message = purpose.encode("utf-8") + b"\0" + value.encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:INDEX_HEX_CHARS]

    def blind_indexes(self, value: str, purpose: str) -> list[str]:
        """The index of ``value`` under every key of the ring, the active key's first."""
        ids = [self.active_key_id] + [k for k in self.ring.key_ids if k != self.active_key_id]
        return [self.blind_index(value, purpose, key_id) for key_id in ids]
