"""NLU component: entities that the shop's own data and rules know better than a learned model.

* Catalog entities (``product_category``, ``brand``, ``product``, ``color``, ``size``,
  ``storage``) from :class:`kefu.matcher.CatalogMatcher`, built from the shop database.  The
  matcher is rebuilt when the catalog changes (checked at most every ``refresh_seconds``), so a
  new brand or product is understood without touching Rasa training data.  Learned entities stay
  where they do not overlap an entity found here: that is how a brand the shop does not sell
  ("诺基亚") still reaches the actions, which then say so.
* ``price``: the budget read by :func:`kefu.budget.parse_budget`, as a dict value
  ``{"min", "max", "currency", "problem"}`` replacing the learned raw span.
* ``position``: references to the last list shown ("第二个" → "2", "the first two" → "1,2").
* ``refinement``: cheaper / pricier / other_brand / newest / popular / best_rated.
* ``order_id``: an order number in any common format ("2611 0514-3212 3456", full-width
  digits), as its 16 digits (:func:`kefu.identity.find_order_number`).
* ``phone``: a mobile number, or the last 4 digits of one ("尾号6093", a message of 4 digits),
  as written (:func:`kefu.identity.find_phone`).
* ``language``: in a ``switch_language`` message, the language asked for ("看不懂英文，请用中文"
  → ``zh``, :func:`kefu.language.requested_language`).

The learned extractor's entities (CRF) below ``min_model_confidence`` are dropped: with few
examples per entity, its unsure guesses ("nice" as a category) are noise.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kefu.budget import parse_budget
from kefu.identity import find_order_number, find_phone
from kefu.language import requested_language
from kefu.matcher import CatalogMatcher, catalog_fingerprint
from kefu.memory import release_freed_memory
from kefu.references import find_positions, find_refinement

logger = logging.getLogger(__name__)

EXTRACTOR = "ShopEntityExtractor"
# the intent whose language entity fills the preferred_language slot
SWITCH_LANGUAGE_INTENT = "switch_language"


class CatalogSource:
    """The catalog matcher for the current shop database, rebuilt when the catalog changes."""

    def __init__(self, refresh_seconds: float, database_url: str | None = None) -> None:
        self.refresh_seconds = refresh_seconds
        self.database_url = database_url
        self._matcher: CatalogMatcher | None = None
        self._fingerprint: str | None = None
        self._checked_at = float("-inf")
        self._sessions = None

    def _session_factory(self):
        if self._sessions is None:
            from kefu.db import database_url, make_engine, make_session_factory

            self._sessions = make_session_factory(make_engine(self.database_url or database_url()))
        return self._sessions

    def matcher(self) -> CatalogMatcher | None:
        """The matcher, or None when the shop database cannot be read (logged once)."""
        now = time.monotonic()
        if now - self._checked_at < self.refresh_seconds:
            return self._matcher
        self._checked_at = now
        try:
            with self._session_factory()() as session:
                fingerprint = catalog_fingerprint(session)
                if fingerprint != self._fingerprint:
                    self._matcher = CatalogMatcher.from_session(session)
                    self._fingerprint = fingerprint
                    release_freed_memory()  # the build's temporary objects
                    logger.info("Catalog matcher (re)built for catalog %s", fingerprint)
        except Exception as error:  # a missing database must not take the bot down
            if self._matcher is None:
                logger.warning("Catalog entities unavailable: %s", type(error).__name__)
        return self._matcher


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ShopEntityExtractor(GraphComponent):
    """Adds catalog, budget, position and refinement entities; see the module docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"refresh_seconds": 30, "database_url": None, "min_model_confidence": 0.7}

    def __init__(self, config: dict[str, Any]) -> None:
        self.source = CatalogSource(config["refresh_seconds"], config.get("database_url"))
        self.min_model_confidence = float(config.get("min_model_confidence", 0.7))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ShopEntityExtractor:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the shop's entities to each message."""
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text.strip():
                intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
                entities = self.entities(text, message.get(ENTITIES, []), intent)
                message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def entities(
        self, text: str, existing: list[dict[str, Any]], intent: str | None = None
    ) -> list[dict[str, Any]]:
        """``existing`` (the learned extractor's) merged with the rule- and catalog-based
        entities for ``text``, whose classified intent is ``intent``."""
        found: list[dict[str, Any]] = []
        matcher = self.source.matcher()
        if matcher is not None:
            for match in matcher.match(text):
                found.append(_entity(match.entity, match.value, match.start, match.end, match.text))
        order = find_order_number(text)
        if order is not None:
            number, start, end = order
            found.append(_entity("order_id", number, start, end, text))
        phone = find_phone(text) if order is None else None
        if phone is not None:
            start, end = phone
            found.append(_entity("phone", text[start:end], start, end, text))
        # an order number's or a phone's digits are no budget
        budget = parse_budget(text) if order is None and phone is None else None
        if budget is not None:
            start, end = budget.span or (0, len(text))
            found.append(_entity("price", budget.to_value(), start, end, text[start:end]))
        references = find_positions(text)
        if references:
            # one entity over all references: "第一个和第三个" → "1,3"
            positions = dict.fromkeys(p for _, _, ps in references for p in ps)
            value = ",".join(str(p) for p in positions)
            found.append(_entity("position", value, references[0][0], references[-1][1], text))
        refinement = find_refinement(text)
        if refinement:
            kind, start, end = refinement
            found.append(_entity("refinement", kind, start, end, text))

        language = requested_language(text) if intent == SWITCH_LANGUAGE_INTENT else None
        if language is not None:
            value, start, end = language
            found.append(_entity("language", value, start, end, text))

        # the shop's data and rules win: learned entities that overlap theirs go ("0元" is a
        # budget, not storage "0"), and its budget spans are replaced by the parsed one;
        # an order number is what find_order_number says: learned guesses ("100" in a street
        # address) are dropped; so is a second language ("说中文好吗，看不懂英文")
        replaced = {"price", "order_id"} if budget is not None else {"order_id"}
        if language is not None:
            replaced.add("language")
        kept = [
            entity
            for entity in existing
            if entity.get("entity") not in replaced
            and entity.get("confidence_entity", 1.0) >= self.min_model_confidence
            and not any(_overlap(f, entity) for f in found if f["entity"] != "position")
        ]
        return kept + found


def _entity(kind: str, value: Any, start: int, end: int, text: str) -> dict[str, Any]:
    return {
        "entity": kind,
        "value": value,
        "start": start,
        "end": end,
        "confidence_entity": 1.0,
        "extractor": EXTRACTOR,
    }


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["start"] < b.get("end", 0) and b.get("start", 0) < a["end"]
