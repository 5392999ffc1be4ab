"""The running assistant, over its real REST channel and HTTP API."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
import yaml

from kefu.config import shop_config
from tests.integration.conftest import ROOT

pytestmark = pytest.mark.model

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
HAN = re.compile(r"[\u4e00-\u9fff]")


def variation(name: str, language: str) -> dict:
    """The domain's variation of a response for a language (en is conditional, zh default)."""
    for candidate in RESPONSES[name]:
        is_english = any(c.get("value") == "en" for c in candidate.get("condition", []))
        if is_english == (language == "en"):
            return candidate
    raise KeyError(name)


def test_answers_chinese_greeting_in_chinese(bot):
    assert bot.texts("你好") == [variation("utter_greet", "zh")["text"]]


def test_answers_english_greeting_in_english(bot):
    assert bot.texts("hello") == [variation("utter_greet", "en")["text"]]


def test_follows_the_language_of_the_latest_message(bot):
    sender = uuid.uuid4().hex
    assert bot.texts("hi there", sender) == [variation("utter_greet", "en")["text"]]
    # the first thanks also asks for a rating: once per session
    assert bot.texts("谢谢你", sender) == [
        variation("utter_thank", "zh")["text"],
        variation("utter_ask_csat", "zh")["text"],
    ]
    assert bot.texts("thanks a lot", sender) == [variation("utter_thank", "en")["text"]]


def test_switch_language_is_kept_until_changed(bot):
    sender = uuid.uuid4().hex
    assert bot.texts("请用英文回复我", sender) == [
        variation("utter_language_switched", "en")["text"]
    ]
    # the customer keeps writing Chinese but asked for English replies
    assert bot.texts("谢谢", sender) == [
        variation("utter_thank", "en")["text"],
        variation("utter_ask_csat", "en")["text"],
    ]
    assert bot.texts("switch back to chinese please", sender) == [
        variation("utter_language_switched", "zh")["text"]
    ]
    assert bot.texts("thank you", sender) == [variation("utter_thank", "zh")["text"]]


def test_help_lists_real_contact_details_with_buttons(bot):
    messages = bot.say("what can you do?")
    assert len(messages) == 1
    service = shop_config().customer_service
    assert service.hotline in messages[0]["text"]
    assert service.hours.en in messages[0]["text"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert '/switch_language{"language": "en"}' in payloads


def test_help_button_switches_language(bot):
    sender = uuid.uuid4().hex
    bot.say("你能做什么", sender)
    assert bot.texts('/switch_language{"language": "en"}', sender) == [
        variation("utter_language_switched", "en")["text"]
    ]


def test_bot_challenge_is_honest(bot):
    [text] = bot.texts("are you a real person or a bot?")
    assert "not a person" in text


def test_out_of_scope_redirects_politely(bot):
    assert bot.texts("明天北京天气怎么样") == [variation("utter_out_of_scope", "zh")["text"]]


def test_unsupported_language_gets_a_bilingual_apology(bot):
    expected = [RESPONSES["utter_unsupported_language"][0]["text"]]
    assert bot.texts("こんにちは、注文はどこですか") == expected
    assert bot.texts("Здравствуйте, где мой заказ?") == expected


def test_fallback_answers_or_asks_to_rephrase_once_then_hands_over_to_a_person(bot):
    """Words the model never saw fall back (customers cannot type "/nlu_fallback" any more):
    the first time the shop's knowledge answers or the bot asks to rephrase, the second time a
    person takes over."""
    sender = uuid.uuid4().hex
    leads = [  # in office hours the queue position, outside them when a person will answer
        variation(response, "zh")["text"].split("{")[0]
        for response in ("utter_handoff_queued", "utter_handoff_after_hours")
    ]
    [first] = bot.texts("䨻龘齉靐", sender)
    assert first and not any(first.startswith(lead) for lead in leads)
    [handed_over] = bot.texts("齉靐䨻龘", sender)
    assert any(handed_over.startswith(lead) for lead in leads)
    assert bot.texts("还在吗", sender) == []  # the bot leaves the conversation to the person


@pytest.mark.parametrize(
    "text",
    ["", "   ", "👍👍👍", "\x00\x07\x1b[31m", "我要买手机" * 2000, "a" * 10_000, "?" * 500],
)
def test_odd_messages_get_a_polite_answer_not_an_error(bot, text):
    messages = bot.say(text)
    for message in messages:
        assert "Traceback" not in message.get("text", "")
        assert "Exception" not in message.get("text", "")


def test_malformed_json_is_a_client_error(bot):
    response = requests.post(
        f"{bot.url}/webhooks/rest/webhook",
        data=b'{"sender": "x", "message": ',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text


def test_http_api_requires_the_token(bot):
    assert requests.get(f"{bot.url}/status", timeout=10).status_code in (401, 403)
    assert requests.get(f"{bot.url}/status", params={"token": "wrong"}, timeout=10).status_code in (
        401,
        403,
    )
    assert requests.get(f"{bot.url}/status", params={"token": bot.token}, timeout=10).ok
