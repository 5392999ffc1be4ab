"""NLU component that records the language of every message in the parse result.

The detected language (``zh``, ``en``, ``other`` or ``None``) is added to the parse data under
``language``; :mod:`kefu_rasa.language_policy` turns it into the ``language`` slot that selects
the Chinese or English variation of every response.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kefu.language import detect_language

LANGUAGE_KEY = "language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds ``language`` to every parsed message."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """Create the (stateless) component."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples need no language tag."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Tag each message with its detected language."""
        for message in messages:
            text = message.get(TEXT)
            language = detect_language(text) if isinstance(text, str) else None
            message.set(LANGUAGE_KEY, language, add_to_output=True)
        return messages
