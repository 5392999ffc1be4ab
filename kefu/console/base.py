"""The console's web plumbing: its state, database work off the event loop, rendering, the
security headers, and the middleware that finds the agent (session cookie not revoked), the
client's address (through a trusted proxy) and checks every form's CSRF token."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import jinja2
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from kefu.config import HandoffSettings
from kefu.console import clients, guard
from kefu.console.clients import Network
from kefu.console.rasa import RasaClient
from kefu.console.sessions import SESSION_COOKIE, csrf_token, same, session_agent
from kefu.console.settings import ConsoleSettings
from kefu.web import run_in_session

logger = logging.getLogger("kefu.agent_console")
T = TypeVar("T")

# the Content-Security-Policy of every page: everything from this site, nothing inline
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PUBLIC_PATHS = ("/login", "/static/", "/favicon.ico", "/metrics", "/health")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Console:
    factory: sessionmaker
    settings: ConsoleSettings
    templates: jinja2.Environment
    rasa: RasaClient
    handoff: HandoffSettings
    proxies: tuple[Network, ...] = ()
    clock: Callable[[], datetime] = utc_now  # aware UTC
    last_sweep: float = -math.inf  # time.monotonic() of the last look for departed customers
    sweep_after: int = 0  # the last ticket id the sweep looked at

    def now(self) -> datetime:
        return self.clock()


CONSOLE = web.AppKey("agent_console", Console)
AGENT = "kefu_agent"  # request key: the logged-in agent's name, or None
SESSION = "kefu_agent_session"  # request key: their session cookie (the CSRF tokens' anchor)
NONCE = "kefu_agent_nonce"  # request key: their session's nonce
CLIENT = "kefu_client"  # request key: the client address's bucket (kefu.console.clients)


async def in_db(request: web.Request, work: Callable[..., T], *args: Any) -> T:
    """``work(session, *args)`` in one transaction, on a worker thread."""
    return await run_in_session(request.app[CONSOLE].factory, work, *args)


class Transaction:
    """One database transaction spanning awaits (a call to Rasa in the middle): its work runs
    on worker threads, one step at a time; commit at the end, rollback on any error."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(work, self.session, *args)


@asynccontextmanager
async def transaction(request: web.Request) -> AsyncIterator[Transaction]:
    session = request.app[CONSOLE].factory()
    try:
        yield Transaction(session)
        await asyncio.to_thread(session.commit)
    except BaseException:
        await asyncio.to_thread(session.rollback)
        raise
    finally:
        await asyncio.to_thread(session.close)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    console = request.app[CONSOLE]
    session = request.get(SESSION)
    body = console.templates.get_template(template).render(
        agent=request.get(AGENT),
        csrf=csrf_token(session, console.settings.secret) if session else "",
        **context,
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def message_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "message.html", status=status, title=title, message=message)


def _secure_headers(headers, static: bool = False) -> None:
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cache-Control", "no-cache" if static else "no-store")


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    static = request.path.startswith("/static/")
    try:
        response = await handler(request)
    except web.HTTPException as error:  # redirects and refusals are raised, not returned
        _secure_headers(error.headers, static)
        raise
    _secure_headers(response.headers, static)
    return response


def json_request(request: web.Request) -> bool:
    return request.path.endswith(".json")


def client_bucket(request: web.Request, proxies: tuple[Network, ...]) -> str:
    """The client's address as limits count it; X-Forwarded-For only from a trusted proxy."""
    address = clients.client_address(
        request.remote, request.headers.getall("X-Forwarded-For", []), proxies
    )
    return clients.bucket(address)


def cookie_options(request: web.Request) -> dict[str, Any]:
    """HttpOnly, SameSite=Strict, and ``Secure`` as configured (``console.secure_cookies`` /
    KEFU_CONSOLE_SECURE_COOKIES, on in production), else when the request came over HTTPS,
    directly or as a trusted proxy says."""
    console = request.app[CONSOLE]
    secure = console.settings.security.secure_cookies
    if secure is None:
        secure = request.secure or clients.forwarded_https(
            request.remote, request.headers.getall("X-Forwarded-Proto", []), console.proxies
        )
    return {"httponly": True, "samesite": "Strict", "secure": bool(secure), "path": "/"}


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    """Every page but the login needs an agent's session that was not logged out; every form
    post its CSRF token."""
    console = request.app[CONSOLE]
    request[CLIENT] = client_bucket(request, console.proxies)
    name, nonce = session_agent(request.cookies.get(SESSION_COOKIE), console.settings.secret)
    request[AGENT] = request[SESSION] = request[NONCE] = None
    assets = request.path.startswith(("/static/", "/favicon.ico"))
    if (
        name
        and name in console.settings.agents
        and not assets
        and not await in_db(request, guard.is_revoked, nonce)
    ):
        request[AGENT] = name
        request[SESSION] = request.cookies[SESSION_COOKIE]
        request[NONCE] = nonce
    if request.path.startswith(PUBLIC_PATHS):
        return await handler(request)
    if request[AGENT] is None:
        if json_request(request):
            return web.json_response({"error": "login"}, status=401)
        raise web.HTTPSeeOther("/login")
    if request.method == "POST":
        form = await request.post()
        expected = csrf_token(request[SESSION], console.settings.secret)
        if not same(expected, str(form.get("csrf", ""))):
            return message_page(
                request,
                403,
                "表单已过期 · Form expired",
                "表单已过期：请刷新页面再试。 · The form has expired: reload the page and try "
                "again.",
            )
    return await handler(request)


async def not_found(request: web.Request) -> web.Response:
    return message_page(
        request,
        404,
        "找不到 · Not found",
        "没有这个页面或工单。 · There is no such page or ticket.",
    )


@web.middleware
async def pages_for_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if json_request(request):
            return web.json_response({"error": "not found"}, status=404)
        return await not_found(request)
