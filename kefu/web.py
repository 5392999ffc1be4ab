"""What kefu's small web sites (the demo shop, the agent console) share: signed values and
database work off the event loop."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import sessionmaker

from kefu.db import session_scope

T = TypeVar("T")
SIGNING_DOMAIN = "kefu-demo-shop"  # separates these MACs from the customer tokens


def sign(secret: str, *parts: str) -> str:
    """HMAC-SHA256 over ``parts`` (domain-separated from the customer tokens), base64url."""
    message = "|".join((SIGNING_DOMAIN, *parts)).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def run_in_session(factory: sessionmaker, work: Callable[..., T], *args: Any) -> T:
    """``work(session, *args)`` in one transaction, on a worker thread."""

    def run() -> T:
        with session_scope(factory) as session:
            return work(session, *args)

    return await asyncio.to_thread(run)
