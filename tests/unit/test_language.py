import pytest

from kefu.language import detect_language, requested_language


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


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("请用英文回复", "en"),
        ("麻烦改成汉语", "zh"),
        ("讲国语啦", "zh"),
        ("can we continue in english", "en"),
        ("reply in mandarin", "zh"),
        # the language refused comes first, the one wanted second
        ("看不懂英文，请用中文", "zh"),
        ("not english please, chinese", "zh"),
        # the one wanted first, the other named after it
        ("pls answer in english, my chinese is bad", "en"),
        ("说中文好吗，看不懂英文", "zh"),
    ],
)
def test_the_language_asked_for(text, language):
    found = requested_language(text)
    assert found is not None and found[0] == language
    assert text[found[1] : found[2]].lower() in text.lower()


@pytest.mark.parametrize("text", ["engineer", "有没有说明书", "what languages do you speak"])
def test_no_language_asked_for(text):
    assert requested_language(text) is None


def test_the_language_request_parser_is_linear_in_the_text():
    # every match looks back a fixed number of characters: no quadratic rescans
    text = "不要英文" * 20_000
    assert requested_language(text) is None
