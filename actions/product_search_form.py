"""The recommendation form: ask only for what is missing (category, then budget), allow skips.

``required_slots`` drops the budget question when the request is already specific ("有什么新款
手机推荐？" names a category and asks for the newest), so such requests are answered in one turn.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_intent, reply_language, shop_session
from kefu.budget import parse_budget
from kefu.config import shop_config
from kefu.presales import ANY, budget_from_value
from kefu.search import Vocabulary
from kefu.text import fold_width

SKIP_INTENTS = ("no_preference", "deny")
SPECIFIC_SLOTS = ("brand", "color", "size", "storage")
PROBLEM_RESPONSES = {
    "not_positive": "utter_budget_not_positive",
    "implausible": "utter_budget_implausible",
    "contradictory": "utter_budget_contradictory",
    "currency": "utter_budget_currency",
}


class ValidateProductSearchForm(FormValidationAction):
    """Category and budget for a recommendation; see the module docstring."""

    def name(self) -> str:
        return "validate_product_search_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Skip the budget question when the category plus any other wish is known, unless the
        budget given is impossible ("0元")."""
        specific = any(tracker.get_slot(s) for s in SPECIFIC_SLOTS) or tracker.get_slot(
            "sort_preference"
        ) not in (None, "balanced")
        budget = budget_from_value(tracker.get_slot("budget"), shop_config().exchange_rates)
        impossible = budget is not None and budget.problem is not None  # say so, ask again
        if tracker.get_slot("product_category") and specific and not impossible:
            return [s for s in domain_slots if s != "budget"]
        return domain_slots

    def _skipped(self, tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot("requested_slot") == slot and latest_intent(tracker) in SKIP_INTENTS

    async def extract_product_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """ "随便" / "no preference" when asked for a category: recommend across the shop."""
        return {"product_category": ANY} if self._skipped(tracker, "product_category") else {}

    async def extract_budget(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A skipped budget, or a bare amount ("3000") given right after the budget question."""
        if self._skipped(tracker, "budget"):
            return {"budget": ANY}
        if tracker.get_slot("requested_slot") == "budget" and not tracker.get_slot("budget"):
            budget = parse_budget(tracker.latest_message.get("text") or "", expected=True)
            if budget is not None:
                return {"budget": budget.to_value()}
        return {}

    async def validate_product_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A category the shop sells (any name or synonym), or ANY; else say so and ask again."""
        if value == ANY:
            return {"product_category": ANY}
        name = fold_width(str(value)).strip().lower()
        with shop_session() as session:
            vocabulary = Vocabulary.load(session)
            category = vocabulary.tree.find(name)
            if category is None and name in vocabulary.categories:
                # a synonym maps to the category and everything below it: take the top one
                tree = vocabulary.tree
                ids = vocabulary.categories[name]
                category = max(
                    (tree.by_id[i] for i in ids), key=lambda c: len(tree.descendants(c.id))
                )
        if category is None:
            dispatcher.utter_message(response="utter_category_not_sold", category=str(value))
            return {"product_category": None}
        return {"product_category": category.key}

    async def validate_budget(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A usable budget, or ANY; impossible ones are explained and asked again."""
        if value == ANY:
            return {"budget": ANY}
        budget = budget_from_value(value, shop_config().exchange_rates)
        if budget is None:
            return {"budget": None}
        if budget.problem:
            dispatcher.utter_message(response=PROBLEM_RESPONSES[budget.problem])
            return {"budget": None}
        return {"budget": budget.to_value()}


class ActionAskProductCategory(Action):
    """Ask which kind of product, with the shop's top categories as buttons."""

    def name(self) -> str:
        return "action_ask_product_category"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        with shop_session() as session:
            tree = Vocabulary.load(session).tree
            tops = sorted(
                (c for c in tree.by_id.values() if c.parent_id is None), key=lambda c: c.id
            )
            buttons = [
                {
                    "title": c.name_en if language == "en" else c.name_zh,
                    "payload": f'/inform{{"product_category": "{c.key}"}}',
                }
                for c in tops
            ]
        dispatcher.utter_message(response="utter_ask_product_category", buttons=buttons)
        return []
