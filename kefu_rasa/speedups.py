"""Measured fixes for Rasa 3.6 hot spots that cost the assistant throughput.

``RemoteAction._validate_action_result`` calls ``jsonschema.validate`` for every custom-action
response, and that re-validates the *schema itself* against the JSON-Schema meta-schema each
time: about 7 % of the server's CPU under load (py-spy, benchmarks/TUNING.md).  Here the schema
is checked once and a compiled validator reused; responses are validated exactly as before and a
bad response raises the same ``ValidationError`` with the same message.

``Event.resolve_by_type`` walks every subclass of ``Event`` (with ``inspect.isabstract`` on
each) for every event it deserialises: about 7 % of the server's CPU, since every turn loads the
conversation from the tracker store.  Here found classes are remembered by type name; unknown
names still go through Rasa's own lookup (same default, same error).

Applied once, when kefu's plug-ins are imported (``kefu_rasa/__init__.py``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event

_rasa_resolve_by_type = Event.resolve_by_type
_event_classes: dict[str, type[Event]] = {}


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Validate an action server response against Rasa's response schema."""
    try:
        _response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error


def _resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """The event class for ``type_name``, as Rasa's lookup finds it, remembered."""
    cls = _event_classes.get(type_name)
    if cls is None:
        cls = _rasa_resolve_by_type(type_name, default)
        if cls is not None and cls.type_name == type_name:
            _event_classes[type_name] = cls
    return cls


def apply() -> None:
    """Install the speed-ups (idempotent)."""
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_resolve_by_type)
