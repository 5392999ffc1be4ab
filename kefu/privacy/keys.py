"""Data keys: where they come from, and several at once while the data is re-encrypted.

A key is 32 random bytes, written in base64.  The keys come from ``KEFU_DATA_KEY`` (one key, or
several separated by commas) or else from the key file (``KEFU_DATA_KEY_FILE``, default
``.kefu/keys/data.key``: one key per line, mode 600).  The last key is the *active* one: it
encrypts; the others only decrypt until ``kefu keys rotate`` has re-encrypted everything.  A
key's id is a fingerprint of the key itself, so an envelope names the key that sealed it.

In development a missing key file is created on first use.  In production
(``KEFU_PROFILE=production``) a missing key is a :class:`KeyConfigError`: kefu never falls back
to storing personal data in clear.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kefu.db import PROJECT_ROOT

KEY_BYTES = 32
KEY_ENV = "KEFU_DATA_KEY"
KEY_FILE_ENV = "KEFU_DATA_KEY_FILE"
DEFAULT_KEY_FILE = PROJECT_ROOT / ".kefu" / "keys" / "data.key"
KEY_FILE_HEADER = "# kefu data keys (base64); the last line encrypts, older lines only decrypt\n"


class KeyConfigError(ValueError):
    """The data keys are missing, malformed or unsafely stored."""


class UnknownKeyError(KeyConfigError):
    """Data was sealed with a key that is not in the key ring (a wrong or missing key)."""


@dataclass(frozen=True)
class DataKey:
    """One data key and its id (a fingerprint, safe to store and to show)."""

    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # never the secret
        return f"DataKey({self.key_id})"


@dataclass(frozen=True)
class KeyRing:
    """The known keys, oldest first; the last one is active.  ``source`` says where they came
    from (an environment variable's name or a file path), for messages."""

    keys: tuple[DataKey, ...]
    source: str

    @property
    def active(self) -> DataKey:
        return self.keys[-1]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key.key_id for key in self.keys)

    def get(self, key_id: str) -> DataKey:
        """The key with ``key_id``; :class:`UnknownKeyError` when it is not in the ring."""
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise UnknownKeyError(
            f"data sealed with key {key_id} cannot be read: that key is not among the keys of "
            f"{self.source} ({', '.join(self.key_ids)}); set the right KEFU_DATA_KEY or key file"
        )


def key_id_of(secret: bytes) -> str:
    """The id of a key: 16 hex digits of a hash of it (the key cannot be found from it)."""
    return hashlib.sha256(b"kefu data key id\0" + secret).hexdigest()[:16]


def make_key(secret: bytes) -> DataKey:
    if len(secret) != KEY_BYTES:
        raise KeyConfigError(f"a data key has {KEY_BYTES} bytes, this one {len(secret)}")
    return DataKey(key_id_of(secret), secret)


def new_key() -> DataKey:
    """A fresh random key."""
    return make_key(os.urandom(KEY_BYTES))


def encode_key(key: DataKey) -> str:
    return base64.b64encode(key.secret).decode("ascii")


def parse_key(text: str, where: str) -> DataKey:
    """A base64 key; a :class:`KeyConfigError` naming ``where`` (never the text) if bad."""
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{where} is not base64") from None
    if len(secret) != KEY_BYTES:
        raise KeyConfigError(
            f"{where} holds {len(secret)} bytes; a data key has {KEY_BYTES} "
            "(`kefu keys new` prints one)"
        )
    return make_key(secret)


def _ring(texts: list[str], source: str) -> KeyRing:
    keys: list[DataKey] = []
    for number, text in enumerate(texts, 1):
        key = parse_key(text, f"key {number} of {source}")
        if key.key_id not in (k.key_id for k in keys):
            keys.append(key)
    if not keys:
        raise KeyConfigError(f"{source} holds no data key")
    return KeyRing(tuple(keys), source)


def is_production(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("KEFU_PROFILE") == "production"


def key_file_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE)


def read_key_file(path: Path) -> KeyRing:
    """The keys of ``path``; refused when other users may read it."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyConfigError(f"the key file {path} may be read by others: chmod 600 {path}")
    lines = path.read_text(encoding="ascii").splitlines()
    return _ring([line for line in lines if line.strip() and not line.startswith("#")], str(path))


def write_key_file(path: Path, keys: tuple[DataKey, ...]) -> None:
    """Write ``keys`` (the last active) to ``path`` atomically, mode 600, folder mode 700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(KEY_FILE_HEADER + "".join(encode_key(key) + "\n" for key in keys))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def load_keyring(environ: Mapping[str, str] | None = None) -> KeyRing:
    """The key ring from ``KEFU_DATA_KEY``, else the key file (created in development)."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV, "").strip():
        return _ring([t for t in env[KEY_ENV].split(",") if t.strip()], KEY_ENV)
    path = key_file_path(env)
    if path.is_file():
        return read_key_file(path)
    if is_production(env):
        raise KeyConfigError(
            f"production needs a data key: set {KEY_ENV} (base64 of 32 random bytes) or put "
            f"the key file at {path} ({KEY_FILE_ENV}); personal data is never stored in clear"
        )
    _create_key_file(path)
    return read_key_file(path)


def _create_key_file(path: Path) -> None:
    """A new key file at ``path`` unless another process made one first (theirs is kept)."""
    draft = path.with_name(f"{path.name}.{os.getpid()}.new")
    write_key_file(draft, (new_key(),))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
