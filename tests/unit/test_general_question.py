import pytest

from kefu.general_question import is_general_question


@pytest.mark.parametrize(
    "text",
    [
        "企业能开增值税发票吗",
        "公司采购可以开专票吗？",
        "退款一般多久到账",
        "你们支持开电子发票吗",
        "how long until a refund reaches my card",
        "can companies get a VAT invoice?",
        "Do you accept returns after 7 days?",
        "退貨退款要多久？",  # Traditional
    ],
)
def test_questions_about_the_rules_are_general(text):
    assert is_general_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "我要开发票",  # a request, not a question
        "帮我把订单取消了",
        "我的订单能开发票吗",
        "我买的耳机能退吗",
        "订单 2611051432123456 可以退款吗",
        "这单什么时候退款",
        "I want a refund",
        "can I get a refund for my order",
        "when will my refund arrive",
        "I ordered a phone last week, can I return it?",
        "退款" * 200 + "吗",  # far too long to be a general question
        "",
    ],
)
def test_requests_and_questions_about_an_order_are_not(text):
    assert not is_general_question(text)
