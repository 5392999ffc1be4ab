"""Agents' passwords: salted PBKDF2-HMAC-SHA256 hashes (``kefu agent hash-password``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256
MIN_ITERATIONS = 10_000  # weaker hashes are refused at start-up
SALT_BYTES = 16
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024


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
