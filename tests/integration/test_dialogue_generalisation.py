"""A path no story or rule contains, live: a policy trained on the stories (not a rule) ends
the form.  The rules alone would ask the form's question again."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.model


def executed(tracker: dict) -> list[tuple[str, str]]:
    """(action, policy) of every action the bot ran, in order."""
    return [
        (e["name"], e.get("policy") or "")
        for e in tracker["events"]
        if e["event"] == "action" and e["name"] != "action_listen"
    ]


@pytest.mark.parametrize(
    "turns",
    [
        ["帮我推荐点东西呗", "最近有什么优惠活动吗", "算了，先这样吧，再见"],
        ["can you recommend something", "am I talking to a robot?", "ok never mind, bye"],
    ],
)
def test_a_goodbye_after_a_digression_in_the_search_form_ends_the_form(bot, turns):
    sender = uuid.uuid4().hex
    for text in turns:
        bot.say(text, sender=sender)
    tracker = bot.tracker(bot.conversation_id(sender))
    actions = executed(tracker)
    names = [name for name, _ in actions]
    assert names[-3:] == ["utter_goodbye", "action_ask_csat", "action_deactivate_loop"]
    # learnt from data/stories/forms.yml (the last turns match them: MemoizationPolicy; a
    # window no story has: TEDPolicy); no rule says it
    assert any(name in actions[-1][1] for name in ("MemoizationPolicy", "TEDPolicy"))
    assert tracker["active_loop"] in ({}, None) or not tracker["active_loop"].get("name")
