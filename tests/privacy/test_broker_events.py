"""Events sealed for the message broker (kefu/privacy/broker_events.py): what RabbitMQ sees."""

from __future__ import annotations

import json

import pytest

from kefu.privacy.broker_events import ID_PURPOSE, is_sealed, open_event, read_event, seal_event
from kefu.privacy.cipher import Cipher, DecryptionError
from kefu.privacy.keys import KeyRing, UnknownKeyError, new_key
from tests.privacy.conftest import CUSTOMER_ADDRESS, CUSTOMER_PHONE, assert_absent

SENDER = "telegram:987654321"
TOKEN = "customer-token-abcdef0123456789"
TEXT = f"我的手机号是{CUSTOMER_PHONE}，改地址到{CUSTOMER_ADDRESS}"
EVENT = {
    "sender_id": SENDER,
    "event": "user",
    "timestamp": 1718000000.25,
    "text": TEXT,
    "parse_data": {
        "intent": {"name": "change_address", "confidence": 0.91},
        "entities": [{"entity": "phone", "value": CUSTOMER_PHONE}],
    },
    "input_channel": "telegram",
    "metadata": {"customer_token": TOKEN, "locale": "zh"},
}


def cipher_of(*keys) -> Cipher:
    return Cipher(KeyRing(tuple(keys), "test keys"))


@pytest.fixture
def cipher() -> Cipher:
    return cipher_of(new_key())


def body_of(event: dict, cipher: Cipher) -> bytes:
    """The bytes Rasa puts on RabbitMQ (its ``_message`` is ``json.dumps`` of the event)."""
    return json.dumps(seal_event(event, cipher)).encode()


def test_an_event_round_trips_without_its_customer_token(cipher):
    event, sealed = read_event(body_of(EVENT, cipher), cipher)
    assert sealed
    assert event == {**EVENT, "metadata": {"locale": "zh"}}


def test_the_conversation_is_a_keyed_hash_and_type_and_time_stay_readable(cipher):
    envelope = seal_event(EVENT, cipher)
    assert envelope["conversation"] == cipher.blind_index(SENDER, ID_PURPOSE)
    assert envelope["conversation"] != cipher.blind_index(SENDER, "conversation")  # the store's
    assert (envelope["event"], envelope["timestamp"]) == ("user", EVENT["timestamp"])
    other = seal_event({**EVENT, "sender_id": "telegram:1"}, cipher)
    assert other["conversation"] != envelope["conversation"]
    assert seal_event(EVENT, cipher)["conversation"] == envelope["conversation"]  # groups


def test_no_customer_words_phone_token_or_sender_id_in_the_bytes(cipher):
    body = body_of(EVENT, cipher)
    unescaped = body.decode("unicode_escape").encode()  # Rasa's JSON escapes Chinese as \uXXXX
    for blob in (body, unescaped):
        assert_absent(blob, (CUSTOMER_PHONE, CUSTOMER_ADDRESS, TEXT, SENDER, "987654321", TOKEN))
    assert b"change_address" not in body  # the intent is sealed too


@pytest.mark.parametrize(
    "field, value",
    [
        ("conversation", "0" * 40),  # moved to another conversation
        ("event", "bot"),
        ("timestamp", 1.0),
        ("sealed", None),  # the ciphertext altered: set below
    ],
)
def test_tampering_is_detected(cipher, field, value):
    envelope = seal_event(EVENT, cipher)
    if value is None:
        sealed = envelope["sealed"]
        value = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    envelope[field] = value
    with pytest.raises(DecryptionError):
        open_event(envelope, cipher)


def test_an_envelope_moved_to_another_message_does_not_open(cipher):
    first = seal_event(EVENT, cipher)
    second = seal_event({**EVENT, "timestamp": 2.0, "text": "谢谢"}, cipher)
    with pytest.raises(DecryptionError):
        open_event({**second, "sealed": first["sealed"]}, cipher)


def test_a_wrong_key_is_refused_with_its_id(cipher):
    envelope = seal_event(EVENT, cipher)
    with pytest.raises(UnknownKeyError, match=cipher.active_key_id):
        open_event(envelope, cipher_of(new_key()))


def test_any_key_of_the_ring_opens_and_the_active_one_seals():
    old, new = new_key(), new_key()
    before = seal_event(EVENT, cipher_of(old))
    rotated = cipher_of(old, new)
    assert open_event(before, rotated)["text"] == TEXT
    after = seal_event(EVENT, rotated)
    assert after["sealed"].startswith(f"kefu1:{new.key_id}:")
    assert open_event(after, cipher_of(new))["sender_id"] == SENDER


def test_a_plain_event_from_before_sealing_is_read_as_plain(cipher):
    assert read_event(json.dumps(EVENT), cipher) == (EVENT, False)


def test_an_event_sealed_already_is_not_sealed_again(cipher):
    envelope = seal_event(EVENT, cipher)
    assert seal_event(envelope, cipher) == envelope
    assert is_sealed(envelope) and not is_sealed(EVENT) and not is_sealed("kefu_event")


@pytest.mark.parametrize(
    "body, error",
    [
        (b"not json", ValueError),
        (b"[1, 2]", ValueError),
        (json.dumps({"kefu_event": 2, "sealed": "kefu1:x:y"}), DecryptionError),
        (json.dumps({"kefu_event": 1}), DecryptionError),
        (json.dumps({"kefu_event": 1, "sealed": "plain text"}), DecryptionError),
    ],
)
def test_what_is_not_an_event_or_envelope_is_an_error_never_plaintext(cipher, body, error):
    with pytest.raises(error):
        read_event(body, cipher)
