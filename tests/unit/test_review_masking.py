"""Personal data out of review texts (kefu.review.masking), and made-up values back in."""

from __future__ import annotations

import pytest

from kefu.identity import find_order_number, find_phone
from kefu.review.masking import (
    ADDRESS,
    EMAIL,
    LAST4,
    NUMBER,
    ORDER,
    PHONE,
    fill_placeholders,
    item_key,
    mask,
    text_key,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("订单2602260900000001到哪了", f"订单{ORDER}到哪了"),
        ("order 2602 2609 0000 0001 where is it", f"order {ORDER} where is it"),
        ("我的手机13812345678，尾号5678", f"我的手机{PHONE}，尾号{LAST4}"),
        ("+86 139-1234-5678 call me", f"{PHONE} call me"),
        ("6093", LAST4),
        ("last 4 digits are 8866", f"last 4 digits are {LAST4}"),
        ("email me at zhang.san@example.com pls", f"email me at {EMAIL} pls"),
        ("改成北京市朝阳区建国路88号3栋502室", f"改成北京市朝阳区{ADDRESS}"),
        ("寄到幸福里小区5栋2单元301吧", f"寄到{ADDRESS}吧"),
        ("send it to 12 Baker Street, Apt 5 please", f"send it to {ADDRESS} please"),
        ("快递单号SF1234567890查不到", f"快递单号SF{NUMBER}查不到"),
    ],
)
def test_personal_data_becomes_placeholders(text, masked):
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "预算5000左右的手机",
        "iPhone 17 Pro 256G 有货吗",
        "忘记密码进不去账号了",
        "3 days ago",
        "第2个",
    ],
)
def test_ordinary_words_and_short_numbers_stay(text):
    assert mask(text) == text


def test_white_space_and_control_characters_are_tidied_and_long_text_clipped():
    assert mask("  where\tis \u200bmy\n\norder  ") == "where is my order"
    assert len(mask("好" * 5000)) == 500


def test_the_same_sentence_written_differently_has_one_key():
    assert text_key("Where is my ORDER?!") == text_key("where is my order")
    assert text_key("訂單到哪了？") == text_key("订单到哪了")
    assert text_key("ｏｒｄｅｒ　status") == text_key("order status")
    assert item_key(mask("订单2602260900000001到哪了")) == item_key(
        mask("订单 2601151230000002 到哪了？")
    )
    assert item_key("我要退货") != item_key("我要退款")


def test_placeholders_become_made_up_values_annotated_as_their_entity():
    masked = mask("订单2602260900000001没到，手机13812345678，邮箱a.b@example.com，尾号5678")
    text, spans = fill_placeholders(masked, "zh")
    assert "<" not in text
    by_entity = {entity: text[start:end] for start, end, entity in spans}
    assert find_order_number(by_entity["order_id"])[0] == by_entity["order_id"]
    assert find_phone(by_entity["phone"]) is not None
    assert by_entity["email"].endswith("@example.com")
    assert [entity for *_, entity in spans] == ["order_id", "phone", "email", "phone"]
    # stable for the same text, and nothing of the customer's comes back
    assert fill_placeholders(masked, "zh") == (text, spans)
    assert "13812345678" not in text and "2602260900000001" not in text


def test_an_address_is_filled_in_the_language_of_the_text():
    assert fill_placeholders(f"寄到{ADDRESS}", "zh")[0].startswith("寄到幸福路")
    filled, spans = fill_placeholders(f"ship to {ADDRESS}", "en")
    assert filled.endswith("Example Road") and spans == []
