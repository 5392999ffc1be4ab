import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from kefu_rasa.language_policy import LanguagePolicy

DOMAIN = Domain.load("domain.yml")


@pytest.fixture
def policy(tmp_path):
    return LanguagePolicy.create(
        LanguagePolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("language_policy"),
        ExecutionContext(graph_schema=None, model_id="test"),
    )


def tracker_after(text, language, *earlier_events):
    events = [
        ActionExecuted(ACTION_LISTEN_NAME),
        *earlier_events,
        UserUttered(text, {"name": "greet", "confidence": 1.0}, parse_data={"language": language}),
    ]
    return DialogueStateTracker.from_events("test", events, slots=DOMAIN.slots)


def predict(policy, tracker):
    return policy.predict_action_probabilities(tracker, DOMAIN)


def test_reply_language_follows_the_latest_message(policy):
    prediction = predict(policy, tracker_after("hello", "en", SlotSet("language", "zh")))
    assert prediction.events == [SlotSet("language", "en")]
    assert max(prediction.probabilities) == 0.0  # never competes with the dialogue policies


def test_no_event_when_the_language_is_already_right(policy):
    prediction = predict(policy, tracker_after("你好", "zh", SlotSet("language", "zh")))
    assert prediction.events == []


def test_explicit_preference_outranks_detection(policy):
    tracker = tracker_after("还是说说这个吧", "zh", SlotSet("preferred_language", "en"))
    assert predict(policy, tracker).events == [SlotSet("language", "en")]


def test_message_without_letters_keeps_the_current_language(policy):
    tracker = tracker_after("👍", None, SlotSet("language", "en"))
    assert predict(policy, tracker).events == []


def test_unsupported_language_gets_the_apology_then_listens(policy):
    tracker = tracker_after("こんにちは", "other", SlotSet("language", "en"))
    prediction = predict(policy, tracker)
    assert DOMAIN.action_names_or_texts[prediction.max_confidence_index] == (
        "utter_unsupported_language"
    )
    assert prediction.max_confidence == 1.0
    assert prediction.events == []  # keeps answering in English

    tracker.update(ActionExecuted("utter_unsupported_language"))
    prediction = predict(policy, tracker)
    assert DOMAIN.action_names_or_texts[prediction.max_confidence_index] == ACTION_LISTEN_NAME
