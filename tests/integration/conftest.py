"""Start the real servers (scripts/run.sh, as `make run` does) once for the integration tests."""

from __future__ import annotations

import os
import secrets
import uuid

import pytest
import requests

from scripts.stack import ROOT, running_stack

__all__ = ["ROOT", "Bot"]


class Bot:
    """A running kefu, talked to over its REST channel."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def say(self, text: str, sender: str | None = None, metadata: dict | None = None) -> list[dict]:
        body = {"sender": sender or uuid.uuid4().hex, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = requests.post(f"{self.url}/webhooks/rest/webhook", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def texts(self, text: str, sender: str | None = None) -> list[str]:
        return [m.get("text", "") for m in self.say(text, sender)]


# the servers started below accept customer tokens signed with this secret
IDENTITY_SECRET = os.environ.setdefault("KEFU_IDENTITY_SECRET", secrets.token_hex(32))


@pytest.fixture(scope="session")
def bot():
    try:
        with running_stack() as stack:
            yield Bot(stack.url, stack.token)
    except RuntimeError as error:
        pytest.fail(str(error))
