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


async def test_action_calls_reuse_one_connection_and_keep_rasas_request():
    """Three calls through Rasa's ``EndpointConfig.request``: one TCP connection, Rasa's
    headers and token on each, and a server error still raised as Rasa raises it."""
    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError

    from kefu_rasa.speedups import close_sessions

    seen = []

    async def handler(request):
        seen.append((request.transport.get_extra_info("peername"), request.headers["X-Secret"]))
        if request.query.get("token") != "t":
            return web.Response(status=403)
        return web.json_response({"ok": len(seen)})

    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        endpoint = EndpointConfig(
            f"http://127.0.0.1:{port}/webhook", headers={"X-Secret": "s"}, token="t"
        )
        replies = [await endpoint.request(json={}) for _ in range(3)]
        assert replies == [{"ok": 1}, {"ok": 2}, {"ok": 3}]
        assert len({peer for peer, _ in seen}) == 1 and {s for _, s in seen} == {"s"}
        endpoint.token = "wrong"
        with pytest.raises(ClientResponseError):
            await endpoint.request(json={})
        async with endpoint.session() as session:
            await close_sessions()
            assert session.closed
    finally:
        await runner.cleanup()


EVENTS = [
    {"event": "slot", "name": "x", "value": 1, "timestamp": None},
    {"event": "bot", "text": "你好", "data": {"buttons": []}, "metadata": {}},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0},
    {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
    {"event": "followup", "name": "action_help"},
    {"event": "active_loop", "name": None},
    {"event": "session_started"},
    {"event": "restart"},
    {"event": "pause"},
]
INVALID_EVENTS = [
    {"event": "slot"},  # no name
    {"event": "user", "text": 3},
    {"event": "no_such_event"},
    {"event": 7},
    "not an event",
    {"event": "slot", "name": "x", "timestamp": "yesterday"},
]


def test_checking_by_event_type_agrees_with_the_full_schema():
    from kefu_rasa.speedups import _response_validator, _valid_by_event_type

    full = _response_validator()
    cases = [{"events": [e], "responses": []} for e in EVENTS + INVALID_EVENTS]
    cases += [{"events": EVENTS, "responses": [{"text": "x"}]}, {}, {"events": []}]
    cases += [{"events": [*EVENTS, bad]} for bad in INVALID_EVENTS]
    for case in cases:
        assert _valid_by_event_type(case) is full.is_valid(case), case
    assert sum(_valid_by_event_type(c) for c in cases) >= len(EVENTS) + 3  # the fast path ran


@pytest.mark.parametrize("event", INVALID_EVENTS)
def test_an_invalid_event_raises_rasas_error(event):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action()._validate_action_result({"events": [event], "responses": []})


def test_remembered_states_are_rasas_and_each_caller_gets_its_own():
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from kefu_rasa.speedups import _rasa_past_states

    domain = Domain.load("domain.yml")
    tracker = DialogueStateTracker.from_events(
        "states",
        [
            ActionExecuted("action_listen"),
            UserUttered("有什么新款手机推荐？", intent={"name": "recommend_product"}),
            ActionExecuted("action_start_product_search"),
            SlotSet("language", "zh"),
        ],
        domain.slots,
    )
    rule_only = {"slots": ["awaiting_confirmation"], "active_loops": []}
    combinations = [(False, False, None), (True, True, rule_only), (False, True, rule_only)]
    for omit, ignore, data in combinations:
        expected = _rasa_past_states(tracker, domain, omit, ignore, data)
        first = tracker.past_states(domain, omit, ignore, data)
        assert first == expected
        first[-1].clear()
        for sub in first[0].values():
            sub.clear()
        assert tracker.past_states(domain, omit, ignore, data) == expected  # not changed
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("第二个怎么样", intent={"name": "product_info"}))
    for omit, ignore, data in combinations:  # a new event: states made again
        assert tracker.past_states(domain, omit, ignore, data) == _rasa_past_states(
            tracker, domain, omit, ignore, data
        )
