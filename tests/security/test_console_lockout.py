"""Attacks on the agent console's login, against the real console (an aiohttp server on a free
port) over the shop database (SQLite and PostgreSQL), behind a "proxy": the console trusts the
test client's address (127.0.0.1) as a reverse proxy, and each client's address arrives in
X-Forwarded-For as a proxy would append it.  Each attack must fail to get in, and must not lock
the agents out."""

from __future__ import annotations

import asyncio

import aiohttp
from sqlalchemy import select

from kefu.config import ConsoleSecurity
from kefu.db import session_scope
from kefu.models import ConsoleLoginFailure
from tests.shop.conftest import database_url, factory  # noqa: F401  (fixtures)
from tests.shop.test_agent_console import (  # noqa: F401  (fixtures and helpers)
    PASSWORDS,
    Agent,
    Console,
    console_for,
    rasa,
)

PROXY = ("127.0.0.1",)  # the tests' client is the trusted reverse proxy
ATTACKER = "203.0.113.66"


class ProxiedAgent(Agent):
    """A browser behind the proxy: the proxy appends ``client`` to X-Forwarded-For."""

    def __init__(self, base: str, client: str) -> None:
        self.base = base
        self.csrf = ""
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"X-Forwarded-For": client}
        )


def proxied(console: Console, client: str) -> Agent:
    agent = ProxiedAgent(console.url, client)
    console.agents.append(agent)
    return agent


def failures(factory) -> list[tuple[str, str]]:  # noqa: F811
    with session_scope(factory) as session:
        rows = session.execute(select(ConsoleLoginFailure.agent, ConsoleLoginFailure.address))
        return sorted(tuple(row) for row in rows)


def limits(**overrides) -> ConsoleSecurity:
    values = {
        "trusted_proxies": PROXY,
        "login_failures_per_address": 8,
        "login_failures_per_account": 3,
        "login_account_addresses": 4,
    }
    return ConsoleSecurity(**{**values, **overrides})


async def test_one_address_behind_the_proxy_cannot_lock_the_agents_out(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    console = await console_for(factory, rasa.url, security=limits())
    attacker = proxied(console, ATTACKER)
    statuses = []
    for name in ["alice"] * 4 + ["bob"] * 4 + [f"guess{n}" for n in range(6)]:
        statuses.append((await attacker.login(name, "not-the-password")).status)
    # 3 guesses at alice, 3 at bob, then 2 more names: the address is locked out
    assert statuses[:3] == [401] * 3 and statuses[3] == 429
    assert statuses[4:7] == [401] * 3 and statuses[7] == 429
    assert statuses[8:10] == [401] * 2 and set(statuses[10:]) == {429}
    # even with the right password, or an address of its choice left of the proxy's
    assert (await attacker.login("carol", "whatever-password")).status == 429
    spoofed = proxied(console, f"198.51.100.10, {ATTACKER}")
    assert (await spoofed.login("alice")).status == 429
    # the agents, each from their own address, log in as usual
    for name, address in (("alice", "198.51.100.10"), ("bob", "2001:db8:1::7")):
        page = await proxied(console, address).login(name)
        assert page.status == 303, page.text
    assert {address for _, address in failures(factory)} == {ATTACKER}


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    # the proxy is 10.0.0.1: a request straight from 127.0.0.1 is the client itself
    security = limits(trusted_proxies=("10.0.0.1",), login_failures_per_address=5)
    console = await console_for(factory, rasa.url, security=security)
    statuses = []
    for n in range(7):  # a fresh address in X-Forwarded-For every time
        page = await proxied(console, f"198.51.100.{n}").login(f"guess{n}", "nope-nope")
        statuses.append(page.status)
    assert statuses == [401] * 5 + [429] * 2
    assert {address for _, address in failures(factory)} == {"127.0.0.1"}


async def test_guessing_one_agent_from_many_addresses_locks_only_that_agent(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    console = await console_for(factory, rasa.url, security=limits())
    for n in range(4):  # login_account_addresses
        page = await proxied(console, f"192.0.2.{n}").login("alice", "not-the-password")
        assert page.status == 401
    # alice is locked out everywhere until the window passes: a distributed guess stops
    assert (await proxied(console, "198.51.100.10").login("alice")).status == 429
    assert (await proxied(console, "198.51.100.11").login("bob")).status == 303


async def test_parallel_guesses_from_one_address_cannot_outrun_the_count(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    console = await console_for(factory, rasa.url, security=limits())
    agents = [proxied(console, ATTACKER) for _ in range(12)]
    await asyncio.gather(*(agent.get("/login") for agent in agents))
    pages = await asyncio.gather(
        *(
            agent.post("/login", {"name": "alice", "password": f"guess-{n}"})
            for n, agent in enumerate(agents)
        )
    )
    tried = [page.status for page in pages if page.status == 401]
    assert len(tried) <= 3 and {page.status for page in pages} <= {401, 429}
    assert len(failures(factory)) <= 3


async def test_the_lockout_is_shared_by_every_console_process(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
):
    first = await console_for(factory, rasa.url, security=limits())
    second = await console_for(factory, rasa.url, security=limits())
    for console in (first, second, first):
        assert (await proxied(console, ATTACKER).login("alice", "nope-nope")).status == 401
    assert (await proxied(second, ATTACKER).login("alice")).status == 429
    assert PASSWORDS["alice"] not in str(failures(factory))
