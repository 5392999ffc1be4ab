"""Read the development outbox (kefu.notify.OutboxNotifier) that the test servers write to:
the confirmation codes and change notices sent to customers' phones and e-mails."""

from __future__ import annotations

import json
import re
from pathlib import Path


def messages(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def latest_code(path: Path, about: str) -> str:
    """The newest code whose text mentions ``about`` (an order number, "账户"/"account")."""
    for message in reversed(messages(path)):
        if message["tag"].startswith("code:") and about in message["text"]:
            return re.search(r"\d{6}", message["text"]).group()
    raise AssertionError(f"no confirmation code about {about!r} in {path}")


def notices(path: Path, about: str) -> list[dict]:
    """Change notices ("done:…") whose text mentions ``about``."""
    return [m for m in messages(path) if m["tag"].startswith("done:") and about in m["text"]]
