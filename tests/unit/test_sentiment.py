"""Sentiment of customers' messages (kefu.sentiment): SnowNLP / VADER calibrated with cue words.

The bands are what the calibrated scorer honestly achieves on these phrases: clear complaints
below -0.3, clear thanks and praise above +0.3, plain questions and requests within ±0.3.
Uncalibrated SnowNLP puts several of the neutral questions below -0.8, so these tests fail
without the calibration.
"""

import pytest

from kefu import sentiment
from kefu.sentiment import NEUTRAL_BAND, frustrated, score

NEGATIVE = [
    # Chinese: insults, fraud, slowness, broken goods, escalation, slang and typos
    "你们这什么垃圾东西",
    "太差了，再也不买了",
    "气死我了，等了一个星期还没到",
    "骗子！退钱！",
    "我要投诉你们",
    "买到假货了，太坑了",
    "质量太差，非常失望",
    "客服态度恶劣",
    "东西坏了都没人管",
    "三天了还不发货，搞什么",
    "垃圾客服，问什么都不知道",
    "说好的七天无理由呢，坑人",
    "辣鸡客服",
    "差评！",
    "无语了",
    "卧槽，又延迟了",
    "这也太慢了吧",
    "不是很满意",
    "你们家的东西真的太烂了",
    "发错货了，还不给换，什么服务",
    "耳机一个月就坏了，差评",
    "我真的很生气，你们必须给个说法",
    "再不处理我就去消协投诉",
    "包装都破了，里面的东西也碎了",
    "买了就降价，太坑了吧",
    "谢谢你们的垃圾服务",
    "东西还行，但是客服太差了",
    "到底什么时候发货？？？",
    "tmd 又是机器人",
    "我的iphone屏幕碎了，你们必须赔",
    "客服一直机器人回复，烦死了",
    "😡😡 还不发货",
    # English, including slang and a typo
    "this is garbage, I want my money back",
    "worst service ever",
    "I'm so angry, it's been a week!!!",
    "you guys are scammers",
    "still not delivered, ridiculous",
    "the product arrived broken and nobody helps",
    "wtf where is my package",
    "not happy at all",
    "The zipper broke after two days, really disappointed",
    "I've been waiting for 2 weeks, this is unacceptable!!",
    "nobody answers the phone, terrible",
    "this is a complete rip-off",
    "never again, waste of money",
    "ur service is terible and useless",
]

POSITIVE = [
    "谢谢",
    "谢谢你，很满意",
    "东西很好，物流也快",
    "太棒了，给好评",
    "收到了，质量不错",
    "非常满意，下次还来",
    "好的，谢谢亲",
    "客服小姐姐很耐心，点赞",
    "nice，很好用",
    "没问题，谢谢",
    "谢谢客服，问题解决了",
    "物流超快，包装也很用心",
    "衣服很合身，很喜欢",
    "好的好的，辛苦你啦",
    "给你们点个赞",
    "质量杠杠的，会回购",
    "非常感谢你的耐心解答",
    "多谢多谢👍",
    "yyds，爱了",
    "thanks so much, great service",
    "perfect, thank you!",
    "love it, fast delivery",
    "thx, that helped a lot",
    "thanks, you've been really helpful",
    "awesome, got it today, love the color",
    "cheers mate, problem solved",
    "great job, thank you",
    "tysm!!",
]

NEUTRAL = [
    "iPhone 15 有货吗",
    "我的订单到哪了",
    "怎么退货",
    "发票怎么开",
    "这个多少钱",
    "能便宜点吗",
    "有没有优惠券",
    "什么时候发货",
    "可以货到付款吗",
    "帮我查一下物流",
    "我要改地址",
    "你好",
    "在吗",
    "快递到哪了？",
    "这个手机续航怎么样",
    "这个耳机有白色的吗",
    "运费多少",
    "我想换个收货地址",
    "华为手机有没有分期",
    "订单号是2603020900000004",
    "几天能到上海",
    "请问支持七天无理由退货吗",
    "发票抬头写公司名可以吗",
    "我想取消订单",
    "这款和那款有什么区别",
    "麻烦帮我看一下这个usb线有没有货",
    "这个好用吗",
    "还行吧",
    "一般般",
    "where is my order",
    "Do you have the iPhone 15 in stock?",
    "how do I return this",
    "can I pay on delivery",
    "can I change my delivery address",
    "what payment methods do you accept",
    "how long does shipping to Beijing take",
    "I need an invoice for order 2603020900000004",
    "is the blue one available in size M",
    "I want to speak to a human",
    "iPhone 15 还有货吗",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_clear_complaints_are_negative(text):
    assert score(text) < -NEUTRAL_BAND


@pytest.mark.parametrize("text", POSITIVE)
def test_clear_thanks_and_praise_are_positive(text):
    assert score(text) > NEUTRAL_BAND


@pytest.mark.parametrize("text", NEUTRAL)
def test_plain_questions_and_requests_stay_neutral(text):
    assert -NEUTRAL_BAND <= score(text) <= NEUTRAL_BAND


def test_the_calibration_is_what_keeps_chinese_questions_neutral():
    raw = 2 * sentiment._snownlp().classify("可以货到付款吗") - 1
    assert raw < -0.5  # SnowNLP alone reads a plain question as a complaint
    assert abs(score("可以货到付款吗")) <= NEUTRAL_BAND


def test_scores_are_bounded_and_strong_cues_reach_far():
    assert score("垃圾垃圾垃圾！！！骗子骗子") == pytest.approx(-1.0, abs=0.05)
    assert score("非常满意，非常感谢，太棒了") > 0.8
    for text in NEGATIVE + POSITIVE + NEUTRAL:
        assert -1.0 <= score(text) <= 1.0


@pytest.mark.parametrize("text", ["", "   ", "12345", "👍👍", "😡", "？？？", "2603020900000004"])
def test_no_letters_is_neutral(text):
    assert score(text) == 0.0


def test_other_languages_score_zero():
    assert score("この商品は最悪です") == 0.0
    assert score("muy malo, quiero mi dinero") == 0.0
    assert score("terrible", language="fr") == 0.0


def test_the_language_can_be_given_and_mixed_text_counts_as_the_dominant_one():
    assert score("garbage", language="en") < -NEUTRAL_BAND
    assert score("垃圾", language="zh") < -NEUTRAL_BAND
    # mostly Chinese with an English word: Chinese cues decide
    assert score("这个 case 质量太差了，非常失望") < -NEUTRAL_BAND
    # mostly English with a Chinese word: English
    assert score("thank you so much, 谢谢") > NEUTRAL_BAND


def test_negation_intensity_and_contrast():
    assert score("满意") > NEUTRAL_BAND
    assert score("不满意") < -NEUTRAL_BAND
    assert score("一点都不专业") < 0 < score("很专业")
    assert score("失望") > score("非常失望")
    # the clause after "但是" counts more than the one before
    assert score("东西不错，但是物流太慢了") < 0
    assert score("物流太慢了，但是东西不错") > score("东西不错，但是物流太慢了")
    assert score("not helpful") < 0 < score("so helpful")


def test_false_friends_do_not_count():
    # "麻烦" is polite, "差不多" means "about", "usb" is not the insult "sb"
    for text in ("麻烦你帮我查一下", "差不多什么时候到", "usb线有货吗", "出差用的包有推荐吗"):
        assert abs(score(text)) <= NEUTRAL_BAND, text


def test_long_text_is_capped_for_the_model_and_stays_fast():
    text = "请问这个型号的手机什么时候能到货，" * 200  # 3400 characters
    assert abs(score(text)) <= NEUTRAL_BAND
    assert abs(score("太差了" + "的" * 5000)) > NEUTRAL_BAND  # the cue is in the read part


# ----------------------------------------------------------------------------- frustration


def scored(*texts: str) -> list[tuple[str, float]]:
    return [(text, score(text)) for text in texts]


def test_two_strongly_negative_messages_in_the_last_three_are_frustration():
    assert frustrated(scored("太差了", "我的订单到哪了", "骗子！退钱！"))
    assert frustrated(scored("where is my order", "worst service ever", "this is garbage"))
    # one is not enough, and an old one has left the window
    assert not frustrated(scored("太差了", "我的订单到哪了", "发票怎么开"))
    assert not frustrated(scored("太差了", "你好", "我的订单到哪了", "发票怎么开", "垃圾"))


def test_repeated_marks_on_a_negative_message_are_frustration():
    assert frustrated(scored("到底什么时候发货？？？"))
    assert frustrated([("why is it still not here!!", -0.4)])
    assert not frustrated([("有货吗？？", 0.0)])  # impatient but not negative
    assert not frustrated([("太棒了！！！", 0.9)])


def test_the_same_question_asked_again_is_frustration():
    assert frustrated(scored("我的订单到哪了", "好的", "我的订单到哪了？"))
    assert frustrated(scored("Where is my order?", "where is my order"))
    assert frustrated(scored("我的订单什么时候到", "我的订单到底什么时候到"))
    # short acknowledgements and thanks repeat without frustration
    assert not frustrated(scored("好的", "好的"))
    assert not frustrated(scored("谢谢你，很满意", "谢谢你，很满意"))
    # a different question is not a repetition
    assert not frustrated(scored("我的订单到哪了", "发票怎么开"))


def test_without_neutral_repeats_only_a_negative_repeat_is_frustration():
    browsing = [("再来几个看看", 0.0), ("再来几个看看", 0.0)]
    assert frustrated(browsing)
    assert not frustrated(browsing, neutral_repeats=False)
    annoyed = [("where is my parcel, it is late", -0.35), ("where is my parcel?? it is late", -0.4)]
    assert frustrated(annoyed, neutral_repeats=False)


def test_nothing_to_judge():
    assert not frustrated([])
    assert not frustrated(scored("你好"))
