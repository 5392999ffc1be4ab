import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

import kefu_rasa  # noqa: F401  (applies the speed-ups)


def action():
    return RemoteAction("action_help", EndpointConfig("http://127.0.0.1:1/webhook"))


def test_valid_action_server_responses_pass():
    response = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": []}
    assert action()._validate_action_result(response) is True


@pytest.mark.parametrize(
    "response",
    [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"responses": {"text": 1}}],
)
def test_invalid_responses_still_raise_with_rasas_message(response):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action()._validate_action_result(response)


def test_event_lookup_finds_the_same_classes_as_rasa():
    from rasa.shared.core.events import Event, SlotSet, UserUttered
    from rasa.shared.utils.common import all_subclasses

    from kefu_rasa.speedups import _rasa_resolve_by_type

    for cls in all_subclasses(Event):
        assert Event.resolve_by_type(cls.type_name) is _rasa_resolve_by_type(cls.type_name)
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


def test_events_still_round_trip():
    from rasa.shared.core.events import Event, UserUttered

    event = UserUttered("你好", {"name": "greet", "confidence": 1.0})
    assert Event.from_parameters(event.as_dict()) == event
