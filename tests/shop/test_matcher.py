import itertools
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from kefu.db import session_scope
from kefu.matcher import (
    ENTITIES,
    CatalogMatcher,
    CatalogTerms,
    _fingerprint_by_reading,
    catalog_fingerprint,
    product_names,
)
from kefu.models import Brand, Category, Product, ProductVariant
from kefu.series import Family

TERMS = CatalogTerms(
    categories=[
        ("beauty", ["美妆", "Beauty", "化妆品"]),
        ("makeup", ["彩妆", "Makeup", "化妆品"]),
        ("phones", ["手机", "Mobile Phones", "phone", "smartphone"]),
        ("tablets", ["平板电脑", "Tablets", "平板", "pad"]),
    ],
    brands=[
        ("apple", ["苹果", "Apple", "iphone"]),
        ("xiaomi", ["小米", "Xiaomi", "mi", "红米"]),
        ("huawei", ["华为", "Huawei"]),
    ],
    products=[
        ("IP17", ["Apple iPhone 17", "iPhone 17"]),
        ("IP17P", ["Apple iPhone 17 Pro", "iPhone 17 Pro"]),
        ("IP1", ["iPhone 1"]),
        ("M80P", ["Huawei Mate 80 Pro", "华为 Mate 80 Pro", "Mate 80 Pro"]),
        ("MI17", ["Xiaomi 17", "小米 17", "17", "17 Pro"]),
        ("PAD", ["Pad", "Xiaomi Pad 7"]),
        ("Y25", ["Legion Y9000P 2025", "Y9000P"]),
        ("Y26", ["Legion Y9000P 2026", "Y9000P"]),
    ],
    colors=[
        ("黑色", ["黑色", "Black"]),
        ("白色", ["白色", "White"]),
        ("米色", ["米色", "Beige"]),
        ("深空灰色", ["深空灰色", "Space Gray"]),
    ],
    sizes=["M", "XL", "XXL", "42", "65-inch"],
    storages=["256GB", "12GB+512GB", "1TB"],
)


@pytest.fixture(scope="module")
def matcher():
    return CatalogMatcher(TERMS)


def found(matcher, text):
    return [(m.entity, m.value, m.text) for m in matcher.match(text)]


@pytest.mark.parametrize(
    "text",
    ["iPhone 17", "iphone17", "IPHONE 17", "ＩＰＨＯＮＥ １７", "ｉＰｈｏｎｅ１７", "iPhone-17"],
)
def test_case_width_and_spaces_do_not_matter(matcher, text):
    assert found(matcher, f"{text}有货吗") == [("product", "IP17", text)]


def test_offsets_point_into_the_original_text(matcher):
    text = "请问 ＩＰＨＯＮＥ　１７ 黑色"
    matches = matcher.match(text)
    assert [(m.start, m.end) for m in matches] == [(3, 12), (13, 15)]
    assert all(text[m.start : m.end] == m.text for m in matches)


def test_traditional_chinese_finds_the_simplified_catalog_terms(matcher):
    text = "想買華為手機，蘋果的也行"
    assert found(matcher, text) == [
        ("brand", "huawei", "華為"),
        ("product_category", "phones", "手機"),
        ("brand", "apple", "蘋果"),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("iphnoe 17 has stock?", [("product", "IP17", "iphnoe 17")]),
        (
            "any good huawie phone",
            [("brand", "huawei", "huawie"), ("product_category", "phones", "phone")],
        ),
        (
            "xiaomi shouji 推荐",
            [("brand", "xiaomi", "xiaomi"), ("product_category", "phones", "shouji")],
        ),
        ("想要个 pingban diannao", [("product_category", "tablets", "pingban diannao")]),
        ("pingbandiannao", [("product_category", "tablets", "pingbandiannao")]),
    ],
)
def test_typos_and_pinyin_find_the_catalog_terms(matcher, text, expected):
    assert found(matcher, text) == expected


@pytest.mark.parametrize("text", ["please apply the coupon", "where is my parcel", "smartwatch"])
def test_english_words_and_unrelated_words_are_not_corrected(matcher, text):
    assert found(matcher, text) == []


def test_a_word_equally_close_to_two_catalog_words_is_left_alone():
    terms = CatalogTerms(
        categories=[],
        brands=[("b1", ["Garmon"]), ("b2", ["Garmun"])],
        products=[],
        colors=[],
        sizes=[],
        storages=[],
    )
    assert found(CatalogMatcher(terms), "garman watch") == []


def test_a_product_family_is_its_brand_and_category():
    terms = CatalogTerms(
        categories=[("phones", ["手机", "Mobile Phones"])],
        brands=[("apple", ["苹果", "Apple"]), ("huawei", ["华为", "Huawei"])],
        products=[("M80", ["Huawei Mate 80", "Mate 80"])],
        colors=[],
        sizes=[],
        storages=[],
        families=[
            Family("iPhone", "apple", "phones", needs_series_word=False),
            Family("Mate", "huawei", "phones", needs_series_word=True),
        ],
    )
    families = CatalogMatcher(terms)
    assert found(families, "iPhone有哪些") == [
        ("brand", "apple", "iPhone"),
        ("product_category", "phones", "iPhone"),
    ]
    assert found(families, "Mate 系列有什么") == [
        ("brand", "huawei", "Mate"),
        ("product_category", "phones", "Mate"),
    ]
    assert found(families, "华为Mate系列的手机") == [
        ("brand", "huawei", "华为"),
        ("product_category", "phones", "手机"),
    ]
    assert found(families, "a gift for my mate") == []  # an English word: only with 系列/series
    assert found(families, "Mate 80 多少钱") == [("product", "M80", "Mate 80")]


def test_the_longest_match_wins(matcher):
    assert found(matcher, "iPhone 17 Pro") == [("product", "IP17P", "iPhone 17 Pro")]
    assert found(matcher, "iphone17pro黑色") == [
        ("product", "IP17P", "iphone17pro"),
        ("color", "黑色", "黑色"),
    ]
    # a product name containing a brand name is the product
    assert found(matcher, "华为Mate 80 Pro") == [("product", "M80P", "华为Mate 80 Pro")]
    assert found(matcher, "mate80pro和小米17") == [
        ("product", "M80P", "mate80pro"),
        ("product", "MI17", "小米17"),
    ]


def test_latin_terms_never_match_inside_words_or_numbers(matcher):
    assert found(matcher, "mini") == []
    assert found(matcher, "Xiaomi") == [("brand", "xiaomi", "Xiaomi")]
    assert found(matcher, "mi phone") == [
        ("brand", "xiaomi", "mi"),
        ("product_category", "phones", "phone"),
    ]
    assert found(matcher, "iPhone 17") == [("product", "IP17", "iPhone 17")]
    assert found(matcher, "iPhone 1 还有吗") == [("product", "IP1", "iPhone 1")]
    assert found(matcher, "iphones") == []


def test_letters_glued_to_digits_continue_the_word(matcher):
    # "17e" is another model, not "iPhone 17"; "mi17" is no brand "mi"
    assert found(matcher, "iPhone 17e") == [("brand", "apple", "iPhone")]
    assert found(matcher, "mi17") == []
    # unless another match continues there
    assert found(matcher, "iphone17pro256g") == [
        ("product", "IP17P", "iphone17pro"),
        ("storage", "256GB", "256g"),
    ]


def test_product_names_are_never_bare_numbers_nor_brand_or_category_names(matcher):
    assert found(matcher, "17") == []
    assert found(matcher, "17 Pro") == []  # only words many models share
    assert found(matcher, "小米17") == [("product", "MI17", "小米17")]
    assert found(matcher, "pad") == [("product_category", "tablets", "pad")]
    assert found(matcher, "Xiaomi Pad 7") == [("product", "PAD", "Xiaomi Pad 7")]


def test_shared_names(matcher):
    # two products of the same name cannot be told apart: the name is dropped
    assert found(matcher, "Y9000P") == []
    assert found(matcher, "Legion Y9000P 2026") == [("product", "Y26", "Legion Y9000P 2026")]
    # a category name shared at the same rank belongs to the first category
    assert found(matcher, "化妆品") == [("product_category", "beauty", "化妆品")]


@pytest.mark.parametrize(
    ("text", "value", "mention"),
    [
        ("黑色的有吗", "黑色", "黑色"),
        ("有black吗", "黑色", "black"),
        ("深空灰", "深空灰色", "深空灰"),
        ("space grey", "深空灰色", "space grey"),
        ("Space Gray", "深空灰色", "Space Gray"),
        ("有黑的吗", "黑色", "黑"),
        ("白的有货吗", "白色", "白"),
        ("要米色的", "米色", "米色"),
    ],
)
def test_colours(matcher, text, value, mention):
    assert found(matcher, text) == [("color", value, mention)]


def test_one_character_colour_stems_need_their_context(matcher):
    assert found(matcher, "我明白的") == []
    assert found(matcher, "黑科技") == []
    assert found(matcher, "小米的") == [("brand", "xiaomi", "小米")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("256GB", "256GB"),
        ("256G", "256GB"),
        ("256g", "256GB"),
        ("256 GB", "256GB"),
        ("１２ＧＢ＋５１２ＧＢ", "12GB+512GB"),
        ("12G+512G", "12GB+512GB"),
        ("12+512", "12GB+512GB"),
        ("12/512G", "12GB+512GB"),
        ("1T", "1TB"),
        ("1 TB", "1TB"),
    ],
)
def test_storage(matcher, text, value):
    assert found(matcher, f"要{text}的") == [("storage", value, text)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("M码", "M"),
        ("size m", "M"),
        ("L号", None),
        ("XL", "XL"),
        ("xxl", "XXL"),
        ("2XL", "XXL"),
        ("42码", "42"),
        ("EU 42", "42"),
        ("65寸", "65-inch"),
        ("65英寸", "65-inch"),
        ("65 inch", "65-inch"),
        ("65-inch", "65-inch"),
    ],
)
def test_sizes(matcher, text, value):
    expected = [("size", value, text)] if value else []
    assert found(matcher, text) == expected


def test_bare_one_letter_and_numeric_sizes_are_not_sizes(matcher):
    assert found(matcher, "I'm fine") == []
    assert found(matcher, "M") == []
    assert found(matcher, "42") == []
    assert found(matcher, "5G手机") == [("product_category", "phones", "手机")]


def test_matches_are_sorted_and_never_overlap(matcher):
    text = "苹果 iPhone 17 Pro 256G 黑色, Xiaomi 17 12+512 白的, 华为平板 XL 42码"
    matches = matcher.match(text)
    assert [m.entity for m in matches] == [
        "brand",
        "product",
        "storage",
        "color",
        "product",
        "storage",
        "color",
        "brand",
        "product_category",
        "size",
        "size",
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))
    assert {m.entity for m in matches} <= set(ENTITIES)


def test_empty_text(matcher):
    assert matcher.match("") == []
    assert matcher.match("  ，。") == []


def test_product_names_from_titles():
    names = product_names(
        "苹果 iPhone 17 Pro 5G手机",
        "Apple iPhone 17 Pro",
        ["苹果", "Apple", "果子", "apple"],
        ["手机", "Mobile Phones", "5G手机", "phone", "数码"],
    )
    assert names[:2] == ["Apple iPhone 17 Pro", "苹果 iPhone 17 Pro 5G手机"]
    assert {"苹果 iPhone 17 Pro", "iPhone 17 Pro", "果子 iPhone 17 Pro"} <= set(names)
    names = product_names(
        "联想 拯救者 Y9000P 2025 笔记本电脑",
        "Lenovo Legion Y9000P 2025 Laptop",
        ["联想", "Lenovo", "拯救者", "legion"],
        ["笔记本电脑", "Laptops", "laptop"],
    )
    assert "Lenovo Legion Y9000P 2025" in names
    assert "拯救者 Y9000P 2025" in names
    assert "Legion Y9000P" in names  # without the year
    assert "联想 Y9000P 2025" in names
    assert "Legion Y9000P 2025 Laptop" in names  # the title without the brand
    assert "Lenovo Legion Y9000P 2025" in names[:4]  # shortened titles come next
    # a shortened title without its brand is no single bare word: "Matte", not a name
    names = product_names(
        "魅可 子弹头口红 Chili", "MAC Matte Lipstick (Chili)", ["魅可", "MAC"], ["口红", "lipstick"]
    )
    assert "Matte Lipstick (Chili)" in names and "MAC Matte" in names
    assert "Matte" not in names
    # "小米" + "平板" is one word, not the brand before a model
    assert "平板 7 Pro" not in product_names("小米平板 7 Pro", "Xiaomi Pad 7 Pro", ["小米"], [])


# ---- built from the database (SQLite and PostgreSQL)


def test_terms_from_the_database(mini_shop):
    with session_scope(mini_shop) as session:
        terms = CatalogTerms.from_session(session)
    assert [key for key, _ in terms.categories] == [
        "digital",
        "fashion",
        "phones",
        "laptops",
        "shoes",
    ]
    assert dict(terms.brands)["apple"][:2] == ["苹果", "Apple"]
    mate = dict(terms.products)["PH-HW-M80"]
    assert {"Huawei Mate 80 Pro 5G", "华为 Mate 80 Pro", "Mate 80 Pro"} <= set(mate)
    assert ("黑色", ["黑色", "Black"]) in terms.colors
    assert terms.sizes == ["40", "41", "42"]
    assert terms.storages == ["128GB", "256GB", "512GB"]


def test_matcher_from_the_database(mini_shop):
    with session_scope(mini_shop) as session:
        matcher = CatalogMatcher.from_session(session)
    assert found(matcher, "华为Mate 80 Pro有绿色的吗 256G") == [
        ("product", "PH-HW-M80", "华为Mate 80 Pro"),
        ("color", "绿色", "绿色"),
        ("storage", "256GB", "256G"),
    ]
    assert found(matcher, "any Huawei laptops?") == [
        ("brand", "huawei", "Huawei"),
        ("product_category", "laptops", "laptops"),
    ]
    assert found(matcher, "iphone 18 和 小米15 哪个好") == [
        ("product", "PH-AP-18", "iphone 18"),
        ("product", "PH-XM-15", "小米15"),
    ]
    assert found(matcher, "Nike Air Force 1 42码 white") == [
        ("product", "SH-NK-AF1", "Nike Air Force 1"),
        ("size", "42", "42码"),
        ("color", "白色", "white"),
    ]


def test_fingerprint_follows_catalog_changes(mini_shop):
    def fingerprint():
        with session_scope(mini_shop) as session:
            return catalog_fingerprint(session)

    first = fingerprint()
    assert fingerprint() == first

    with session_scope(mini_shop) as session:
        variant = session.scalars(select(ProductVariant).limit(1)).one()
        variant.stock += 5
        variant.price += Decimal("100")
    assert fingerprint() == first  # stock and prices are not names

    with session_scope(mini_shop) as session:
        phones = session.scalars(select(Category).where(Category.key == "phones")).one()
        apple = session.scalars(select(Brand).where(Brand.key == "apple")).one()
        session.add(
            Product(
                sku="PH-AP-19",
                title_zh="苹果 iPhone 19 手机",
                title_en="Apple iPhone 19",
                brand_id=apple.id,
                category_id=phones.id,
                price=Decimal("6999"),
                updated_at=datetime(2026, 1, 1),
            )
        )
    added = fingerprint()
    assert added != first
    with session_scope(mini_shop) as session:
        assert found(CatalogMatcher.from_session(session), "iPhone 19") == [
            ("product", "PH-AP-19", "iPhone 19")
        ]

    with session_scope(mini_shop) as session:
        product = session.scalars(select(Product).where(Product.sku == "PH-AP-19")).one()
        product.title_en = "Apple iPhone 91"  # same length: a count or length sum would miss it
    renamed = fingerprint()
    assert renamed not in (first, added)

    with session_scope(mini_shop) as session:
        variant = session.scalars(select(ProductVariant).limit(1)).one()
        variant.color_en = variant.color_en.upper()
    recoloured = fingerprint()
    assert recoloured not in (first, added, renamed)

    with session_scope(mini_shop) as session:
        brand = session.scalars(select(Brand).where(Brand.key == "xiaomi")).one()
        brand.synonyms = {"zh": ["小米", "红米"], "en": ["xiaomi", "mi", "redmi"]}
    assert fingerprint() != recoloured

    with session_scope(mini_shop) as session:
        session.delete(session.scalars(select(Product).where(Product.sku == "PH-AP-19")).one())
    assert fingerprint() not in (added, renamed)


def test_fingerprint_on_other_databases_reads_the_names(mini_shop):
    with session_scope(mini_shop) as session:
        before = _fingerprint_by_reading(session)
        session.scalars(select(Brand).where(Brand.key == "nike")).one().name_en = "NIKE"
        session.flush()
        after = _fingerprint_by_reading(session)
    assert len(before) == 16 and before != after
