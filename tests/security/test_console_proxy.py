"""The client address behind a trusted proxy, and the ``Secure`` cookie flag from configuration
(it must survive a TLS-terminating proxy, where the console itself sees plain HTTP)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import aiohttp
import pytest

from kefu.config import ConfigError, ConsoleSecurity, load_shop_config
from kefu.console.clients import bucket, client_address, parse_address, parse_networks
from kefu.console.settings import ConsoleConfigError, load_settings, security_settings
from tests.shop.conftest import database_url, factory  # noqa: F401  (fixtures)
from tests.shop.test_agent_console import (  # noqa: F401  (fixtures and helpers)
    CSRF,
    HASHES,
    PASSWORDS,
    SECRET,
    SESSION_COOKIE,
    TOKEN,
    console_for,
    rasa,
)

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8:ffff::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),  # not a proxy: the header is ignored
        ("10.0.0.2", [], "10.0.0.2"),  # a proxy that says nothing
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["1.1.1.1, 203.0.113.9"], "203.0.113.9"),  # the client's own entry
        ("10.0.0.2", ["1.1.1.1", "203.0.113.9, 10.0.0.3"], "203.0.113.9"),  # two proxies
        ("10.0.0.2", ["10.0.0.4, 10.0.0.3"], "10.0.0.4"),  # all proxies: the first of them
        ("10.0.0.2", ["203.0.113.9:5555"], "203.0.113.9"),
        ("10.0.0.2", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("2001:db8:ffff::1", ["::ffff:203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["evil, 203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["203.0.113.9, junk"], None),  # a proxy forwarded garbage: nobody known
        ("::ffff:10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote(peer, forwarded, client):
    found = client_address(peer, forwarded, PROXIES)
    assert (None if found is None else str(found)) == client


def test_limits_count_ipv6_clients_by_their_64():
    assert bucket(parse_address("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    assert bucket(parse_address("2001:db8:1:2:bbbb::9")) == "2001:db8:1:2::/64"
    assert bucket(parse_address("203.0.113.9")) == "203.0.113.9"
    assert bucket(None) == "unknown"


def test_trusted_proxies_and_secure_cookies_come_from_configuration(tmp_path):
    base = ConsoleSecurity(trusted_proxies=("10.0.0.1",))
    assert security_settings({}, base).trusted_proxies == ("10.0.0.1",)
    env = {"KEFU_TRUSTED_PROXIES": "10.1.0.0/16, 10.2.0.1"}
    assert security_settings(env, base).trusted_proxies == ("10.1.0.0/16", "10.2.0.1")
    assert security_settings({}, base).secure_cookies is None  # from the request
    assert security_settings({"KEFU_PROFILE": "production"}, base).secure_cookies is True
    production_off = {"KEFU_PROFILE": "production", "KEFU_CONSOLE_SECURE_COOKIES": "0"}
    assert security_settings(production_off, base).secure_cookies is False
    assert security_settings({"KEFU_CONSOLE_SECURE_COOKIES": "1"}, base).secure_cookies is True
    with pytest.raises(ConsoleConfigError, match="KEFU_TRUSTED_PROXIES"):
        security_settings({"KEFU_TRUSTED_PROXIES": "10.0.0.0/33"}, base)
    with pytest.raises(ConsoleConfigError, match="KEFU_CONSOLE_SECURE_COOKIES"):
        security_settings({"KEFU_CONSOLE_SECURE_COOKIES": "maybe"}, base)
    good = {
        "KEFU_AGENT_SECRET": SECRET,
        "KEFU_AGENTS": f"alice:{HASHES['alice']}",
        "KEFU_API_TOKEN": TOKEN,
        "KEFU_TRUSTED_PROXIES": "127.0.0.1",
        "KEFU_PROFILE": "production",
    }
    settings = load_settings(None, good)
    assert settings.security.trusted_proxies == ("127.0.0.1",)
    assert settings.security.secure_cookies is True
    project = load_shop_config().console
    assert project.queue_page_size == 20 and project.trusted_proxies == ()
    base_yml = (
        "shop: {name: {zh: 店, en: Shop}}\n"
        "customer_service: {hotline: '1', email: a@b, hours: {zh: 全天, en: all day}}\n"
        "storefront: {how_to_buy: {zh: [买], en: [Buy]}}\n"
    )
    for bad in ("console: {trusted_proxies: [not-an-ip]}", "console: {secure_cookies: often}"):
        path = tmp_path / "bad.yml"
        path.write_text(base_yml + bad + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="console"):
            load_shop_config(path)


async def _login_cookie(url: str, headers: dict[str, str]) -> SimpleCookie:
    """Log in as a browser would over HTTPS: cookies are sent back even when ``Secure`` (the
    test talks plain HTTP to the console, as a TLS-terminating proxy does)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), headers=headers) as http:
        async with http.get(f"{url}/login") as form:
            csrf_cookie = SimpleCookie(form.headers["Set-Cookie"])["kefu_agent_csrf"]
            token = CSRF.search(await form.text()).group(1)
        async with http.post(
            f"{url}/login",
            data={"csrf": token, "name": "alice", "password": PASSWORDS["alice"]},
            headers={"Cookie": f"kefu_agent_csrf={csrf_cookie.value}"},
            allow_redirects=False,
        ) as page:
            assert page.status == 303
            assert bool(csrf_cookie["secure"]) is bool(
                SimpleCookie(page.headers["Set-Cookie"])[SESSION_COOKIE]["secure"]
            )
            return SimpleCookie(page.headers["Set-Cookie"])[SESSION_COOKIE]


@pytest.mark.parametrize(
    ("security", "headers", "secure"),
    [
        (ConsoleSecurity(secure_cookies=True), {}, True),  # configured: plain HTTP behind TLS
        (ConsoleSecurity(secure_cookies=False), {"X-Forwarded-Proto": "https"}, False),
        (ConsoleSecurity(), {}, False),  # development over plain HTTP
        (  # the trusted proxy says the client came over HTTPS
            ConsoleSecurity(trusted_proxies=("127.0.0.1",)),
            {"X-Forwarded-Proto": "https"},
            True,
        ),
        (ConsoleSecurity(), {"X-Forwarded-Proto": "https"}, False),  # anyone can say so
    ],
)
async def test_the_secure_flag_comes_from_configuration_not_the_scheme_alone(
    factory,  # noqa: F811
    rasa,  # noqa: F811
    console_for,  # noqa: F811
    security,
    headers,
    secure,
):
    console = await console_for(factory, rasa.url, security=security)
    cookie = await _login_cookie(console.url, headers)
    assert bool(cookie["secure"]) is secure
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
