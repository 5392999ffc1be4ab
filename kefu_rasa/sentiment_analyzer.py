"""NLU component that scores the sentiment of every customer message.

The score (-1 very negative … 0 neutral … +1 very positive, :func:`kefu.sentiment.score`:
SnowNLP for Chinese, VADER for English, both shipping their models) is added to the parse data
under ``sentiment``, so it is stored with every message in the tracker store: actions use it to
notice frustration and strong complaints, and ``kefu report`` to estimate satisfaction where no
rating was given.  Intent payloads from buttons (``/intent{...}``) are not scored.
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

from kefu import sentiment
from kefu.language import SUPPORTED_LANGUAGES
from kefu_rasa.language_detector import LANGUAGE_KEY  # runs before this component

SENTIMENT_KEY = "sentiment"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentimentAnalyzer(GraphComponent):
    """Adds ``sentiment`` (a float in [-1, 1]) to every parsed message."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentimentAnalyzer:
        """Create the (stateless) component and load the sentiment models once."""
        sentiment.preload()
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples are not scored."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Score each message in its detected language."""
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text.strip() or text.startswith("/"):
                continue
            language = message.get(LANGUAGE_KEY)
            value = sentiment.score(text, language if language in SUPPORTED_LANGUAGES else None)
            message.set(SENTIMENT_KEY, round(value, 3), add_to_output=True)
        return messages
