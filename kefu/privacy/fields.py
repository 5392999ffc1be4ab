"""Encrypted columns of the shop database: values are sealed on write and opened on read.

:class:`EncryptedText` and :class:`EncryptedJSON` are SQLAlchemy column types stored as TEXT
envelopes (:mod:`kefu.privacy.cipher`) under the process's data keys (:func:`field_cipher`,
reloaded when ``KEFU_DATA_KEY`` or the key file changes), so the library reads and writes plain
values as before.  A value written before encryption (plain text, or JSON) is read as it is and
sealed by :func:`reseal_rows` (``kefu keys rotate``).  SQL cannot compare sealed values (every
envelope differs): find rows by a blind index (:meth:`Cipher.blind_index`) kept beside the value
in a :func:`blind_index_column` (``reseal_rows`` moves it to the new key with the value), or in
Python.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy import JSON, Column, String, Text, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from kefu.privacy.cipher import INDEX_HEX_CHARS, PREFIX, Cipher, is_envelope
from kefu.privacy.keys import KEY_ENV, key_file_path, load_keyring

_loaded: dict[str, tuple[tuple, Cipher]] = {}


def _signature() -> tuple:
    path = key_file_path()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    return os.environ.get(KEY_ENV, ""), str(path), stamp


def field_cipher() -> Cipher:
    """The cipher of the configured keys (loaded again when they change)."""
    signature = _signature()
    cached = _loaded.get("cipher")
    if cached is None or cached[0] != signature:
        cipher = Cipher(load_keyring())  # may create the development key file
        _loaded["cipher"] = (_signature(), cipher)
        return cipher
    return cached[1]


class EncryptedText(TypeDecorator):
    """A text column stored encrypted.  On SQLite (which enforces no length) the column keeps
    its declared ``VARCHAR(length)``; elsewhere it is ``TEXT`` (migration 0009)."""

    impl = Text
    cache_ok = True

    def __init__(self, length: int | None = None) -> None:
        super().__init__()
        self.length = length

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite" and self.length:
            return dialect.type_descriptor(String(self.length))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else field_cipher().encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return field_cipher().decrypt(value) if is_envelope(value) else value


class EncryptedJSON(TypeDecorator):
    """A JSON value (dict, list) stored encrypted: ``JSON`` holding the envelope on SQLite,
    ``TEXT`` elsewhere (migration 0009)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return dialect.type_descriptor(JSON() if dialect.name == "sqlite" else Text())

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return field_cipher().encrypt(json.dumps(value, ensure_ascii=False))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if is_envelope(value):
            return json.loads(field_cipher().decrypt(value))
        return json.loads(value) if isinstance(value, str) else value


ENCRYPTED_TYPES = (EncryptedText, EncryptedJSON)
INDEX_OF = "kefu_blind_index_of"  # Column.info key of an index column: (its source, purpose)


def blind_index(value: Any, purpose: str) -> str | None:
    """``value``'s blind index for ``purpose`` under the active key (None for None)."""
    return None if value is None else field_cipher().blind_index(str(value), purpose)


def blind_indexes(value: str, purpose: str) -> list[str]:
    """``value``'s blind indexes under every key of the ring: what finds its rows whichever
    key indexed them (during a rotation)."""
    return field_cipher().blind_indexes(value, purpose)


def blind_index_column(source: str, purpose: str, **kwargs: Any) -> Column:
    """A column holding the blind index of the encrypted column ``source``: computed on insert
    (ORM or Core) from ``source``'s value, and again by :func:`reseal_rows` with it.  Whoever
    updates ``source`` sets the index too."""

    def on_insert(context: Any) -> str | None:
        return blind_index(context.get_current_parameters().get(source), purpose)

    info = {INDEX_OF: (source, purpose)}
    return Column(String(INDEX_HEX_CHARS), default=on_insert, info=info, **kwargs)


def index_columns(table: Any) -> list[Any]:
    """The blind-index columns of ``table`` (:func:`blind_index_column`)."""
    return [column for column in table.columns if INDEX_OF in column.info]


def encrypted_columns(metadata: Any) -> dict[Any, list[Any]]:
    """Table → its encrypted columns, for every table of ``metadata`` that has some."""
    found: dict[Any, list[Any]] = {}
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, ENCRYPTED_TYPES)]
        if columns:
            found[table] = columns
    return found


def reseal_rows(session: Session, metadata: Any, batch: int) -> int:
    """Seal up to ``batch`` rows whose encrypted columns hold plain values or envelopes of an
    older key with the active key, and index them again under it; how many rows were rewritten
    (0: nothing left)."""
    active = f"{PREFIX}{field_cipher().active_key_id}:%"
    moved = 0
    for table, columns in encrypted_columns(metadata).items():
        raw = [type_coerce(c, Text) for c in columns]  # JSON on SQLite: a quoted envelope
        stale = [r.not_like(active) & r.not_like(f'"{active}') for r in raw]
        key = list(table.primary_key.columns)
        condition = stale[0]
        for other in stale[1:]:
            condition = condition | other
        rows = session.execute(select(*key, *columns).where(condition).limit(batch - moved)).all()
        for row in rows:
            values = {c.name: row._mapping[c] for c in columns}
            for index in index_columns(table):
                source, purpose = index.info[INDEX_OF]
                values[index.name] = blind_index(values[source], purpose)
            where = [k == row._mapping[k] for k in key]
            session.execute(update(table).where(*where).values(**values))
        moved += len(rows)
        if moved >= batch:
            break
    return moved
