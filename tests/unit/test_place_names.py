import pytest

from kefu.place_names import english_place, in_english


@pytest.mark.parametrize(
    "name, english",
    [
        ("上海", "Shanghai"),
        ("广州", "Guangzhou"),
        ("广东省", "Guangdong"),
        ("北京市", "Beijing"),
        ("成都市", "Chengdu"),
        ("香港特别行政区", "Hong Kong"),
        ("西安", "Xi'an"),
        ("内蒙古自治区", "Inner Mongolia"),
        ("Shenzhen", "Shenzhen"),
    ],
)
def test_place_names_read_as_english_does(name, english):
    assert english_place(name) == english


def test_english_tracking_text_has_no_chinese_left():
    assert in_english("Left the 杭州 sorting centre") == "Left the Hangzhou sorting centre"
    assert in_english("Out for delivery") == "Out for delivery"
    assert in_english("") == ""
