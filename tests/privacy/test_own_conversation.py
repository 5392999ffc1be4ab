"""A customer erases their own conversation through the bot: after the confirming turn the
conversation store holds nothing of it (on SQLite and PostgreSQL), the turn is not sent to the
event broker, other conversations stay; and the confirmation needs neither login nor code."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from kefu.confirmation import answer_confirmation, ask_to_confirm
from kefu.csat import already_rated, record_rating
from kefu.identity import VerificationState
from kefu.models import CsatRating
from kefu.privacy.own_conversation import ERASE_SLOT, conversation_erasure
from kefu.step_up import STEP_UP_KINDS
from kefu_rasa.tracker_store import EncryptedTrackerStore
from tests.privacy.conftest import CUSTOMER_PHONE, assert_absent, raw_bytes

DOMAIN = Domain.from_dict(
    {
        "intents": ["inform", "delete_conversation", "affirm"],
        "slots": {ERASE_SLOT: {"type": "bool", "mappings": [{"type": "custom"}]}},
    }
)
SILENT = None  # no code is sent for this change, so nothing is notified
MINE, OTHER = f"telegram:{CUSTOMER_PHONE}", "webchat:someone-else"


def chat(sender: str, text: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered(text, intent={"name": "inform", "confidence": 1.0}),
            BotUttered("好的"),
        ],
        DOMAIN.slots,
    )


class Broker:
    """Counts what the store streams."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)

    def is_ready(self) -> bool:
        return True


def test_the_confirmed_turn_deletes_the_conversation_instead_of_saving_it(data_key, tracker_db):
    broker = Broker()
    store = EncryptedTrackerStore(domain=DOMAIN, host=tracker_db, event_broker=broker)
    mine = chat(MINE, f"我的手机是{CUSTOMER_PHONE}")
    asyncio.run(store.save(mine))
    asyncio.run(store.save(chat(OTHER, "你好")))
    assert asyncio.run(store.retrieve(MINE)) is not None  # kept in the process's session cache
    streamed = len(broker.published)

    for event in (
        UserUttered("删除这段对话", intent={"name": "delete_conversation", "confidence": 1.0}),
        BotUttered("确认要删除对话记录（本次对话）吗？"),
        UserUttered("是的", intent={"name": "affirm", "confidence": 1.0}),
        SlotSet(ERASE_SLOT, True),
        BotUttered("本次对话已删除"),
    ):
        mine.update(event)
    asyncio.run(store.save(mine))

    assert asyncio.run(store.retrieve(MINE)) is None
    assert asyncio.run(store.retrieve_full_tracker(MINE)) is None
    assert asyncio.run(store.keys()) == [OTHER]
    assert len(broker.published) == streamed  # the erasing turn never left the process
    store.engine.dispose()
    assert_absent(raw_bytes(tracker_db), [CUSTOMER_PHONE, "删除这段对话"])

    again = EncryptedTrackerStore(domain=DOMAIN, host=tracker_db)  # another instance
    assert asyncio.run(again.retrieve(MINE)) is None
    assert asyncio.run(again.retrieve(OTHER)) is not None
    again.engine.dispose()


def test_the_erasure_is_confirmed_by_a_plain_yes_and_clears_the_shop_records(factory):
    assert "conversation_erasure" not in STEP_UP_KINDS  # no code: the shop may not know who
    now = 1_800_000_000
    context = {"language": "zh", "notifier": SILENT, "secret": "s" * 32, "now": now}
    with factory() as session:
        for conversation in (MINE, OTHER):
            record_rating(
                session,
                conversation_id=conversation,
                rating=2,
                comment="太慢了",
                intents=[],
                language="zh",
                channel="telegram",
                human_involved=False,
                now=datetime(2027, 1, 15),
            )
        session.flush()
        asked = ask_to_confirm(session, conversation_erasure("key-1"), turn=3, **context)
        assert asked.pending is not None and asked.replies[0].response == "utter_confirm_change"
        assert asked.replies[0].params["subject"] == "本次对话"
        answer = answer_confirmation(
            session,
            asked.pending,
            text="是的",
            later_intents=[],
            state=VerificationState(),  # not logged in, nothing verified
            turn=4,
            conversation_id=MINE,
            **context,
        )
        assert answer.erase_conversation and answer.pending is None
        assert [r.response for r in answer.replies] == ["utter_conversation_erased"]
        assert already_rated(session, OTHER, datetime(2027, 1, 1))  # untouched
        assert not already_rated(session, MINE, datetime(2027, 1, 1))
        assert [r.comment for r in session.query(CsatRating)].count(None) == 1


def test_a_lapsed_consent_erases_nothing(factory):
    context = {"language": "en", "notifier": SILENT, "secret": "s" * 32, "now": 1_800_000_000}
    with factory() as session:
        asked = ask_to_confirm(session, conversation_erasure("key-2"), turn=3, **context)
        answer = answer_confirmation(
            session,
            asked.pending,
            text="yes",
            later_intents=["track_order"],  # asked about something else since the preview
            state=VerificationState(),
            turn=5,
            conversation_id=MINE,
            **context,
        )
    assert not answer.erase_conversation
    assert [r.response for r in answer.replies] == ["utter_confirmation_lapsed"]


@pytest.mark.parametrize("conversation_id", [None, ""])
def test_an_erasure_without_a_conversation_is_refused(factory, conversation_id):
    context = {"language": "en", "notifier": SILENT, "secret": "s" * 32, "now": 1_800_000_000}
    with factory() as session:
        asked = ask_to_confirm(session, conversation_erasure("key-3"), turn=1, **context)
        with pytest.raises(ValueError):
            answer_confirmation(
                session,
                asked.pending,
                text="yes",
                later_intents=[],
                state=VerificationState(),
                turn=2,
                conversation_id=conversation_id,
                **context,
            )
