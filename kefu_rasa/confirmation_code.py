"""A message that is only a confirmation code ("482913", "验证码 482 913", "code: 482913") is
the customer's yes to a previewed change: intent ``affirm``, whatever DIET guessed.

Changes are confirmed by typing the one-time code that kefu sent to the phone or e-mail on file
(:mod:`kefu.step_up`); the dialogue's "yes to a previewed change" rule then runs
``action_apply_change``, which checks the code.  Outside a confirmation the ``affirm`` is
harmless.  The pattern is anchored and linear-time; longer messages are left to the model.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from kefu.text import fold_width

CODE_MESSAGE = re.compile(
    r"\s*(?:(?:验证码|驗證碼|确认码|code|otp)\s*(?:是|为|:|：|is)?\s*)?"
    r"\d{3}[ -]?\d{3}\s*[。.!！]?\s*",
    re.IGNORECASE,
)
MAX_CHARS = 40
AFFIRM = "affirm"


def is_code_message(text: str | None) -> bool:
    """True when ``text`` is nothing but a 6-digit code (optionally named as one)."""
    text = fold_width(text or "")
    return len(text) <= MAX_CHARS and CODE_MESSAGE.fullmatch(text) is not None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ConfirmationCodeClassifier(GraphComponent):
    """Sets ``affirm`` (confidence 1) on messages that are only a confirmation code."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ConfirmationCodeClassifier:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if not is_code_message(message.get(TEXT)):
                continue
            intent = {"name": AFFIRM, "confidence": 1.0}
            ranking = [
                r for r in message.data.get(INTENT_RANKING_KEY) or [] if r.get("name") != AFFIRM
            ]
            message.data[INTENT] = intent
            message.data[INTENT_RANKING_KEY] = [dict(intent), *ranking]
        return messages
