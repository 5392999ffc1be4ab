"""General questions that the classifier reads as an order task are answered without an order."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.order_form import ValidateOrderForm
from actions.orders import ActionOrderTask, ActionStartOrderTask
from kefu.general_question import ANSWERED_QUESTION
from kefu.knowledge.answer import ANSWER, KnowledgeAnswer


def tracker(text: str, intent: str, language: str = "zh", **slots) -> Tracker:
    return Tracker(
        sender_id="test",
        slots={"language": language, **slots},
        latest_message={"text": text, "intent": {"name": intent}, "entities": []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def start(text: str, intent: str, language: str = "zh"):
    dispatcher = CollectingDispatcher()
    events = await ActionStartOrderTask().run(dispatcher, tracker(text, intent, language), {})
    return dispatcher.messages, events


@pytest.mark.parametrize(
    "text, intent, language, expected",
    [
        ("企业能开增值税发票吗", "get_invoice", "zh", "增值税专用发票"),
        ("how long until a refund reaches my card", "get_refund", "en", "refund"),
        ("取消订单要收手续费吗", "cancel_order", "zh", "取消"),
    ],
)
async def test_a_general_question_is_answered_from_the_policies(text, intent, language, expected):
    messages, events = await start(text, intent, language)
    assert events == [SlotSet("order_task", ANSWERED_QUESTION)]
    assert len(messages) == 1 and expected in messages[0]["text"]


@pytest.mark.parametrize(
    "text, intent",
    [
        ("我要开发票", "get_invoice"),
        ("我的订单能开发票吗", "get_invoice"),
        ("I want a refund", "get_refund"),
    ],
)
async def test_a_request_or_a_question_about_an_order_starts_the_task(text, intent):
    messages, events = await start(text, intent)
    assert messages == []
    assert SlotSet("order_task", intent) in events


async def test_the_order_form_then_asks_nothing_and_the_task_says_nothing_more():
    answered = tracker("企业能开增值税发票吗", "get_invoice", order_task=ANSWERED_QUESTION)
    dispatcher = CollectingDispatcher()
    slots = await ValidateOrderForm().required_slots(["order_no"], dispatcher, answered, {})
    assert slots == []
    events = await ActionOrderTask().run(dispatcher, answered, {})
    assert events == [SlotSet("order_task", None)]
    assert dispatcher.messages == []


async def test_a_general_question_beside_an_order_task_is_answered_and_the_task_goes_on(
    monkeypatch,
):
    asked = []

    async def shop_answer(text, language):
        asked.append(text)
        return KnowledgeAnswer(ANSWER, f"答：{text}", language)

    monkeypatch.setattr("actions.orders.knowledge_answer", shop_answer)
    messages, events = await start("帮我查下物流，再问下能开发票吗", "track_order")
    assert asked == ["能开发票吗"]  # the order part is no general question
    assert [m["text"] for m in messages] == ["答：能开发票吗"]
    assert SlotSet("order_task", "track_order") in events
