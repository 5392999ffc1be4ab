"""Ticket flood: one script asking for a person from ever new conversations must not fill the
agents' queue.  The hand-off action (actions/service.py) runs against the shop database
(SQLite and PostgreSQL) with small limits in a copy of shop.yml; over a limit the customer gets
the polite ``handoff.limits.busy`` answer in their language, and no ticket."""

from __future__ import annotations

import logging

import pytest
import yaml
from rasa_sdk.events import ConversationPaused

from actions.service import ActionHandoff
from kefu import config
from kefu.config import DEFAULT_CONFIG_PATH
from tests.shop.conftest import database_url, factory, mini_shop  # noqa: F401  (fixtures)
from tests.shop.order_shop import shop  # noqa: F401  (fixture)
from tests.shop.test_service_actions import bot_shop, run, tickets, tracker, user  # noqa: F401


@pytest.fixture
def small_limits(tmp_path, monkeypatch):
    """The project's shop.yml with at most 3 tickets per channel and 4 in all per hour."""
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["handoff"]["limits"].update(per_client_per_hour=2, per_channel_per_hour=3, per_hour=4)
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("KEFU_SHOP_CONFIG", str(path))
    config.shop_config.cache_clear()
    yield raw["handoff"]["limits"]
    config.shop_config.cache_clear()


def asks_for_a_person(sender: str, channel: str = "webchat", language: str = "zh"):
    text = "转人工" if language == "zh" else "can I talk to a human"
    return tracker(
        [user(text, "contact_human_agent")],
        slots={"language": language},
        sender=sender,
        channel=channel,
    )


async def test_a_flood_of_new_conversations_cannot_fill_the_queue(
    bot_shop,  # noqa: F811
    small_limits,
    caplog,
):
    caplog.set_level(logging.INFO)
    for n in range(3):
        messages, events = await run(ActionHandoff(), asks_for_a_person(f"flood-{n}"))
        assert messages[0]["response"] == "utter_handoff_queued"
    for n, language in ((3, "zh"), (4, "en")):
        messages, events = await run(
            ActionHandoff(), asks_for_a_person(f"flood-{n}", language=language)
        )
        assert events == [] and ConversationPaused() not in events  # the bot keeps talking
        text = messages[0]["text"]
        assert text == small_limits["busy"][language].format(
            minutes=60, hotline="400-820-8820", hours=_hours(language), email=_email()
        )
    assert len(tickets(bot_shop)) == 3
    # another channel still gets through, up to the limit in all
    messages, _ = await run(ActionHandoff(), asks_for_a_person("tg-1", channel="telegram"))
    assert messages[0]["response"] == "utter_handoff_queued"
    messages, _ = await run(ActionHandoff(), asks_for_a_person("tg-2", channel="telegram"))
    assert "text" in messages[0] and len(tickets(bot_shop)) == 4
    # a conversation that has its ticket is told its place, limits or not
    messages, _ = await run(ActionHandoff(), asks_for_a_person("flood-0"))
    assert messages[0]["response"] == "utter_handoff_queued" and messages[0]["position"] == 1
    assert "ticket limit reached (channel)" in caplog.text
    assert "flood-3" not in caplog.text  # the log names the limit, never the conversation


def _hours(language: str) -> str:
    return config.shop_config().customer_service.hours.get(language)


def _email() -> str:
    return config.shop_config().customer_service.email
