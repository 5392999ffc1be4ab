"""Encrypted backups of the shop database and the conversation store, and their restore.

``kefu backup`` copies each database while kefu runs: SQLite files with SQLite's online backup
API (a consistent copy, writers are not stopped), PostgreSQL databases with ``pg_dump
--format=custom``.  The copies go into one tar archive that is encrypted with the active data
key in 1 MiB chunks (AES-256-GCM; each chunk's number and a last-chunk flag are authenticated,
so a reordered, cut or altered backup does not open).  ``kefu restore`` opens it with any key
of the ring and puts each database back: SQLite through the backup API again, PostgreSQL with
``pg_restore --clean``.  Passwords in database URLs reach the PostgreSQL tools through
``PGPASSWORD``, never their command line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

from kefu.privacy.cipher import NONCE_BYTES, DecryptionError
from kefu.privacy.keys import KeyRing

MAGIC = b"KEFUBAK1"
CHUNK_BYTES = 1 << 20
KEY_ID_BYTES = 16
MANIFEST = "manifest.json"
DATABASES = ("shop", "conversations")


class BackupError(Exception):
    """A backup or restore cannot be made; the message names what and why (no passwords)."""


@dataclass(frozen=True)
class Target:
    """One database to back up or restore: its role and SQLAlchemy URL."""

    name: str
    url: str

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.url).get_backend_name() == "sqlite"

    @property
    def path(self) -> Path:
        return Path(make_url(self.url).database or "")

    @property
    def member(self) -> str:
        return f"{self.name}.{'sqlite' if self.is_sqlite else 'pgdump'}"


# ---- the encrypted container ------------------------------------------------------------------


def _aad(index: int, last: bool) -> bytes:
    return MAGIC + struct.pack(">Q?", index, last)


def encrypt_file(source: Path, target: Path, ring: KeyRing) -> None:
    """``source`` encrypted with the ring's active key into ``target`` (mode 600)."""
    key = ring.active
    aead = AESGCM(key.secret)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(source, "rb") as plain, os.fdopen(descriptor, "wb") as out:
        out.write(MAGIC + key.key_id.encode("ascii"))
        chunk, index = plain.read(CHUNK_BYTES), 0
        while True:
            following = plain.read(CHUNK_BYTES)
            nonce = os.urandom(NONCE_BYTES)
            sealed = aead.encrypt(nonce, chunk, _aad(index, not following))
            out.write(struct.pack(">I", len(sealed)) + nonce + sealed)
            if not following:
                break
            chunk, index = following, index + 1


def _chunks(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    offset, index = 0, 0
    while offset < len(data):
        if offset + 4 > len(data):
            raise DecryptionError("the backup was altered or cut short")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        start = offset + 4
        end = start + NONCE_BYTES + length
        if end > len(data):
            raise DecryptionError("the backup was altered or cut short")
        yield index, data[start : start + NONCE_BYTES], data[start + NONCE_BYTES : end]
        offset, index = end, index + 1


def decrypt_file(source: Path, target: Path, ring: KeyRing) -> None:
    """Open a backup made by :func:`encrypt_file` with any key of the ring."""
    with open(source, "rb") as sealed_file:
        head = sealed_file.read(len(MAGIC) + KEY_ID_BYTES)
        data = sealed_file.read()
    if not head.startswith(MAGIC):
        raise DecryptionError(f"{source} is not a kefu backup")
    key = ring.get(head[len(MAGIC) :].decode("ascii", "replace"))
    aead = AESGCM(key.secret)
    chunks = list(_chunks(data))
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        for index, nonce, sealed in chunks:
            try:
                out.write(aead.decrypt(nonce, sealed, _aad(index, index == len(chunks) - 1)))
            except InvalidTag:
                raise DecryptionError("the backup was altered or cut short") from None
    if not chunks:
        raise DecryptionError("the backup is empty")


# ---- copying databases ------------------------------------------------------------------------


def _pg_environment(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password (for the tool's command line) and an environment that
    carries the password."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is needed for {what} but is not installed") from None
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise BackupError(f"{what}: {command[0]}: {message}")


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    if not source.is_file():
        raise BackupError(f"there is no database file at {source}")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def dump(target: Target, folder: Path) -> Path:
    """The database of ``target`` copied into ``folder``."""
    out = folder / target.member
    if target.is_sqlite:
        copy_sqlite(target.path, out)
    else:
        url, env = _pg_environment(target.url)
        command = ["pg_dump", "--format=custom", "--no-owner", f"--file={out}", f"--dbname={url}"]
        _run(command, env, f"backing up the {target.name} database")
    return out


def load(target: Target, copy: Path) -> None:
    """Put a copy made by :func:`dump` back into the database of ``target``."""
    if target.is_sqlite:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        copy_sqlite(copy, target.path)
        return
    url, env = _pg_environment(target.url)
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={url}", str(copy)]
    _run(command, env, f"restoring the {target.name} database")


# ---- backup and restore -----------------------------------------------------------------------


def make_backup(targets: list[Target], out: Path, ring: KeyRing) -> dict:
    """Back up ``targets`` into the encrypted file ``out``; the manifest written with it."""
    manifest = {
        "schema": "kefu.backup/1",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "key_id": ring.active.key_id,
        "databases": {t.name: t.member for t in targets},
    }
    with tempfile.TemporaryDirectory(prefix="kefu-backup-") as work:
        folder = Path(work)
        archive = folder / "backup.tar"
        with tarfile.open(archive, "w") as tar:
            for target in targets:
                tar.add(dump(target, folder), arcname=target.member)
            manifest_path = folder / MANIFEST
            manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            tar.add(manifest_path, arcname=MANIFEST)
        out.parent.mkdir(parents=True, exist_ok=True)
        encrypt_file(archive, out, ring)
    return manifest


def restore_backup(source: Path, targets: list[Target], ring: KeyRing) -> dict:
    """Restore every database of ``targets`` found in the backup ``source``; its manifest."""
    if not source.is_file():
        raise BackupError(f"there is no backup at {source}")
    with tempfile.TemporaryDirectory(prefix="kefu-restore-") as work:
        folder = Path(work)
        archive = folder / "backup.tar"
        decrypt_file(source, archive, ring)
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
            if MANIFEST not in names:
                raise BackupError(f"{source} has no manifest")
            manifest = json.load(tar.extractfile(MANIFEST))
            members = manifest.get("databases") or {}
            for target in targets:
                member = members.get(target.name)
                if member is None:
                    continue
                if member != target.member:
                    raise BackupError(
                        f"the backup holds the {target.name} database as {member}, which cannot "
                        f"be restored into {target.member.split('.')[-1]}"
                    )
                tar.extract(member, folder, filter="data")
                load(target, folder / member)
    return manifest
