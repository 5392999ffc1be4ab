import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from kefu_rasa.tokenizer import KefuTokenizer


@pytest.fixture
def tokenizer(tmp_path):
    config = {**KefuTokenizer.get_default_config(), "dictionary_path": "data/dictionaries/jieba"}
    return KefuTokenizer.create(
        config, LocalModelStorage(tmp_path), Resource("tokenizer"), execution_context=None
    )


def tokens(tokenizer, text):
    return tokenizer.tokenize(Message({TEXT: text}), TEXT)


def test_mixed_text_has_no_whitespace_or_punctuation_tokens(tokenizer):
    words = [t.text for t in tokens(tokenizer, "hello there, 有什么新款手机推荐？")]
    assert words[:2] == ["hello", "there"]
    assert all(w.strip() and w not in {",", "？", "?"} for w in words)
    assert "推荐" in words and any("手机" in w for w in words)


def test_user_dictionary_keeps_brand_names_whole(tokenizer):
    words = [t.text for t in tokens(tokenizer, "我想买三只松鼠的坚果和戴森吹风机")]
    assert "三只松鼠" in words
    assert "戴森" in words


def test_full_width_digits_are_folded_but_offsets_point_into_the_original(tokenizer):
    text = "订单号１２３４５６７８９０"
    result = tokens(tokenizer, text)
    number = next(t for t in result if t.text.isdigit())
    assert number.text == "1234567890"
    assert text[number.start : number.end] == "１２３４５６７８９０"


def test_punctuation_only_message_still_has_a_token(tokenizer):
    assert [t.text for t in tokens(tokenizer, "  ???  ")] == ["???"]


def test_empty_message_has_no_tokens(tokenizer):
    assert tokens(tokenizer, "") == []


def test_very_long_message_is_capped(tokenizer):
    result = tokens(tokenizer, "我要买手机 " * 2000)
    config = KefuTokenizer.get_default_config()
    # capped at max_tokens, then read from its end like every long message (kefu.long_message)
    assert len(result) == config["long_message_tokens"] < config["max_tokens"]


def test_traditional_chinese_is_read_as_simplified_at_the_same_offsets(tokenizer):
    typed = "我的訂單到哪裡了？想退貨"
    message = Message({TEXT: typed})
    tokenizer.process([message])
    assert message.get(TEXT) == "我的订单到哪里了？想退货"
    words = {t.text: (t.start, t.end) for t in message.get("text_tokens")}
    start, end = words["订单"]
    assert typed[start:end] == "訂單"
