"""Fallback for messages made only of words the model has never seen.

A classifier always picks some intent: "asdfghjkl" or "blah blah" came out as a 100 %-confident
``affirm`` or ``inform`` with DIET, and a sentence embedding of gibberish is near something too.
This classifier remembers every token of the training data and turns a message with no known
token into ``nlu_fallback`` (so the bot asks to rephrase instead of guessing). Purely numeric
tokens are values (order numbers, phone digits), not words, and are left to the model.
"""

from __future__ import annotations

import json
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.fallback_classifier import _fallback_intent
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    TEXT,
    TEXT_TOKENS,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

VOCABULARY_FILE = "vocabulary.json"


def _word_tokens(message: Message) -> list[str]:
    """Lower-cased token texts that are words (not pure numbers)."""
    tokens = message.get(TEXT_TOKENS) or []
    return [t.text.lower() for t in tokens if not t.text.replace(" ", "").isdigit()]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownWordsFallbackClassifier(GraphComponent):
    """Predicts ``nlu_fallback`` when fewer than ``min_known_tokens`` tokens are known."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """At least one known word is needed to trust the intent classifier."""
        return {"min_known_tokens": 1}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: set[str] | None = None,
    ) -> None:
        """Keep the vocabulary learnt from the training data."""
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or set()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallbackClassifier:
        """An untrained classifier (empty vocabulary)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Remember every word token of the training examples."""
        self.vocabulary = {
            token for example in training_data.training_examples for token in _word_tokens(example)
        }
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps(sorted(self.vocabulary), ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallbackClassifier:
        """Read the vocabulary saved by :meth:`train`."""
        with model_storage.read_from(resource) as directory:
            words = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, set(words))

    def process(self, messages: list[Message]) -> list[Message]:
        """Replace the intent by ``nlu_fallback`` for messages with no known word."""
        for message in messages:
            words = _word_tokens(message)
            if not words or message.get(TEXT) is None:
                continue
            if (
                INTENT in message.data
                and (message.data[INTENT] or {}).get(INTENT_NAME_KEY)
                == DEFAULT_NLU_FALLBACK_INTENT_NAME
            ):
                continue
            known = sum(word in self.vocabulary for word in words)
            if known < self._config["min_known_tokens"]:
                confidence = known / len(words)
                message.data[INTENT] = _fallback_intent(confidence)
                message.data.setdefault(INTENT_RANKING_KEY, []).insert(
                    0, _fallback_intent(confidence)
                )
        return messages
