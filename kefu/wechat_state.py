"""What the WeChat channel remembers, in this process or in Redis shared by every instance.

Three things (:class:`WeChatState`): signed requests already seen (a replay is refused), messages
already seen (WeChat resends a message it got no answer to, maybe to another instance) and the
API access token (WeChat keeps only the newest one valid, so instances must not each fetch
their own).  Without ``KEFU_REDIS_URL`` they live in this process (``kefu.wechat``'s caches,
the embedded default); with it, in Redis with expiring keys:

* nonces and message ids: ``SET NX PX`` under a hash of the key (no OpenID in clear);
* the access token: one instance at a time refreshes it under a short Redis lock while the others
  wait for the new token, which is stored with its remaining lifetime.  Redis holds it in clear
  (Redis is the deployment's private store, like the database holding the shop's secrets).

A Redis that cannot be reached falls back to this process's caches (logged once a minute), so
WeChat keeps being answered; protection is then per instance until Redis is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kefu.wechat import (
    MAX_SKEW_SECONDS,
    AccessTokenCache,
    Deduplicator,
    NonceCache,
    ReplayedRequest,
)

logger = logging.getLogger(__name__)

REDIS_URL_ENV = "KEFU_REDIS_URL"
RETRY_TTL_SECONDS = 60  # WeChat retries three times, 5 s apart
REFRESH_MARGIN_SECONDS = 300
REFRESH_LOCK_SECONDS = 15  # longer than a token fetch may take (API_TIMEOUT)
WAIT_STEP_SECONDS = 0.1

Fetch = Callable[[], Awaitable[tuple[str, float]]]

# Delete KEYS[1] only while it still holds ARGV[1] (a lock or a token someone else replaced).
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Nonces(Protocol):
    async def check(self, timestamp: str, nonce: str, signature: str, *, body: bytes) -> None:
        """Record a signed request; ``ReplayedRequest`` when it was seen before."""


class Retries(Protocol):
    async def first_time(self, key: str) -> bool:
        """True the first time a message is seen, False for WeChat's retries."""


class Tokens(Protocol):
    async def get(self) -> str:
        """A valid access token (one fetch at a time)."""

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` (WeChat rejected it) unless a newer one replaced it."""


@dataclass
class WeChatState:
    nonces: Nonces
    retries: Retries
    tokens: Tokens | None  # None without app_id and app_secret


# ---- this process -----------------------------------------------------------------------------


class LocalNonces:
    def __init__(self) -> None:
        self.cache = NonceCache()

    async def check(self, timestamp: str, nonce: str, signature: str, *, body: bytes) -> None:
        self.cache.check(timestamp, nonce, signature, body=body)


class LocalRetries:
    def __init__(self) -> None:
        self.cache = Deduplicator(ttl_seconds=RETRY_TTL_SECONDS)

    async def first_time(self, key: str) -> bool:
        return self.cache.first_time(key)


class LocalTokens:
    def __init__(self, fetch: Fetch) -> None:
        self.cache = AccessTokenCache(fetch, refresh_margin=REFRESH_MARGIN_SECONDS)

    async def get(self) -> str:
        return await self.cache.get()

    async def invalidate(self, token: str) -> None:
        self.cache.invalidate(token)


# ---- Redis ------------------------------------------------------------------------------------


class _RedisPart:
    """Common to the Redis-backed parts: keys, the fallback log."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix
        self._last_error_log = float("-inf")

    def key(self, kind: str, value: str) -> str:
        return f"{self.prefix}:{kind}:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:32]}"

    def unavailable(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= 60:
            self._last_error_log = now
            logger.error(
                "wechat: Redis is unavailable (%s); this instance's own caches serve meanwhile",
                type(error).__name__,
            )


def _redis_errors() -> tuple[type[Exception], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError)


class RedisNonces(_RedisPart):
    def __init__(self, client: Any, prefix: str, ttl_seconds: float = MAX_SKEW_SECONDS) -> None:
        super().__init__(client, prefix)
        self.ttl_ms = int(ttl_seconds * 1000)
        self.fallback = LocalNonces()

    async def check(self, timestamp: str, nonce: str, signature: str, *, body: bytes) -> None:
        name = self.key("nonce", f"{timestamp}\0{nonce}\0{signature.lower()}")
        digest = hashlib.sha256(body).digest()
        try:
            if await self.redis.set(name, digest, nx=True, px=self.ttl_ms):
                return
            first = await self.redis.get(name)
        except _redis_errors() as error:
            self.unavailable(error)
            await self.fallback.check(timestamp, nonce, signature, body=body)
            return
        same = first is not None and hmac.compare_digest(first, digest)
        raise ReplayedRequest("timestamp, nonce and signature seen before", same_body=same)


class RedisRetries(_RedisPart):
    def __init__(self, client: Any, prefix: str, ttl_seconds: float = RETRY_TTL_SECONDS) -> None:
        super().__init__(client, prefix)
        self.ttl_ms = int(ttl_seconds * 1000)
        self.fallback = LocalRetries()

    async def first_time(self, key: str) -> bool:
        try:
            return bool(await self.redis.set(self.key("msg", key), b"1", nx=True, px=self.ttl_ms))
        except _redis_errors() as error:
            self.unavailable(error)
            return await self.fallback.first_time(key)


class RedisTokens(_RedisPart):
    """The access token shared by every instance, refreshed by one of them at a time."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        fetch: Fetch,
        *,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        lock_seconds: float = REFRESH_LOCK_SECONDS,
    ) -> None:
        super().__init__(client, prefix)
        self.fetch = fetch
        self.margin = refresh_margin
        self.lock_seconds = lock_seconds
        self.token_key = f"{prefix}:access_token"
        self.lock_key = f"{prefix}:access_token:refresh"
        self._delete_if = client.register_script(_DELETE_IF)
        self.fallback = LocalTokens(fetch)

    async def _stored(self) -> str | None:
        value = await self.redis.get(self.token_key)
        return value.decode("utf-8") if value else None

    async def get(self) -> str:
        try:
            return await self._shared()
        except _redis_errors() as error:
            self.unavailable(error)
            return await self.fallback.get()

    async def _shared(self) -> str:
        deadline = time.monotonic() + self.lock_seconds * 2
        while True:
            token = await self._stored()
            if token:
                return token
            owner = secrets.token_hex(8)
            lock_ms = int(self.lock_seconds * 1000)
            if await self.redis.set(self.lock_key, owner, nx=True, px=lock_ms):
                try:
                    return await self._refresh()
                finally:
                    await self._delete_if(keys=[self.lock_key], args=[owner])
            if time.monotonic() > deadline:
                raise TimeoutError("another instance did not store a new WeChat access token")
            await asyncio.sleep(WAIT_STEP_SECONDS)  # another instance is fetching it

    async def _refresh(self) -> str:
        token = await self._stored()  # stored while this instance waited for the lock
        if token:
            return token
        token, expires_in = await self.fetch()
        if not token:
            raise ValueError("fetch returned an empty access token")
        lifetime = max(0.0, float(expires_in))
        keep_ms = int((lifetime - min(self.margin, lifetime / 2)) * 1000)
        if keep_ms > 0:
            await self.redis.set(self.token_key, token.encode("utf-8"), px=keep_ms)
        return token

    async def invalidate(self, token: str) -> None:
        await self.fallback.invalidate(token)
        try:
            await self._delete_if(keys=[self.token_key], args=[token])
        except _redis_errors() as error:
            self.unavailable(error)


def wechat_state(
    app_id: str | None,
    fetch: Fetch | None,
    environ: Mapping[str, str] | None = None,
    client: Any = None,
) -> WeChatState:
    """Redis-backed state when ``KEFU_REDIS_URL`` is set (or ``client`` given), else local.
    ``fetch`` (None without app credentials) fetches a new access token."""
    environ = os.environ if environ is None else environ
    url = (environ.get(REDIS_URL_ENV) or "").strip()
    if client is None and not url:
        return WeChatState(LocalNonces(), LocalRetries(), LocalTokens(fetch) if fetch else None)
    if client is None:
        from redis import asyncio as redis_asyncio

        client = redis_asyncio.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    account = hashlib.sha256((app_id or "").encode("utf-8")).hexdigest()[:16]
    prefix = f"kefu:wechat:{account}"
    return WeChatState(
        RedisNonces(client, prefix),
        RedisRetries(client, prefix),
        RedisTokens(client, prefix, fetch) if fetch else None,
    )
