from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionHelp
from kefu.config import shop_config


def tracker_with_language(language):
    return Tracker(
        sender_id="test",
        slots={"language": language},
        latest_message={"text": "", "intent": {}, "entities": []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(action, language):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker_with_language(language), {})
    return dispatcher.messages, events


async def test_help_fills_contact_details_in_english():
    messages, events = await run(ActionHelp(), "en")
    config = shop_config()
    assert events == []
    assert len(messages) == 1
    message = messages[0]
    assert message["response"] == "utter_help"
    assert message["shop_name"] == config.name.en
    assert message["hours"] == config.customer_service.hours.en
    assert message["hotline"] == config.customer_service.hotline
    assert message["email"] == config.customer_service.email


async def test_unknown_language_falls_back_to_the_shop_default():
    messages, _ = await run(ActionHelp(), None)
    default = shop_config().default_language
    assert messages[0]["shop_name"] == shop_config().name.get(default)
