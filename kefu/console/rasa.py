"""The two calls of Rasa's HTTP API the console makes: read a conversation's tracker, and
append events (an agent's reply, the hand-back) with their side effects, through the
customer's latest channel.  Errors come back as :class:`RasaError` with a message for the
agent (no token, no customer data)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from kefu.console.settings import RASA_TIMEOUT_SECONDS

logger = logging.getLogger("kefu.agent_console")


class RasaError(Exception):
    """Rasa did not do what was asked; ``str()`` is a message for the agent (no token, no
    customer data)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # unreachable | timeout | unauthorized | failed


class RasaClient:
    """The two calls of Rasa's HTTP API the console makes, with the API token."""

    def __init__(self, base_url: str, token: str, timeout: float = RASA_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _url(self, conversation_id: str, tail: str = "") -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker{tail}"

    async def _call(self, method: str, url: str, params: dict[str, str], **kwargs: Any) -> Any:
        if self._session is None:
            raise RuntimeError("the Rasa client is not started")
        where = self.base_url
        try:
            async with self._session.request(
                method, url, params={**params, "token": self._token}, **kwargs
            ) as response:
                if response.status in (401, 403):
                    logger.warning("agent console: the bot server refused the API token")
                    raise RasaError(
                        "unauthorized",
                        f"机器人服务器（{where}）拒绝了控制台的 API 令牌（KEFU_API_TOKEN）。"
                        f" · The bot server at {where} refused the console's API token "
                        f"(KEFU_API_TOKEN, HTTP {response.status}).",
                    )
                if response.status >= 300:
                    logger.warning(
                        "agent console: the bot server answered HTTP %s", response.status
                    )
                    raise RasaError(
                        "failed",
                        f"机器人服务器（{where}）出错（HTTP {response.status}）。"
                        f" · The bot server at {where} answered HTTP {response.status}.",
                    )
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    raise RasaError(
                        "failed",
                        f"机器人服务器（{where}）的回答无法识别。"
                        f" · The bot server at {where} gave an unusable answer.",
                    ) from None
        except asyncio.TimeoutError:
            logger.warning("agent console: the bot server did not answer in time")
            raise RasaError(
                "timeout",
                f"机器人服务器（{where}）没有及时响应。"
                f" · The bot server at {where} did not answer in time.",
            ) from None
        except aiohttp.ClientError:  # connection refused or reset, bad answer …
            logger.warning("agent console: the bot server cannot be reached")
            raise RasaError(
                "unreachable",
                f"无法连接机器人服务器（{where}）。 · The bot server at {where} cannot be reached.",
            ) from None

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker (its events since the last restart)."""
        state = await self._call("GET", self._url(conversation_id), {})
        if not isinstance(state, dict):
            raise RasaError(
                "failed", "机器人服务器的回答无法识别。 · The bot server's answer is unusable."
            )
        return state

    async def append(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Append ``events`` and run their side effects: bot messages go out through the
        customer's latest input channel."""
        params = {"output_channel": "latest", "execute_side_effects": "true"}
        await self._call("POST", self._url(conversation_id, "/events"), params, json=events)
