"""The web chat widget on the demo shop, in headless chromium, against the real kefu servers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kefu.db import make_engine, make_session_factory
from kefu.models import Order

pytestmark = pytest.mark.model

CJK = re.compile(r"[\u3400-\u9fff]")
PRICE = re.compile(r"¥\d{1,3}(,\d{3})*(\.\d{2})?")


def card_facts(card) -> dict:
    return {
        "sku": card.get_attribute("data-sku"),
        "title": card.locator('[data-kefu="card-title"]').inner_text().strip(),
        "price": card.locator('[data-kefu="card-price"]').inner_text().strip(),
    }


def test_a_phone_question_gets_product_cards_with_pictures(chat):
    chat.visit()
    chat.open()
    reply = chat.ask("有什么新款手机推荐？")
    assert reply.cards, f"no product cards, the bot said: {reply.texts}"
    for card in reply.cards:
        facts = card_facts(card)
        assert "手机" in facts["title"], facts
        assert PRICE.fullmatch(facts["price"]), facts
    image = reply.cards[0].locator('[data-kefu="card-image"]')
    expect(image).to_have_attribute("src", re.compile(r"/shop/images/[^/]+\.svg$"))
    # the picture really loads: from the shop (the card's relative URL), allowed by its CSP
    chat.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    expect(reply.cards[0].locator('[data-kefu="card-button"]').first).to_be_enabled()
    # the widget's only global; the socket.io client it loaded left no window.io behind
    assert chat.page.evaluate("typeof window.io") == "undefined"
    assert chat.page.evaluate("Object.keys(window.KefuChat).sort()") == ["close", "open", "send"]


def test_card_and_quick_reply_buttons_get_answers(chat):
    chat.visit()
    chat.open()
    listed = chat.ask("有什么新款手机推荐？")
    assert listed.cards, f"no product cards, the bot said: {listed.texts}"
    title = card_facts(listed.cards[0])["title"]

    before = chat.mark()
    listed.cards[0].locator('[data-kefu="card-button"]').first.click()  # 详情 (details)
    expect(chat.user_messages.last).to_contain_text(title)  # the button's title, not /payload
    details = chat.wait_for_reply(before)
    assert any(title in text for text in details.texts), details.texts

    offered = chat.ask("你能做什么")
    assert "English please" in offered.quick_replies, offered
    buttons = chat.page.locator('[data-kefu="quick-reply"]')
    before = chat.mark()
    buttons.filter(has_text="English please").last.click()
    expect(chat.user_messages.last).to_have_text("English please")
    answered = chat.wait_for_reply(before)
    assert answered.texts and not CJK.search(" ".join(answered.texts)), answered.texts
    for i in range(buttons.count()):  # a used group cannot be clicked again
        expect(buttons.nth(i)).to_be_disabled()


def test_the_language_toggle_switches_the_bot_to_english(chat):
    chat.visit()
    chat.open()
    greeting = chat.ask("你好")
    assert CJK.search(" ".join(greeting.texts)), greeting.texts

    before = chat.mark()
    chat.toggle.click()
    expect(chat.toggle).to_have_text("中文")
    expect(chat.input).to_have_attribute("aria-label", "Type your message")
    switched = chat.wait_for_reply(before)
    assert not CJK.search(" ".join(switched.texts)), switched.texts
    assert chat.user_messages.count() == 1  # the switch is no message of the customer's

    reply = chat.ask("show me some laptops")
    if not reply.cards:  # no budget given: the search asks for one, in English, with buttons
        assert "No budget" in reply.quick_replies, reply
        assert not CJK.search(" ".join(reply.texts + reply.quick_replies)), reply
        before = chat.mark()
        chat.page.locator('[data-kefu="quick-reply"]').filter(has_text="No budget").last.click()
        reply = chat.wait_for_reply(before)
    assert reply.cards, f"no laptops, the bot said: {reply.texts}"
    said = " ".join(reply.texts + [card_facts(c)["title"] for c in reply.cards])
    assert re.search(r"[A-Za-z]{3,}", said) and not CJK.search(said), said
    stock = reply.cards[0].locator(".kefu-badge").inner_text()
    assert stock in ("In stock", "Sold out")  # the cards' own labels follow their language
    assert chat.stored()["language"] == "en"


def test_the_conversation_survives_a_reload(chat):
    chat.visit()
    chat.open()
    first = chat.ask("有什么新款手机推荐？")
    assert first.cards, f"no product cards, the bot said: {first.texts}"
    shown = {card_facts(c)["sku"] for c in first.cards}
    transcript = chat.transcript()
    session_id = chat.stored()["sessionId"]
    assert re.fullmatch(r"[0-9a-f]{32}", session_id)

    chat.page.reload()
    expect(chat.panel).to_be_visible()  # it was open
    expect(chat.page.locator('[data-kefu="message"]')).to_have_count(len(transcript))
    assert chat.transcript() == transcript
    old_buttons = chat.page.locator('[data-kefu="card-button"]')
    for i in range(old_buttons.count()):
        expect(old_buttons.nth(i)).to_be_disabled()

    # "any more?" only makes sense to the bot in the same conversation
    more = chat.ask("还有吗")
    assert more.cards, f"no more products, the bot said: {more.texts}"
    assert shown.isdisjoint(card_facts(c)["sku"] for c in more.cards)
    assert chat.stored()["sessionId"] == session_id


PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


@pytest.mark.parametrize("page_options", [PHONE], ids=["390x844"])
def test_on_a_phone_the_chat_fills_the_screen(chat):
    chat.visit()
    chat.launcher.tap()
    expect(chat.panel).to_be_visible()
    box = chat.panel.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    send = chat.page.locator('[data-kefu="send"]')
    for control in (chat.input, send, chat.toggle):
        control_box = control.bounding_box()
        assert control_box["x"] >= 0 and control_box["x"] + control_box["width"] <= 390
        assert control_box["y"] >= 0 and control_box["y"] + control_box["height"] <= 844
    before = chat.mark()
    chat.input.fill("有什么新款手机推荐？")
    send.tap()
    reply = chat.wait_for_reply(before)
    assert reply.cards, reply.texts
    card = reply.cards[0].bounding_box()
    assert card["x"] >= 0 and card["width"] < 390
    chat.page.locator('[data-kefu="close"]').tap()
    expect(chat.panel).to_be_hidden()
    chat.launcher.tap()  # and back, with the conversation (for the screenshot too)
    expect(chat.panel).to_be_visible()
    expect(reply.cards[0]).to_be_visible()


def test_keyboard_only(chat):
    chat.visit()
    page = chat.page
    focused = 'document.activeElement && document.activeElement.getAttribute("data-kefu")'
    for _ in range(400):
        page.keyboard.press("Tab")
        if page.evaluate(focused) == "launcher":
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus

    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    assert page.evaluate(focused) == "input"
    page.keyboard.type("你好")
    before = chat.mark()
    page.keyboard.press("Enter")
    expect(chat.user_messages.last).to_have_text("你好")
    reply = chat.wait_for_reply(before)
    assert reply.texts
    assert page.evaluate(focused) == "input"  # ready for the next message

    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert page.evaluate(focused) == "launcher"
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")


# ---- a logged-in customer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def orders_of():
    """A customer's orders with their parcels' tracking numbers, from the servers' database."""
    engine = make_engine()
    factory = make_session_factory(engine)

    def read(customer_id: int) -> dict[str, list[str]]:
        with factory() as session:
            orders = session.scalars(
                select(Order)
                .options(selectinload(Order.shipments))
                .where(Order.customer_id == customer_id)
            )
            return {o.order_no: [s.tracking_no for s in o.shipments] for o in orders}

    yield read
    engine.dispose()


def test_a_logged_in_customer_is_told_about_their_own_orders(chat, orders_of):
    chat.visit("/login")
    choices = chat.page.locator('[data-shop="login-as"]')
    expect(choices.first).to_be_visible()
    customer_id = int(choices.first.get_attribute("data-customer-id"))
    own = orders_of(customer_id)
    assert own
    choices.first.click()
    expect(chat.page.locator('[data-shop="customer-name"]')).to_be_visible()

    chat.open()
    offered = chat.ask("我的订单到哪了")
    picks = [title.split(" ", 1)[0] for title in offered.quick_replies]
    assert picks, f"no orders offered, the bot said: {offered.texts}"
    assert set(picks) <= set(own)  # their own orders, nobody else's
    shipped = next((number for number in picks if own[number]), None)
    assert shipped, "none of the offered orders has a parcel"
    before = chat.mark()
    chat.page.locator('[data-kefu="quick-reply"]').filter(has_text=shipped).click()
    status = chat.wait_for_reply(before)
    said = "\n".join(status.texts)
    assert any(tracking in said for tracking in own[shipped]), said  # that order's parcel
    assert "后 4 位" not in said and "请发一下订单号" not in said, said  # nothing asked

    # in English, about the same order (place names stay as the carrier reports them)
    english = "\n".join(chat.ask("where is my order").texts)
    assert any(tracking in english for tracking in own[shipped]), english
    assert not CJK.search(english.splitlines()[0]), english


def test_an_anonymous_customer_is_asked_for_the_order_number(chat):
    chat.visit()
    chat.open()
    reply = chat.ask("我的订单到哪了")
    said = "\n".join(reply.texts + reply.quick_replies)
    assert "订单号" in said, said
    assert not re.search(r"\d{16}", said)  # no order of anybody's


def test_a_lost_connection_is_shown_and_what_is_typed_meanwhile_is_sent_later(chat):
    page = chat.page
    offline = False
    sockets = []

    def websocket(route):
        if offline:
            route.close()
        else:
            route.connect_to_server()
            sockets.append(route)

    socket_io = re.compile(r"/socket\.io/")
    page.route_web_socket(socket_io, websocket)
    page.route(socket_io, lambda route: route.abort() if offline else route.continue_())
    chat.visit()
    chat.open()
    chat.ask("你好")
    session_id = chat.stored()["sessionId"]
    status = page.locator('[data-kefu="status"]')
    expect(status).to_be_hidden()

    offline = True
    for route in sockets:
        route.close()
    expect(status).to_be_visible()
    expect(status).to_have_text("连接中…")
    before = chat.mark()
    chat.input.fill("有什么新款手机推荐？")
    chat.input.press("Enter")
    expect(chat.user_messages.last).to_have_class(re.compile("kefu-pending"))

    offline = False  # socket.io retries by itself; the queued message goes out then
    reply = chat.wait_for_reply(before)
    expect(status).to_be_hidden()
    expect(chat.user_messages.last).not_to_have_class(re.compile("kefu-pending"))
    assert reply.cards, reply.texts
    assert chat.stored()["sessionId"] == session_id  # the same conversation


def test_too_long_or_html_looking_messages_are_handled_safely(chat):
    chat.visit()
    chat.open()
    notice = chat.page.locator('[data-kefu="notice"]')
    chat.input.fill("好" * 1001)
    expect(chat.page.locator('[data-kefu="counter"]')).to_have_text("1001/1000")
    chat.input.press("Enter")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("1000")
    expect(chat.user_messages).to_have_count(0)  # refused, not cut and not sent
    expect(chat.input).to_have_value("好" * 1001)  # kept, to shorten

    markup = '<img src="x" data-injected="1"><b>粗体</b>'
    reply = chat.ask(markup)  # shown as typed, as text
    assert reply.texts
    expect(notice).to_be_hidden()
    assert chat.page.locator('[data-kefu="panel"] [data-injected], .kefu-root b').count() == 0
