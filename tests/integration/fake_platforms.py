"""A local stand-in for the Telegram Bot API and WeChat's API, on a real HTTP port.

The integration stack is started with these as ``TELEGRAM_API_BASE`` and ``WECHAT_API_BASE``,
so the real channels talk HTTP to something the tests can read: every call is recorded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

from scripts.stack import free_port

TELEGRAM_BOT_NAME = "kefu_test_bot"


@dataclass
class Call:
    path: str
    data: dict


@dataclass
class FakePlatforms:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, path_end: str, count: int = 1, timeout: float = 30) -> list[Call]:
        """The calls whose path ends with ``path_end``, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [c for c in self.calls if c.path.endswith(path_end)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {count} call(s) to {path_end} within {timeout} s: {self.calls}")

    async def _telegram(self, request: web.Request) -> web.Response:
        data = dict(await request.post()) if request.can_read_body else {}
        if request.content_type == "application/json":
            data = await request.json()
        method = request.match_info["method"]
        self.calls.append(Call(request.path, {k: str(v) for k, v in data.items()}))
        if method == "getMe":
            result = {"id": 42, "is_bot": True, "first_name": "kefu", "username": TELEGRAM_BOT_NAME}
        elif method == "setWebhook":
            result = True
        else:
            result = {
                "message_id": len(self.calls),
                "date": int(time.time()),
                "chat": {"id": int(data.get("chat_id", 0) or 0), "type": "private"},
                "text": str(data.get("text", "")),
            }
        return web.json_response({"ok": True, "result": result})

    async def _wechat_token(self, request: web.Request) -> web.Response:
        self.calls.append(Call(request.path, dict(request.query)))
        return web.json_response({"access_token": "fake-access-token", "expires_in": 7200})

    async def _wechat_send(self, request: web.Request) -> web.Response:
        self.calls.append(Call(request.path, await request.json()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def start(self) -> FakePlatforms:
        """Serve in a background thread until the process ends."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._telegram)
        app.router.add_get("/cgi-bin/token", self._wechat_token)
        app.router.add_post("/cgi-bin/message/custom/send", self._wechat_send)
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True, name="fake-platforms").start()
        ready.wait(10)
        return self
