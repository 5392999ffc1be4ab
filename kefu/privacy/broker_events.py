"""Conversation events on the message broker, sealed: what RabbitMQ and its readers see.

In production every event a Rasa instance saves is published to RabbitMQ
(``kefu_rasa/broker.py``).  An event carries the customer's words, slots (addresses, pending
changes), the bot's replies, metadata and the conversation id ("telegram:<chat id>"), so each
message body is an envelope instead, one JSON object (UTF-8)::

    {
      "kefu_event": 1,                  # the format; its presence marks a sealed event
      "conversation": "3f1c…",          # keyed hash of the conversation id (40 hex digits)
      "event": "user",                  # Rasa's event type, for routing
      "timestamp": 1718000000.25,       # Rasa's time of the event (Unix seconds)
      "sealed": "kefu1:<key id>:<base64url(nonce ‖ AES-256-GCM ciphertext and tag)>"
    }

``sealed`` is a :mod:`kefu.privacy.cipher` envelope of the whole event as Rasa published it
(``sender_id`` included, customer tokens taken out of its metadata), sealed with the active
data key; it names the key, so a reader opens envelopes of any key of its ring while keys
rotate.  Its associated data is the three readable fields: a conversation hash, type or time
changed in transit, or an envelope moved to another message, does not open.

``conversation`` is an HMAC-SHA-256 blind index of the conversation id under a key derived from
the active data key, for a purpose of its own (``broker conversation``): a reader without the
key groups a conversation's events without learning who it is, and cannot match the hashes
with the conversation store's.  The hash changes when the active key changes; readers that
need one name for a conversation across rotations (the analytics consumer's pseudonym, erasure)
open the envelope and use the id inside.

Readers keep accepting plain events (a JSON event with ``sender_id``) published before sealing:
:func:`read_event` says which it was.  A key that is not in the ring raises
:class:`~kefu.privacy.keys.UnknownKeyError`, an altered envelope
:class:`~kefu.privacy.cipher.DecryptionError`: never plaintext in place of an envelope.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kefu.privacy.cipher import Cipher, DecryptionError
from kefu.privacy.conversations import without_tokens

FORMAT_FIELD = "kefu_event"
FORMAT = 1
CONTEXT = "broker event"
ID_PURPOSE = "broker conversation"


def is_sealed(body: object) -> bool:
    """Whether a decoded message body is a sealed event (of any format version)."""
    return isinstance(body, Mapping) and FORMAT_FIELD in body


def _context(conversation: object, kind: object, timestamp: object) -> str:
    return CONTEXT + "\0" + json.dumps([conversation, kind, timestamp])


def seal_event(event: Mapping[str, Any], cipher: Cipher) -> dict[str, Any]:
    """The envelope of a published event; an event already sealed as it is (Rasa publishes the
    messages it kept while RabbitMQ was away again)."""
    if is_sealed(event):
        return dict(event)
    sender = event.get("sender_id")
    conversation = cipher.blind_index(str(sender), ID_PURPOSE) if sender is not None else None
    kind, timestamp = event.get("event"), event.get("timestamp")
    text = json.dumps(without_tokens(dict(event)), ensure_ascii=False)
    return {
        FORMAT_FIELD: FORMAT,
        "conversation": conversation,
        "event": kind,
        "timestamp": timestamp,
        "sealed": cipher.encrypt(text, _context(conversation, kind, timestamp)),
    }


def open_event(body: Mapping[str, Any], cipher: Cipher) -> dict[str, Any]:
    """The event inside an envelope; :class:`DecryptionError` when it is malformed, altered or
    of an unknown format, :class:`~kefu.privacy.keys.UnknownKeyError` when its key is not in
    the ring."""
    if body.get(FORMAT_FIELD) != FORMAT:
        raise DecryptionError(f"a sealed event of unknown format {body.get(FORMAT_FIELD)!r}")
    sealed = body.get("sealed")
    if not isinstance(sealed, str):
        raise DecryptionError("a sealed event without its envelope")
    context = _context(body.get("conversation"), body.get("event"), body.get("timestamp"))
    event = json.loads(cipher.decrypt(sealed, context))
    if not isinstance(event, dict):
        raise DecryptionError("a sealed event does not hold an event")
    return event


def read_event(body: bytes | str, cipher: Cipher) -> tuple[dict[str, Any], bool]:
    """A message body's event and whether it was sealed (False: a plain event published before
    sealing).  ``ValueError`` for a body that is not a JSON object; the errors of
    :func:`open_event` for an envelope that does not open."""
    decoded = json.loads(body)
    if not isinstance(decoded, dict):
        raise ValueError("a message body is not a JSON object")
    if is_sealed(decoded):
        return open_event(decoded, cipher), True
    return decoded, False
