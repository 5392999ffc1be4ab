"""Pre-sales over the real REST channel: every product, price and stock figure the bot states is
checked against the shop database the running servers use."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from kefu.db import make_engine, make_session_factory
from kefu.identity import issue_token
from kefu.models import Brand, Category, CustomerEvent, Product
from tests.integration.conftest import IDENTITY_SECRET

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def shop():
    """Read access to the shop database the bot uses."""
    engine = make_engine()
    sessions = make_session_factory(engine)
    with sessions() as session:
        yield session
    engine.dispose()


def cards_of(messages: list[dict]) -> list[dict]:
    return [c for m in messages if m.get("custom") for c in m["custom"].get("cards", [])]


def texts_of(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages if m.get("text"))


def product_row(shop, sku: str) -> Product:
    return shop.scalar(select(Product).where(Product.sku == sku))


def category_key(shop, product: Product) -> str:
    category = shop.get(Category, product.category_id)
    while category.parent_id is not None and category.key != "phones":
        break
    return category.key


def assert_grounded(shop, card: dict) -> Product:
    """The card's title and price are the database's, right now."""
    product = product_row(shop, card["sku"])
    assert product is not None, card
    assert card["title"] in (product.title_zh, product.title_en)
    price = Decimal(card["price"].lstrip("¥").replace(",", ""))
    assert price == product.price
    return product


class Conversation:
    def __init__(self, bot):
        self.bot, self.sender = bot, uuid.uuid4().hex

    def say(self, text: str) -> list[dict]:
        return self.bot.say(text, self.sender)


def test_newest_phones_in_one_turn_with_follow_ups(bot, shop):
    chat = Conversation(bot)
    messages = chat.say("有什么新款手机推荐？")
    cards = cards_of(messages)
    assert len(cards) == 3, messages
    products = [assert_grounded(shop, c) for c in cards]
    assert {category_key(shop, p) for p in products} == {"phones"}
    newest_phone = shop.scalar(
        select(Product.release_date)
        .join(Category, Category.id == Product.category_id)
        .where(Category.key == "phones", Product.stock_total > 0)
        .order_by(Product.release_date.desc())
    )
    assert products[0].release_date == newest_phone
    assert all(c["reasons"] for c in cards)

    second = chat.say("第二个怎么样")
    assert products[1].title_zh in texts_of(second)
    assert f"{products[1].price:,.0f}" in texts_of(second)

    compared = texts_of(chat.say("比较一下前两个"))
    assert products[0].title_zh in compared and products[1].title_zh in compared

    cheaper = cards_of(chat.say("有没有更便宜的"))
    assert cheaper and all(
        assert_grounded(shop, c).price < min(p.price for p in products) for c in cheaper
    )

    other_brand = cards_of(chat.say("换个牌子看看"))
    shown_brands = {product_row(shop, c["sku"]).brand_id for c in cheaper}
    assert other_brand
    assert all(assert_grounded(shop, c).brand_id not in shown_brands for c in other_brand)

    more = cards_of(chat.say("还有吗"))
    assert more and not {c["sku"] for c in more} & {c["sku"] for c in other_brand}

    chat.say("第一个怎么样")
    stock_reply = texts_of(chat.say("黑色有货吗"))
    assert more[0]["title"] in stock_reply

    buy = texts_of(chat.say("怎么买"))
    assert more[0]["title"] in buy and "1." in buy


def test_english_budget_request_respects_the_budget(bot, shop):
    chat = Conversation(bot)
    messages = chat.say("any good laptops under 5000 yuan?")
    cards = cards_of(messages)
    assert cards, messages
    for card in cards:
        product = assert_grounded(shop, card)
        assert product.price <= 5000
        assert shop.get(Category, product.category_id).key == "laptops"
        assert card["title"] == product.title_en


def test_asks_for_budget_and_accepts_a_skip(bot, shop):
    chat = Conversation(bot)
    asked = chat.say("想买个耳机，推荐一下")
    assert not cards_of(asked)
    assert any(m.get("buttons") for m in asked), asked
    cards = cards_of(chat.say("/no_preference"))
    assert cards
    assert {shop.get(Category, assert_grounded(shop, c).category_id).key for c in cards} == {
        "headphones"
    }


def test_asks_for_category_then_budget_in_english(bot, shop):
    chat = Conversation(bot)
    asked = chat.say("can you recommend me something?")
    buttons = [b for m in asked for b in m.get("buttons", [])]
    assert buttons and all(b["payload"].startswith("/inform") for b in buttons)
    chat.say('/inform{"product_category": "tvs"}')
    cards = cards_of(chat.say("under 3000"))
    assert cards
    assert all(assert_grounded(shop, c).price <= 3000 for c in cards)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0元的手机有推荐吗", "大于 0"),
        ("5000以上1000以下的手机推荐一下", "矛盾"),
        ("预算一百万亿，推荐个电视", "超出"),
    ],
)
def test_impossible_budgets_get_an_honest_answer(bot, text, expected):
    messages = bot.say(text)
    assert expected in texts_of(messages)
    assert not cards_of(messages)


def test_brand_the_shop_does_not_sell(bot, shop):
    messages = bot.say("有诺基亚手机推荐吗")
    assert "诺基亚" in texts_of(messages)
    cards = cards_of(messages)
    assert cards
    nokia = shop.scalar(select(Brand).where(Brand.name_en == "Nokia"))
    assert nokia is None
    assert all(
        shop.get(Category, assert_grounded(shop, c).category_id).key == "phones" for c in cards
    )


def test_category_the_shop_does_not_sell(bot):
    messages = bot.say("想买辆汽车，有推荐吗")
    assert "汽车" in texts_of(messages)
    assert not cards_of(messages)


def test_promotions_come_from_the_database(bot):
    reply = texts_of(bot.say("最近有什么优惠活动吗"))
    assert "券码" in reply or "自动生效" in reply or "暂时没有" in reply


def test_identified_customer_gets_picks_from_their_history(bot, shop):
    buyer = shop.execute(
        select(CustomerEvent.customer_id)
        .where(CustomerEvent.kind == "purchase")
        .group_by(CustomerEvent.customer_id)
        .order_by(func.count().desc())
    ).first()[0]

    def recommendations(token: str) -> list[dict]:
        sender, metadata = uuid.uuid4().hex, {"customer_token": token}
        bot.say("有什么推荐的吗", sender, metadata)  # asks for the category (customers cannot
        # type intent payloads; "/no_preference" is a button's)
        bot.say("/no_preference", sender, metadata)  # asks for the budget
        return cards_of(bot.say("/no_preference", sender, metadata))

    personal = recommendations(issue_token(buyer, IDENTITY_SECRET))
    assert any("的顾客也" in r for c in personal for r in c["reasons"]), personal
    forged = recommendations(issue_token(buyer, "another secret that is long enough!!"))
    assert forged and not any("的顾客也" in r for c in forged for r in c["reasons"])
