"""Start the real servers (scripts/run.sh, as `make run` does) once for the integration tests."""

from __future__ import annotations

import uuid

import pytest
import requests

from scripts.stack import ROOT, Stack
from tests.conftest import IDENTITY_SECRET
from tests.integration.fake_platforms import FakePlatforms

__all__ = ["IDENTITY_SECRET", "ROOT", "Bot"]


class Bot:
    """A running kefu, talked to over its REST channel."""

    def __init__(self, stack: Stack, platforms: FakePlatforms) -> None:
        self.stack = stack
        self.url = stack.url
        self.token = stack.token
        self.platforms = platforms

    def say(self, text: str, sender: str | None = None, metadata: dict | None = None) -> list[dict]:
        body = {"sender": sender or uuid.uuid4().hex, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = requests.post(f"{self.url}/webhooks/rest/webhook", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def texts(self, text: str, sender: str | None = None) -> list[str]:
        return [m.get("text", "") for m in self.say(text, sender)]


@pytest.fixture(scope="session")
def bot(kefu_stack):
    stack, platforms = kefu_stack
    return Bot(stack, platforms)
