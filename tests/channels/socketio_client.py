"""A socket.io v4 client over a raw WebSocket (the transport browsers use), for the tests."""

from __future__ import annotations

import asyncio
import json

import websockets

SHOP = "http://shop.test:8000"


class Client:
    """A socket.io v4 client over a raw WebSocket, the transport browsers use."""

    def __init__(self) -> None:
        self.events: asyncio.Queue = asyncio.Queue()
        self.ws = None
        self._reader: asyncio.Task | None = None
        self.session_id: str | None = None
        self.secret: str | None = None

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame == "2":  # engine.io ping
                await self.ws.send("3")
            elif frame.startswith("42"):
                event, *data = json.loads(frame[2:])
                await self.events.put((event, data[0] if data else None))
            elif frame.startswith("40"):
                await self.events.put(("connected", None))

    async def connect(self, url: str, origin: str = SHOP, headers: dict | None = None) -> None:
        ws_url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        headers = {"Origin": origin, **(headers or {})}
        self.ws = await websockets.connect(ws_url, extra_headers=headers)
        await self.ws.recv()  # engine.io open packet
        self._reader = asyncio.create_task(self._read())
        await self.ws.send("40")
        await self.next("connected")

    async def emit(self, event: str, data: object = None) -> None:
        await self.ws.send("42" + json.dumps([event, data], ensure_ascii=False))

    async def next(self, name: str, timeout: float = 5) -> object:
        while True:
            event, data = await asyncio.wait_for(self.events.get(), timeout)
            if event == name:
                return data

    async def start(self, url: str, session_id: object = None, secret: object = None) -> str:
        """Connect and ask for ``session_id`` (with its secret); the session id granted."""
        await self.connect(url)
        return await self.request_session(session_id, secret)

    async def request_session(self, session_id: object = None, secret: object = None) -> str:
        await self.emit("session_request", {"session_id": session_id, "session_secret": secret})
        confirm = await self.next("session_confirm")
        self.session_id, self.secret = confirm["session_id"], confirm["session_secret"]
        return self.session_id

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        if self.ws:
            await self.ws.close()
