"""Product details, comparison, stock and promotions: every figure from the database."""

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from kefu.config import Bilingual
from kefu.db import session_scope
from kefu.models import Category, Product, ProductVariant, Promotion
from kefu.products import compare, find_product_ids, load_details, pick, stock
from kefu.promotions import active_offers

LABELS = {"screen": Bilingual("屏幕", "Screen"), "chip": Bilingual("芯片", "Chip")}


def ids(session, *skus):
    return find_product_ids(session, skus)


def test_details_in_both_languages_with_labels(mini_shop):
    with session_scope(mini_shop) as session:
        (zh,) = load_details(session, ids(session, "PH-HW-M80"), "zh", LABELS)
        (en,) = load_details(session, ids(session, "PH-HW-M80"), "en", LABELS)
    assert zh.title == "华为 Mate 80 Pro 5G 手机" and en.title == "Huawei Mate 80 Pro 5G"
    assert zh.price == Decimal("6999") and zh.saving == Decimal("500")
    assert {s.label: s.value for s in zh.specs} == {"屏幕": "6.8英寸 OLED", "芯片": "麒麟9030"}
    assert {s.label: s.value for s in en.specs} == {"Screen": "6.8-inch OLED", "Chip": "Kirin 9030"}
    assert set(zh.colors) == {"黑色", "绿色"} and set(en.colors) == {"Black", "Green"}
    assert set(zh.storages) == {"256GB", "512GB"}


def test_details_keep_the_order_asked_and_skip_unknown_ids(mini_shop):
    with session_scope(mini_shop) as session:
        wanted = ids(session, "PH-XM-15", "PH-AP-18")
        found = load_details(session, [*wanted, 999_999], "zh")
    assert [d.sku for d in found] == ["PH-XM-15", "PH-AP-18"]


def test_pick_reads_positions_of_the_last_list():
    shown = [11, 22, 33]
    assert pick(shown, [2]) == [22]
    assert pick(shown, [1, 2]) == [11, 22]
    assert pick(shown, [-1]) == [33]
    assert pick(shown, [4, 0]) == []


def test_compare_aligns_specs_and_marks_missing_ones(mini_shop):
    with session_scope(mini_shop) as session:
        comparison = compare(session, ids(session, "PH-HW-M80", "SH-NK-AF1"), "en", LABELS)
    rows = dict(comparison.rows)
    assert rows["Price"] == ["¥6,999", "¥749"]
    assert rows["Screen"] == ["6.8-inch OLED", "–"]
    assert rows["Material"] == ["–", "Leather"]


def test_stock_by_colour_in_either_language_and_storage_spelling(mini_shop):
    with session_scope(mini_shop) as session:
        (phone,) = ids(session, "PH-HW-M80")
        for variant in session.scalars(
            select(ProductVariant).where(ProductVariant.product_id == phone)
        ):
            variant.stock = 0 if variant.color_zh == "黑色" else 5
        session.flush()
        black = stock(session, phone, "zh", color="黑色")
        green = stock(session, phone, "en", color="green", storage="256g")
        pink = stock(session, phone, "zh", color="粉色")
    assert black.known_option and not black.available
    assert black.in_stock_alternatives and all(v.stock > 0 for v in black.in_stock_alternatives)
    assert green.available and [v.label for v in green.matching] == ["Green / 256GB"]
    assert not pink.known_option


def test_offers_follow_time_category_and_scope(mini_shop):
    now = datetime(2026, 11, 30, 12)
    with session_scope(mini_shop) as session:
        phones = session.scalar(select(Category).where(Category.key == "phones"))
        digital = session.scalar(select(Category).where(Category.key == "digital"))
        shoes = session.scalar(select(Category).where(Category.key == "shoes"))
        day = timedelta(days=1)
        rows = [
            ("ALL", None, now - day, now + day),
            ("DIGI", digital.id, now - day, now + day),
            ("SHOE", shoes.id, now - day, now + day),
            ("OLD", None, now - 9 * day, now - 2 * day),
        ]
        for code, category_id, start, end in rows:
            session.add(
                Promotion(
                    code=code,
                    title_zh=code,
                    title_en=code,
                    kind="amount_off",
                    value=Decimal("10"),
                    min_spend=Decimal("0"),
                    category_id=category_id,
                    starts_at=start,
                    ends_at=end,
                    is_active=True,
                )
            )
        session.flush()
        phone = session.scalar(select(Product.id).where(Product.sku == "PH-AP-18"))
        for_phone = {o.code for o in active_offers(session, "zh", now, product_id=phone)}
        for_phones = {o.code for o in active_offers(session, "zh", now, category_id=phones.id)}
        everything = {o.code for o in active_offers(session, "en", now)}
        scoped = {o.code: o.scope for o in active_offers(session, "en", now)}
    assert for_phone == for_phones == {"ALL", "DIGI"}
    assert everything == {"ALL", "DIGI", "SHOE"}
    assert scoped["DIGI"] == "Digital" and scoped["ALL"] is None
