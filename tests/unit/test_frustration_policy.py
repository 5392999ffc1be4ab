"""FrustrationPolicy: a frustrated customer is handed to a person on any turn, once per stretch
of frustration, and never over the turns other parts of the bot handle."""

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    ConversationResumed,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from kefu_rasa.frustration_policy import FrustrationPolicy, mood_window

DOMAIN = Domain.load("domain.yml")
HANDOFF = "action_handoff"


@pytest.fixture
def policy(tmp_path):
    return FrustrationPolicy.create(
        FrustrationPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("frustration_policy"),
        ExecutionContext(graph_schema=None, model_id="test"),
    )


def said(text, sentiment, intent="track_order", language="zh"):
    return UserUttered(
        text,
        {"name": intent, "confidence": 0.9},
        parse_data={"sentiment": sentiment, "language": language},
    )


def turns(*messages):
    """Each message followed by the bot's answer, except the last: the turn to predict."""
    events = [ActionExecuted(ACTION_LISTEN_NAME)]
    for message in messages[:-1]:
        events += [message, ActionExecuted("action_order_task"), ActionExecuted(ACTION_LISTEN_NAME)]
    events.append(messages[-1])
    return events


def predicted(policy, events):
    tracker = DialogueStateTracker.from_events("conv", events, slots=DOMAIN.slots)
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    if prediction.max_confidence == 0.0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


def test_two_strongly_negative_messages_hand_off(policy):
    events = turns(said("快递怎么还没到 烦死了", -0.8), said("你们这效率太差了", -0.7))
    assert predicted(policy, events) == HANDOFF


def test_asking_the_same_thing_again_hands_off_in_english(policy):
    events = turns(
        said("where is my parcel, it is late", -0.35, language="en"),
        said("where is my parcel?? it is late", -0.4, language="en"),
    )
    assert predicted(policy, events) == HANDOFF


@pytest.mark.parametrize(
    "messages",
    [
        [said("到底发不发货？？", -0.6)],  # one message is not yet repeated frustration
        [said("订单到哪了", 0.0), said("好的 谢谢", 0.6)],
        [said("不太满意这个颜色", -0.6), said("有没有黑色的", 0.0)],
        [said("再来几个看看", 0.0), said("再来几个看看", 0.0)],  # browsing, not frustration
    ],
)
def test_calm_or_single_messages_are_answered_by_the_bot(policy, messages):
    assert predicted(policy, turns(*messages)) is None


@pytest.mark.parametrize("intent", ["complaint", "contact_human_agent", "rate_satisfaction"])
def test_turns_with_their_own_handling_are_left_alone(policy, intent):
    events = turns(said("烂透了", -0.9), said("什么垃圾服务", -0.9, intent=intent))
    assert predicted(policy, events) is None


def test_a_form_in_progress_is_left_alone(policy):
    events = turns(said("烂透了", -0.9), said("什么垃圾服务", -0.9))
    events.insert(1, ActiveLoop("order_form"))
    assert predicted(policy, events) is None


def test_an_unsupported_language_is_left_to_the_language_policy(policy):
    events = turns(said("烂透了", -0.9), said("最悪だ", -0.9, language="other"))
    assert predicted(policy, events) is None


def test_only_a_user_turn_is_judged(policy):
    events = turns(said("烂透了", -0.9), said("什么垃圾服务", -0.9))
    events.append(ActionExecuted(HANDOFF))
    assert predicted(policy, events) is None


@pytest.mark.parametrize(
    "boundary",
    [
        [ActionExecuted(HANDOFF), ConversationPaused(), ConversationResumed()],
        [ActionExecuted("action_handle_complaint")],
        [ActionExecuted("action_session_start"), SessionStarted()],
    ],
)
def test_the_mood_is_judged_again_after_a_hand_off_a_complaint_or_a_new_session(policy, boundary):
    before = [ActionExecuted(ACTION_LISTEN_NAME), said("烂透了", -0.9)]
    after = [ActionExecuted(ACTION_LISTEN_NAME), said("什么垃圾服务", -0.9)]
    assert predicted(policy, before + boundary + after) is None
    again = [*after, ActionExecuted("action_order_task")]
    assert predicted(policy, before + boundary + again + after) == HANDOFF


def test_button_payloads_and_unscored_messages_are_not_part_of_the_mood(policy):
    button = UserUttered("/affirm", {"name": "affirm", "confidence": 1.0}, parse_data={})
    tracker = DialogueStateTracker.from_events(
        "conv", [said("烂透了", -0.9), button, said("好", 0.1)], slots=DOMAIN.slots
    )
    assert mood_window(tracker, {HANDOFF}) == [("烂透了", -0.9), ("好", 0.1)]


def test_its_hand_off_outranks_a_rule(policy):
    events = turns(said("快递怎么还没到 烦死了", -0.8), said("你们这效率太差了", -0.7))
    tracker = DialogueStateTracker.from_events("conv", events, slots=DOMAIN.slots)
    ours = policy.predict_action_probabilities(tracker, DOMAIN)
    rule = [0.0] * len(DOMAIN.action_names_or_texts)
    rule[DOMAIN.index_for_action("action_order_task")] = 1.0
    rules = PolicyPrediction(rule, "RulePolicy", policy_priority=6)
    best = DefaultPolicyPredictionEnsemble._pick_best_policy([rules, ours])
    assert DOMAIN.action_names_or_texts[best.max_confidence_index] == HANDOFF
