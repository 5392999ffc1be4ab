"""Serve a channel's Sanic blueprint on a real loopback port inside a test."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence

from sanic import Blueprint, Sanic

from scripts.stack import free_port

Sanic.test_mode = True  # several apps per test process
_names = itertools.count()


@contextlib.asynccontextmanager
async def serving(
    blueprint: Blueprint | Sequence[tuple[Blueprint, str]], url_prefix: str = ""
) -> AsyncIterator[str]:
    """Run ``blueprint`` (or several ``(blueprint, url_prefix)``, as Rasa registers its
    channels) on 127.0.0.1 until the block ends; yields the base URL."""
    app = Sanic(f"kefu_test_{next(_names)}", configure_logging=False)
    blueprints = [(blueprint, url_prefix)] if isinstance(blueprint, Blueprint) else blueprint
    for each, prefix in blueprints:
        app.blueprint(each, url_prefix=prefix)
    async with serving_app(app) as url:
        yield url


@contextlib.asynccontextmanager
async def serving_app(app: Sanic) -> AsyncIterator[str]:
    """Run the Sanic ``app`` on 127.0.0.1 until the block ends; yields the base URL."""
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
