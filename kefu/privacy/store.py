"""Opening the conversation store from the command line (erasure, export, retention, rotation).

The URL is the report's: ``--tracker-db``, else ``KEFU_TRACKER_DB_URL``, else the embedded
SQLite file (kefu.report.sources.tracker_db_url).  Opening checks the keys and seals any rows
written before encryption, so every conversation can be found by its keyed index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from kefu.privacy.cipher import Cipher
from kefu.privacy.conversations import ConversationVault
from kefu.privacy.keys import KeyRing, load_keyring, new_key
from kefu.report.sources import safe_url, tracker_db_url

LEGACY_BATCH = 500


class StoreMissing(LookupError):
    """There is no conversation store at the URL (nothing was ever stored)."""


@contextmanager
def open_vault(
    url: str | None = None, ring: KeyRing | None = None, missing_ok: bool = False
) -> Iterator[ConversationVault]:
    """The conversation store at ``url`` (see the module), ready; its engine closed after.
    A SQLite file that does not exist is :class:`StoreMissing`, or with ``missing_ok`` an
    empty store in memory (nothing was ever stored, so there is nothing to find)."""
    url = tracker_db_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        if not missing_ok:
            raise StoreMissing(f"there is no conversation store at {safe_url(url)}")
        url, ring = "sqlite://", KeyRing((new_key(),), "an empty conversation store")
    engine = create_engine(url, future=True)
    try:
        vault = ConversationVault(engine, Cipher(ring or load_keyring()))
        vault.ensure_schema()
        with engine.begin() as connection:
            vault.check_keys(connection)
        while True:
            with engine.begin() as connection:
                if not vault.seal_legacy(connection, LEGACY_BATCH):
                    break
        yield vault
    finally:
        engine.dispose()
