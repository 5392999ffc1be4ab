"""Start the real servers (scripts/run.sh, as `make run` does) once for the integration tests."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest
import requests

from scripts.stack import ROOT, Stack
from tests.conftest import IDENTITY_SECRET
from tests.integration.fake_platforms import FakePlatforms

__all__ = ["IDENTITY_SECRET", "ROOT", "Bot"]


class Bot:
    """A running kefu, talked to over its REST channel.

    A REST ``sender`` is the conversation ``rest:<sender>`` in Rasa (trackers, the HTTP API,
    hand-off tickets, ratings): :meth:`conversation_id`."""

    def __init__(self, stack: Stack, platforms: FakePlatforms) -> None:
        self.stack = stack
        self.url = stack.url
        self.token = stack.token
        self.platforms = platforms

    def say(self, text: str, sender: str | None = None, metadata: dict | None = None) -> list[dict]:
        body = {"sender": sender or uuid.uuid4().hex, "message": text}
        if metadata:
            body["metadata"] = metadata
        token = os.environ.get("KEFU_REST_TOKEN")  # when the servers were started with one
        headers = {"Authorization": f"Bearer {token}"} if token else None
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook", json=body, headers=headers, timeout=60
        )
        response.raise_for_status()
        return response.json()

    @staticmethod
    def conversation_id(sender: str, channel: str = "rest") -> str:
        """The tracker key of ``sender`` on ``channel`` (kefu_rasa.channels.guard)."""
        return f"{channel}:{sender}"

    def api_url(self, conversation_id: str, tail: str = "/tracker") -> str:
        return f"{self.url}/conversations/{quote(conversation_id, safe='')}{tail}"

    def tracker(self, conversation_id: str, include_events: str = "ALL") -> dict:
        """The conversation's tracker through Rasa's HTTP API (with the token)."""
        response = requests.get(
            self.api_url(conversation_id),
            params={"token": self.token, "include_events": include_events},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def texts(self, text: str, sender: str | None = None) -> list[str]:
        return [m.get("text", "") for m in self.say(text, sender)]


@pytest.fixture(scope="session")
def bot(kefu_stack):
    stack, platforms = kefu_stack
    return Bot(stack, platforms)
