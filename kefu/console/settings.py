"""The console's settings: agents, secrets and the bot server from the environment; proxies,
cookies, the queue's page size and the login lockout from shop.yml (``console``), the
environment overriding (``KEFU_TRUSTED_PROXIES``, ``KEFU_CONSOLE_SECURE_COOKIES``,
``KEFU_PROFILE=production``)."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kefu.config import ConsoleSecurity, shop_config
from kefu.console.clients import Network, parse_networks, split_list
from kefu.console.passwords import parse_password_hash
from kefu.demo.site import resolve_bot_url

AGENTS_ENV = "KEFU_AGENTS"
SECRET_ENV = "KEFU_AGENT_SECRET"
API_TOKEN_ENV = "KEFU_API_TOKEN"
TRUSTED_PROXIES_ENV = "KEFU_TRUSTED_PROXIES"
SECURE_COOKIES_ENV = "KEFU_CONSOLE_SECURE_COOKIES"
PROFILE_ENV = "KEFU_PROFILE"
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
MIN_SECRET_BYTES = 32
RASA_TIMEOUT_SECONDS = 10.0
AGENT_NAME = re.compile(r"[\w.@-]{1,64}")  # \w includes CJK: "小李"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConsoleConfigError(ValueError):
    """The console cannot start: a setting is missing or malformed."""


def parse_agents(value: str | None) -> dict[str, str]:
    """``KEFU_AGENTS`` as ``{name: password hash}``; ConsoleConfigError naming the bad entry
    (never its hash)."""
    agents: dict[str, str] = {}
    for number, item in enumerate((value or "").split(","), start=1):
        item = item.strip()
        if not item:
            continue
        name, colon, encoded = item.partition(":")
        name = name.strip()
        if not colon or not AGENT_NAME.fullmatch(name):
            raise ConsoleConfigError(
                f"{AGENTS_ENV}: entry {number} must be name:password_hash, with a name of 1 to "
                "64 letters, digits or . _ @ -"
            )
        if name in agents:
            raise ConsoleConfigError(f"{AGENTS_ENV}: agent {name!r} is listed twice")
        try:
            parse_password_hash(encoded)
        except ValueError as error:
            raise ConsoleConfigError(
                f"{AGENTS_ENV}: the password hash of agent {name!r} is not valid: {error} "
                "(make one with `kefu agent hash-password`)"
            ) from None
        agents[name] = encoded.strip()
    return agents


def _shop_security() -> ConsoleSecurity:
    return shop_config().console


@dataclass(frozen=True)
class ConsoleSettings:
    agents: Mapping[str, str]  # name → password hash
    secret: str = field(repr=False)
    rasa_url: str = DEFAULT_RASA_URL
    api_token: str = field(default="", repr=False)
    rasa_timeout: float = RASA_TIMEOUT_SECONDS
    security: ConsoleSecurity = field(default_factory=_shop_security)

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        return parse_networks(self.security.trusted_proxies)


def _secure_cookies(environ: Mapping[str, str], configured: bool | None) -> bool | None:
    value = environ.get(SECURE_COOKIES_ENV, "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    if value not in ("", "auto"):
        raise ConsoleConfigError(f"{SECURE_COOKIES_ENV} must be 1, 0 or auto, not {value!r}")
    if configured is not None:
        return configured
    return True if environ.get(PROFILE_ENV, "").strip() == "production" else None


def security_settings(
    environ: Mapping[str, str], base: ConsoleSecurity | None = None
) -> ConsoleSecurity:
    """shop.yml's ``console`` settings with the environment's overrides applied."""
    base = base or _shop_security()
    proxies = base.trusted_proxies
    if TRUSTED_PROXIES_ENV in environ:
        proxies = tuple(split_list(environ[TRUSTED_PROXIES_ENV]))
    try:
        parse_networks(proxies)
    except ValueError as error:
        raise ConsoleConfigError(f"{TRUSTED_PROXIES_ENV}: {error}") from None
    return dataclasses.replace(
        base,
        trusted_proxies=proxies,
        secure_cookies=_secure_cookies(environ, base.secure_cookies),
    )


def load_settings(
    rasa_url: str | None = None, environ: Mapping[str, str] | None = None
) -> ConsoleSettings:
    """The settings from the environment; ConsoleConfigError with what to do when the secret,
    the agents or the API token are missing or malformed."""
    environ = os.environ if environ is None else environ
    secret = environ.get(SECRET_ENV, "")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        state = "is not set" if not secret else f"has {len(secret.encode('utf-8'))} bytes"
        raise ConsoleConfigError(
            f"{SECRET_ENV} {state}: set it to a random secret of at least {MIN_SECRET_BYTES} "
            "bytes (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    agents = parse_agents(environ.get(AGENTS_ENV))
    if not agents:
        raise ConsoleConfigError(
            f"{AGENTS_ENV} lists no agents: set it to name:password_hash pairs, comma "
            "separated; `kefu agent hash-password` prints a hash"
        )
    token = environ.get(API_TOKEN_ENV, "")
    if not token:
        raise ConsoleConfigError(
            f"{API_TOKEN_ENV} is not set: the console needs the token of the Rasa server's HTTP "
            "API (scripts/run.sh keeps it in .kefu/api_token)"
        )
    try:
        url = resolve_bot_url(rasa_url or DEFAULT_RASA_URL)
    except ValueError as error:
        raise ConsoleConfigError(str(error)) from None
    return ConsoleSettings(
        agents=agents,
        secret=secret,
        rasa_url=url,
        api_token=token,
        security=security_settings(environ),
    )
