"""Pre-sales actions: recommendations, product details, comparison, stock, how to buy.

Thin by design: read slots and the latest message's entities, call the shop library
(:mod:`kefu.presales`, :mod:`kefu.recommend`, :mod:`kefu.products`), send the replies.
Every product fact comes from the database at the moment of the question.
"""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    first_latest_entity,
    identified_customer,
    latest_entities,
    latest_intent,
    reply_language,
    shop_session,
)
from kefu import cards
from kefu.config import shop_config
from kefu.presales import ANY, SearchState, budget_from_value, refine, targets
from kefu.products import compare, find_product_ids, load_details, stock
from kefu.recommend import Recommender, reason_text
from kefu.search import Vocabulary
from kefu.similarity import ItemSimilarity

_similarity: tuple[float, ItemSimilarity] | None = None


def similarity(session) -> ItemSimilarity:
    """The item-to-item model from the shop's events, rebuilt after the configured interval."""
    global _similarity
    refresh = shop_config().recommendations.similarity_refresh_minutes * 60
    if _similarity is None or time.monotonic() - _similarity[0] > refresh:
        _similarity = (time.monotonic(), ItemSimilarity.from_session(session))
    return _similarity[1]


SEARCH_SLOTS = ("product_category", "brand", "budget", "color", "size", "storage")
STATE_SLOTS = ("sort_preference", "excluded_brands", "seen_products", "shown_products")


def search_state(tracker: Tracker) -> SearchState:
    """The current search, from the slots."""
    config = shop_config()
    return SearchState(
        category=tracker.get_slot("product_category"),
        brand=tracker.get_slot("brand"),
        budget=budget_from_value(tracker.get_slot("budget"), config.exchange_rates),
        color=tracker.get_slot("color"),
        size=tracker.get_slot("size"),
        storage=tracker.get_slot("storage"),
        prefer=tracker.get_slot("sort_preference") or "balanced",
        excluded_brands=list(tracker.get_slot("excluded_brands") or []),
        seen=[int(i) for i in tracker.get_slot("seen_products") or []],
    )


def send_products(
    dispatcher: CollectingDispatcher, tracker: Tracker, items: list[cards.CardItem], language: str
) -> None:
    """Cards for channels that render them, numbered text for the others."""
    config = shop_config()
    channel = tracker.get_latest_input_channel()
    if channel in config.recommendations.rich_channels:
        dispatcher.utter_message(
            json_message=cards.cards_payload(items, language, config.storefront)
        )
    else:
        dispatcher.utter_message(text=cards.cards_text(items, language, config.storefront))


def mentioned_products(session, tracker: Tracker) -> list[int]:
    """Products named in the latest message (catalog matcher SKUs)."""
    return find_product_ids(session, [str(v) for v in latest_entities(tracker, "product")])


def product_targets(session, tracker: Tracker) -> list[int]:
    """The products the latest message is about (see :func:`kefu.presales.targets`)."""
    shown = [int(i) for i in tracker.get_slot("shown_products") or []]
    positions = [
        int(p)
        for value in latest_entities(tracker, "position")
        for p in str(value).split(",")
        if p.strip().lstrip("-").isdigit()
    ]
    focus = tracker.get_slot("focus_product")
    return targets(
        shown, positions, mentioned_products(session, tracker), int(focus) if focus else None
    )


def unknown_product_name(tracker: Tracker) -> str | None:
    """A product name the learned extractor found that the catalog does not know (the matcher
    gives SKUs)."""
    for entity in tracker.latest_message.get("entities", []):
        if entity.get("entity") == "product" and entity.get("extractor") != "ShopEntityExtractor":
            return str(entity.get("value"))
    return None


class ActionStartProductSearch(Action):
    """A new recommendation request: forget the previous search when the category changes."""

    def name(self) -> str:
        return "action_start_product_search"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        entities = {e.get("entity") for e in tracker.latest_message.get("entities", [])}
        events: list[dict[str, Any]] = [SlotSet(slot, None) for slot in STATE_SLOTS]
        if "product_category" in entities:
            entity_for = {"budget": "price"}
            events += [
                SlotSet(slot, None)
                for slot in SEARCH_SLOTS
                if entity_for.get(slot, slot) not in entities
            ]
        refinement = first_latest_entity(tracker, "refinement")
        if refinement in ("newest", "popular", "best_rated", "cheaper"):
            events.append(
                SlotSet("sort_preference", "cheapest" if refinement == "cheaper" else refinement)
            )
        return events


class ActionRecommendProducts(Action):
    """Recommend products for the current search, or for a follow-up on the last list."""

    def name(self) -> str:
        return "action_recommend_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        config = shop_config()
        state = search_state(tracker)
        intent = latest_intent(tracker)
        shown = [int(i) for i in tracker.get_slot("shown_products") or []]
        with shop_session() as session:
            vocabulary = Vocabulary.load(session)
            if intent == "refine_results":
                details = load_details(session, shown, language)
                state = refine(
                    state,
                    first_latest_entity(tracker, "refinement"),
                    [d.price for d in details],
                    [d.brand for d in details],
                )
            elif intent != "show_more":
                state.seen = []
            unknown_brand = state.brand and not vocabulary.brand_ids([state.brand])
            if unknown_brand:
                dispatcher.utter_message(response="utter_brand_not_sold", brand=state.brand)
                state.brand = None
            # an identified customer (identity: see the customer_id slot) gets personal picks
            customer = identified_customer(tracker)
            model = similarity(session) if customer else None
            recommender = Recommender(session, vocabulary, similarity=model)
            request = state.request(config.recommendations.page_size, customer)
            result = recommender.recommend(request)
            # nothing within budget: the closest products without it, said so (the recommender
            # itself relaxes colour, size and stock, never the budget)
            over_budget: list = []
            has_budget = request.min_price is not None or request.max_price is not None
            if not result.items and has_budget and intent not in ("refine_results", "show_more"):
                request.min_price = request.max_price = None
                over_budget = recommender.recommend(request).items
            items = result.items or over_budget
            details = {
                d.id: d
                for d in load_details(
                    session, [i.product_id for i in items], language, config.attribute_labels
                )
            }
        category = self._category_name(vocabulary, state.category, language)
        if not items:
            follow_up = {
                "refine_results": "utter_no_refined_products",
                "show_more": "utter_no_more_products",
            }
            dispatcher.utter_message(
                response=follow_up.get(intent, "utter_no_products"), category=category
            )
            return [
                SlotSet("shown_products", []),
                SlotSet("brand", None if unknown_brand else state.brand),
            ]
        sold_out = "in_stock_only" in result.relaxed  # only sold-out products match
        if over_budget:
            dispatcher.utter_message(response="utter_nearest_budget", category=category)
        elif sold_out:
            dispatcher.utter_message(response="utter_nearest_stock", category=category)
        elif intent == "show_more" and state.seen:
            dispatcher.utter_message(response="utter_more_products", category=category)
        else:
            dispatcher.utter_message(
                response="utter_recommendations", category=category, total=result.total
            )
        if set(result.relaxed) - {"in_stock_only"}:  # a colour / size / storage / word dropped
            dispatcher.utter_message(response="utter_relaxed_search")
        # "within your budget" only for a budget the customer gave, not for "更便宜的"
        stated_budget = tracker.get_slot("budget") not in (None, ANY) and intent != "refine_results"
        card_items = [
            cards.CardItem(
                details[item.product_id],
                position,
                tuple(
                    reason_text(r, language)
                    for r in item.reasons
                    if stated_budget or r.code != "fits_budget"
                ),
            )
            for position, item in enumerate(items, start=1)
            if item.product_id in details
        ]
        send_products(dispatcher, tracker, card_items, language)
        shown_ids = [c.product.id for c in card_items]
        return [
            SlotSet("shown_products", shown_ids),
            SlotSet("seen_products", [*state.seen, *shown_ids]),
            SlotSet("excluded_brands", state.excluded_brands),
            SlotSet("sort_preference", state.prefer),
            SlotSet("brand", None if unknown_brand else state.brand),
            SlotSet("budget", tracker.get_slot("budget") if intent != "refine_results" else None),
            SlotSet("focus_product", None),
            SlotSet("customer_id", customer),
        ]

    @staticmethod
    def _category_name(vocabulary: Vocabulary, category: str | None, language: str) -> str:
        if category in (None, ANY):
            return "商品" if language == "zh" else "products"
        found = vocabulary.tree.find(category)
        if found is None:
            return category
        return found.name_en.lower() if language == "en" else found.name_zh


class ActionProductInfo(Action):
    """Details of the product the customer means (position, name or the one last discussed)."""

    def name(self) -> str:
        return "action_product_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        config = shop_config()
        with shop_session() as session:
            ids = product_targets(session, tracker)
            details = load_details(session, ids[:1], language, config.attribute_labels)
        if not details:
            return self._not_found(dispatcher, tracker)
        product = details[0]
        dispatcher.utter_message(text=cards.details_text(product, language))
        if tracker.get_latest_input_channel() in config.recommendations.rich_channels:
            position = next(
                (
                    n
                    for n, i in enumerate(tracker.get_slot("shown_products") or [], 1)
                    if int(i) == product.id
                ),
                1,
            )
            send_products(dispatcher, tracker, [cards.CardItem(product, position)], language)
        return [SlotSet("focus_product", product.id)]

    @staticmethod
    def _not_found(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
        name = unknown_product_name(tracker)
        if name:
            dispatcher.utter_message(response="utter_product_not_sold", product=name)
        else:
            dispatcher.utter_message(response="utter_ask_which_product")
        return []


class ActionCompareProducts(Action):
    """Compare the products the customer names or points at; all shown ones when unspecified."""

    def name(self) -> str:
        return "action_compare_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        config = shop_config()
        shown = [int(i) for i in tracker.get_slot("shown_products") or []]
        with shop_session() as session:
            ids = product_targets(session, tracker)
            if len(ids) == 1:
                # "compare this one" (a card's button): with the best other product shown
                others = [i for i in shown if i != ids[0]]
                focus = tracker.get_slot("focus_product")
                partner = (
                    int(focus)
                    if focus and int(focus) != ids[0]
                    else (others[0] if others else None)
                )
                ids = [ids[0], partner] if partner else ids
            elif not ids:
                ids = shown[:3]
            comparison = compare(session, ids, language, config.attribute_labels)
        if len(comparison.products) < 2:
            name = unknown_product_name(tracker)
            if name:
                dispatcher.utter_message(response="utter_product_not_sold", product=name)
            dispatcher.utter_message(response="utter_ask_which_to_compare")
            return []
        dispatcher.utter_message(response="utter_comparison_intro", count=len(comparison.products))
        dispatcher.utter_message(text=cards.comparison_text(comparison, language))
        return [SlotSet("shown_products", [p.id for p in comparison.products])]


class ActionCheckStock(Action):
    """Whether the product the customer means is in stock, in the asked colour/size/storage."""

    def name(self) -> str:
        return "action_check_stock"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        with shop_session() as session:
            ids = product_targets(session, tracker)
            answer = (
                stock(
                    session,
                    ids[0],
                    language,
                    color=first_latest_entity(tracker, "color"),
                    size=first_latest_entity(tracker, "size"),
                    storage=first_latest_entity(tracker, "storage"),
                )
                if ids
                else None
            )
        if answer is None:
            return ActionProductInfo._not_found(dispatcher, tracker)
        title, asked = answer.product.title, " ".join(answer.asked)
        if not answer.known_option:
            dispatcher.utter_message(
                response="utter_option_not_offered", product=title, option=asked
            )
        elif answer.available:
            dispatcher.utter_message(response="utter_in_stock", product=title, option=asked)
        else:
            dispatcher.utter_message(response="utter_out_of_stock", product=title, option=asked)
        lines = cards.stock_summary(answer, language)
        if lines:
            dispatcher.utter_message(text=lines)
        return [SlotSet("focus_product", answer.product.id)]


class ActionHowToBuy(Action):
    """How to buy the product in question (or in general), with its link and the checkout steps."""

    def name(self) -> str:
        return "action_how_to_buy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        storefront = shop_config().storefront
        with shop_session() as session:
            ids = product_targets(session, tracker)
            details = load_details(session, ids[:1], language)
        steps = "\n".join(
            f"{n}. {step}" for n, step in enumerate(storefront.how_to_buy[language], 1)
        )
        if not details:
            dispatcher.utter_message(response="utter_how_to_buy", steps=steps)
            return []
        product = details[0]
        link = storefront.link("product_url", product.product_url, product.sku, product.id) or ""
        if product.stock_total <= 0:
            dispatcher.utter_message(response="utter_buy_sold_out", product=product.title)
        dispatcher.utter_message(
            response="utter_how_to_buy_product",
            product=product.title,
            price=cards.money(product.price),
            link=link,
            steps=steps,
        )
        return [SlotSet("focus_product", product.id)]


__all__ = [
    "ActionCheckStock",
    "ActionCompareProducts",
    "ActionHowToBuy",
    "ActionProductInfo",
    "ActionRecommendProducts",
    "ActionStartProductSearch",
]
