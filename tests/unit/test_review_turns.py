"""Which customer messages of a conversation are queued for review, and why (kefu.review.turns)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kefu.review.settings import ReviewConfigError, ReviewSettings, load_settings
from kefu.review.turns import review_turns

SETTINGS = ReviewSettings()


def user(text, intent, confidence=0.99, at=0.0, sentiment=0.0, language="zh", entities=()):
    return {
        "event": "user",
        "timestamp": at,
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": list(entities),
            "language": language,
            "sentiment": sentiment,
        },
    }


def action(name, at=0.0):
    return {"event": "action", "timestamp": at, "name": name}


def slot(name, value, at=0.0):
    return {"event": "slot", "timestamp": at, "name": name, "value": value}


def reasons(events, settings=SETTINGS):
    return {turn.text: sorted(turn.reasons) for turn in review_turns(events, settings)}


def test_fallbacks_low_confidence_and_negative_sentiment_are_queued():
    events = [
        {"event": "session_started", "timestamp": 1},
        user("asdfgh", "nlu_fallback", 0.3, at=2),
        user("where is my stuff", "track_order", 0.62, at=3, language="en"),
        user("你们太垃圾了", "complaint", 0.95, at=4, sentiment=-0.8),
        user("谢谢", "thank", 0.98, at=5, sentiment=0.6),
        user("好的", "affirm", 0.9, at=6),
        action("action_default_fallback", at=6.5),  # the core fallback after "好的"
    ]
    assert reasons(events) == {
        "asdfgh": ["fallback"],
        "where is my stuff": ["low_confidence"],
        "你们太垃圾了": ["negative_sentiment"],
        "好的": ["fallback"],
    }


def test_a_hand_off_queues_the_last_messages_of_its_session_not_those_to_the_agent():
    events = [
        {"event": "session_started", "timestamp": 1},
        user("OLD SESSION", "greet", at=2),
        {"event": "session_started", "timestamp": 10},
        user("我的快递呢", "track_order", at=11),
        user("第一句", "inform", at=12),
        user("第二句", "inform", at=13),
        user("转人工", "contact_human_agent", at=14),
        action("action_handoff", at=15),
        slot("handoff_ticket", 7, at=15),
        {"event": "pause", "timestamp": 15},
        user("我的手机13812345678", "inform", 0.2, at=16),  # to the agent: not queued
        {"event": "resume", "timestamp": 20},
        user("after the agent", "nlu_fallback", 0.2, at=21, language="en"),
    ]
    assert reasons(events) == {
        "第一句": ["handoff"],
        "第二句": ["handoff"],
        "转人工": ["handoff"],
        "after the agent": ["fallback"],
    }
    handed = [t for t in review_turns(events, SETTINGS) if "handoff" in t.reasons]
    assert {t.reasons["handoff"] for t in handed} == {15}


def test_a_bad_rating_queues_the_messages_before_it_but_a_good_one_does_not():
    before = [
        user("我想退货", "request_return", at=1),
        user("退货地址在哪", "request_return", at=2),
    ]
    bad = [*before, user('/rate_satisfaction{"rating": "1"}', "rate_satisfaction", at=3)]
    bad[-1]["parse_data"]["entities"] = [{"entity": "rating", "value": "1"}]
    assert reasons(bad) == {"我想退货": ["bad_rating"], "退货地址在哪": ["bad_rating"]}
    typed = [*before, user("很差", "rate_satisfaction", at=3)]
    assert reasons(typed) == {"我想退货": ["bad_rating"], "退货地址在哪": ["bad_rating"]}
    good = [*before, user("五星好评", "rate_satisfaction", at=3)]
    assert reasons(good) == {}


def test_button_payloads_and_empty_messages_are_not_queued():
    events = [
        user('/product_info{"position": "2"}', "product_info", 0.3, at=1),
        user("   ", "nlu_fallback", 0.3, at=2),
        {"event": "user", "timestamp": 3, "text": None},
        "not an event",
    ]
    assert reasons(events) == {}


def test_the_language_is_detected_when_the_parse_data_has_none_and_entities_are_the_words():
    event = user("where is my iphone", "track_order", 0.5, at=1, language=None)
    event["parse_data"]["entities"] = [
        {"entity": "product", "start": 12, "end": 18, "value": "Apple iPhone"},
        {"entity": "broken", "start": 40, "end": 50},
    ]
    (turn,) = review_turns([event], SETTINGS)
    assert turn.language == "en"
    assert turn.entities == [{"entity": "product", "text": "iphone"}]


def test_only_the_configured_reasons_count():
    events = [user("asdfgh", "nlu_fallback", 0.3, at=1, sentiment=-0.9)]
    assert reasons(events, replace(SETTINGS, reasons=("negative_sentiment",))) == {
        "asdfgh": ["negative_sentiment"]
    }
    assert reasons(events, replace(SETTINGS, reasons=("handoff",))) == {}


def test_settings_come_from_review_yml_and_are_checked(tmp_path):
    assert load_settings() == SETTINGS  # the project's review.yml holds the defaults
    path = tmp_path / "review.yml"
    path.write_text("low_confidence: 0.8\nreasons: [fallback]\n", encoding="utf-8")
    assert load_settings(path) == replace(SETTINGS, low_confidence=0.8, reasons=("fallback",))
    for bad in ("low_confidence: 2\n", "reasons: [typo]\n", "unknown: 1\n", "bad_rating: 9\n"):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(ReviewConfigError):
            load_settings(path)
