"""Promotions: which coupons and discounts run now, for the product or category in question."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import first_latest_entity, reply_language, shop_session
from actions.products import product_targets
from kefu import cards
from kefu.presales import ANY
from kefu.promotions import active_offers
from kefu.search import Vocabulary


class ActionPromotions(Action):
    """List the running promotions that apply (product → category/brand → whole shop)."""

    def name(self) -> str:
        return "action_promotions"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        with shop_session() as session:
            scope: dict[str, int] = {}
            targets = product_targets(session, tracker)
            if targets:
                scope["product_id"] = targets[0]
            else:
                vocabulary = Vocabulary.load(session)
                category = first_latest_entity(tracker, "product_category")
                brand = first_latest_entity(tracker, "brand")
                found = vocabulary.tree.find(str(category)) if category not in (None, ANY) else None
                if found is not None:
                    scope["category_id"] = found.id
                brand_ids = vocabulary.brand_ids([str(brand)]) if brand else set()
                if brand_ids:
                    scope["brand_id"] = min(brand_ids)
            offers = active_offers(session, language, **scope)
            if not offers and scope:
                dispatcher.utter_message(response="utter_no_promotions_for_this")
                offers = active_offers(session, language)
        if not offers:
            dispatcher.utter_message(response="utter_no_promotions")
            return []
        dispatcher.utter_message(response="utter_promotions_intro", count=len(offers))
        dispatcher.utter_message(text=cards.offers_text(offers, language))
        return []
