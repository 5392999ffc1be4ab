from kefu.series import Family, families

BRANDS = {"apple": ["苹果", "Apple"], "huawei": ["华为", "Huawei"], "xiaomi": ["小米", "Xiaomi"]}
ENGLISH = frozenset({"mate", "smart", "air"})


def test_families_are_the_first_word_after_the_brand_shared_by_several_products():
    rows = [
        ("Apple iPhone 17", "apple", "phones"),
        ("Apple iPhone Air", "apple", "phones"),
        ("Apple MacBook Air", "apple", "laptops"),
        ("Huawei Mate 80 Pro", "huawei", "phones"),
        ("Huawei Mate 70", "huawei", "phones"),
        ("Huawei Mate X6", "huawei", "phones"),
        ("Huawei Pura 80", "huawei", "phones"),  # one product: no family
        ("Xiaomi 17", "xiaomi", "phones"),  # a number: no family
        ("Xiaomi 18 Pro", "xiaomi", "phones"),
    ]
    assert families(rows, BRANDS, reserved={"apple", "huawei"}, english=ENGLISH) == [
        Family("iPhone", "apple", "phones", needs_series_word=False),
        Family("Mate", "huawei", "phones", needs_series_word=True),
    ]


def test_a_family_in_several_categories_names_only_its_brand():
    rows = [("Huawei Mate 80", "huawei", "phones"), ("Huawei Mate Pad", "huawei", "tablets")]
    assert families(rows, BRANDS, set(), ENGLISH) == [Family("Mate", "huawei", None, True)]


def test_a_name_two_brands_use_or_a_reserved_name_is_no_family():
    rows = [
        ("Apple Studio 1", "apple", "headphones"),
        ("Apple Studio 2", "apple", "headphones"),
        ("Xiaomi Studio 1", "xiaomi", "headphones"),
        ("Xiaomi Studio 2", "xiaomi", "headphones"),
        ("Huawei Phone A", "huawei", "phones"),
        ("Huawei Phone B", "huawei", "phones"),
    ]
    assert families(rows, BRANDS, reserved={"phone"}, english=ENGLISH) == []
