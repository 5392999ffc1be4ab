"""What kefu's small web sites (the demo shop, the agent console) share: signed values,
database work off the event loop and the escaping template environment."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jinja2
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


def html_templates(folder: Path) -> jinja2.Environment:
    """Jinja templates from ``folder``: everything escaped, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
