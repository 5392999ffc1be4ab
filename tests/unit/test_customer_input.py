import pytest

from kefu.customer_input import (
    InvoiceTitle,
    mentions_last_order,
    parse_invoice_kind,
    parse_invoice_title,
    parse_newsletter_choice,
    parse_return_reason,
)


@pytest.mark.parametrize(
    "text",
    [
        "我最近那个订单",
        "上一单",
        "上个订单还没到",
        "最新的订单",
        "最近一单",
        "最后一单什么时候发货",
        "刚买的那个",
        "刚下的单能取消吗",
        "我最近买的耳机坏了",
        "my last order",
        "the latest one",
        "most recent order please",
        "What about my previous order?",
        "the one I just bought",
        "MY LAST ORDER",
        "ｍｙ ｌａｓｔ ｏｒｄｅｒ",
        "就是我最近那个order",
    ],
)
def test_last_order(text):
    assert mentions_last_order(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "你好",
        "上个月的订单号是20240512001",
        "上周买的那个",
        "last week I ordered two",
        "最近有什么活动",
        "最新物流到哪了",
        "不是最近那个，是上个月的",
        "not my last order, the one before",
        "the last one",  # after a list: the last item shown (kefu.references)
        "the latest iPhone",
        "order 12345678",
    ],
)
def test_not_the_last_order(text):
    assert mentions_last_order(text) is False


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("屏幕坏了", "defect"),
        ("质量问题", "defect"),
        ("衣服有瑕疵", "defect"),
        ("灯不亮", "defect"),
        ("收到就破损了", "defect"),
        ("你们发错货了", "defect"),
        ("开不了机", "defect"),
        ("It's broken", "defect"),
        ("the charger is defective", "defect"),
        ("it doesn't work", "defect"),
        ("arrived damaged", "defect"),
        ("you sent me the wrong item", "defect"),
        ("不想要了", "no_reason"),
        ("七天无理由", "no_reason"),
        ("７天无理由退货", "no_reason"),
        ("尺码不合适", "no_reason"),
        ("不喜欢这个颜色", "no_reason"),
        ("尺码不对", "no_reason"),
        ("买错了", "no_reason"),
        ("I changed my mind", "no_reason"),
        ("I don't like it", "no_reason"),
        ("it doesn't fit", "no_reason"),
        ("no reason", "no_reason"),
        ("I ordered the wrong size", "no_reason"),
        ("ＢＲＯＫＥＮ", "defect"),
        ("颜色和图片不一样", "defect"),
    ],
)
def test_return_reasons(text, reason):
    assert parse_return_reason(text) == reason


def test_a_defect_outweighs_a_change_of_mind():
    assert parse_return_reason("不太喜欢，而且有瑕疵") == "defect"
    assert parse_return_reason("尺码不对，还发错颜色了") == "defect"
    assert parse_return_reason("too small and the zipper is broken") == "defect"


def test_a_negated_reason_does_not_count():
    assert parse_return_reason("不是质量问题，就是不喜欢") == "no_reason"
    assert parse_return_reason("没有破损，就是不想要了") == "no_reason"
    assert parse_return_reason("it isn't broken, I just changed my mind") == "no_reason"
    assert parse_return_reason("不是质量问题") is None


@pytest.mark.parametrize(
    "text",
    ["", "你好", "我要退货", "I want a refund", "怎么退", "什么时候到账", "asdf!!", "12345"],
)
def test_no_return_reason(text):
    assert parse_return_reason(text) is None


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("退订", "unsubscribe"),
        ("取消订阅", "unsubscribe"),
        ("别给我发了", "unsubscribe"),
        ("以后不要再发广告短信了", "unsubscribe"),
        ("不想收到这些消息", "unsubscribe"),
        ("不要订阅", "unsubscribe"),
        ("不想订阅", "unsubscribe"),
        ("TD", "unsubscribe"),
        ("stop sending me emails", "unsubscribe"),
        ("Unsubscribe", "unsubscribe"),
        ("opt out", "unsubscribe"),
        ("please don't sign me up", "unsubscribe"),
        ("not interested", "unsubscribe"),
        ("别再推送了", "unsubscribe"),
        ("订阅", "subscribe"),
        ("帮我订阅一下", "subscribe"),
        ("想收到优惠通知", "subscribe"),
        ("开启推送", "subscribe"),
        ("subscribe", "subscribe"),
        ("yes, sign me up", "subscribe"),
        ("opt in", "subscribe"),
        ("I'd like to receive offers", "subscribe"),
        ("别取消订阅", "subscribe"),
        ("ＳＵＢＳＣＲＩＢＥ", "subscribe"),
        ("订阅 newsletter", "subscribe"),
    ],
)
def test_newsletter_choices(text, choice):
    assert parse_newsletter_choice(text) == choice


def test_a_refusal_wins():
    assert parse_newsletter_choice("我之前订阅过，现在想退订") == "unsubscribe"
    assert parse_newsletter_choice("I subscribe to nothing, unsubscribe me") == "unsubscribe"


@pytest.mark.parametrize(
    "text",
    ["", "好的", "嗯", "no thanks", "yes", "what newsletter?", "订单到哪了", "???", "订阅号在哪"],
)
def test_unclear_newsletter_choice(text):
    assert parse_newsletter_choice(text) is None


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("个人", "个人"),
        ("个人抬头", "个人"),
        ("开个人的就行", "个人"),
        ("抬头：个人", "个人"),
        ("personal", "Personal"),
        ("for myself", "Personal"),
        ("Personal, thanks", "Personal"),
    ],
)
def test_personal_titles(text, title):
    assert parse_invoice_title(text) == InvoiceTitle(title, None, personal=True)


@pytest.mark.parametrize(
    ("text", "title", "tax_id"),
    [
        (
            "抬头是深圳市某某科技有限公司，税号91440300MA5XXXXX1X",
            "深圳市某某科技有限公司",
            "91440300MA5XXXXX1X",
        ),
        ("Acme Ltd, tax id 91310000XXXXXXXX0X", "Acme Ltd", "91310000XXXXXXXX0X"),
        ("发票抬头：深圳市某某科技有限公司", "深圳市某某科技有限公司", None),
        (
            "公司抬头是北京某某有限责任公司 税号 91110105-MA01-XXXX-XX",
            "北京某某有限责任公司",
            "91110105MA01XXXXXX",
        ),
        (
            "我们公司的抬头是广州某某贸易有限公司 914401011234567890",
            "广州某某贸易有限公司",
            "914401011234567890",
        ),
        (
            "抬头是杭州某某网络技术有限公司，税号：９１３３０１０６ＭＡ２ＸＸＸＸＸ３Ｘ",
            "杭州某某网络技术有限公司",
            "91330106MA2XXXXX3X",
        ),
        ("Invoice title: Acme Trading Co., Ltd.", "Acme Trading Co., Ltd.", None),
        (
            "please make it out to Acme Holdings Inc, tax number 9131 0000 XXXX XXXX 0X",
            "Acme Holdings Inc",
            "91310000XXXXXXXX0X",
        ),
        ("帮我开开心科技有限公司的发票", "开心科技有限公司", None),
        ("抬头：阿里巴巴", "阿里巴巴", None),
        ("company name is Acme", "Acme", None),
        ("抬头 张三", "张三", None),
        (
            "title 深圳市某某科技有限公司, tax id 91440300MA5XXXXX1X",
            "深圳市某某科技有限公司",
            "91440300MA5XXXXX1X",
        ),
    ],
)
def test_company_titles(text, title, tax_id):
    assert parse_invoice_title(text) == InvoiceTitle(title, tax_id, personal=False)


def test_a_company_wins_over_the_word_personal():
    found = parse_invoice_title("不是个人，抬头是上海某某有限公司")
    assert found == InvoiceTitle("上海某某有限公司", None, personal=False)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "你好",
        "要发票",
        "我要开公司发票",
        "抬头写我们公司",
        "税号91440300MA5XXXXX1X",  # a tax id alone is no title
        "不要个人",
        "I need an invoice for my company",
        "asdf 1234",
    ],
)
def test_no_invoice_title(text):
    assert parse_invoice_title(text) is None


@pytest.mark.parametrize(
    "text, kind",
    [
        ("我要开增值税专票", "paper"),
        ("要纸质发票，寄给我", "paper"),
        ("a paper invoice please", "paper"),
        ("need a special VAT invoice for the company", "paper"),
        ("个人", None),
        ("抬头 杭州云栖科技有限公司", None),
        ("", None),
    ],
)
def test_parse_invoice_kind(text, kind):
    assert parse_invoice_kind(text) == kind
