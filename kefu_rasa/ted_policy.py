"""TED with its predictions remembered by dialogue state.

TED's prediction is a function of the featurised dialogue state alone (the last ``max_history``
turns: intents, entities, slots, active loop, previous actions), when the stories carry no user
text (no end-to-end training).  Conversations repeat the same few states over and over (a
greeting, a product question, an order number in the form), so the same network run was paid
for again on most turns: 7 ms of the 65 ms a turn cost (benchmarks/PROFILE.md).  This policy is
TEDPolicy, trained and configured the same, whose predictions are kept in a bounded LRU map keyed
by the state; a state seen before gets the same confidences without running the network.

Nothing is remembered when the model uses text (end-to-end) or predicts entities: those depend
on more than the state.  ``prediction_cache_size: 0`` turns the cache off.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from rasa.core.featurizers.precomputation import MessageContainerForCoreFeaturization
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

from kefu.memory import release_freed_memory

CACHE_SIZE_KEY = "prediction_cache_size"
DEFAULT_CACHE_SIZE = 4096


class PredictionCache:
    """A bounded, thread-safe least-recently-used map from a state key to confidences."""

    def __init__(self, size: int) -> None:
        """Keep at most ``size`` entries (0: keep none)."""
        self.size = size
        self._entries: OrderedDict[str, tuple[list[float], dict[str, Any] | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[list[float], dict[str, Any] | None] | None:
        """The remembered entry for ``key`` (now the most recent), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: str, confidences: list[float], diagnostic: dict[str, Any] | None) -> None:
        """Remember an entry, forgetting the least recently used one beyond the size."""
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = (confidences, diagnostic)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        """How many entries are kept."""
        return len(self._entries)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True
)
class CachedTEDPolicy(TEDPolicy):
    """TEDPolicy whose predictions for a dialogue state seen before are remembered."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """TED's defaults plus the cache size."""
        return {**TEDPolicy.get_default_config(), CACHE_SIZE_KEY: DEFAULT_CACHE_SIZE}

    @classmethod
    def load(cls, *args: Any, **kwargs: Any) -> CachedTEDPolicy:
        """TED's loader (one building step in TensorFlow), then its temporary memory given
        back to the OS."""
        policy = super().load(*args, **kwargs)
        release_freed_memory()
        return policy

    @property
    def prediction_cache(self) -> PredictionCache:
        """The cache, made on first use (TED's loader builds the policy without ``__init__``
        arguments of ours)."""
        cache = self.__dict__.get("_prediction_cache")
        if cache is None:
            size = int(self.config.get(CACHE_SIZE_KEY, DEFAULT_CACHE_SIZE))
            cache = self.__dict__.setdefault("_prediction_cache", PredictionCache(size))
        return cache

    def _state_key(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None,
    ) -> str | None:
        """The featurised state TED predicts from, as a key; None when the prediction depends
        on more than the state (user text, entity recognition)."""
        if self.only_e2e or TEXT in self.fake_features or self.prediction_cache.size <= 0:
            return None
        states = self._prediction_states(tracker, domain, rule_only_data=rule_only_data)
        return json.dumps(states, sort_keys=True, default=list)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        precomputations: MessageContainerForCoreFeaturization | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """TED's prediction, remembered by dialogue state."""
        if self.model is None:
            return super().predict_action_probabilities(
                tracker, domain, rule_only_data, precomputations, **kwargs
            )
        key = self._state_key(tracker, domain, rule_only_data)
        if key is not None:
            entry = self.prediction_cache.get(key)
            if entry is not None:
                confidences, diagnostic = entry
                return self._prediction(list(confidences), diagnostic_data=diagnostic)
        prediction = super().predict_action_probabilities(
            tracker, domain, rule_only_data, precomputations, **kwargs
        )
        if (
            key is not None
            and not prediction.is_end_to_end_prediction
            and not prediction.optional_events
        ):
            self.prediction_cache.put(
                key, list(prediction.probabilities), prediction.diagnostic_data
            )
        return prediction
