"""Policy that hands a frustrated customer to a person, whatever they are asking about.

Every customer message carries a sentiment score (``kefu_rasa.sentiment_analyzer``).  On each
user turn this policy looks at the customer's messages since the bot last dealt with their mood
(the session start, a hand-off, a complaint, or the agent handing the conversation back) and,
when :func:`kefu.sentiment.frustrated` holds over at least ``min_messages`` of them, predicts
the hand-off action with certainty.  Its priority is above RulePolicy's, so a customer who keeps
asking "到底发不发货？？" is not answered with the same tracking reply a third time.

It stays out of turns other parts already handle: the intents in ``skip_intents`` (a complaint
is judged by its own action; a request for a person is handed off anyway; a rating is a rating),
an active form, and messages in a language kefu does not speak.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationResumed,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from kefu.language import SUPPORTED_LANGUAGES
from kefu.sentiment import frustrated
from kefu_rasa.fixed_policy import FixedPolicy
from kefu_rasa.language_detector import LANGUAGE_KEY
from kefu_rasa.sentiment_analyzer import SENTIMENT_KEY


def mood_window(
    tracker: DialogueStateTracker, boundary_actions: set[str]
) -> list[tuple[str, float]]:
    """The customer's ``(text, sentiment)`` messages, oldest first, since the session started,
    the conversation was handed back, or one of ``boundary_actions`` ran.  Button payloads and
    external (non-customer) events are left out."""
    window: list[tuple[str, float]] = []
    for event in tracker.events:
        boundary = isinstance(event, (SessionStarted, ConversationResumed)) or (
            isinstance(event, ActionExecuted) and event.action_name in boundary_actions
        )
        if boundary:
            window = []
        elif isinstance(event, UserUttered):
            text = event.text or ""
            value = event.parse_data.get(SENTIMENT_KEY)
            if text.startswith("/") or not isinstance(value, (int, float)):
                continue
            window.append((text, float(value)))
    return window


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class FrustrationPolicy(FixedPolicy):
    """Predicts the hand-off when the customer's recent messages show frustration."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Action names and limits.  Priority 7 is above RulePolicy's 6; LanguagePolicy shares
        it but predicts only on messages in unsupported languages, which this policy leaves."""
        return {
            "priority": 7,
            "handoff_action": "action_handoff",
            "boundary_actions": ["action_handoff", "action_handle_complaint"],
            "skip_intents": ["complaint", "contact_human_agent", "rate_satisfaction"],
            "min_messages": 2,
            # a neutral question asked again is browsing ("还有别的吗") on an ordinary turn
            "neutral_repeats": False,
        }

    def should_hand_off(self, tracker: DialogueStateTracker) -> bool:
        """Whether this user turn shows frustration the bot should not answer itself."""
        latest = tracker.latest_message
        if tracker.latest_action_name != ACTION_LISTEN_NAME or latest is None:
            return False
        if tracker.active_loop_name:
            return False
        if latest.parse_data.get(LANGUAGE_KEY) not in SUPPORTED_LANGUAGES:
            return False
        if latest.intent_name in self.config["skip_intents"]:
            return False
        window = mood_window(tracker, set(self.config["boundary_actions"]))
        if len(window) < self.config["min_messages"]:
            return False
        return frustrated(window, neutral_repeats=self.config["neutral_repeats"])

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Certainty for the hand-off action on a frustrated turn, nothing otherwise."""
        probabilities = self._default_predictions(domain)
        if self.should_hand_off(tracker):
            probabilities[domain.index_for_action(self.config["handoff_action"])] = 1.0
        return self._prediction(probabilities)
