"""Prometheus metrics and health of the action server, the Rasa server's turn measurements and
the agent console, on real servers (kefu/metrics.py, kefu_rasa/metrics.py)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import aiohttp
import pytest
from prometheus_client import REGISTRY
from sanic import Sanic

from actions.server import create_app
from kefu_rasa import metrics as rasa_metrics
from tests.channels.serving import serving_app
from tests.shop.test_agent_console import console_for  # noqa: F401  (fixture)
from tests.shop.test_service_actions import bot_shop, tracker, user  # noqa: F401  (fixture)

SECRET = "s" * 40
Sanic.test_mode = True
_names = itertools.count()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def action_call(name: str, events: list[dict]) -> dict:
    state = tracker(events)
    return {
        "next_action": name,
        "sender_id": state.sender_id,
        "version": "3.6.2",
        "tracker": {
            "sender_id": state.sender_id,
            "slots": state.slots,
            "latest_message": state.latest_message,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
    }


async def test_the_action_server_counts_actions_errors_and_hand_offs(bot_shop):  # noqa: F811
    app = create_app(SECRET)
    auth = {"Authorization": f"Bearer {SECRET}"}
    before = {
        "ok": sample("kefu_actions_total", action="action_handoff", outcome="ok"),
        "other": sample("kefu_actions_total", action="other", outcome="not_found"),
        "errors": sample("kefu_action_errors_total", action="action_handoff"),
        "handoffs": sample("kefu_handoffs_total", reason="requested"),
        "timed": sample("kefu_action_seconds_count", action="action_handoff"),
    }
    async with serving_app(app) as url, aiohttp.ClientSession() as http:
        call = action_call("action_handoff", [user("转人工", "contact_human_agent")])
        async with http.post(f"{url}/webhook", json=call, headers=auth) as answer:
            assert answer.status == 200
        async with http.post(f"{url}/webhook", json=call | {"next_action": "no_such"},
                             headers=auth) as answer:  # fmt: skip
            assert answer.status == 404
        broken = call | {"tracker": {**call["tracker"], "events": "not a list"}}
        async with http.post(f"{url}/webhook", json=broken, headers=auth) as answer:
            assert answer.status == 500
        async with http.post(f"{url}/webhook", json=call) as answer:  # no secret: not counted
            assert answer.status == 401
        async with http.get(f"{url}/metrics") as answer:
            assert answer.status == 200
            text = await answer.text()
        async with http.get(f"{url}/health") as answer:
            assert answer.status == 200
    assert sample("kefu_actions_total", action="action_handoff", outcome="ok") == before["ok"] + 1
    assert sample("kefu_actions_total", action="other", outcome="not_found") == before["other"] + 1
    assert sample("kefu_action_errors_total", action="action_handoff") == before["errors"] + 1
    assert sample("kefu_action_seconds_count", action="action_handoff") == before["timed"] + 2
    assert sample("kefu_handoffs_total", reason="requested") == before["handoffs"] + 1
    assert 'kefu_actions_total{action="action_handoff",outcome="ok"}' in text
    assert "转人工" not in text and "conv-1" not in text


class FakeProcessor:
    def __init__(self, intent: str, language: str | None, fail: bool = False) -> None:
        self.intent, self.language, self.fail = intent, language, fail

    async def handle_message(self, message):
        if self.fail:
            raise RuntimeError("the action server is down")
        return [{"text": "ok"}]

    async def log_message(self, message, should_save_tracker=True):
        parse = {"intent": {"name": self.intent}, "language": self.language}
        latest = SimpleNamespace(intent=parse["intent"], parse_data=parse)
        return SimpleNamespace(latest_message=latest)


async def test_rasa_turns_are_counted_timed_and_fallbacks_counted_by_language():
    handle = rasa_metrics._measured_turn(FakeProcessor.handle_message)
    log = rasa_metrics._counted_fallbacks(FakeProcessor.log_message)
    message = SimpleNamespace(input_channel="webchat")
    ok = sample("kefu_turns_total", channel="webchat", outcome="ok")
    failed = sample("kefu_turns_total", channel="webchat", outcome="error")
    timed = sample("kefu_turn_seconds_count", channel="webchat")
    fallbacks = sample("kefu_fallbacks_total", language="en")
    await handle(FakeProcessor("greet", "zh"), message)
    with pytest.raises(RuntimeError):
        await handle(FakeProcessor("greet", "zh", fail=True), message)
    await log(FakeProcessor("nlu_fallback", "en"), message)
    await log(FakeProcessor("greet", "en"), message)
    await log(FakeProcessor("nlu_fallback", "klingon"), message)
    assert sample("kefu_turns_total", channel="webchat", outcome="ok") == ok + 1
    assert sample("kefu_turns_total", channel="webchat", outcome="error") == failed + 1
    assert sample("kefu_turn_seconds_count", channel="webchat") == timed + 1
    assert sample("kefu_fallbacks_total", language="en") == fallbacks + 1
    assert sample("kefu_fallbacks_total", language="none") >= 1


def test_rasa_is_instrumented_once():
    from rasa.core.processor import MessageProcessor

    rasa_metrics.instrument()
    wrapped = MessageProcessor.handle_message
    rasa_metrics.instrument()
    assert MessageProcessor.handle_message is wrapped and hasattr(wrapped, "__wrapped__")


async def test_rasa_serves_metrics_and_is_healthy_only_with_a_model():
    app = Sanic(f"kefu_metrics_{next(_names)}", configure_logging=False)
    rasa_metrics.add_routes(app)
    app.ctx.agent = None
    async with serving_app(app) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/metrics") as answer:
            assert answer.status == 200 and "kefu_turns_total" in await answer.text()
        async with http.get(f"{url}/health") as answer:
            assert answer.status == 503  # no model: the balancer sends nothing here
        app.ctx.agent = SimpleNamespace(is_ready=lambda: True)
        async with http.get(f"{url}/health") as answer:
            assert await answer.json() == {"status": "ok", "service": "rasa"}


async def test_the_console_serves_metrics_and_health_without_a_login(
    bot_shop,  # noqa: F811
    console_for,  # noqa: F811
):
    console = await console_for(bot_shop.factory, "http://127.0.0.1:9")
    before = sample("kefu_http_requests_total", service="console", status="2xx")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{console.url}/login") as answer:
            assert answer.status == 200
        async with http.get(f"{console.url}/health") as answer:
            assert await answer.json() == {"status": "ok", "service": "console"}
        async with http.get(f"{console.url}/metrics", allow_redirects=False) as answer:
            assert answer.status == 200
            assert "kefu_http_requests_total" in await answer.text()
        async with http.get(f"{console.url}/", allow_redirects=False) as answer:
            assert answer.status == 303  # everything else still needs a login
    assert sample("kefu_http_requests_total", service="console", status="2xx") >= before + 2
    assert sample("kefu_http_requests_total", service="console", status="3xx") >= 1
