"""The Rasa NLU component that adds catalog, budget, position and refinement entities."""

from decimal import Decimal

from kefu.db import session_scope
from kefu.models import Brand, Category, Product
from kefu_rasa.shop_entities import ShopEntityExtractor


def extractor(url):
    return ShopEntityExtractor({"refresh_seconds": 0, "database_url": url})


def by_type(entities):
    return {e["entity"]: e["value"] for e in entities}


def test_catalog_budget_and_refinement_entities(mini_shop, database_url):
    entities = extractor(database_url).entities("有什么新款华为手机推荐 5000以内", [])
    found = by_type(entities)
    assert found["brand"] == "huawei" and found["product_category"] == "phones"
    assert found["price"] == "-5000 CNY"
    assert found["refinement"] == "newest"
    price = next(e for e in entities if e["entity"] == "price")
    assert "有什么新款华为手机推荐 5000以内"[price["start"] : price["end"]] == "5000以内"


def test_diet_entities_are_kept_unless_the_catalog_covers_them(mini_shop, database_url):
    text = "诺基亚和华为哪个好"
    diet = [
        {"entity": "brand", "value": "诺基亚", "start": 0, "end": 3, "extractor": "DIETClassifier"},
        {"entity": "brand", "value": "华为", "start": 4, "end": 6, "extractor": "DIETClassifier"},
    ]
    entities = extractor(database_url).entities(text, diet)
    brands = sorted(e["value"] for e in entities if e["entity"] == "brand")
    assert brands == ["huawei", "诺基亚"]


def test_positions_of_the_last_list(mini_shop, database_url):
    found = by_type(extractor(database_url).entities("比较一下前两个", []))
    assert found["position"] == "1,2"


def test_catalog_changes_reach_the_matcher_without_retraining(mini_shop, database_url):
    component = extractor(database_url)
    assert "brand" not in by_type(component.entities("有没有荣耀的手机", []))
    with session_scope(mini_shop) as session:
        phones = session.query(Category).filter_by(key="phones").one()
        brand = Brand(key="honor", name_zh="荣耀", name_en="Honor", synonyms={})
        session.add(brand)
        session.flush()
        session.add(
            Product(
                sku="PH-HN-400",
                title_zh="荣耀 400 手机",
                title_en="Honor 400",
                brand_id=brand.id,
                category_id=phones.id,
                price=Decimal("2699"),
                stock_total=5,
            )
        )
    found = by_type(component.entities("有没有荣耀的手机", []))
    assert found["brand"] == "honor"


def test_diet_entities_overlapping_a_budget_are_dropped(mini_shop, database_url):
    diet = [
        {"entity": "storage", "value": "0", "start": 0, "end": 1, "extractor": "DIETClassifier"}
    ]
    found = extractor(database_url).entities("0元的手机有推荐吗", diet)
    assert [e["entity"] for e in found] == ["product_category", "price"]
    assert by_type(found)["price"] == "0-0 CNY not_positive"


def test_order_numbers_in_any_format_and_no_guessed_ones(mini_shop, database_url):
    text = "订单 ２６１１ ０５１４-3212 3456 寄到文三路100号"
    diet = [
        {
            "entity": "order_id",
            "value": "100",
            "start": 23,
            "end": 26,
            "extractor": "DIETClassifier",
        },
        {
            "entity": "order_id",
            "value": "2611",
            "start": 3,
            "end": 7,
            "extractor": "DIETClassifier",
        },
    ]
    found = [e for e in extractor(database_url).entities(text, diet) if e["entity"] == "order_id"]
    assert [(e["value"], text[e["start"] : e["end"]]) for e in found] == [
        ("2611051432123456", "２６１１ ０５１４-3212 3456")
    ]
    assert not [
        e for e in extractor(database_url).entities("尾号6093", []) if e["entity"] == "order_id"
    ]


def test_the_language_asked_for_replaces_the_learned_guesses(mini_shop, database_url):
    text = "说中文好吗，看不懂英文"
    learned = [
        {"entity": "language", "value": "zh", "start": 1, "end": 3, "extractor": "CRF"},
        {"entity": "language", "value": "en", "start": 9, "end": 11, "extractor": "CRF"},
    ]
    entities = extractor(database_url).entities(text, learned, "switch_language")
    assert [e["value"] for e in entities if e["entity"] == "language"] == ["zh"]


def test_a_language_named_in_another_ask_is_no_switch(mini_shop, database_url):
    entities = extractor(database_url).entities("有英文说明书吗", [], "product_info")
    assert "language" not in by_type(entities)
