"""Item-to-item collaborative filtering: "customers who bought X also bought this".

A user's history is the set of items they interacted with, each with the weight of their
strongest interaction (a purchase counts more than a view: ``EVENT_WEIGHTS``).  Two items are
similar when the same users interacted with both: the cosine of their user-weight vectors, shrunk
by n / (n + ``SHRINKAGE``) for n users in common, so that two rarely seen items one user happened
to have together do not look alike.  Only the ``neighbours`` most similar items of each item are
kept.  Plain Python: the demo shop's ~43k
events take well under a second.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.models import CustomerEvent

EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "add_to_cart": 2.0, "purchase": 4.0}
DEFAULT_NEIGHBOURS = 50  # similar items kept per item
SHRINKAGE = 5.0  # users in common at which a cosine counts half
MAX_ITEMS_PER_USER = 200  # a user's most recent distinct items that count (bounds the work)
RECENT_ITEMS = 20  # a customer's most recent distinct items that personalise recommendations

Item = Hashable
User = Hashable


class Affinity(NamedTuple):
    """How much a user's history points at an item, and the history item that points most."""

    score: float
    source: Item


def recent_items(
    events: Iterable[tuple[Item, Any, float]], limit: int = RECENT_ITEMS
) -> dict[Item, float]:
    """A user's ``limit`` most recent distinct items → their strongest weight, newest first.

    ``events`` are (item, timestamp, weight); equal timestamps keep the given order.
    """
    events = list(events)
    strongest: dict[Item, float] = {}
    for item, _, weight in events:
        strongest[item] = max(weight, strongest.get(item, weight))
    ordered = sorted(enumerate(events), key=lambda e: (e[1][1], e[0]), reverse=True)
    recent: dict[Item, float] = {}
    for _, (item, _, _) in ordered:
        if len(recent) == limit:
            break
        recent.setdefault(item, strongest[item])
    return recent


class ItemSimilarity:
    """The most similar items of each item, by cosine over users' weighted histories."""

    def __init__(self, neighbours: Mapping[Item, list[tuple[Item, float]]]) -> None:
        self._neighbours = {item: list(similar) for item, similar in neighbours.items()}

    def __len__(self) -> int:
        return len(self._neighbours)

    def similar(self, item: Item) -> list[tuple[Item, float]]:
        """The neighbours of ``item``, most similar first (empty for an unknown item)."""
        return list(self._neighbours.get(item, ()))

    def score(self, history: Mapping[Item, float]) -> dict[Item, Affinity]:
        """Every neighbour of the history's items → Σ weight × similarity, and its best source.

        Items of the history itself may appear (as neighbours of other history items); the
        caller decides whether to skip them.
        """
        scores: dict[Item, float] = {}
        best: dict[Item, tuple[float, Item]] = {}
        for source, weight in history.items():
            for item, similarity in self._neighbours.get(source, ()):
                contribution = weight * similarity
                scores[item] = scores.get(item, 0.0) + contribution
                if item not in best or contribution > best[item][0]:
                    best[item] = (contribution, source)
        return {item: Affinity(total, best[item][1]) for item, total in scores.items()}

    @classmethod
    def from_interactions(
        cls,
        rows: Iterable[tuple[User, Item, Any, float]],
        neighbours: int = DEFAULT_NEIGHBOURS,
        max_items_per_user: int = MAX_ITEMS_PER_USER,
        shrinkage: float = SHRINKAGE,
    ) -> ItemSimilarity:
        """Build from (user, item, timestamp, weight) rows; deterministic for a given order.

        Repeated interactions with an item count once, with their highest weight.  Of a very
        active user only the ``max_items_per_user`` most recent items count.
        """
        index: dict[Item, int] = {}  # item → first-seen position, also the tie-breaker
        histories: dict[User, dict[int, tuple[float, Any]]] = {}
        for user, item, timestamp, weight in rows:
            position = index.setdefault(item, len(index))
            history = histories.setdefault(user, {})
            previous = history.get(position)
            if previous is None:
                history[position] = (weight, timestamp)
            else:
                history[position] = (max(weight, previous[0]), max(timestamp, previous[1]))

        norms = [0.0] * len(index)
        # per item pair, in one number (one look-up per pair in the hot loop): the real part is
        # Σ_u w_ui · w_uj, the imaginary part the number of users who have both
        products: list[dict[int, complex]] = [{} for _ in index]
        for history in histories.values():
            items = [(p, w) for p, (w, _) in history.items()]
            if len(items) > max_items_per_user:
                items.sort(key=lambda pw: (history[pw[0]][1], pw[0]), reverse=True)
                items = items[:max_items_per_user]
            for a, weight_a in items:
                norms[a] += weight_a * weight_a
                row = products[a]
                get = row.get
                for b, weight_b in items:
                    row[b] = get(b, 0j) + (weight_a * weight_b + 1j)

        items_by_position = list(index)
        inverse_norms = [1 / math.sqrt(n) if n else 0.0 for n in norms]
        result: dict[Item, list[tuple[Item, float]]] = {}
        for a, row in enumerate(products):
            row.pop(a, None)
            # ranked without |a| (the same for the whole row); ties: the first-seen item
            top = heapq.nlargest(
                neighbours,
                [
                    (pair.real * inverse_norms[b] * pair.imag / (pair.imag + shrinkage), -b)
                    for b, pair in row.items()
                ],
            )
            similar = [(items_by_position[-b], s * inverse_norms[a]) for s, b in top if s > 0]
            if similar:
                result[items_by_position[a]] = similar
        return cls(result)

    @classmethod
    def from_session(
        cls,
        session: Session,
        since: datetime | None = None,
        neighbours: int = DEFAULT_NEIGHBOURS,
    ) -> ItemSimilarity:
        """Build from the shop's customer events (views, add-to-cart, purchases) since ``since``."""
        statement = select(
            CustomerEvent.customer_id,
            CustomerEvent.product_id,
            CustomerEvent.at,
            CustomerEvent.kind,
        ).order_by(CustomerEvent.id)
        if since is not None:
            statement = statement.where(CustomerEvent.at >= since)
        rows = (
            (customer, product, at, EVENT_WEIGHTS[kind])
            for customer, product, at, kind in session.execute(statement)
        )
        return cls.from_interactions(rows, neighbours=neighbours)
