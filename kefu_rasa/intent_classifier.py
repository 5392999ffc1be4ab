"""NLU component: Rasa's logistic-regression intent classifier with its regularisation as a
setting.

Rasa's ``LogisticRegressionClassifier`` fixes scikit-learn's ``C`` at 1.0.  With tens of
thousands of sparse n-gram features and a 512-number sentence vector that strength of
regularisation spreads the probabilities thin: right answers at 0.4–0.5 fall under the
``FallbackClassifier`` threshold.  ``C`` is chosen by measurement (benchmarks/TUNING.md).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier


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
