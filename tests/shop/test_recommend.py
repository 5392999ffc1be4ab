"""Recommendations on the mini catalog (both backends): constraints, order, relaxation, CF."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from kefu.catalog import refresh_stock_totals
from kefu.cli import main
from kefu.db import session_scope
from kefu.models import Customer, CustomerEvent, Product, ProductVariant
from kefu.recommend import (
    REASON_CODES,
    RecommendationRequest,
    Recommender,
    reason_text,
)
from kefu.search import SearchError
from kefu.similarity import ItemSimilarity

TODAY = date(2026, 10, 20)  # the Mate 80 came out this month, the iPhone 18 last month
PHONES = ["PH-HW-M80", "PH-AP-18", "PH-XM-15"]
T0 = datetime(2026, 9, 1, 12, 0)


def sku_ids(session) -> dict[str, int]:
    return dict(session.execute(select(Product.sku, Product.id)).all())


def recommend(factory, similarity=None, **request):
    """(SKUs recommended, the result)."""
    with session_scope(factory) as session:
        recommender = Recommender(session, similarity=similarity, today=TODAY)
        result = recommender.recommend(RecommendationRequest(**request))
        by_id = {v: k for k, v in sku_ids(session).items()}
        return [by_id[item.product_id] for item in result.items], result


def set_stock(factory, sku_prefix: str, stock: int) -> None:
    with session_scope(factory) as session:
        session.execute(
            update(ProductVariant.__table__)
            .where(ProductVariant.sku.like(f"{sku_prefix}%"))
            .values(stock=stock)
        )
        refresh_stock_totals(session, list(sku_ids(session).values()))


def test_category_brand_and_excluded_brands(mini_shop):
    assert set(recommend(mini_shop, category="手机", limit=10)[0]) == set(PHONES)
    assert recommend(mini_shop, category="数码", brands=["华为"], limit=10, prefer="priciest")[
        0
    ] == ["LT-HW-XP", "PH-HW-M80"]
    found, result = recommend(mini_shop, category="phone", exclude_brands=["华为"], limit=10)
    assert set(found) == {"PH-AP-18", "PH-XM-15"}
    assert result.total == 2
    assert recommend(mini_shop, category="phones", exclude_brands=["apple", "xiaomi"])[0] == [
        "PH-HW-M80"
    ]


def test_budget_colour_and_text_are_hard_constraints(mini_shop):
    found, _ = recommend(mini_shop, category="phones", max_price=Decimal(6000), limit=10)
    assert set(found) == {"PH-AP-18", "PH-XM-15"}
    found, _ = recommend(mini_shop, min_price=Decimal(5000), max_price=Decimal(7000), limit=10)
    assert set(found) == {"PH-AP-18", "PH-HW-M80"}
    assert recommend(mini_shop, category="phones", color="绿色")[0] == ["PH-HW-M80"]
    assert recommend(mini_shop, text="iphone")[0] == ["PH-AP-18"]


def test_in_stock_only_by_default(mini_shop):
    set_stock(mini_shop, "PH-XM-15", 0)
    assert "PH-XM-15" not in recommend(mini_shop, category="phones", limit=10)[0]
    found, _ = recommend(mini_shop, category="phones", limit=10, in_stock_only=False)
    assert "PH-XM-15" in found


def test_newest_cheapest_priciest_best_rated(mini_shop):
    assert recommend(mini_shop, text="有什么新款手机推荐", prefer="newest")[0] == PHONES
    assert recommend(mini_shop, category="手机", prefer="newest")[0] == PHONES
    assert recommend(mini_shop, category="手机", prefer="cheapest")[0] == PHONES[::-1]
    assert recommend(mini_shop, category="手机", prefer="priciest")[0] == PHONES
    assert recommend(mini_shop, category="手机", prefer="best_rated")[0] == PHONES
    assert recommend(mini_shop, category="手机", prefer="best_rated", limit=1)[0] == ["PH-HW-M80"]


def test_popular_follows_sales(mini_shop):
    with session_scope(mini_shop) as session:
        for sku, sales in (("PH-HW-M80", 5), ("PH-AP-18", 50), ("PH-XM-15", 500)):
            session.execute(update(Product).where(Product.sku == sku).values(sales_count=sales))
    assert recommend(mini_shop, category="手机", prefer="popular")[0] == PHONES[::-1]


def test_balanced_prefers_prices_that_use_the_budget(mini_shop):
    with session_scope(mini_shop) as session:
        session.execute(update(Product).values(sales_count=100, rating=Decimal("4.5")))
        session.execute(update(Product).values(release_date=date(2025, 1, 1), list_price=None))
    found, result = recommend(mini_shop, category="phones", max_price=Decimal(7000), limit=3)
    assert found[-1] == "PH-XM-15"  # ¥3999 of a ¥7000 budget: less than the ¥5999 and ¥6999
    assert result.items[1].score > result.items[2].score


def test_relaxation_drops_as_little_as_possible_and_says_so(mini_shop):
    # no white phone with 512 GB: the colour goes, the storage stays
    found, result = recommend(mini_shop, category="phones", color="白色", storage="512GB")
    assert (found, result.relaxed) == (["PH-HW-M80"], ["color"])
    # a shoe size on a phone: dropping the colour alone does not help, the size goes
    found, result = recommend(mini_shop, category="phones", color="green", size="42")
    assert (found, result.relaxed) == (["PH-HW-M80"], ["size"])
    # a word no phone has
    found, result = recommend(mini_shop, category="phones", text="皮革", limit=10)
    assert (set(found), result.relaxed) == (set(PHONES), ["text"])
    set_stock(mini_shop, "PH-", 0)
    found, result = recommend(mini_shop, category="phones", limit=10)
    assert (set(found), result.relaxed, result.total) == (set(PHONES), ["in_stock_only"], 3)


@pytest.mark.parametrize(
    "request_",
    [
        {"category": "phones", "max_price": Decimal(1000)},
        {"category": "phones", "min_price": Decimal(8000), "color": "黑色"},
        {"category": "phones", "brands": ["nike"]},
        {"category": "phones", "brands": ["huawei"], "exclude_brands": ["华为"]},
        {"category": "no-such-category"},
        {"brands": ["no-such-brand"]},
    ],
)
def test_category_brand_and_budget_are_never_relaxed(mini_shop, request_):
    found, result = recommend(mini_shop, **request_)
    assert (found, result.total, result.relaxed) == ([], 0, [])


def test_products_already_shown_are_excluded(mini_shop):
    with session_scope(mini_shop) as session:
        ids = sku_ids(session)
    found, result = recommend(
        mini_shop, category="phones", prefer="newest", exclude_product_ids=[ids["PH-HW-M80"]]
    )
    assert found == ["PH-AP-18", "PH-XM-15"]
    assert result.total == 2
    # everything shown: nothing more, and no other colour slipped in by relaxation
    shown = [ids[s] for s in PHONES]
    found, result = recommend(mini_shop, category="phones", color="绿色", exclude_product_ids=shown)
    assert (found, result.total, result.relaxed) == ([], 0, [])


def test_every_item_has_one_or_two_reasons_in_both_languages(mini_shop):
    with session_scope(mini_shop) as session:
        for sku, sales in (("PH-HW-M80", 5), ("PH-AP-18", 50), ("PH-XM-15", 500)):
            session.execute(update(Product).where(Product.sku == sku).values(sales_count=sales))
    _, result = recommend(mini_shop, category="digital", limit=4, max_price=Decimal(10000))
    for item in result.items:
        assert 1 <= len(item.reasons) <= 2
        for reason in item.reasons:
            assert reason.code in REASON_CODES
            assert reason_text(reason, "zh") and reason_text(reason, "en")
    found, result = recommend(mini_shop, category="phones", prefer="newest")
    codes = {
        sku: [r.code for r in item.reasons] for sku, item in zip(found, result.items, strict=True)
    }
    assert codes["PH-HW-M80"][0] == "new_this_month"
    assert codes["PH-AP-18"][0] == "new_arrival"
    mate = result.items[0].reasons
    assert [reason_text(r, "zh") for r in mate] == ["本月新品", "评分 4.8"]
    assert [reason_text(r, "en") for r in mate] == ["New this month", "Rated 4.8"]
    iphone = result.items[1].reasons[0]
    assert reason_text(iphone, "zh") == "新品，2026年9月上市"
    assert reason_text(iphone, "en") == "New, out since September 2026"


def test_reason_texts():
    from kefu.recommend import Reason

    bought = Reason(
        "also_bought", {"product_id": 4, "title_zh": "华为 笔记本", "title_en": "Laptop"}
    )
    assert reason_text(bought, "zh") == "买了 华为 笔记本 的顾客也买了它"
    assert reason_text(bought, "en") == "Customers who bought Laptop also bought this"
    viewed = Reason(
        "also_viewed", {"product_id": 4, "title_zh": "小米 15", "title_en": "Xiaomi 15"}
    )
    assert reason_text(viewed, "zh") == "看过 小米 15 的顾客也看了它"
    assert reason_text(viewed, "en") == "Customers who viewed Xiaomi 15 also viewed this"
    sale = Reason("on_sale", {"saving": "500.00", "list_price": "7499.00"})
    assert (reason_text(sale, "zh"), reason_text(sale, "en")) == (
        "直降 ¥500",
        "¥500 off the list price",
    )
    budget = Reason("fits_budget", {"max_price": "2999.50"})
    assert reason_text(budget, "en") == "Within your ¥2999.50 budget"
    assert reason_text(budget, "zh") == "在您 ¥2999.50 的预算内"
    best = Reason("bestseller", {"sales": 12345})
    assert (reason_text(best, "zh"), reason_text(best, "en")) == (
        "热销，已售 12345 件",
        "Bestseller, 12,345 sold",
    )
    assert reason_text(Reason("new_this_month", {}), "other") == "本月新品"


def add_history(
    factory, purchases: dict[str, list[str]], views: dict[str, list[str]] | None = None
):
    """Customers (by name) and what they bought / viewed (SKUs); returns customer ids."""
    views = views or {}
    with session_scope(factory) as session:
        ids = sku_ids(session)
        customers = {}
        for n, name in enumerate(sorted(set(purchases) | set(views))):
            customer = Customer(name=name, phone=f"1380000000{n}")
            session.add(customer)
            session.flush()
            customers[name] = customer.id
            for kind, history in (("view", views), ("purchase", purchases)):
                for step, sku in enumerate(history.get(name, [])):
                    session.add(
                        CustomerEvent(
                            customer_id=customer.id,
                            product_id=ids[sku],
                            kind=kind,
                            at=T0 + timedelta(days=step),
                        )
                    )
        session.execute(update(Product).values(sales_count=100))
    return customers


def test_personalisation_changes_the_ranking_and_names_the_reason(mini_shop):
    customers = add_history(
        mini_shop,
        purchases={
            "me": ["LT-HW-XP"],
            "a": ["LT-HW-XP", "PH-XM-15"],
            "b": ["LT-HW-XP", "PH-XM-15"],
            "c": ["PH-HW-M80", "SH-NK-AF1"],
        },
    )
    with session_scope(mini_shop) as session:
        similarity = ItemSimilarity.from_session(session)
        laptop = sku_ids(session)["LT-HW-XP"]
    anonymous, _ = recommend(mini_shop, similarity, category="phones")
    assert anonymous[0] == "PH-HW-M80"
    found, result = recommend(mini_shop, similarity, category="phones", customer_id=customers["me"])
    assert found[0] == "PH-XM-15"
    reason = result.items[0].reasons[0]
    assert reason.code == "also_bought"
    assert reason.params == {
        "product_id": laptop,
        "title_zh": "华为 MateBook X Pro 笔记本电脑",
        "title_en": "Huawei MateBook X Pro Laptop",
    }
    assert reason_text(reason, "en") == (
        "Customers who bought Huawei MateBook X Pro Laptop also bought this"
    )
    # without a similarity model the customer gets the general ranking
    assert recommend(mini_shop, category="phones", customer_id=customers["me"])[0] == anonymous


def test_viewed_items_give_also_viewed_and_bought_items_sink(mini_shop):
    customers = add_history(
        mini_shop,
        purchases={"me": ["PH-HW-M80"], "a": ["PH-HW-M80", "PH-AP-18"]},
        views={"me": ["SH-NK-AF1"], "b": ["SH-NK-AF1", "PH-XM-15"], "c": ["SH-NK-AF1", "PH-XM-15"]},
    )
    with session_scope(mini_shop) as session:
        similarity = ItemSimilarity.from_session(session)
    found, result = recommend(
        mini_shop, similarity, category="phones", customer_id=customers["me"], limit=3
    )
    assert found[-1] == "PH-HW-M80"  # bought already
    codes = {
        sku: [r.code for r in item.reasons] for sku, item in zip(found, result.items, strict=True)
    }
    assert "also_bought" in codes["PH-AP-18"]
    assert "also_viewed" in codes["PH-XM-15"]


def test_similarity_from_session_since(mini_shop):
    add_history(mini_shop, purchases={"a": ["LT-HW-XP", "PH-XM-15"], "b": ["LT-HW-XP", "PH-XM-15"]})
    with session_scope(mini_shop) as session:
        ids = sku_ids(session)
        assert [p for p, _ in ItemSimilarity.from_session(session).similar(ids["LT-HW-XP"])] == [
            ids["PH-XM-15"]
        ]
        later = ItemSimilarity.from_session(session, since=T0 + timedelta(days=1))
        assert later.similar(ids["LT-HW-XP"]) == []


def test_invalid_requests(mini_shop):
    with session_scope(mini_shop) as session:
        recommender = Recommender(session, today=TODAY)
        with pytest.raises(SearchError, match="prefer"):
            recommender.recommend(RecommendationRequest(prefer="cheap"))
        with pytest.raises(SearchError, match="limit"):
            recommender.recommend(RecommendationRequest(limit=0))
        with pytest.raises(SearchError, match="min_price"):
            recommender.recommend(
                RecommendationRequest(min_price=Decimal(5000), max_price=Decimal(1000))
            )


def test_cli_export_log_then_evaluate(tmp_path, monkeypatch, capsys):
    import random

    from kefu.db import make_engine, make_session_factory
    from kefu.demo.generate import load_catalog_file
    from tests.shop.conftest import MINI_CATALOG

    url = f"sqlite:///{tmp_path}/shop.db"
    monkeypatch.setenv("KEFU_DB_URL", url)
    assert main(["db", "upgrade"]) == 0
    factory = make_session_factory(make_engine(url))
    with session_scope(factory) as session:
        load_catalog_file(session, MINI_CATALOG, random.Random(1))
    add_history(
        factory,
        purchases={"a": ["PH-XM-15"], "b": ["PH-AP-18"]},
        views={"a": ["PH-AP-18", "LT-HW-XP"], "b": ["PH-HW-M80"]},
    )
    capsys.readouterr()
    log = tmp_path / "log.csv"
    assert main(["recommend", "export-log", "--out", str(log), "--kinds", "purchase,view"]) == 0
    assert "exported 5 events" in capsys.readouterr().err
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "user,item,timestamp"
    assert len(lines) == 6 and "2026-09-01T12:00:00" in lines[1]
    assert main(["recommend", "export-log", "--out", str(log), "--kinds", "purchase"]) == 0
    assert len(log.read_text(encoding="utf-8").splitlines()) == 3
    capsys.readouterr()
    assert main(["recommend", "evaluate", str(log), "--k", "5"]) == 0
    out = capsys.readouterr().out
    assert "item-to-item CF" in out and "popularity baseline" in out and "HR@5" in out
    with pytest.raises(SystemExit):
        main(["recommend", "export-log", "--out", str(log), "--kinds", "purchase,like"])
