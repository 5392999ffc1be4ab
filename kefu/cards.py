"""Product replies in two forms: cards (a custom payload the web chat renders) and plain text.

A card carries what a customer needs to decide: image, title, price (and the crossed-out list
price), key specs, why it is suggested, stock, a link and buttons.  Text-only channels (WeChat,
Telegram, the terminal) get the same facts as numbered lines.  Buttons send intent payloads such
as ``/product_info{"position": 2}``, so a click is understood without guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kefu.config import Bilingual, Storefront
from kefu.products import Comparison, ProductDetails, StockAnswer, money
from kefu.promotions import Offer

CARD_SPECS = 3  # specs shown on a card

LABELS = {
    "details": Bilingual("详情", "Details"),
    "compare": Bilingual("对比", "Compare"),
    "stock": Bilingual("有货吗", "In stock?"),
    "buy": Bilingual("购买", "Buy"),
    "list_price": Bilingual("原价", "was"),
    "rating": Bilingual("评分", "rated"),
    "released": Bilingual("上市", "released"),
    "in_stock": Bilingual("有货", "in stock"),
    "sold_out": Bilingual("暂时缺货", "sold out"),
    "colors": Bilingual("颜色", "Colours"),
    "storages": Bilingual("版本", "Versions"),
    "sizes": Bilingual("尺码", "Sizes"),
    "code": Bilingual("券码", "code"),
    "automatic": Bilingual("自动生效", "applied automatically"),
    "until": Bilingual("截止", "until"),
    "scope_all": Bilingual("全场", "whole shop"),
    "left": Bilingual("件", "left"),
}
SEPARATOR = {"zh": "，", "en": ", "}


@dataclass(frozen=True)
class CardItem:
    product: ProductDetails
    position: int  # 1-based place in the list the customer sees
    reasons: tuple[str, ...] = ()


def _price_line(product: ProductDetails, language: str) -> str:
    line = money(product.price)
    if product.saving:
        open_, close = ("（", "）") if language == "zh" else (" (", ")")
        line += f"{open_}{LABELS['list_price'].get(language)} {money(product.list_price)}{close}"
    return line


def _button(title: Bilingual, intent: str, language: str, position: int) -> dict:
    return {
        "title": title.get(language),
        "payload": f"/{intent}{json.dumps({'position': str(position)})}",
    }


def card(item: CardItem, language: str, storefront: Storefront) -> dict:
    """One product card as a JSON-ready dict."""
    product = item.product
    url = storefront.link("product_url", product.product_url, product.sku, product.id)
    buttons = [
        _button(LABELS["details"], "product_info", language, item.position),
        _button(LABELS["compare"], "compare_products", language, item.position),
        _button(LABELS["stock"], "check_stock", language, item.position),
    ]
    if url:
        buttons.append({"title": LABELS["buy"].get(language), "url": url, "type": "web_url"})
    return {
        "id": product.id,
        "sku": product.sku,
        "position": item.position,
        "title": product.title,
        "brand": product.brand,
        "price": money(product.price),
        "list_price": money(product.list_price) if product.saving else None,
        "rating": f"{product.rating:.1f}" if product.rating is not None else None,
        "specs": [spec.value for spec in product.specs[:CARD_SPECS]],
        "reasons": list(item.reasons),
        "in_stock": product.stock_total > 0,
        "image": storefront.link("image_url", product.image_url, product.sku, product.id),
        "url": url,
        "buttons": buttons,
    }


def cards_payload(items: list[CardItem], language: str, storefront: Storefront) -> dict:
    """The custom payload for channels that render cards."""
    return {
        "type": "product_cards",
        "language": language,
        "cards": [card(item, language, storefront) for item in items],
    }


def cards_text(items: list[CardItem], language: str, storefront: Storefront) -> str:
    """The same products as plain text, one numbered block each."""
    blocks = []
    for item in items:
        product = item.product
        facts = [spec.value for spec in product.specs[:CARD_SPECS]]
        if product.rating is not None:
            facts.append(f"{LABELS['rating'].get(language)} {product.rating:.1f}")
        if product.stock_total <= 0:
            facts.append(LABELS["sold_out"].get(language))
        lines = [f"{item.position}. {product.title} — {_price_line(product, language)}"]
        lines.append("   " + " · ".join(facts))
        if item.reasons:
            lines.append("   " + SEPARATOR[language].join(item.reasons))
        url = storefront.link("product_url", product.product_url, product.sku, product.id)
        if url:
            lines.append(f"   {url}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def details_text(product: ProductDetails, language: str) -> str:
    """Everything the shop knows about one product, as text."""
    sep = "：" if language == "zh" else ": "
    lines = [f"{product.title} — {_price_line(product, language)}"]
    if product.description:
        lines.append(product.description)
    lines += [f"• {spec.label}{sep}{spec.value}" for spec in product.specs]
    for key, values in (
        ("colors", product.colors),
        ("storages", product.storages),
        ("sizes", product.sizes),
    ):
        if values:
            lines.append(f"• {LABELS[key].get(language)}{sep}{' / '.join(values)}")
    extra = []
    if product.rating is not None:
        extra.append(f"{LABELS['rating'].get(language)} {product.rating:.1f}")
    if product.release_date:
        extra.append(f"{LABELS['released'].get(language)} {product.release_date}")
    stock_label = "in_stock" if product.stock_total > 0 else "sold_out"
    extra.append(LABELS[stock_label].get(language))
    lines.append(" · ".join(extra))
    return "\n".join(lines)


def comparison_text(comparison: Comparison, language: str) -> str:
    """A comparison as one block per property: "屏幕：A 6.1英寸 | B 6.7英寸"."""
    sep = "：" if language == "zh" else ": "
    heads = [f"{chr(ord('A') + i)}. {p.title}" for i, p in enumerate(comparison.products)]
    lines = [*heads, ""]
    for label, values in comparison.rows:
        cells = " | ".join(f"{chr(ord('A') + i)} {v}" for i, v in enumerate(values))
        lines.append(f"{label}{sep}{cells}")
    return "\n".join(lines)


def stock_lines(variants: list, language: str) -> str:
    """ "黑色 / 256GB：有货" lines for variants."""
    sep = "：" if language == "zh" else ": "
    lines = []
    for variant in variants:
        state = LABELS["in_stock" if variant.stock > 0 else "sold_out"].get(language)
        lines.append(f"• {variant.label}{sep}{state}")
    return "\n".join(lines)


def stock_summary(answer: StockAnswer, language: str) -> str:
    """The asked variants first, then up to five in-stock alternatives."""
    text = stock_lines(answer.matching, language)
    if not answer.available and answer.in_stock_alternatives:
        text = "\n".join(
            filter(None, [text, stock_lines(answer.in_stock_alternatives[:5], language)])
        )
    return text


def offers_text(offers: list[Offer], language: str) -> str:
    """Running promotions as lines with code, scope and end date."""
    lines = []
    for offer in offers:
        code = (
            f"{LABELS['code'].get(language)} {offer.code}"
            if offer.code
            else LABELS["automatic"].get(language)
        )
        scope = offer.scope or LABELS["scope_all"].get(language)
        until = f"{LABELS['until'].get(language)} {offer.ends_at:%Y-%m-%d}"
        lines.append(
            f"• {offer.title}（{scope}，{code}，{until}）"
            if language == "zh"
            else f"• {offer.title} ({scope}; {code}; {until})"
        )
    return "\n".join(lines)
