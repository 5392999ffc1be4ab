"""The web chat in a real browser: scripts/run.sh (Rasa, actions, demo shop) and headless chromium.

Debian's chromium (/usr/bin/chromium) is driven by Playwright; no browser is downloaded.  Every
test leaves a screenshot in results/screenshots/<test>.png, taken at its end (pass or fail).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from scripts.stack import ROOT
from tests.conftest import IDENTITY_SECRET

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "results" / "screenshots"
REPLY_TIMEOUT_MS = 60_000

# the shared servers (tests/conftest.py) accept customer tokens signed with this secret; the demo
# shop signs its logins with it
__all__ = ["IDENTITY_SECRET"]

# a turn is over when a new bot message is there and the log is no longer aria-busy (the widget
# sets it from bot_typing {on: true} to {on: false}, which the server sends after the replies)
TURN_OVER = """(before) => {
  const rows = document.querySelectorAll('[data-kefu="message"][data-from="bot"]');
  const log = document.querySelector('[data-kefu="log"]');
  return rows.length > before && log.getAttribute('aria-busy') !== 'true';
}"""


@dataclass
class Reply:
    """What the bot said in one turn."""

    texts: list[str]
    quick_replies: list[str]  # button titles
    cards: list[Locator]


class Chat:
    """The demo shop with the web chat, driven like a customer would."""

    def __init__(self, page: Page, shop_url: str) -> None:
        self.page = page
        self.shop_url = shop_url
        self.launcher = page.locator('[data-kefu="launcher"]')
        self.panel = page.locator('[data-kefu="panel"]')
        self.input = page.locator('[data-kefu="input"]')
        self.toggle = page.locator('[data-kefu="lang-toggle"]')
        self.bot_rows = page.locator('[data-kefu="message"][data-from="bot"]')
        self.user_messages = page.locator('[data-kefu="user-message"]')

    def visit(self, path: str = "/") -> None:
        self.page.goto(self.shop_url + path)
        expect(self.launcher).to_be_visible()

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()
        expect(self.launcher).to_have_attribute("aria-expanded", "true")

    def mark(self) -> int:
        """The number of bot messages so far, to wait for the next reply."""
        return self.bot_rows.count()

    def wait_for_reply(self, before: int) -> Reply:
        """Waits until the turn after ``before`` bot messages is over; returns its messages."""
        self.page.wait_for_function(TURN_OVER, arg=before, timeout=REPLY_TIMEOUT_MS)
        rows = [self.bot_rows.nth(i) for i in range(before, self.bot_rows.count())]
        texts = [t for row in rows for t in row.locator('[data-kefu="text"]').all_inner_texts()]
        replies = [
            t for row in rows for t in row.locator('[data-kefu="quick-reply"]').all_inner_texts()
        ]
        cards = [row.locator('[data-kefu="card"]') for row in rows]
        cards = [found.nth(i) for found in cards for i in range(found.count())]
        return Reply(texts, replies, cards)

    def ask(self, text: str) -> Reply:
        """Types ``text``, sends it with Enter and waits for the whole answer."""
        before = self.mark()
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.user_messages.last).to_have_text(text)
        return self.wait_for_reply(before)

    def transcript(self) -> list[tuple[str, str]]:
        rows = self.page.locator('[data-kefu="message"]')
        return [
            (rows.nth(i).get_attribute("data-from"), rows.nth(i).inner_text())
            for i in range(rows.count())
        ]

    def stored(self) -> dict:
        """What the widget keeps in the shop page's localStorage."""
        raw = self.page.evaluate(
            "() => { const k = Object.keys(localStorage).find(k => k.startsWith('kefu-chat:'));"
            " return k ? localStorage.getItem(k) : null; }"
        )
        return json.loads(raw) if raw else {}


@pytest.fixture(scope="session")
def stack(kefu_stack):
    return kefu_stack[0]


@pytest.fixture(scope="package")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


def _screenshot_name(request) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + ".png"


@pytest.fixture
def page_options() -> dict:
    """Browser context options; a test overrides this fixture for another device."""
    return {"viewport": {"width": 1280, "height": 860}, "locale": "zh-CN"}


@contextmanager
def watched_page(browser: Browser, options: dict, screenshot: Path) -> Iterator[Page]:
    """A page in a fresh browser profile (empty localStorage and cookies); at the end a
    full-page screenshot is saved and the test fails on any script error or CSP violation."""
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    assert not errors, f"script errors or CSP violations in {page.url}: {errors}"


@pytest.fixture
def page(browser: Browser, page_options: dict, request):
    """A fresh browser profile for one test; screenshot <test>.png at the end."""
    with watched_page(browser, page_options, SCREENSHOTS / _screenshot_name(request)) as page:
        yield page


@pytest.fixture
def chat(page: Page, stack) -> Chat:
    return Chat(page, stack.shop_url)
