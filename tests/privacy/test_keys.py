"""Data keys and the cipher: where keys come from, envelopes, wrong keys, blind indexes."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from kefu.privacy.cipher import Cipher, DecryptionError, envelope_key_id, is_envelope
from kefu.privacy.keys import (
    KeyConfigError,
    KeyRing,
    UnknownKeyError,
    load_keyring,
    new_key,
    parse_key,
    read_key_file,
    write_key_file,
)


def b64(secret: bytes) -> str:
    return base64.b64encode(secret).decode()


def test_a_key_from_the_environment():
    secret = os.urandom(32)
    ring = load_keyring({"KEFU_DATA_KEY": b64(secret)})
    assert ring.active.secret == secret
    assert ring.source == "KEFU_DATA_KEY"
    assert secret.hex() not in repr(ring) and b64(secret) not in repr(ring)


def test_several_keys_in_the_environment_the_last_is_active():
    old, new = os.urandom(32), os.urandom(32)
    ring = load_keyring({"KEFU_DATA_KEY": f"{b64(old)}, {b64(new)}"})
    assert [k.secret for k in ring.keys] == [old, new]
    assert ring.active.secret == new


@pytest.mark.parametrize(
    "value, message",
    [("not base64!!", "not base64"), (b64(os.urandom(16)), "holds 16 bytes")],
)
def test_a_malformed_key_is_a_clear_error_without_the_key(value, message):
    with pytest.raises(KeyConfigError, match=message) as error:
        load_keyring({"KEFU_DATA_KEY": value})
    assert value not in str(error.value)


def test_development_creates_a_private_key_file_once(tmp_path):
    path = tmp_path / "keys" / "data.key"
    env = {"KEFU_DATA_KEY_FILE": str(path)}
    first = load_keyring(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_keyring(env).active == first.active


def test_production_without_a_key_is_an_error_and_creates_nothing(tmp_path):
    path = tmp_path / "data.key"
    env = {"KEFU_DATA_KEY_FILE": str(path), "KEFU_PROFILE": "production"}
    with pytest.raises(KeyConfigError, match="production needs a data key"):
        load_keyring(env)
    assert not path.exists()


def test_production_reads_an_existing_key_file(tmp_path):
    path = tmp_path / "data.key"
    key = new_key()
    write_key_file(path, (key,))
    env = {"KEFU_DATA_KEY_FILE": str(path), "KEFU_PROFILE": "production"}
    assert load_keyring(env).active == key


def test_a_key_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / "data.key"
    write_key_file(path, (new_key(),))
    path.chmod(0o644)
    with pytest.raises(KeyConfigError, match="chmod 600"):
        read_key_file(path)


def test_round_trip_and_envelope_names_its_key():
    ring = KeyRing((new_key(),), "test")
    cipher = Cipher(ring)
    sealed = cipher.encrypt("张三 13812345678", context="c1")
    assert is_envelope(sealed) and "13812345678" not in sealed
    assert envelope_key_id(sealed) == ring.active.key_id
    assert cipher.decrypt(sealed, context="c1") == "张三 13812345678"
    assert cipher.encrypt("x") != cipher.encrypt("x")  # a fresh nonce every time


def test_a_wrong_key_a_changed_value_or_another_context_does_not_open():
    cipher = Cipher(KeyRing((new_key(),), "test"))
    sealed = cipher.encrypt("secret", context="c1")
    with pytest.raises(UnknownKeyError, match="not among the keys of other"):
        Cipher(KeyRing((new_key(),), "other")).decrypt(sealed, context="c1")
    with pytest.raises(DecryptionError, match="belongs elsewhere"):
        cipher.decrypt(sealed, context="c2")
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(DecryptionError):
        cipher.decrypt(tampered, context="c1")


def test_old_keys_open_and_reseal_moves_to_the_active_key():
    old, new = new_key(), new_key()
    sealed = Cipher(KeyRing((old,), "t")).encrypt("data")
    both = Cipher(KeyRing((old, new), "t"))
    assert both.decrypt(sealed) == "data"
    resealed = both.reseal(sealed)
    assert envelope_key_id(resealed) == new.key_id and both.decrypt(resealed) == "data"
    assert both.reseal(resealed) == resealed


def test_blind_index_is_keyed_stable_and_per_purpose():
    key = new_key()
    cipher = Cipher(KeyRing((key,), "t"))
    assert cipher.blind_index("13812345678", "phone") == cipher.blind_index("13812345678", "phone")
    assert cipher.blind_index("13812345678", "phone") != cipher.blind_index("13812345678", "mail")
    assert cipher.blind_index("a", "p") != Cipher(KeyRing((new_key(),), "t")).blind_index("a", "p")
    rotated = Cipher(KeyRing((key, new_key()), "t"))
    assert cipher.blind_index("a", "p") in rotated.blind_indexes("a", "p")


def test_parse_key_rejects_wrong_length():
    with pytest.raises(KeyConfigError):
        parse_key(b64(b"short"), "the key")
