"""Hand-off, complaint and satisfaction actions against a real shop database (SQLite and
PostgreSQL): the exact events, the messages, and what is stored."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import actions.common
import actions.service
import actions.session
from actions.service import (
    ActionAskCsat,
    ActionHandleComplaint,
    ActionHandoff,
    ActionRecordCsat,
    session_record,
)
from actions.session import ActionSessionStart
from kefu import handoff
from kefu.db import session_scope
from kefu.models import CsatRating, HandoffTicket

OPEN = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)  # Monday 11:00 in Shanghai
CLOSED = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)  # Monday 23:00 in Shanghai


@pytest.fixture
def bot_shop(shop, monkeypatch):
    monkeypatch.setattr(actions.common, "_sessions", shop.factory)
    monkeypatch.setattr(actions.service, "current_time", lambda: OPEN)
    return shop


def user(text, intent, sentiment=0.0, entities=(), at=1.0):
    parse = {"intent": {"name": intent}, "entities": list(entities), "sentiment": sentiment}
    return {"event": "user", "text": text, "parse_data": parse, "timestamp": at}


def bot(text, at=1.0):
    return {"event": "bot", "text": text, "timestamp": at}


def tracker(events, slots=None, sender="conv-1", channel="webchat"):
    users = [e for e in events if e["event"] == "user"]
    latest = users[-1]["parse_data"] | {"text": users[-1]["text"]} if users else {}
    for e in users:
        e["input_channel"] = channel
    return Tracker(
        sender_id=sender,
        slots={"language": "zh", **(slots or {})},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(action, tracker_):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker_, {})
    return dispatcher.messages, events


def tickets(shop):
    with session_scope(shop.factory) as session:
        return session.execute(select(HandoffTicket)).scalars().all()


def ratings(shop):
    with session_scope(shop.factory) as session:
        return session.execute(select(CsatRating)).scalars().all()


async def test_asking_for_a_person_opens_a_ticket_and_pauses_the_bot(bot_shop):
    events = [
        user("我的快递三天没动了", "track_order", -0.4),
        bot("请提供订单号"),
        user("转人工", "contact_human_agent", -0.2),
    ]
    messages, result = await run(ActionHandoff(), tracker(events))
    (ticket,) = tickets(bot_shop)
    assert result == [SlotSet("handoff_ticket", ticket.id), ConversationPaused()]
    assert messages[0]["response"] == "utter_handoff_queued"
    assert messages[0]["position"] == 1
    assert ticket.reason == "requested" and ticket.channel == "webchat"
    assert ticket.intents == ["track_order", "contact_human_agent"]
    assert [t["who"] for t in ticket.transcript] == ["customer", "bot", "customer"]
    assert ticket.sentiment == pytest.approx(-0.3)


async def test_asking_twice_keeps_one_ticket_and_a_second_customer_queues_behind(bot_shop):
    events = [user("人工客服", "contact_human_agent")]
    await run(ActionHandoff(), tracker(events))
    await run(ActionHandoff(), tracker(events))
    messages, _ = await run(ActionHandoff(), tracker(events, sender="conv-2"))
    assert len(tickets(bot_shop)) == 2
    assert messages[0]["position"] == 2


async def test_outside_office_hours_the_customer_learns_when_someone_answers(bot_shop, monkeypatch):
    monkeypatch.setattr(actions.service, "current_time", lambda: CLOSED)
    messages, _ = await run(ActionHandoff(), tracker([user("human please", "contact_human_agent")]))
    assert messages[0]["response"] == "utter_handoff_after_hours"
    assert messages[0]["opening"] == "12月1日（周二）09:00"


async def test_two_fallbacks_in_a_row_hand_off_for_that_reason(bot_shop):
    events = [user("asdf qwer", "nlu_fallback"), bot("?"), user("zxcv", "nlu_fallback")]
    await run(ActionHandoff(), tracker(events))
    assert tickets(bot_shop)[0].reason == "fallbacks"


async def test_a_mild_complaint_gets_an_apology_and_no_ticket(bot_shop):
    events = [user("包装有点压坏了", "complaint", -0.2)]
    messages, result = await run(ActionHandleComplaint(), tracker(events))
    assert result == []
    assert messages[0]["response"] == "utter_complaint_sorry"
    assert tickets(bot_shop) == []


async def test_a_strong_complaint_goes_to_a_person_at_once(bot_shop):
    events = [user("垃圾东西 气死我了 退钱！！", "complaint", -0.9)]
    messages, result = await run(ActionHandleComplaint(), tracker(events))
    assert messages[0]["response"] == "utter_handoff_queued"
    assert tickets(bot_shop)[0].reason == "complaint"
    assert ConversationPaused() in result


async def test_the_rating_is_asked_once_per_session(bot_shop):
    events = [user("谢谢", "thank", 0.6)]
    messages, result = await run(ActionAskCsat(), tracker(events))
    assert messages[0]["response"] == "utter_ask_csat"
    assert [b["payload"] for b in messages[0]["buttons"]][4] == '/rate_satisfaction{"rating": "5"}'
    assert result == [SlotSet("csat_asked", True)]
    assert await run(ActionAskCsat(), tracker(events, {"csat_asked": True})) == ([], [])


async def test_a_rating_with_a_comment_is_stored_with_the_conversation(bot_shop):
    events = [
        user("有什么新款手机", "recommend_product", 0.0),
        {"event": "pause", "timestamp": 2.0},
        user("5分 客服很耐心", "rate_satisfaction", 0.8, [{"entity": "rating", "value": "5"}]),
    ]
    messages, result = await run(ActionRecordCsat(), tracker(events))
    (rating,) = ratings(bot_shop)
    assert (rating.rating, rating.comment, rating.human_involved) == (5, "5分 客服很耐心", True)
    assert rating.intents == ["recommend_product"] and rating.channel == "webchat"
    assert messages[0]["response"] == "utter_csat_thanks"
    assert result == [SlotSet("csat_asked", True)]


@pytest.mark.parametrize(
    ("text", "response"),
    [("10分", "utter_csat_out_of_range"), ("0", "utter_csat_out_of_range"), ("嗯", None)],
)
async def test_a_rating_outside_one_to_five_is_asked_again(bot_shop, text, response):
    events = [user(text, "rate_satisfaction")]
    messages, result = await run(ActionRecordCsat(), tracker(events))
    assert messages[0]["response"] == (response or "utter_csat_not_understood")
    assert result == [] and ratings(bot_shop) == []


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("10/10", "utter_csat_out_of_range"),
        ("2/5", "utter_csat_sorry"),
        ("zxqv", "utter_ask_rephrase"),
    ],
)
async def test_an_unclear_answer_to_the_rating_question_is_read_as_a_rating(
    bot_shop, text, response
):
    messages, _ = await run(ActionRecordCsat(), tracker([user(text, "nlu_fallback")]))
    assert messages[0]["response"] == response
    assert len(ratings(bot_shop)) == (1 if text == "2/5" else 0)


@pytest.mark.parametrize(
    ("text", "entities", "response"),
    [
        ("4/5", [], "utter_csat_thanks"),
        ("10/10", [], "utter_csat_out_of_range"),
        ("blue", [], "utter_inform_without_context"),
        (
            "2512031847720653",
            [{"entity": "order_id", "value": "2512031847720653"}],
            "utter_inform_without_context",
        ),
    ],
)
async def test_a_bare_value_after_the_rating_question(bot_shop, text, entities, response):
    events = [user(text, "inform", entities=entities)]
    messages, _ = await run(ActionRecordCsat(), tracker(events))
    assert messages[0]["response"] == response
    assert len(ratings(bot_shop)) == (1 if text == "4/5" else 0)


async def test_a_poor_rating_from_a_button_offers_a_person(bot_shop):
    events = [user('/rate_satisfaction{"rating": "2"}', "rate_satisfaction", 0.0)]
    events[0]["parse_data"]["entities"] = [{"entity": "rating", "value": "2"}]
    messages, _ = await run(ActionRecordCsat(), tracker(events))
    assert messages[0]["response"] == "utter_csat_sorry"
    (rating,) = ratings(bot_shop)
    assert rating.rating == 2 and rating.comment is None


def test_the_session_record_starts_at_the_last_session_start():
    events = [
        user("旧问题", "track_order"),
        {"event": "session_started", "timestamp": 5.0},
        user("新问题", "recommend_product", 0.2),
    ]
    record = session_record(tracker(events))
    assert record.intents == ["recommend_product"]
    assert record.started == 5.0
    assert record.customer == [("新问题", 0.2)]


def test_the_mood_before_a_person_took_over_no_longer_counts_after_the_hand_back():
    events = [
        user("气死了 还没到", "complaint", -0.9),
        {"event": "pause", "timestamp": 2.0},
        user("你好？？", "greet", -0.4),
        {"event": "resume", "timestamp": 3.0},
        user("再查下订单", "track_order", 0.0),
    ]
    record = session_record(tracker(events))
    assert record.human_involved
    assert record.customer == [("再查下订单", 0.0)]
    assert [t["text"] for t in record.transcript] == ["气死了 还没到", "你好？？", "再查下订单"]


def session_domain(carry_over=True):
    return {"session_config": {"carry_over_slots_to_new_session": carry_over}}


async def run_session_start(tracker_, domain):
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart().run(dispatcher, tracker_, domain)
    return dispatcher.messages, events


async def test_a_new_session_abandons_the_ticket_the_customer_walked_away_from(bot_shop):
    await run(ActionHandoff(), tracker([user("转人工", "contact_human_agent")]))
    (ticket,) = tickets(bot_shop)
    old = tracker(
        [user("转人工", "contact_human_agent")],
        slots={"handoff_ticket": ticket.id, "csat_asked": True, "order_id": "2511061423379058"},
    )
    messages, events = await run_session_start(old, session_domain())
    assert messages == []
    assert events == [
        SessionStarted(),
        SlotSet("language", "zh"),
        SlotSet("order_id", "2511061423379058"),
        ActionExecuted("action_listen"),
    ]  # the ticket and the rating question belong to the old session
    (left,) = tickets(bot_shop)
    assert left.status == "abandoned" and left.closed_at is not None
    # another customer waiting behind moves up; a second session start changes nothing
    await run_session_start(old, session_domain())
    assert tickets(bot_shop)[0].status == "abandoned"


async def test_a_closed_ticket_stays_closed_and_no_slots_carry_over_when_configured(bot_shop):
    await run(ActionHandoff(), tracker([user("人工", "contact_human_agent")]))
    with session_scope(bot_shop.factory) as session:
        handoff.close(session, tickets(bot_shop)[0].id, "alice")
    _, events = await run_session_start(
        tracker([], slots={"order_id": "2511061423379058"}), session_domain(carry_over=False)
    )
    assert events == [SessionStarted(), ActionExecuted("action_listen")]
    assert tickets(bot_shop)[0].status == "closed"


async def test_a_database_failure_does_not_stop_the_new_session(bot_shop, monkeypatch, caplog):
    def broken():
        raise OperationalError("SELECT 1", {}, Exception("database is down"))

    monkeypatch.setattr(actions.session, "shop_session", broken)
    _, events = await run_session_start(tracker([]), session_domain())
    assert events[0] == SessionStarted() and events[-1] == ActionExecuted("action_listen")
    assert "could not abandon" in caplog.text
