"""Hand-off, complaints and satisfaction against the real servers: tickets and ratings are
checked in the shop database, the pause and resume through Rasa's HTTP API."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from sqlalchemy import select

from kefu.agent_console import hand_back_events
from kefu.db import make_engine, make_session_factory
from kefu.models import CsatRating, HandoffTicket
from tests.integration.test_bot import variation

pytestmark = pytest.mark.model
HANDOFF_RESPONSES = ("utter_handoff_queued", "utter_handoff_after_hours")


@pytest.fixture(scope="module")
def sessions():
    engine = make_engine()
    yield make_session_factory(engine)
    engine.dispose()


def ticket_of(sessions, sender: str) -> HandoffTicket | None:
    with sessions() as session:
        return session.execute(
            select(HandoffTicket).where(HandoffTicket.of_conversation(f"rest:{sender}"))
        ).scalar_one_or_none()


def said(texts: list[str], response: str, language: str) -> bool:
    """Whether one of ``texts`` starts like the response (its variables filled in)."""
    lead = variation(response, language)["text"].split("{")[0]
    return any(t.startswith(lead) for t in texts)


def test_a_person_is_requested_the_bot_pauses_and_resumes(bot, sessions):
    sender = uuid.uuid4().hex
    bot.texts("我的快递到哪了", sender)
    replies = bot.texts("别跟机器人聊了 给我转人工", sender)
    assert any(said(replies, r, "zh") for r in HANDOFF_RESPONSES)
    ticket = ticket_of(sessions, sender)
    assert ticket is not None and ticket.reason == "requested" and ticket.status == "open"
    assert ticket.channel == "rest" and ticket.language == "zh"
    assert ticket.intents[-1] == "contact_human_agent" and len(ticket.intents) == 2
    assert ticket.transcript[0] == {
        "who": "customer",
        "text": "我的快递到哪了",
        "at": ticket.transcript[0]["at"],
    }
    assert bot.texts("有什么新款手机推荐？", sender) == []  # a person has the conversation
    resumed = requests.post(
        bot.api_url(bot.conversation_id(sender), "/tracker/events"),
        params={"token": bot.token},
        json=hand_back_events("zh"),
        timeout=10,
    )
    assert resumed.status_code == 200
    assert bot.texts("hello again", sender) == [variation("utter_greet", "en")["text"]]
    assert bot.texts("有什么新款手机推荐？", sender)  # rules work again after the hand-back


def test_a_frustrated_customer_goes_to_a_person_whatever_they_ask(bot, sessions):
    sender = uuid.uuid4().hex
    first = bot.texts("你这机器人怎么回事啊 烦死了", sender)
    assert not any(said(first, r, "zh") for r in HANDOFF_RESPONSES)
    replies = bot.texts("查个订单怎么这么麻烦 烦死了", sender)  # an order question, angrily
    assert any(said(replies, r, "zh") for r in HANDOFF_RESPONSES)
    ticket = ticket_of(sessions, sender)
    assert ticket.reason == "frustration" and ticket.sentiment < -0.5


def test_a_customer_who_starts_over_leaves_the_queue(bot, sessions):
    sender = uuid.uuid4().hex
    replies = bot.texts("转人工客服", sender)
    assert any(said(replies, r, "zh") for r in HANDOFF_RESPONSES)
    assert ticket_of(sessions, sender).status == "open"
    # the conversation starts over (as after the session expiry): the next message starts a
    # new session, which abandons the ticket and leaves the bot unpaused
    restarted = requests.post(
        bot.api_url(bot.conversation_id(sender), "/tracker/events"),
        params={"token": bot.token},
        json=[{"event": "restart"}],
        timeout=10,
    )
    assert restarted.status_code == 200
    assert bot.texts("你好", sender) == [variation("utter_greet", "zh")["text"]]
    left = ticket_of(sessions, sender)
    assert left.status == "abandoned" and left.closed_at is not None


def test_a_furious_complaint_goes_to_a_person_at_once(bot, sessions):
    sender = uuid.uuid4().hex
    replies = bot.texts("什么垃圾质量，用了一天就坏了，气死我了！！", sender)
    assert any(said(replies, r, "zh") for r in HANDOFF_RESPONSES)
    assert ticket_of(sessions, sender).reason == "complaint"


def test_a_mild_complaint_gets_an_apology_and_the_bot_stays(bot, sessions):
    sender = uuid.uuid4().hex
    messages = bot.say("the parcel came a day later than promised", sender)
    assert messages[0]["text"] == variation("utter_complaint_sorry", "en")["text"]
    assert messages[0]["buttons"][0]["payload"] == "/contact_human_agent"
    assert ticket_of(sessions, sender) is None


def test_a_rating_is_asked_once_and_stored(bot, sessions):
    sender = uuid.uuid4().hex
    assert said(bot.texts("好的，谢谢", sender), "utter_ask_csat", "zh")
    assert bot.texts("4分 回答挺快的", sender) == [variation("utter_csat_thanks", "zh")["text"]]
    with sessions() as session:
        (rating,) = session.execute(
            select(CsatRating).where(CsatRating.of_conversation(f"rest:{sender}"))
        ).scalars()
    assert (rating.rating, rating.channel, rating.language) == (4, "rest", "zh")
    assert rating.comment == "4分 回答挺快的" and rating.human_involved is False
    assert not said(bot.texts("再见", sender), "utter_ask_csat", "zh")  # once per session


def test_a_rating_out_of_range_is_asked_again(bot, sessions):
    sender = uuid.uuid4().hex
    bot.texts("thanks!", sender)
    assert bot.texts("10/10", sender) == [variation("utter_csat_out_of_range", "en")["text"]]
    with sessions() as session:
        stored = session.execute(select(CsatRating).where(CsatRating.of_conversation(sender)))
        assert stored.first() is None


def test_the_report_is_built_from_the_real_conversations(bot, tmp_path):
    from kefu.cli import main as kefu_main
    from scripts.demo_report import send_demo_traffic

    assert send_demo_traffic(bot.url) > 50
    out, data = tmp_path / "report.html", tmp_path / "report.json"
    assert kefu_main(["report", "--since", "1d", "--out", str(out), "--json", str(data)]) == 0
    report = json.loads(data.read_text(encoding="utf-8"))
    assert report["has_data"] and report["volume"]["conversations"] >= 25
    assert report["csat"]["count"] >= 5
    assert report["handoff"]["conversations"] >= 3 and report["handoff"]["tickets"] >= 3
    assert report["unmet_needs"]["topics"]
    page = out.read_text(encoding="utf-8")
    assert "data:image/svg+xml;base64," in page
