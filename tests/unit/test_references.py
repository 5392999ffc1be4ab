import pytest

from kefu.references import MAX_POSITION, parse_positions, parse_refinement


@pytest.mark.parametrize(
    ("text", "positions"),
    [
        ("第二个怎么样", [2]),
        ("第2款多少钱", [2]),
        ("第二", [2]),
        ("比较一下前两个", [1, 2]),
        ("前三个", [1, 2, 3]),
        ("前面两款哪个好", [1, 2]),
        ("头两个有货吗", [1, 2]),
        ("第一个和第三个", [1, 3]),
        ("第二个、第四个", [2, 4]),
        ("第一和三哪个便宜", [1, 3]),
        ("１和３有啥区别", [1, 3]),
        ("1和3有啥区别", [1, 3]),
        ("1、2、3都要看看", [1, 2, 3]),
        ("好的，2跟4呢", [2, 4]),
        ("最后一个", [-1]),
        ("最后那款怎么样", [-1]),
        ("最后两个", [-2, -1]),
        ("倒数第二个", [-2]),
        ("第二个和最后一个", [2, -1]),
    ],
)
def test_chinese_positions(text, positions):
    assert parse_positions(text) == positions


@pytest.mark.parametrize(
    ("text", "positions"),
    [
        ("the second one", [2]),
        ("what about the third?", [3]),
        ("is the first one in stock", [1]),
        ("second please", [2]),
        ("the 2nd", [2]),
        ("compare the first two", [1, 2]),
        ("the last three", [-3, -2, -1]),
        ("#3", [3]),
        ("＃３", [3]),
        ("number 2", [2]),
        ("No. 2", [2]),
        ("option two", [2]),
        ("option 2 and 3", [2, 3]),
        ("1st and 3rd", [1, 3]),
        ("third and fourth", [3, 4]),
        ("the first and the third", [1, 3]),
        ("the first or the second?", [1, 2]),
        ("the last one", [-1]),
        ("the second to last", [-2]),
        ("compare 1 and 2", [1, 2]),
        ("between 1 and 3", [1, 3]),
        ("2 vs 3", [2, 3]),
    ],
)
def test_english_positions(text, positions):
    assert parse_positions(text) == positions


@pytest.mark.parametrize(
    "text",
    [
        # model names, storage, prices and budgets
        "iPhone 17 Pro 256G",
        "iPhone 15和16哪个好",
        "小米15和16哪个好",
        "一加13和一加12哪个好",
        "Xiaomi 14 and 15",
        "12+512",
        "5G手机",
        "两千以内",
        "2000以内",
        "3k-5k",
        "预算1和2万",
        "1 and 2 thousand",
        # quantities and lone numbers
        "买2个",
        "要两个",
        "2",
        "要2",
        # dates and durations
        "2号发货吗",
        "1月3号",
        "1和3号有货吗",
        "前两天买的",
        "我之前两个订单",
        "第一个月",
        "前两个小时",
        "last week",
        "May 3rd",
        "the 3rd of May",
        # ordinals that are not positions
        "第一次买",
        "第三方",
        "第2代",
        "第一感觉",
        "first of all",
        "first, can you help me",
        "at last",
        "my last order",
        "for the first time",
        "the last 4 digits",
        "wait a second",
        "the latest one",
        # beyond any list
        "第100个",
        "前30个",
        "#25",
        # nothing
        "",
        "你好",
        "这个怎么样",
    ],
)
def test_numbers_that_are_not_positions(text):
    assert parse_positions(text) == []


def test_positions_are_capped():
    assert parse_positions(f"第{MAX_POSITION}个") == [MAX_POSITION]
    assert parse_positions(f"第{MAX_POSITION + 1}个") == []
    assert parse_positions("前二十个") == list(range(1, 21))


def test_a_reference_next_to_a_budget_keeps_its_position():
    assert parse_positions("第二个，3000以内的有吗") == [2]
    assert parse_positions("the first one, under 2000") == [1]


def test_positions_come_in_text_order_without_repeats():
    assert parse_positions("第三个和第一个，还有第三个") == [3, 1]


@pytest.mark.parametrize(
    ("text", "refinement"),
    [
        ("更便宜的", "cheaper"),
        ("便宜点", "cheaper"),
        ("有点贵了", "cheaper"),
        ("不要太贵", "cheaper"),
        ("cheaper", "cheaper"),
        ("something less expensive?", "cheaper"),
        ("贵一点", "pricier"),
        ("更好的", "pricier"),
        ("higher end", "pricier"),
        ("anything pricier", "pricier"),
        ("something better", "pricier"),
        ("换个牌子", "other_brand"),
        ("别的品牌", "other_brand"),
        ("有没有别家的", "other_brand"),
        ("不要苹果", "other_brand"),
        ("不要华为的", "other_brand"),
        ("除了小米，还有吗", "other_brand"),
        ("other brand", "other_brand"),
        ("a different brand", "other_brand"),
        ("not apple", "other_brand"),
        ("anything but Samsung", "other_brand"),
        ("新款", "newest"),
        ("最新", "newest"),
        ("新出的有吗", "newest"),
        ("latest", "newest"),
        ("newest", "newest"),
        ("new", "newest"),
        ("any new ones?", "newest"),
        ("卖得最好", "popular"),
        ("爆款", "popular"),
        ("热销的", "popular"),
        ("best selling", "popular"),
        ("most popular", "popular"),
        ("评价最好", "best_rated"),
        ("评价更好的", "best_rated"),
        ("好评多的", "best_rated"),
        ("best rated", "best_rated"),
        ("top rated", "best_rated"),
        ("ＣＨＥＡＰＥＲ", "cheaper"),
    ],
)
def test_refinements(text, refinement):
    assert parse_refinement(text) == refinement


@pytest.mark.parametrize(
    "text",
    [
        "",
        "你好",
        "哪个更好",
        "which is better",
        "便宜吗",
        "不要黑色的",
        "不要这个",
        "我不要退货了",
        "不要了",
        "换个颜色",
        "最新物流",
        "where is my latest order",
        "I'm new here",
        "new address",
        "no thanks",
        "I'm not sure",
        "not now",
        "not that one",
        "not in stock",
        "iPhone 17 Pro 256G",
    ],
)
def test_no_refinement(text):
    assert parse_refinement(text) is None


def test_the_first_matching_refinement_wins():
    assert parse_refinement("有没有新款更便宜的") == "cheaper"
