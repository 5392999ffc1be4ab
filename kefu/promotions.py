"""Promotions and coupons that apply right now, optionally to one category, brand or product."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.catalog import CategoryTree
from kefu.clock import as_utc, to_db, utc_now
from kefu.models import Brand, Product, Promotion


@dataclass(frozen=True)
class Offer:
    """One running promotion, in the customer's language."""

    title: str
    code: str | None  # coupon code to enter at checkout; None = applied automatically
    kind: str
    value: Decimal
    min_spend: Decimal
    ends_at: datetime  # aware UTC
    scope: str | None  # category or brand name it is limited to; None = the whole shop


def active_offers(
    session: Session,
    language: str,
    now: datetime | None = None,
    category_id: int | None = None,
    brand_id: int | None = None,
    product_id: int | None = None,
) -> list[Offer]:
    """Promotions running at ``now`` that apply to the given product / category / brand.

    With nothing given, every running promotion.  A category-wide promotion also applies to the
    sub-categories; a shop-wide promotion (no category, no brand) applies everywhere.
    """
    now = to_db(now or utc_now())  # the columns hold naive UTC
    if product_id is not None:
        product = session.get(Product, product_id)
        if product is None:
            return []
        category_id, brand_id = product.category_id, product.brand_id
    tree = CategoryTree.load(session)
    statement = select(Promotion).where(
        Promotion.is_active.is_(True), Promotion.starts_at <= now, Promotion.ends_at > now
    )
    if category_id is not None or brand_id is not None:
        ancestors = _ancestors(tree, category_id) if category_id is not None else []
        statement = statement.where(
            or_(Promotion.category_id.is_(None), Promotion.category_id.in_(ancestors)),
            or_(Promotion.brand_id.is_(None), Promotion.brand_id == brand_id),
        )
    en = language == "en"
    offers = []
    for promotion in session.scalars(statement.order_by(Promotion.ends_at, Promotion.id)):
        scope = None
        if promotion.category_id is not None and promotion.category_id in tree.by_id:
            category = tree.by_id[promotion.category_id]
            scope = category.name_en if en else category.name_zh
        elif promotion.brand_id is not None:
            brand = session.get(Brand, promotion.brand_id)
            scope = brand.name_en if en else brand.name_zh
        offers.append(
            Offer(
                title=promotion.title_en if en else promotion.title_zh,
                code=promotion.code,
                kind=promotion.kind,
                value=promotion.value,
                min_spend=promotion.min_spend,
                ends_at=as_utc(promotion.ends_at),
                scope=scope,
            )
        )
    return offers


def _ancestors(tree: CategoryTree, category_id: int) -> list[int]:
    chain, current = [], tree.by_id.get(category_id)
    while current is not None:
        chain.append(current.id)
        current = tree.by_id.get(current.parent_id) if current.parent_id else None
    return chain
