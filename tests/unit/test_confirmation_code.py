"""A message that is only a confirmation code is a yes (kefu_rasa.confirmation_code)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from kefu.step_up import parse_code
from kefu_rasa.confirmation_code import ConfirmationCodeClassifier, is_code_message


@pytest.mark.parametrize(
    "text",
    ["482913", " 482 913 ", "验证码 482913", "验证码是482-913。", "code: 482913", "４８２９１３"],
)
def test_codes_are_recognised(text):
    assert is_code_message(text)
    assert parse_code(text) == "482913"


@pytest.mark.parametrize(
    "text",
    ["48291", "4829131", "2603020900000004", "我要退货 482913", "3000以内", "", "1" * 5000],
)
def test_other_messages_are_not_codes(text):
    assert not is_code_message(text)


def test_the_classifier_sets_affirm_and_keeps_the_ranking():
    message = Message(
        data={
            "text": "验证码 482913",
            "intent": {"name": "inform", "confidence": 0.9},
            "intent_ranking": [{"name": "inform", "confidence": 0.9}],
        }
    )
    other = Message(data={"text": "有什么新款手机推荐", "intent": {"name": "ask", "confidence": 1}})
    ConfirmationCodeClassifier().process([message, other])
    assert message.get("intent") == {"name": "affirm", "confidence": 1.0}
    assert [r["name"] for r in message.get("intent_ranking")] == ["affirm", "inform"]
    assert other.get("intent")["name"] == "ask"
