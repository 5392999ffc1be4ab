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
