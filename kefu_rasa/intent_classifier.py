"""NLU component: Rasa's logistic-regression intent classifier with its regularisation as a
setting.

Rasa's ``LogisticRegressionClassifier`` fixes scikit-learn's ``C`` at 1.0.  With tens of
thousands of sparse n-gram features and a 512-number sentence vector that strength of
regularisation spreads the probabilities thin: right answers at 0.4–0.5 fall under the
``FallbackClassifier`` threshold.  ``C`` is chosen by measurement (benchmarks/TUNING.md).

Serving computes the same probabilities as scikit-learn's ``predict_proba`` with the weights
stored column-major: scikit-learn multiplies the sparse features by a transposed view of the
48 × 54k weight matrix, which costs a copy of it (about 5 ms) on every message unless that view
is contiguous.  The weights are re-laid once, in place (no second copy held: 21 MB).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import RANKING_LENGTH


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentLogisticRegression(LogisticRegressionClassifier):
    """``LogisticRegressionClassifier`` with ``C`` (inverse regularisation strength)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))

    def probabilities(self, messages: list[Message]) -> np.ndarray:
        """(messages × intents) probabilities, equal to ``self.clf.predict_proba``."""
        features = self._create_X(messages)
        classes = self.clf.classes_
        if len(classes) <= 2 or self.clf.coef_.shape[0] != len(classes):
            return self.clf.predict_proba(features)  # binary: scikit-learn's own formula
        coef = self.clf.coef_
        if not coef.flags.f_contiguous:  # first use, or refitted: one copy, kept in its place
            coef = self.clf.coef_ = np.asfortranarray(coef)
        scores = np.asarray(features @ coef.T) + self.clf.intercept_  # coef.T: C-contiguous
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: list[Message]) -> list[Message]:
        """The most likely intent and the ranking of each message."""
        if not messages:
            return messages
        probabilities = self.probabilities(messages)
        names = [str(name) for name in self.clf.classes_]
        length = self.config[RANKING_LENGTH]
        for message, row in zip(messages, probabilities, strict=True):
            order = np.argsort(-row, kind="stable")
            ranking = [{INTENT_NAME_KEY: names[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(
                INTENT_RANKING_KEY, ranking[:length] if length > 0 else ranking, add_to_output=True
            )
        return messages
