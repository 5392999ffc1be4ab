"""Policy that keeps the reply language right on every turn.

It never wins an ordinary prediction.  Instead it attaches ``SlotSet("language", …)`` to its
prediction; Rasa applies policy events before the next action runs, so every response, including
those dispatched by custom actions, is rendered with the right language variation.

The reply language is the customer's explicit choice (``preferred_language``, filled from the
``language`` entity of ``switch_language``) when there is one, else the language of their latest
message, else the conversation's current language.  A message in a language kefu does not speak
is answered with ``utter_unsupported_language``.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from kefu.language import SUPPORTED_LANGUAGES
from kefu_rasa.fixed_policy import FixedPolicy
from kefu_rasa.language_detector import LANGUAGE_KEY


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class LanguagePolicy(FixedPolicy):
    """Sets the ``language`` slot and answers messages in unsupported languages."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Slot and action names; priority above RulePolicy so its only prediction wins."""
        return {
            "priority": 7,
            "language_slot": "language",
            "preferred_language_slot": "preferred_language",
            "unsupported_language_action": "utter_unsupported_language",
        }

    def _reply_language(self, tracker: DialogueStateTracker, detected: str | None) -> str | None:
        preferred = tracker.get_slot(self.config["preferred_language_slot"])
        if preferred in SUPPORTED_LANGUAGES:
            return preferred
        if detected in SUPPORTED_LANGUAGES:
            return detected
        return tracker.get_slot(self.config["language_slot"])

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Emit the language slot; predict the unsupported-language reply when needed."""
        probabilities = self._default_predictions(domain)
        latest = tracker.latest_message
        detected = latest.parse_data.get(LANGUAGE_KEY) if latest else None
        events = []
        reply_language = self._reply_language(tracker, detected)
        slot = self.config["language_slot"]
        if reply_language and tracker.get_slot(slot) != reply_language:
            events.append(SlotSet(slot, reply_language))

        unsupported_action = self.config["unsupported_language_action"]
        if tracker.latest_action_name == ACTION_LISTEN_NAME and detected == "other":
            probabilities[domain.index_for_action(unsupported_action)] = 1.0
        elif tracker.latest_action_name == unsupported_action:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        return self._prediction(probabilities, events=events)
