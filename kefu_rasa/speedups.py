"""Measured fixes for Rasa 3.6 hot spots that cost the assistant throughput.

``RemoteAction._validate_action_result`` calls ``jsonschema.validate`` for every custom-action
response, and that re-validates the *schema itself* against the JSON-Schema meta-schema each
time: about 7 % of the server's CPU under load (py-spy, benchmarks/TUNING.md).  Here the schema
is checked once and a compiled validator reused.  Even so, each event is tried against every
event type's branch of the schema's ``oneOf`` (about 2 ms a response, cProfile); a valid response
is now checked against its events' own types only, which accepts exactly what ``oneOf`` accepts,
and anything else goes through the full schema, so a bad response raises the same
``ValidationError`` with the same message.

``Event.resolve_by_type`` walks every subclass of ``Event`` (with ``inspect.isabstract`` on
each) for every event it deserialises: about 7 % of the server's CPU, since every turn loads the
conversation from the tracker store.  Here found classes are remembered by type name; unknown
names still go through Rasa's own lookup (same default, same error).

``EndpointConfig.request`` (every custom-action call) opens a new aiohttp session, hence a new
connection, and closes it after one request.  Here each endpoint keeps one session per event
loop, whose connections are kept alive for less time than the action server's (Sanic: 5 s), so
that a reused connection is never one the server is closing.  Requests, headers, timeout and
errors are Rasa's own; ``close_sessions`` closes them when the server stops.

``DialogueStateTracker.past_states`` replays the whole conversation into dialogue states, and
the policies of one prediction each ask for them (the memoization policy and TED with the same
arguments, TED twice: once for its prediction cache's key): about 15 % of a turn (cProfile).
Here a tracker remembers its states for its events as they are and each combination of
arguments; callers get copies of the states down to the sub-states they change.

Applied once, when kefu's plug-ins are imported (``kefu_rasa/__init__.py``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import weakref
from functools import lru_cache
from typing import Any

import aiohttp
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

_rasa_resolve_by_type = Event.resolve_by_type
_rasa_past_states = DialogueStateTracker.past_states
_event_classes: dict[str, type[Event]] = {}
KEEPALIVE_SECONDS = 2.0  # below the action server's keep-alive (Sanic's default: 5 s)
# event loop -> id(endpoint) -> (endpoint, its session); a loop's sessions go with the loop
_sessions: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[int, tuple[EndpointConfig, aiohttp.ClientSession]]
] = weakref.WeakKeyDictionary()


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@lru_cache(maxsize=1)
def _per_event_validators() -> tuple[Any, dict[str, Any]] | None:
    """The response schema split for speed: a validator of the response whose events are only
    checked against the properties all events share, and one validator per event type (those
    properties plus the type's ``oneOf`` branch).  Each branch fixes ``event`` to a different
    constant, so an event satisfies ``oneOf`` exactly when it satisfies its own type's branch.
    None when the schema is not of that shape (then only the full schema is used)."""
    schema = _response_validator().schema
    try:
        item = schema["properties"]["events"]["items"]
        branches = item["oneOf"]
        names = [branch["properties"]["event"]["const"] for branch in branches]
    except (KeyError, TypeError):
        return None
    if len(set(names)) != len(names):
        return None
    shared = {key: value for key, value in item.items() if key != "oneOf"}
    outer = copy.deepcopy(schema)
    outer["properties"]["events"]["items"] = shared
    cls = validator_for(schema)
    pairs = zip(names, branches, strict=True)
    per_event = {name: cls({**shared, "allOf": [branch]}) for name, branch in pairs}
    return cls(outer), per_event


def _valid_by_event_type(result: Any) -> bool:
    """True when ``result`` satisfies the response schema, checked one event type at a time;
    False when it does not or when this cannot tell (the full schema then decides)."""
    split = _per_event_validators()
    if split is None or not isinstance(result, dict):
        return False
    outer, per_event = split
    if not outer.is_valid(result):
        return False
    for event in result.get("events") or ():
        validator = per_event.get(event.get("event")) if isinstance(event, dict) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Validate an action server response against Rasa's response schema."""
    if _valid_by_event_type(result):
        return True
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


class _Borrowed:
    """``async with`` over a kept session: entering gives it, leaving keeps it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *_exc: Any) -> None:
        return None


def _kept_session(self: EndpointConfig) -> _Borrowed:
    """The endpoint's session on the running event loop, made on first use (Rasa's settings:
    headers, basic auth, timeout) with connections kept alive for ``KEEPALIVE_SECONDS``."""
    kept = _sessions.setdefault(asyncio.get_running_loop(), {})
    endpoint, session = kept.get(id(self), (None, None))
    if endpoint is not self or session is None or session.closed:
        auth = self.basic_auth
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=aiohttp.BasicAuth(auth["username"], auth["password"]) if auth else None,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
        )
        kept[id(self)] = (self, session)
    return _Borrowed(session)


async def close_sessions(*_args: Any) -> None:
    """Close the kept sessions of the running event loop (a server listener)."""
    for _endpoint, session in _sessions.pop(asyncio.get_running_loop(), {}).values():
        await session.close()


# a tracker's remembered states: ((its events, the domain), {arguments: states})
_STATES = "_kefu_past_states"


def _past_states(
    self: DialogueStateTracker,
    domain: Domain,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rasa's ``past_states``, remembered for the tracker's events as they are, for each
    combination of arguments: the policies of one prediction ask for the same states (the
    memoization policy and TED twice), and each time Rasa replays the whole conversation.  The
    key changes when an event is added (or, in a bounded history, drops out); callers get their
    own copy of each state down to its sub-states, which is what they change."""
    events = self.events
    history = (len(events), id(events[0]) if events else None, id(events[-1]) if events else None)
    arguments = (
        omit_unset_slots,
        ignore_rule_only_turns,
        json.dumps(rule_only_data, sort_keys=True, default=str),
    )
    kept = self.__dict__.get(_STATES)
    if kept is None or kept[0] != (history, id(domain)):
        kept = self.__dict__[_STATES] = ((history, id(domain)), {})
    states = kept[1].get(arguments)
    if states is None:
        states = kept[1][arguments] = _rasa_past_states(
            self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
    return [{part: dict(sub) for part, sub in state.items()} for state in states]


def apply() -> None:
    """Install the speed-ups (idempotent)."""
    DialogueStateTracker.past_states = _past_states
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_resolve_by_type)
    EndpointConfig.session = _kept_session
