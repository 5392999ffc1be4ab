"""Base for kefu's dialogue policies whose behaviour is configured, not learned."""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates


class FixedPolicy(Policy):
    """A policy with nothing to train: subclasses implement ``predict_action_probabilities``
    from their configuration and the tracker."""

    @staticmethod
    def supported_data() -> SupportedData:
        """Needs no training data, and runs with any."""
        return SupportedData.ML_AND_RULE_DATA

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        """Policies get a featurizer they do not use here."""
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        """Nothing to learn: the behaviour is fixed and configured."""
        return self._resource
