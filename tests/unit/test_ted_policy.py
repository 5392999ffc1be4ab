"""CachedTEDPolicy: a real TED trained on a few stories; a state seen before gets TED's own
prediction back without running the network, other states run it, and the cache is bounded."""

import numpy as np
import pytest
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from kefu_rasa.ted_policy import CACHE_SIZE_KEY, CachedTEDPolicy, PredictionCache

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, ask_price, goodbye]
responses:
  utter_greet: [{text: hi}]
  utter_price: [{text: cheap}]
  utter_goodbye: [{text: bye}]
"""
)
STORIES = """
version: "3.1"
stories:
- story: greet then price
  steps:
  - intent: greet
  - action: utter_greet
  - intent: ask_price
  - action: utter_price
- story: price then bye
  steps:
  - intent: ask_price
  - action: utter_price
  - intent: goodbye
  - action: utter_goodbye
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CachedTEDPolicy trained for a few epochs on the two stories."""
    steps = YAMLStoryReader(DOMAIN).read_from_string(STORIES)
    trackers = TrainingDataGenerator(StoryGraph(steps), DOMAIN, augmentation_factor=0).generate()
    config = {**CachedTEDPolicy.get_default_config(), "epochs": 2, "random_seed": 1}
    policy = CachedTEDPolicy.create(
        config,
        LocalModelStorage(tmp_path_factory.mktemp("ted")),
        Resource("ted"),
        ExecutionContext(graph_schema=None, model_id="test"),
    )
    policy.train(trackers, DOMAIN)
    return policy


def tracker_after(*intents):
    events = [ActionExecuted("action_listen")]
    for intent in intents:
        events += [UserUttered(intent, {"name": intent, "confidence": 1.0})]
        if intent != intents[-1]:
            events += [ActionExecuted(f"utter_{intent}"), ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events("c", events, slots=DOMAIN.slots)


def test_a_state_seen_before_gets_teds_own_prediction_without_the_network(trained):
    cache = trained.prediction_cache
    tracker = tracker_after("greet")
    first = trained.predict_action_probabilities(tracker, DOMAIN)
    hits = cache.hits
    again = trained.predict_action_probabilities(tracker_after("greet"), DOMAIN)
    network = TEDPolicy.predict_action_probabilities(trained, tracker, DOMAIN)
    assert cache.hits == hits + 1
    assert np.allclose(again.probabilities, network.probabilities)
    assert again.probabilities == first.probabilities
    assert again.policy_name == "CachedTEDPolicy"
    assert again.probabilities is not first.probabilities  # the caller may change its copy


def test_another_state_runs_the_network(trained):
    cache = trained.prediction_cache
    trained.predict_action_probabilities(tracker_after("greet"), DOMAIN)
    misses = cache.misses
    prediction = trained.predict_action_probabilities(tracker_after("greet", "ask_price"), DOMAIN)
    network = TEDPolicy.predict_action_probabilities(
        trained, tracker_after("greet", "ask_price"), DOMAIN
    )
    assert cache.misses == misses + 1
    assert np.allclose(prediction.probabilities, network.probabilities)


def test_size_zero_remembers_nothing(trained):
    saved = trained.__dict__.pop("_prediction_cache", None)
    trained.config[CACHE_SIZE_KEY] = 0
    try:
        trained.predict_action_probabilities(tracker_after("goodbye"), DOMAIN)
        trained.predict_action_probabilities(tracker_after("goodbye"), DOMAIN)
        assert len(trained.prediction_cache) == 0 and trained.prediction_cache.hits == 0
    finally:
        trained.config[CACHE_SIZE_KEY] = CachedTEDPolicy.get_default_config()[CACHE_SIZE_KEY]
        trained.__dict__["_prediction_cache"] = saved


def test_the_cache_forgets_the_least_recently_used_state():
    cache = PredictionCache(2)
    cache.put("a", [1.0], None)
    cache.put("b", [2.0], None)
    assert cache.get("a") == ([1.0], None)  # a is now the most recent
    cache.put("c", [3.0], None)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    assert len(cache) == 2
