"""Product cards and their plain-text form."""

import json
from decimal import Decimal as D

from kefu.cards import CardItem, cards_payload, cards_text, comparison_text, details_text, money
from kefu.config import Storefront
from kefu.products import Comparison, ProductDetails, Spec

STOREFRONT = Storefront("https://shop.example/p/{sku}", "", {"zh": ["下单"], "en": ["Order"]})


def product(**overrides):
    values = dict(
        id=7,
        sku="PH-1",
        title="华为 Mate 90",
        brand="华为",
        price=D("4999"),
        list_price=D("5399"),
        rating=D("4.9"),
        release_date="2026-11",
        description="新款",
        specs=[Spec("screen", "屏幕", "6.75英寸"), Spec("chip", "芯片", "麒麟9040")],
        colors=["黑色"],
        storages=["256GB"],
        sizes=[],
        stock_total=3,
        image_url=None,
        product_url=None,
        is_active=True,
    )
    values.update(overrides)
    return ProductDetails(**values)


def test_money_formats():
    assert money(D("4999")) == "¥4,999" and money(D("12.90")) == "¥12.90"


def test_card_has_price_specs_link_and_buttons_with_intent_payloads():
    payload = cards_payload([CardItem(product(), 2, ("本月新品",))], "zh", STOREFRONT)
    (card,) = payload["cards"]
    assert payload["type"] == "product_cards"
    assert card["price"] == "¥4,999" and card["list_price"] == "¥5,399"
    assert card["specs"] == ["6.75英寸", "麒麟9040"] and card["reasons"] == ["本月新品"]
    assert card["url"] == "https://shop.example/p/PH-1" and card["image"] is None
    details = card["buttons"][0]
    assert details["title"] == "详情"
    assert details["payload"].startswith("/product_info")
    assert json.loads(details["payload"][len("/product_info") :]) == {"position": "2"}
    assert json.dumps(payload, ensure_ascii=False)  # JSON-ready


def test_plain_text_has_the_same_facts():
    text = cards_text([CardItem(product(stock_total=0), 1, ("评分高",))], "zh", STOREFRONT)
    assert text.startswith("1. 华为 Mate 90 — ¥4,999（原价 ¥5,399）")
    assert "6.75英寸" in text and "暂时缺货" in text and "评分高" in text
    assert "https://shop.example/p/PH-1" in text


def test_details_and_comparison_text():
    text = details_text(product(), "zh")
    assert "屏幕：6.75英寸" in text and "颜色：黑色" in text and "有货" in text
    table = comparison_text(
        Comparison([product(), product(title="B")], [("价格", ["¥1", "¥2"])]), "zh"
    )
    assert "A. 华为 Mate 90" in table and "价格：A ¥1 | B ¥2" in table
