"""Reading a satisfaction rating from what customers type (kefu.csat.parse_rating)."""

import pytest

from kefu.csat import NOT_A_RATING, OUT_OF_RANGE, RatingParse, parse_rating

RATINGS = {
    # digits, full-width digits, units, scales
    "5": 5,
    "4": 4,
    "１": 1,
    "５分": 5,
    "5分": 5,
    "3 分": 3,
    "给4分吧": 4,
    "4/5": 4,
    "2 / 5": 2,
    "4 out of 5": 4,
    "four out of five": 4,
    "I'd give it 4 stars": 4,
    "3 stars": 3,
    "1 star": 1,
    "5 points": 5,
    # Chinese numerals
    "五分": 5,
    "五星": 5,
    "三颗星": 3,
    "两分": 2,
    "打二分": 2,
    "五": 5,
    "五星好评": 5,
    "5星好评": 5,
    "5分满意": 5,
    # stars
    "★★★★": 4,
    "★★★☆☆": 3,
    "⭐️⭐️⭐️⭐️⭐️": 5,
    "⭐": 1,
    # Chinese words
    "非常满意": 5,
    "十分满意": 5,
    "很满意！": 5,
    "满意": 4,
    "服务很好，谢谢": 4,
    "一般": 3,
    "还行": 3,
    "还行吧": 3,
    "一般般吧": 3,
    "不满意": 2,
    "不太满意": 2,
    "非常不满意": 1,
    "很差": 1,
    "垃圾": 1,
    "差评": 1,
    # English words
    "excellent": 5,
    "Excellent service, thank you so much!": 5,
    "very satisfied": 5,
    "great": 5,
    "good": 4,
    "the service was good": 4,
    "ok": 3,
    "okay": 3,
    "average": 3,
    "not bad": 3,
    "bad": 2,
    "poor": 2,
    "unsatisfied": 2,
    "not good": 2,
    "terrible": 1,
    "awful": 1,
    "very dissatisfied": 1,
    "满分": 5,
    "happy": 4,
    "very happy": 5,
    "mediocre": 3,
    "full marks": 5,
    # a negation is read before the word it negates
    "not happy": 2,
    "unhappy": 2,
    "not pleased": 2,
    # explicit ratings count inside a longer answer
    "5分，物流很快，客服也耐心": 5,
    "4/5 would be 5 if delivery was faster": 4,
}


@pytest.mark.parametrize(("text", "rating"), RATINGS.items())
def test_ratings_are_read(text, rating):
    assert parse_rating(text) == RatingParse(rating, None)


@pytest.mark.parametrize(
    "text",
    ["0分", "0", "6", "10分", "-1", "4.5", "100分", "8/10", "7 stars", "ten", "十分", "六星"],
)
def test_numbers_outside_one_to_five_are_out_of_range(text):
    assert parse_rating(text) == RatingParse(None, OUT_OF_RANGE)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "谢谢",
        "where is my order",
        "我的订单到哪了",
        "iPhone 15 有货吗",  # a number that is no rating
        "订单号 2603020900000004",
        "三星手机有货吗",  # Samsung, not three stars
        "我等了一个星期",  # a week, not one star
        "等了五分钟",  # five minutes, not five points
        "你们的客服一般都几点上班",  # 一般 = usually
        "good morning",
        "one more question",
        "还行吧，就是物流慢，包装也破了",  # too much else to be sure
        "5分 but 1 star",  # two different ratings
        "/rate_satisfaction",
    ],
)
def test_free_text_is_not_a_rating(text):
    assert parse_rating(text) == RatingParse(None, NOT_A_RATING)
