"""The console's web application: routes, start-up checks and ``serve``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy.orm import sessionmaker

from kefu import logs
from kefu.config import shop_config
from kefu.console.assist import KNOWLEDGE, assist_json, warm_up
from kefu.console.base import (
    CONSOLE,
    Console,
    authenticate,
    pages_for_errors,
    security_headers,
    utc_now,
)
from kefu.console.login import IN_FLIGHT, login, login_form, logout
from kefu.console.rasa import RasaClient
from kefu.console.review import add_review_routes
from kefu.console.settings import AGENTS_ENV, MIN_SECRET_BYTES, SECRET_ENV, ConsoleConfigError
from kefu.console.settings import ConsoleSettings as ConsoleSettings
from kefu.console.tickets import (
    claim_ticket,
    close_ticket,
    queue_json,
    queue_page,
    reply,
    ticket_live_json,
    ticket_page,
)
from kefu.demo.site import ACCESS_LOG_FORMAT
from kefu.knowledge.index import KnowledgeBase
from kefu.metrics import add_aiohttp_routes, aiohttp_middleware
from kefu.web import html_templates

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "agent_templates"
STATIC = HERE / "agent_static"


async def favicon(request: web.Request) -> web.Response:
    """No icon, and no 404 in the browser's console for it."""
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


def create_app(
    factory: sessionmaker,
    settings: ConsoleSettings,
    clock: Callable[[], datetime] | None = None,
    knowledge: KnowledgeBase | None = None,
) -> web.Application:
    """The console on the shop database of ``factory``, talking to Rasa at settings.rasa_url.
    ``clock`` (aware UTC) is for tests; failed logins, revocations and the audit log live in
    the database, so a new application over the same database remembers them.  ``knowledge``
    (default: the shop's, over ``factory``) grounds the agent assist."""
    if not settings.agents:
        raise ConsoleConfigError(f"{AGENTS_ENV} lists no agents")
    if len(settings.secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConsoleConfigError(f"{SECRET_ENV} must have at least {MIN_SECRET_BYTES} bytes")
    try:
        proxies = settings.trusted_proxies
    except ValueError as error:
        raise ConsoleConfigError(f"trusted proxies: {error}") from None
    app = web.Application(
        middlewares=[
            aiohttp_middleware("console"),
            security_headers,
            authenticate,
            pages_for_errors,
        ]
    )
    console = Console(
        factory=factory,
        settings=settings,
        templates=html_templates(TEMPLATES),
        rasa=RasaClient(settings.rasa_url, settings.api_token, settings.rasa_timeout),
        handoff=shop_config().handoff,
        proxies=proxies,
        clock=clock or utc_now,
    )
    app[CONSOLE] = console
    app[IN_FLIGHT] = set()
    app[KNOWLEDGE] = knowledge if knowledge is not None else KnowledgeBase(factory)

    async def rasa_client(app: web.Application) -> AsyncIterator[None]:
        await console.rasa.start()
        yield
        await console.rasa.close()

    app.cleanup_ctx.append(rasa_client)
    ticket = r"/tickets/{id:[1-9][0-9]{0,8}}"
    app.router.add_get("/", queue_page, name="queue")
    app.router.add_get("/tickets.json", queue_json, name="queue_json")
    app.router.add_get(ticket, ticket_page, name="ticket")
    app.router.add_get(ticket + "/live.json", ticket_live_json, name="live_json")
    app.router.add_get(ticket + "/assist.json", assist_json, name="assist_json")
    app.router.add_post(ticket + "/claim", claim_ticket, name="claim")
    app.router.add_post(ticket + "/reply", reply, name="reply")
    app.router.add_post(ticket + "/close", close_ticket, name="close")
    add_review_routes(app)  # /review: the review-and-retrain queue (kefu.review)
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_static("/static/", STATIC, name="static")
    app.router.add_get("/favicon.ico", favicon)
    add_aiohttp_routes(app, "console")  # /metrics, /health
    return app


def serve(
    factory: sessionmaker, settings: ConsoleSettings, host: str = "127.0.0.1", port: int = 8100
) -> None:
    """Run the console until Ctrl-C."""
    app = create_app(factory, settings)
    warm_up(app[KNOWLEDGE])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logs.configure()  # JSON lines with KEFU_LOG_FORMAT=json
    proxies = len(settings.security.trusted_proxies)
    print(
        f"agent console on http://{host}:{port}/ for {len(settings.agents)} agent(s), "
        f"bot server {settings.rasa_url}, {proxies} trusted prox{'y' if proxies == 1 else 'ies'}",
        flush=True,
    )
    web.run_app(app, host=host, port=port, access_log_format=ACCESS_LOG_FORMAT, print=None)
