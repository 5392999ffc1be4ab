"""Messages to a customer's phone or e-mail on file: confirmation codes and change notices.

One interface, :class:`Notifier`, chosen by the environment (:func:`notifier_from_env`):

* ``KEFU_NOTIFY_URL`` (production): an HTTPS gateway of the shop's SMS / e-mail provider gets
  ``POST {"channel": "sms"|"email", "to": ..., "text": ...}`` with
  ``Authorization: Bearer $KEFU_NOTIFY_TOKEN``;
* ``KEFU_OUTBOX`` or the default ``.kefu/outbox.jsonl`` (development and tests): one JSON line
  per message in a local file (mode 600).  The recipient is stored as a keyed pseudonym, never in
  clear, so the file holds no personal data but the texts.

Production (``KEFU_PROFILE=production``) refuses the outbox: codes must reach real phones.
Nothing here logs a recipient or a text.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

DEFAULT_OUTBOX = Path(".kefu") / "outbox.jsonl"
CHANNELS = ("sms", "email")


class NotifyError(RuntimeError):
    """The message could not be handed to the provider."""


@dataclass(frozen=True)
class Recipient:
    """Where a message goes: ``channel`` (sms / email) and the address on file."""

    channel: str
    address: str
    pseudonym: str  # a keyed hash of the address, for the outbox and logs


class Notifier(Protocol):
    def send(self, recipient: Recipient, text: str, *, tag: str) -> None: ...


class OutboxNotifier:
    """Development: append messages to a local JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, recipient: Recipient, text: str, *, tag: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "at": int(time.time()),
            "channel": recipient.channel,
            "to": recipient.pseudonym,
            "tag": tag,
            "text": text,
        }
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")


class GatewayNotifier:
    """Production: the shop's SMS / e-mail gateway over HTTPS, with a bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 5.0) -> None:
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            raise ValueError("KEFU_NOTIFY_URL must be an https:// URL")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, recipient: Recipient, text: str, *, tag: str) -> None:
        body = json.dumps(
            {"channel": recipient.channel, "to": recipient.address, "text": text, "tag": tag}
        ).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                if answer.status >= 300:
                    raise NotifyError(f"gateway answered {answer.status}")
        except OSError as error:
            logger.error("notify: the gateway failed (%s)", type(error).__name__)
            raise NotifyError("the gateway failed") from error


def notifier_from_env(env: dict[str, str] | None = None) -> Notifier:
    """The configured notifier; production without a gateway is a configuration error."""
    env = os.environ if env is None else env
    url = env.get("KEFU_NOTIFY_URL")
    if url:
        token = env.get("KEFU_NOTIFY_TOKEN") or ""
        if not token:
            raise ValueError("KEFU_NOTIFY_URL is set but KEFU_NOTIFY_TOKEN is not")
        return GatewayNotifier(url, token)
    if env.get("KEFU_PROFILE") == "production":
        raise ValueError(
            "production needs KEFU_NOTIFY_URL and KEFU_NOTIFY_TOKEN (the SMS / e-mail gateway "
            "that delivers confirmation codes); the development outbox is refused"
        )
    return OutboxNotifier(Path(env.get("KEFU_OUTBOX") or DEFAULT_OUTBOX))
