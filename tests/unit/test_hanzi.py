import pytest

from kefu.hanzi import has_traditional, to_simplified
from kefu.matcher import normalize_for_nlu


@pytest.mark.parametrize(
    "typed, simplified",
    [
        ("有什麼新款手機推薦", "有什么新款手机推荐"),
        ("退貨退款要多久？", "退货退款要多久？"),
        ("發票抬頭寫錯了", "发票抬头写错了"),
        ("iPhone 15 還有貨嗎", "iPhone 15 还有货吗"),
        ("這個耳機的noise cancelling怎麼樣", "这个耳机的noise cancelling怎么样"),
    ],
)
def test_traditional_chinese_becomes_simplified(typed, simplified):
    assert to_simplified(typed) == simplified


@pytest.mark.parametrize("text", ["", "hello", "订单号 1234567890", "😀👍", "ｆｕｌｌ"])
def test_text_without_traditional_characters_is_unchanged(text):
    assert to_simplified(text) == text
    assert not has_traditional(text)


def test_length_is_kept_even_where_opencc_would_change_it():
    # every character on its own keeps its offset, whatever OpenCC's phrase tables do
    text = "著名的乾隆皇帝與後來的裡程碑" * 20 + "訂單"
    assert len(to_simplified(text)) == len(text)


def test_normalisation_for_the_nlu_combines_width_folding_and_traditional():
    assert normalize_for_nlu("訂單１２３") == "订单123"
