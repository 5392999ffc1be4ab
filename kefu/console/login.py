"""Logging in and out of the console.

A login is checked against the lockout in the shop database first (:mod:`kefu.console.guard`:
per client address, per agent from that address, per agent across addresses), counted as a
failure *before* the password is checked (so parallel guesses cannot slip past the count; a
success takes it back), and one attempt per client address runs at a time in a process.
Logging out revokes the session in the database: the cookie is worthless from then on, on
every console process and after restarts.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta
from typing import NoReturn

from aiohttp import web
from sqlalchemy.orm import Session

from kefu.config import ConsoleSecurity
from kefu.console import guard
from kefu.console.base import AGENT, CLIENT, CONSOLE, NONCE, cookie_options, in_db, render
from kefu.console.passwords import MAX_PASSWORD_CHARS, verify_password
from kefu.console.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    same,
    session_value,
)

logger = logging.getLogger("kefu.agent_console")
IN_FLIGHT = web.AppKey("login_in_flight", set)  # client addresses with a login being checked


def begin_attempt(
    session: Session, agent: str, address: str, now: datetime, limits: ConsoleSecurity
) -> int:
    """Seconds to wait when the lockout refuses the attempt; else 0, and the attempt is
    recorded as a failure until :func:`attempt_succeeded` takes it back."""
    wait = guard.login_wait(session, agent, address, now, limits)
    if not wait:
        guard.record_failure(session, agent, address, now, limits)
    return wait


def attempt_succeeded(session: Session, agent: str, address: str, now: datetime) -> None:
    """The password was right: the agent's failures from ``address`` (this attempt's too) are
    forgotten, and the login is in the audit log."""
    guard.clear_failures(session, agent, address)
    guard.audit(session, agent, "login", now, address=address)


def _login_page(request: web.Request, status: int = 200, error: str = "", name: str = ""):
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, login_csrf=csrf, error=error, name=name)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=3600, **cookie_options(request))
    return response


def _too_many(request: web.Request, wait: int, name: str) -> web.Response:
    logger.warning("agent console: too many login attempts")
    response = _login_page(
        request,
        429,
        f"尝试次数过多，请 {wait} 秒后再试。 · Too many attempts: try again in {wait} s.",
        name,
    )
    response.headers["Retry-After"] = str(wait)
    return response


async def login_form(request: web.Request) -> web.Response:
    if request[AGENT]:
        raise web.HTTPSeeOther("/")
    return _login_page(request)


async def login(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    if not same(request.cookies.get(LOGIN_CSRF_COOKIE, ""), str(form.get("csrf", ""))):
        return _login_page(
            request, 403, "登录表单已过期，请再试一次。 · The login form has expired: try again."
        )
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))[:MAX_PASSWORD_CHARS]
    known = console.settings.agents.get(name)
    agent = name if known is not None else ""  # failures for nobody count for the address only
    address = request[CLIENT]
    in_flight = request.app[IN_FLIGHT]
    if address in in_flight:  # one attempt at a time per address: no parallel guessing
        return _too_many(request, 1, name)
    in_flight.add(address)
    try:
        now = console.now()
        limits = console.settings.security
        wait = await in_db(request, begin_attempt, agent, address, now, limits)
        if wait:
            return _too_many(request, wait, name)
        # an unknown name costs as much time as a known one
        stored = known or next(iter(console.settings.agents.values()))
        matches = await asyncio.to_thread(verify_password, password, stored)
        if known is None or not matches:
            logger.info("agent console: a login failed")
            return _login_page(request, 401, "用户名或密码不对。 · Wrong name or password.", name)
        await in_db(request, attempt_succeeded, agent, address, now)
    finally:
        in_flight.discard(address)
    redirect = web.HTTPSeeOther("/")
    redirect.set_cookie(
        SESSION_COOKIE,
        session_value(name, console.settings.secret),
        max_age=SESSION_SECONDS,
        **cookie_options(request),
    )
    redirect.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    logger.info("agent console: agent %s logged in", name)
    raise redirect


def _logged_out(session: Session, nonce: str, agent: str, now: datetime, address: str) -> None:
    guard.revoke(session, nonce, agent, now, now + timedelta(seconds=SESSION_SECONDS))
    guard.audit(session, agent, "logout", now, address=address)


async def logout(request: web.Request) -> NoReturn:
    console = request.app[CONSOLE]
    # the cookie is worthless from now on, even if it was copied, on every console process
    await in_db(
        request, _logged_out, request[NONCE], request[AGENT], console.now(), request[CLIENT]
    )
    logger.info("agent console: agent %s logged out", request[AGENT])
    redirect = web.HTTPSeeOther("/login")
    redirect.del_cookie(SESSION_COOKIE, path="/")
    raise redirect
