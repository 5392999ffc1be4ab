"""Key rotation: ``kefu keys add`` then ``kefu keys rotate`` re-encrypts every conversation in
batches, resumes after an interruption, and retires the old key; the tracker store reads
everything with the new key alone."""

from __future__ import annotations

import asyncio
import base64

import pytest

from kefu.cli import main
from kefu.privacy.cipher import Cipher, envelope_key_id
from kefu.privacy.conversations import CONVERSATIONS, EVENTS
from kefu.privacy.keys import KeyConfigError, load_keyring, read_key_file
from kefu.privacy.store import open_vault
from kefu_rasa.tracker_store import EncryptedTrackerStore
from tests.privacy.conftest import CUSTOMER_PHONE
from tests.privacy.test_tracker_store import DOMAIN, conversation

SENDERS = [f"telegram:{CUSTOMER_PHONE[:-1]}{n}" for n in range(5)]


@pytest.fixture
def key_file(tmp_path, monkeypatch, data_key):
    """Keys from a key file (not the environment) and five stored conversations."""
    path = tmp_path / "keys" / "data.key"
    monkeypatch.delenv("KEFU_DATA_KEY")
    monkeypatch.setenv("KEFU_DATA_KEY_FILE", str(path))
    return path


def fill(url: str) -> None:
    store = EncryptedTrackerStore(domain=DOMAIN, host=url)
    for sender in SENDERS:
        asyncio.run(store.save(conversation(sender)))
    store.engine.dispose()


def key_ids(url: str) -> tuple[set[str], set[str]]:
    """The keys that sealed the stored conversation ids and events."""
    with open_vault(url) as vault, vault.engine.connect() as connection:
        ids = set(
            connection.scalars(CONVERSATIONS.select().with_only_columns(CONVERSATIONS.c.key_id))
        )
        data = connection.scalars(EVENTS.select().with_only_columns(EVENTS.c.data))
        return ids, {envelope_key_id(d) for d in data}


def test_rotation_in_resumable_batches_then_the_old_key_retires(key_file, tracker_db, capsys):
    fill(tracker_db)
    old = load_keyring().active.key_id
    assert main(["keys", "add"]) == 0
    new = load_keyring().active.key_id
    assert new != old and len(read_key_file(key_file).keys) == 2

    with open_vault(tracker_db) as vault, vault.engine.begin() as connection:
        assert vault.pending(connection) == 5
        assert vault.migrate(connection, 2) == 2  # then "interrupted"
    assert key_ids(tracker_db) == ({old, new}, {old, new})

    capsys.readouterr()
    assert main(["keys", "rotate", "--batch", "2", "--retire", "--tracker-db", tracker_db]) == 0
    out = capsys.readouterr().out
    assert "re-encrypted 2 conversation(s)" in out and "re-encrypted 3 conversation(s)" in out
    assert "retired 1 older key(s)" in out
    assert read_key_file(key_file).key_ids == (new,)
    assert key_ids(tracker_db) == ({new}, {new})

    store = EncryptedTrackerStore(domain=DOMAIN, host=tracker_db)
    assert sorted(asyncio.run(store.keys())) == sorted(SENDERS)
    restored = asyncio.run(store.retrieve(SENDERS[3]))
    assert CUSTOMER_PHONE in restored.latest_message.text
    with store.engine.connect() as connection:
        assert sorted(store.vault.of_customer(connection, 7)) == sorted(SENDERS)
    store.engine.dispose()


def test_keys_from_the_environment_are_rotated_by_the_operator(data_key, tracker_db, capsys):
    assert main(["keys", "add"]) == 1
    assert "append a new key (`kefu keys new`)" in capsys.readouterr().err
    assert main(["keys", "new"]) == 0
    printed = capsys.readouterr().out.strip()
    assert len(base64.b64decode(printed)) == 32


def test_rotation_after_a_lost_key_stops_with_a_clear_error(
    data_key, tracker_db, monkeypatch, capsys
):
    fill(tracker_db)
    monkeypatch.setenv("KEFU_DATA_KEY", base64.b64encode(b"k" * 32).decode())
    assert main(["keys", "rotate", "--tracker-db", tracker_db]) == 1
    assert "not among the keys of KEFU_DATA_KEY" in capsys.readouterr().err


def test_a_cipher_on_the_new_key_alone_cannot_read_old_envelopes(data_key):
    sealed = Cipher(load_keyring()).encrypt("x")
    with pytest.raises(KeyConfigError):
        Cipher(load_keyring({"KEFU_DATA_KEY": base64.b64encode(b"n" * 32).decode()})).decrypt(
            sealed
        )
