"""The review-and-retrain loop end to end: conversations in the tracker store (kefu's encrypted
store, as endpoints.yml configures it) → ``kefu review collect`` → an agent corrects the intent
in the console in a real browser → ``kefu review export`` into the NLU files → a small NLU model
trained on them → the corrected message is understood.

The console runs in this process on a temporary shop database (the review screen needs neither
Rasa nor the project's model); the small model is trained in a subprocess
(tests/browser/review_training.py).  Marked ``model`` with the other browser tests: it needs
Debian's chromium and trains a model.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from playwright.sync_api import Page, expect

from kefu import migrate
from kefu.cli import main
from kefu.config import ConsoleSecurity
from kefu.console.app import create_app
from kefu.console.passwords import MIN_ITERATIONS, hash_password
from kefu.console.settings import ConsoleSettings
from kefu.db import make_engine, make_session_factory, session_scope
from kefu.review import queue
from scripts.stack import ROOT, free_port

pytestmark = pytest.mark.model

AGENT, PASSWORD = "reviewer", "reviewer-password-1"
SECRET = "review-loop-console-secret-" + "x" * 24
MISUNDERSTOOD = "扫码付款一直提示密码不对"  # a payment problem; "密码" reads as a password one
CORRECT = "payment_issue"
PHONE, ORDER = "13912345678", "2602260900000001"
MASKED = "订单<order_no>的iPhone 17付不了款 手机<phone>"
TRAINING_TIMEOUT_S = 600

ACCOUNT = """\
version: "3.1"
nlu:
- intent: recover_password
  examples: |
    - 忘记密码了怎么办
    - 密码忘了
    - 登录密码不记得了
    - 怎么找回密码
    - 密码不对登不上
    - 重置一下密码
- intent: payment_issue
  examples: |
    - 付款失败了
    - 支付不成功
    - 钱扣了订单还是未付款
    - 付不了款
    - 支付宝付款报错
    - 扣了两次款
- intent: get_invoice
  examples: |
    - 我要开发票
    - 能开发票吗
    - 帮我开张发票
    - 公司报销要发票
"""
ORDERS = """\
version: "3.1"
nlu:
- intent: track_order
  examples: |
    - 我的快递到哪了
    - 查一下物流
    - 订单[2510231847305512](order_id)到哪了
    - 什么时候到货
    - 包裹还没到
"""


def said(text: str, intent: str, confidence: float, at: float):
    from rasa.shared.core.events import UserUttered

    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "language": "zh",
        "sentiment": -0.2,
    }
    return UserUttered(text, intent=parse["intent"], parse_data=parse, timestamp=at)


def store_conversations(endpoints: Path) -> None:
    """What the bot lived through: a misunderstood payment problem, then a hand-off."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker

    from kefu_rasa.review_source import open_store, run_coroutine

    domain = Domain.load(str(ROOT / "domain.yml"))
    config = yaml.safe_load(endpoints.read_text(encoding="utf-8"))["tracker_store"]
    store = open_store(config, domain)
    events = [
        SessionStarted(timestamp=1_700_000_000),
        said(MISUNDERSTOOD, "nlu_fallback", 0.38, 1_700_000_001),
        ActionExecuted("action_default_fallback", timestamp=1_700_000_002),
        said(f"订单{ORDER}的iPhone 17付不了款 手机{PHONE}", CORRECT, 0.52, 1_700_000_003),
        said("转人工", "contact_human_agent", 0.99, 1_700_000_004),
        SlotSet("handoff_ticket", 1, timestamp=1_700_000_005),
    ]
    tracker = DialogueStateTracker.from_events("webchat:review-loop", events, domain.slots)
    run_coroutine(store.save(tracker))  # Playwright runs an event loop in this thread
    store.engine.dispose()


@contextmanager
def console_server(factory) -> Iterator[str]:
    """The agent console on ``factory``'s database, served from a thread; its URL."""
    settings = ConsoleSettings(
        agents={AGENT: hash_password(PASSWORD, iterations=MIN_ITERATIONS)},
        secret=SECRET,
        rasa_url="http://127.0.0.1:9",  # the review screen never calls Rasa
        api_token="unused-token-0123456789",
        security=ConsoleSecurity(),
    )
    app, port = create_app(factory, settings), free_port()
    loop, ready = asyncio.new_event_loop(), threading.Event()
    runner = web.AppRunner(app, access_log=None)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30), "the console did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def train_and_parse(nlu: Path, models: Path, *messages: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.browser.review_training", str(nlu), str(models), *messages],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TRAINING_TIMEOUT_S,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def loop_env(tmp_path, monkeypatch):
    """A shop database, an encrypted tracker store and the NLU files, all temporary."""
    monkeypatch.setenv("KEFU_DB_URL", f"sqlite:///{tmp_path}/shop.db")
    monkeypatch.setenv("KEFU_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("KEFU_DATA_KEY_FILE", str(tmp_path / "unused.key"))
    monkeypatch.delenv("KEFU_TRACKER_DB_URL", raising=False)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n  type: kefu_rasa.tracker_store.SQLiteTrackerStore\n"
        f"  db: {tmp_path / 'trackers.db'}\n",
        encoding="utf-8",
    )
    nlu = tmp_path / "data" / "nlu"
    files = {nlu / "zh" / "account.yml": ACCOUNT, nlu / "zh" / "orders.yml": ORDERS}
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    migrate.upgrade()
    engine = make_engine()
    yield endpoints, nlu, make_session_factory(engine)
    engine.dispose()


def log_in_and_correct(page: Page, url: str) -> None:
    """An agent signs in, opens the review queue, corrects the misunderstood message, discards
    "转人工" and confirms the last one with its product."""
    page.goto(url + "/login")
    page.fill('input[name="name"]', AGENT)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-console="login"]')
    page.click('[data-console="review-link"]')
    expect(page.locator('[data-console="review-item"]')).to_have_count(3)
    content = page.locator("main")
    expect(content).to_contain_text(MASKED)
    expect(content).not_to_contain_text(PHONE)
    expect(content).not_to_contain_text(ORDER)
    page.click(f'[data-console="review-text"]:text-is("{MISUNDERSTOOD}")')
    expect(page.locator('[data-console="review-predicted"]')).to_contain_text("nlu_fallback")
    page.select_option('[data-console="review-intent"]', CORRECT)
    page.click('[data-console="review-save"]')
    # the next one, the most recent: a request for a person, nothing to learn
    expect(page.locator('[data-console="review-saved"]')).to_be_visible()
    expect(page.locator('[data-console="review-text"]')).to_have_text("转人工")
    page.click('[data-console="review-discard"]')
    page.click(f'[data-console="review-text"]:text-is("{MASKED}")')
    expect(page.locator('[data-console="review-intent"]')).to_have_value(CORRECT)  # its guess
    page.locator('[data-console="review-entity-name"]').first.select_option("product")
    page.locator('[data-console="review-entity-words"]').first.fill("iPhone 17")
    page.click('[data-console="review-save"]')
    expect(page.locator('[data-console="review-empty"]')).to_be_visible()  # all done
    page.goto(url + "/review?status=annotated")
    expect(page.locator('[data-console="review-item"]')).to_have_count(2)


def test_a_misunderstood_message_is_corrected_in_the_console_and_understood_after_training(
    loop_env, page, tmp_path, capsys
):
    endpoints, nlu, factory = loop_env
    store_conversations(endpoints)
    assert main(["review", "collect", "--endpoints", str(endpoints)]) == 0
    assert "3 new in the queue" in capsys.readouterr().out

    before = train_and_parse(nlu, tmp_path / "before", MISUNDERSTOOD)
    assert before[MISUNDERSTOOD] != CORRECT  # the words mislead a model without the correction

    with console_server(factory) as url:
        log_in_and_correct(page, url)
    with session_scope(factory) as session:
        assert queue.counts(session) == {
            "pending": 0, "annotated": 2, "discarded": 1, "exported": 0
        }  # fmt: skip

    assert main(["review", "export", "--data", str(nlu), "--tests", str(tmp_path / "none")]) == 0
    assert "exported 2 example(s); 0 duplicate(s), 0 conflict(s)" in capsys.readouterr().out
    account = yaml.safe_load((nlu / "zh" / "account.yml").read_text("utf-8"))
    payment = next(b for b in account["nlu"] if b["intent"] == CORRECT)["examples"]
    assert f"- {MISUNDERSTOOD}\n" in payment
    assert "](order_id)的[iPhone 17](product)付不了款 手机[" in payment
    assert PHONE not in payment and ORDER not in payment

    after = train_and_parse(nlu, tmp_path / "after", MISUNDERSTOOD)
    assert after[MISUNDERSTOOD] == CORRECT
