import pytest

from kefu.language import detect_language


@pytest.mark.parametrize(
    "text",
    [
        "你好",
        "有什么新款手机推荐？",
        "iPhone 15 pro max 有货吗",
        "在吗亲😊",
        "ok的，谢谢",
        "订单１２３４５６７８９０到哪了",
        "能用中文吗",
    ],
)
def test_chinese(text):
    assert detect_language(text) == "zh"


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "where is my order 1234567890",
        "do you have the 华为 Mate 60 in black?",
        "thx u r the best!!",
        "ＨＥＬＬＯ",
        "can you speak Chinese",
        "I'm looking for a new laptop",
    ],
)
def test_english(text):
    assert detect_language(text) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "こんにちは、注文はどこですか",  # Japanese (kana)
        "注文番号を教えてください",  # Japanese: kanji with kana
        "안녕하세요 주문 확인 부탁드립니다",  # Korean
        "Здравствуйте, где мой заказ?",  # Russian
        "مرحبا أين طلبي",  # Arabic
        "hola, quiero saber dónde está mi pedido",  # Spanish
        "bonjour, je veux savoir où est ma commande",  # French
    ],
)
def test_unsupported_languages(text):
    assert detect_language(text) == "other"


@pytest.mark.parametrize("text", ["", "   ", "123456", "👍👍", "???", "\x00\x01"])
def test_no_language(text):
    assert detect_language(text) is None
