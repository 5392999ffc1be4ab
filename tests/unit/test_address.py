import pytest

from kefu.address import (
    PROVINCES,
    REQUIRED,
    ParsedAddress,
    mobile_number,
    normalize_province,
    parse_address,
)

CURRENT = {"recipient": "王五", "phone": "137 0000 1111"}


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (
            "广东省深圳市南山区科技园路18号3栋502 张三 13812345678",
            {
                "recipient": "张三",
                "phone": "13812345678",
                "province": "广东省",
                "city": "深圳市",
                "district": "南山区",
                "detail": "科技园路18号3栋502",
            },
        ),
        (
            "改成北京市朝阳区建国路88号SOHO现代城A座1203，收件人李四，电话139 1234 5678",
            {
                "recipient": "李四",
                "phone": "13912345678",
                "province": "北京市",
                "city": "北京市",
                "district": "朝阳区",
                "detail": "建国路88号SOHO现代城A座1203",
            },
        ),
        (
            "地址改成：浙江省杭州市西湖区文三路90号，收货人：赵六，手机：１３６１２３４５６７８",
            {
                "recipient": "赵六",
                "phone": "13612345678",
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "detail": "文三路90号",
            },
        ),
        (
            "内蒙古呼和浩特市赛罕区大学西街235号 王小明 +86 150-1234-5678",
            {
                "recipient": "王小明",
                "phone": "15012345678",
                "province": "内蒙古自治区",
                "city": "呼和浩特市",
                "district": "赛罕区",
                "detail": "大学西街235号",
            },
        ),
        (
            "张三 广东 深圳 南山区 科技园路18号 13812345678",
            {
                "recipient": "张三",
                "phone": "13812345678",
                "province": "广东省",
                "city": "深圳",
                "district": "南山区",
                "detail": "科技园路18号",
            },
        ),
        (
            "北京市朝阳区建国路88号，李四，13912345678",
            {
                "recipient": "李四",
                "phone": "13912345678",
                "province": "北京市",
                "city": "北京市",
                "district": "朝阳区",
                "detail": "建国路88号",
            },
        ),
        (
            "阿依古丽·买买提 新疆乌鲁木齐市天山区解放北路1号 13812345678",
            {
                "recipient": "阿依古丽·买买提",
                "phone": "13812345678",
                "province": "新疆维吾尔自治区",
                "city": "乌鲁木齐市",
                "district": "天山区",
                "detail": "解放北路1号",
            },
        ),
        (
            "收件人李四北京市朝阳区建国路88号 8613912345678",
            {
                "recipient": "李四",
                "phone": "13912345678",
                "province": "北京市",
                "city": "北京市",
                "district": "朝阳区",
                "detail": "建国路88号",
            },
        ),
    ],
)
def test_complete_chinese_addresses(text, fields):
    parsed = parse_address(text)
    assert parsed == ParsedAddress(fields, ())
    assert parsed.complete


@pytest.mark.parametrize(
    ("text", "province", "city", "district", "detail"),
    [
        ("上海浦东新区世纪大道100号", "上海市", "上海市", "浦东新区", "世纪大道100号"),
        ("重庆渝中区解放碑步行街8号", "重庆市", "重庆市", "渝中区", "解放碑步行街8号"),
        ("北京市北京市海淀区中关村大街1号", "北京市", "北京市", "海淀区", "中关村大街1号"),
        ("广东深圳南山区科技园路18号", "广东省", "深圳", "南山区", "科技园路18号"),
        ("四川省成都市武侯区天府大道100号", "四川省", "成都市", "武侯区", "天府大道100号"),
        ("江苏省苏州市昆山市玉山镇前进路8号", "江苏省", "苏州市", "昆山市", "玉山镇前进路8号"),
        ("广西南宁市青秀区民族大道1号", "广西壮族自治区", "南宁市", "青秀区", "民族大道1号"),
        ("吉林省吉林市昌邑区解放路100号", "吉林省", "吉林市", "昌邑区", "解放路100号"),
        (
            "我的新地址是 广东省 深圳市 福田区 福华三路 100号",
            "广东省",
            "深圳市",
            "福田区",
            "福华三路100号",
        ),
        ("科技园路18号, 南山区, 深圳, 广东", "广东省", "深圳", "南山区", "科技园路18号"),
    ],
)
def test_chinese_divisions(text, province, city, district, detail):
    parsed = parse_address(text, fallback=CURRENT)
    assert parsed.fields == {
        "recipient": "王五",
        "phone": "13700001111",
        "province": province,
        "city": city,
        "district": district,
        "detail": detail,
    }
    assert parsed.missing == ()


def test_a_name_glued_to_the_house_number():
    parsed = parse_address("广东省深圳市南山区科技园路18号3栋502张三13812345678")
    assert parsed.fields["recipient"] == "张三"
    assert parsed.fields["detail"] == "科技园路18号3栋502"
    # a place word after the number is not a name
    parsed = parse_address("上海市黄浦区人民大道1号对面 13812345678")
    assert "recipient" not in parsed.fields
    assert parsed.fields["detail"] == "人民大道1号对面"


def test_district_is_optional():
    parsed = parse_address("湖北省武汉市珞喻路1037号 张三 13812345678")
    assert "district" not in parsed.fields
    assert parsed.fields["city"] == "武汉市"
    assert parsed.fields["detail"] == "珞喻路1037号"
    assert parsed.complete


@pytest.mark.parametrize(
    ("text", "fields", "missing"),
    [
        (
            "深圳市南山区科技园路18号 张三 13812345678",  # no province: not guessed
            {"city": "深圳市", "district": "南山区", "detail": "科技园路18号"},
            ("province",),
        ),
        ("吉林市昌邑区解放路100号", {"city": "吉林市"}, ("province",)),  # 吉林市 is a city
        ("广州市越秀区北京路123号", {"detail": "北京路123号"}, ("province",)),  # a street
        ("北京", {"province": "北京市", "city": "北京市"}, ("detail",)),
        ("改成成都市武侯区天府大道100号", {"city": "成都市"}, ("province",)),
    ],
)
def test_partial_chinese_addresses(text, fields, missing):
    parsed = parse_address(text, fallback=CURRENT)
    assert fields.items() <= parsed.fields.items()
    assert parsed.missing == missing


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (
            "Room 502, 18 Keji Road, Nanshan District, Shenzhen, Guangdong, "
            "recipient John Smith, phone 13812345678",
            {
                "recipient": "John Smith",
                "phone": "13812345678",
                "province": "Guangdong",
                "city": "Shenzhen",
                "district": "Nanshan District",
                "detail": "Room 502, 18 Keji Road",
            },
        ),
        (
            "John Smith, Room 502, 18 Keji Road, Shenzhen, Guangdong, China, 13812345678",
            {
                "recipient": "John Smith",
                "phone": "13812345678",
                "province": "Guangdong",
                "city": "Shenzhen",
                "detail": "Room 502, 18 Keji Road",
            },
        ),
        (
            "Please change it to Room 1203, 88 Jianguo Road, Chaoyang District, Beijing, "
            "100022, name: Mary Lee, tel +86 139-1234-5678",
            {
                "recipient": "Mary Lee",
                "phone": "13912345678",
                "province": "Beijing",
                "city": "Beijing",
                "district": "Chaoyang District",
                "detail": "Room 1203, 88 Jianguo Road",
            },
        ),
        (
            "ship to: 18 Keji Road, Shenzhen City, Guangdong Province, recipient Li Lei, "
            "mobile 138 1234 5678",
            {
                "recipient": "Li Lei",
                "phone": "13812345678",
                "province": "Guangdong Province",
                "city": "Shenzhen City",
                "detail": "18 Keji Road",
            },
        ),
        (
            "Ｒｏｏｍ ５０２, １８ Ｋｅｊｉ Ｒｏａｄ, Shenzhen, Guangdong, recipient Ｊｏｈｎ, "
            "phone １３８１２３４５６７８",
            {
                "recipient": "John",
                "phone": "13812345678",
                "province": "Guangdong",
                "city": "Shenzhen",
                "detail": "Room 502, 18 Keji Road",
            },
        ),
        (
            "8 Nanjing Road, Huangpu District, Shanghai, contact person Wang Fang",
            {
                "recipient": "Wang Fang",
                "province": "Shanghai",
                "city": "Shanghai",
                "district": "Huangpu District",
                "detail": "8 Nanjing Road",
            },
        ),
    ],
)
def test_english_addresses(text, fields):
    assert parse_address(text).fields == fields


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (
            "深圳市南山区科技园路18号, recipient John Smith, phone +86 138 1234 5678",
            {
                "recipient": "John Smith",
                "phone": "13812345678",
                "city": "深圳市",
                "district": "南山区",
                "detail": "科技园路18号",
            },
        ),
        (
            "收件人 Mary Lee，上海市徐汇区漕溪北路88号",
            {
                "recipient": "Mary Lee",
                "province": "上海市",
                "city": "上海市",
                "district": "徐汇区",
                "detail": "漕溪北路88号",
            },
        ),
        (
            "Room 502, 科技园路18号, 南山区, 深圳市, 广东省, 张三",
            {
                "recipient": "张三",
                "province": "广东省",
                "city": "深圳市",
                "district": "南山区",
                "detail": "Room 502, 科技园路18号",
            },
        ),
    ],
)
def test_mixed_languages(text, fields):
    assert parse_address(text).fields == fields


def test_recipient_and_phone_come_from_the_fallback_when_missing():
    parsed = parse_address("上海浦东新区世纪大道100号", fallback=CURRENT)
    assert parsed.fields["recipient"] == "王五"
    assert parsed.fields["phone"] == "13700001111"
    assert parsed.complete


def test_the_text_wins_over_the_fallback():
    parsed = parse_address("上海浦东新区世纪大道100号 李四 13912345678", fallback=CURRENT)
    assert parsed.fields["recipient"] == "李四"
    assert parsed.fields["phone"] == "13912345678"


def test_only_recipient_and_phone_fall_back():
    fallback = {**CURRENT, "province": "广东省", "city": "深圳市", "detail": "科技园路18号"}
    parsed = parse_address("改一下电话 13912345678", fallback=fallback)
    assert parsed.fields == {"recipient": "王五", "phone": "13912345678"}
    assert parsed.missing == ("province", "city", "detail")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "asdfgh",
        "123",
        "？？？",
        "哈哈哈哈",
        "你好，我想改一下地址",
        "I want to change my address please",
        "电话12345",
        "!!!@@@###",
        "\x00\x07",
    ],
)
def test_junk_is_all_missing(text):
    assert parse_address(text) == ParsedAddress({}, REQUIRED)


@pytest.mark.parametrize("junk", [None, 42, ["广东省"], b"\xe5\xb9\xbf"])
def test_never_raises_on_junk(junk):
    assert parse_address(junk) == ParsedAddress({}, REQUIRED)
    assert parse_address("上海浦东新区世纪大道100号", fallback=junk).missing == (
        "recipient",
        "phone",
    )


def test_fallback_with_junk_values_is_ignored():
    parsed = parse_address("", fallback={"recipient": None, "phone": 13812345678})
    assert parsed == ParsedAddress({}, REQUIRED)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("13812345678", "13812345678"),
        ("电话：139 1234 5678", "13912345678"),
        ("+86 150-1234-5678", "15012345678"),
        ("8618612345678", "18612345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("tel 138-1234-5678, thanks", "13812345678"),
        ("12812345678", None),  # no mobile number starts with 12
        ("1381234567", None),  # ten digits
        ("138123456789", None),  # twelve digits
        ("订单号 202405121381234567890", None),  # inside a longer number
        ("010-12345678", None),  # a landline
        ("", None),
    ],
)
def test_mobile_numbers(text, number):
    assert mobile_number(text) == number


def test_every_provincial_division_is_known():
    assert len(PROVINCES) == 34
    assert len({full for full, _, _ in PROVINCES}) == 34
    for full, short, _ in PROVINCES:
        assert normalize_province(full) == full
        assert normalize_province(short) == full


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("广东", "广东省"),
        ("北京", "北京市"),
        ("北京市", "北京市"),
        ("内蒙古", "内蒙古自治区"),
        ("内蒙古自治区", "内蒙古自治区"),
        ("广西", "广西壮族自治区"),
        ("西藏", "西藏自治区"),
        ("宁夏", "宁夏回族自治区"),
        ("新疆", "新疆维吾尔自治区"),
        ("香港", "香港特别行政区"),
        ("澳门", "澳门特别行政区"),
        ("台湾", "台湾省"),
        ("黑龙江", "黑龙江省"),
        ("陕西", "陕西省"),
        ("山西", "山西省"),
        ("深圳", None),
        ("Guangdong", None),
        ("", None),
    ],
)
def test_normalize_province(name, full):
    assert normalize_province(name) == full


@pytest.mark.parametrize(
    ("text", "province"),
    [
        ("西藏拉萨市城关区北京中路1号", "西藏自治区"),
        ("宁夏银川市兴庆区解放西街1号", "宁夏回族自治区"),
        ("香港九龙弥敦道100号", "香港特别行政区"),
        ("澳门氹仔孙逸仙大马路1号", "澳门特别行政区"),
        ("黑龙江哈尔滨市道里区中央大街1号", "黑龙江省"),
        ("海南省三亚市吉阳区迎宾路1号", "海南省"),
    ],
)
def test_provinces_without_their_ending(text, province):
    assert parse_address(text).fields["province"] == province
