import dataclasses
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import yaml

from kefu.config import Bilingual, ConfigError
from kefu.models import PAYMENT_METHODS
from kefu.policies import (
    DEFAULT_POLICIES_PATH,
    TOPICS,
    Decision,
    answer,
    can_cancel,
    can_return,
    decide,
    delivery_options,
    erasure_due,
    erasure_is_due,
    explain,
    load_policies,
    policies,
    refund_timeline,
    shipping_fee,
    warranty_for,
)

PROJECT_TEXT = DEFAULT_POLICIES_PATH.read_text(encoding="utf-8")
# 10:00 Beijing time on 1 March; the shop counts days in Beijing time (utc_offset_hours: 8)
DELIVERED = datetime(2026, 3, 1, 2, 0)
PHONE = ("phones", "digital")
BEIJING = timedelta(hours=8)  # the project file's utc_offset_hours
SNACK = ("snacks", "food")


@pytest.fixture(scope="module")
def p():
    return load_policies()


def variant(tmp_path, old: str, new: str) -> tuple:
    """The project's policies with ``old`` replaced by ``new``: (path, line of the change)."""
    assert PROJECT_TEXT.count(old) == 1, old
    text = PROJECT_TEXT.replace(old, new)
    path = tmp_path / "policies.yml"
    path.write_text(text, encoding="utf-8")
    return path, PROJECT_TEXT[: PROJECT_TEXT.index(old)].count("\n") + 1


def beijing(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Beijing wall-clock time as the naive UTC datetime the models store."""
    return datetime(year, month, day, hour, minute) - BEIJING


def bilinguals(value: object):
    if isinstance(value, Bilingual):
        yield value
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from bilinguals(getattr(value, f.name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from bilinguals(item)
    elif isinstance(value, tuple):
        for item in value:
            yield from bilinguals(item)


# ----------------------------------------------------------------------------- the project's file


def test_the_projects_policies_load_and_are_cached(p):
    assert p.returns.no_reason_days == 7
    assert set(p.refunds.methods) == set(PAYMENT_METHODS)
    assert policies() is policies()


def test_every_text_has_chinese_and_english(p):
    def walk(node):
        if isinstance(node, dict):
            if {"zh", "en"} & set(node):
                assert isinstance(node.get("zh"), str) and node["zh"].strip(), node
                assert isinstance(node.get("en"), str) and node["en"].strip(), node
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(yaml.safe_load(PROJECT_TEXT))
    texts = list(bilinguals(p))
    assert len(texts) > 80
    assert all(text.zh.strip() and text.en.strip() for text in texts)


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_is_answered_in_both_languages(p, topic):
    zh, en = answer(p, topic, "zh"), answer(p, topic, "en")
    assert zh != en
    for text in (zh, en):
        assert "{" not in text and "}" not in text and "None" not in text
    assert re.search(r"[\u4e00-\u9fff]", zh)


def test_answers_follow_the_data(tmp_path):
    path, _ = variant(tmp_path, "no_reason_days: 7 ", "no_reason_days: 10 ")
    changed = load_policies(path)
    text = answer(changed, "check_refund_policy", "zh")
    assert "签收后10天内支持无理由退货" in text and "7天" not in text
    assert "within 10 days" in answer(changed, "check_cancellation_fee", "en")


def test_unknown_topic(p):
    with pytest.raises(ValueError, match="unknown policy topic"):
        answer(p, "weather", "en")


def test_path_from_the_environment(tmp_path, monkeypatch):
    path, _ = variant(tmp_path, "defect_days: 15 ", "defect_days: 30 ")
    monkeypatch.setenv("KEFU_POLICIES", str(path))
    assert load_policies().returns.defect_days == 30


# ----------------------------------------------------------------------------- cancelling

PAID = datetime(2026, 3, 1, 1)
NOW = datetime(2026, 3, 1, 5)


def test_unpaid_order_is_cancelled_free(p):
    decision = can_cancel(p, "pending_payment", None, None, NOW)
    assert decision == Decision(True, "cancel_free", {"fee": Decimal("0.00")})


def test_paid_order_before_shipping_is_cancelled_free_with_a_refund(p):
    decision = can_cancel(p, "paid", PAID, None, NOW)
    assert (decision.allowed, decision.code, decision.params["fee"]) == (
        True,
        "cancel_free_refund",
        Decimal("0"),
    )
    assert "原路退回" in explain(decision, "zh")
    assert "goes back" in explain(decision, "en")


def test_shipped_order_cannot_be_cancelled(p):
    decision = can_cancel(p, "shipped", PAID, datetime(2026, 3, 1, 3), NOW)
    assert (decision.allowed, decision.code) == (False, "cancel_not_after_shipping")
    assert "refuse the parcel" in explain(decision, "en")


def test_a_shipment_counts_even_when_the_status_lags(p):
    assert can_cancel(p, "paid", PAID, NOW, NOW).code == "cancel_not_after_shipping"
    later = datetime(2026, 3, 1, 6)
    assert can_cancel(p, "paid", PAID, later, NOW).code == "cancel_free_refund"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("cancelled", "already_cancelled"),
        ("delivered", "cancel_not_after_delivery"),
        ("completed", "cancel_not_after_delivery"),
    ],
)
def test_orders_past_cancelling(p, status, code):
    decision = can_cancel(p, status, PAID, datetime(2026, 3, 1, 3), NOW)
    assert (decision.allowed, decision.code) == (False, code)


def test_cancellation_fee_comes_from_the_file(tmp_path):
    path, _ = variant(tmp_path, "    paid: 0\n", "    paid: 5.5\n")
    changed = load_policies(path)
    decision = can_cancel(changed, "paid", PAID, None, NOW)
    assert (decision.allowed, decision.code, decision.params["fee"]) == (
        True,
        "cancel_with_fee",
        Decimal("5.50"),
    )
    assert "¥5.50" in explain(decision, "zh")
    assert "fee of ¥5.50" in answer(changed, "check_cancellation_fee", "en")


def test_status_not_self_service_goes_to_a_person(tmp_path):
    path = tmp_path / "policies.yml"
    text = PROJECT_TEXT.replace("[pending_payment, paid]", "[pending_payment]")
    path.write_text(text.replace("    paid: 0\n", ""), encoding="utf-8")  # no fee for paid
    assert can_cancel(load_policies(path), "paid", PAID, None, NOW).code == "contact_service"


def test_unknown_status(p):
    with pytest.raises(ValueError, match="unknown order status"):
        can_cancel(p, "lost", None, None, NOW)


# ----------------------------------------------------------------------------- returns


def test_no_reason_return_on_day_7_until_midnight_shop_time(p):
    decision = can_return(
        p, "delivered", DELIVERED, PHONE, "no_reason", beijing(2026, 3, 8, 23, 59)
    )
    assert (decision.allowed, decision.code) == (True, "return_no_reason_ok")
    assert decision.params["deadline"] == date(2026, 3, 8)
    assert decision.params["return_shipping_paid_by"] == "customer"
    assert "2026-03-08" in explain(decision, "en") and "2026-03-08" in explain(decision, "zh")


def test_no_reason_return_refused_on_day_8(p):
    decision = can_return(p, "completed", DELIVERED, PHONE, "no_reason", beijing(2026, 3, 9, 0))
    assert (decision.allowed, decision.code) == (False, "return_window_passed")
    assert decision.params["deadline"] == date(2026, 3, 8)
    assert "15" in explain(decision, "en")  # points to the longer defect window


def test_days_are_counted_in_the_shops_time_zone(p):
    late_evening_utc = datetime(2026, 2, 28, 20)  # already 1 March in Beijing
    decision = can_return(p, "delivered", late_evening_utc, PHONE, "no_reason", NOW)
    assert decision.params["deadline"] == date(2026, 3, 8)


def test_excluded_category_is_found_through_its_ancestor(p):
    decision = can_return(p, "delivered", DELIVERED, SNACK, "no_reason", NOW)
    assert (decision.allowed, decision.code) == (False, "return_category_excluded")
    assert decision.params["category_key"] == "food"
    assert explain(decision, "zh").startswith("食品不支持7天无理由退货")
    assert "food" in explain(decision, "en")


def test_defects_are_returnable_even_in_excluded_categories(p):
    decision = can_return(p, "delivered", DELIVERED, SNACK, "defect", NOW)
    assert (decision.allowed, decision.code) == (True, "return_defect_ok")
    assert decision.params["return_shipping_paid_by"] == "shop"


def test_defect_window_then_warranty_repair(p):
    last_day = can_return(p, "delivered", DELIVERED, PHONE, "defect", beijing(2026, 3, 16, 23))
    assert (last_day.allowed, last_day.code) == (True, "return_defect_ok")
    assert last_day.params["deadline"] == date(2026, 3, 16)
    after = can_return(p, "delivered", DELIVERED, PHONE, "defect", beijing(2026, 3, 17, 0))
    assert (after.allowed, after.code) == (False, "warranty_repair")
    assert after.params == {"warranty_until": date(2027, 3, 1), "months": 12}
    assert "2027-03-01" in explain(after, "zh")


def test_warranty_follows_the_category_and_then_expires(p):
    laptop = ("laptops", "digital")
    in_warranty = can_return(p, "completed", DELIVERED, laptop, "defect", beijing(2028, 3, 1, 23))
    assert (in_warranty.code, in_warranty.params["months"]) == ("warranty_repair", 24)
    expired = can_return(p, "completed", DELIVERED, laptop, "defect", beijing(2028, 3, 2, 0))
    assert (expired.allowed, expired.code) == (False, "warranty_expired")


@pytest.mark.parametrize(
    ("status", "delivered_at", "code"),
    [
        ("paid", None, "return_not_delivered"),
        ("shipped", None, "return_not_delivered"),
        ("cancelled", None, "already_cancelled"),
        ("delivered", None, "contact_service"),
    ],
)
def test_returns_of_orders_not_delivered(p, status, delivered_at, code):
    decision = can_return(p, status, delivered_at, PHONE, "no_reason", NOW)
    assert (decision.allowed, decision.code) == (False, code)


def test_not_delivered_names_the_status(p):
    decision = can_return(p, "shipped", None, PHONE, "no_reason", NOW)
    assert "已发货" in explain(decision, "zh") and "shipped" in explain(decision, "en")


def test_unknown_return_reason(p):
    with pytest.raises(ValueError, match="return reason"):
        can_return(p, "delivered", DELIVERED, PHONE, "bored", NOW)  # type: ignore[arg-type]


def test_every_decision_code_has_a_text_that_renders(p):
    decisions = [
        can_cancel(p, status, paid, shipped, NOW)
        for status, paid, shipped in [
            ("pending_payment", None, None),
            ("paid", PAID, None),
            ("shipped", PAID, PAID),
            ("delivered", PAID, PAID),
            ("cancelled", None, None),
        ]
    ] + [
        can_return(p, status, delivered, keys, reason, now)
        for status, delivered, keys, reason, now in [
            ("paid", None, PHONE, "no_reason", NOW),
            ("delivered", None, PHONE, "no_reason", NOW),
            ("delivered", DELIVERED, SNACK, "no_reason", NOW),
            ("delivered", DELIVERED, PHONE, "no_reason", NOW),
            ("delivered", DELIVERED, PHONE, "no_reason", datetime(2026, 4, 1)),
            ("delivered", DELIVERED, PHONE, "defect", NOW),
            ("delivered", DELIVERED, PHONE, "defect", datetime(2026, 4, 1)),
            ("delivered", DELIVERED, PHONE, "defect", datetime(2030, 1, 1)),
        ]
    ]
    account_codes = set(yaml.safe_load(PROJECT_TEXT)["account"]["messages"])  # kefu.account
    assert {d.code for d in decisions} == set(p.messages) - {"cancel_with_fee"} - account_codes
    for decision in decisions:
        for language in ("zh", "en"):
            assert "{" not in explain(decision, language)


# ----------------------------------------------------------------------------- refunds, warranty


@pytest.mark.parametrize(
    ("method", "low", "high", "channel"),
    [
        ("alipay", 1, 3, "Alipay"),
        ("wechat_pay", 1, 3, "WeChat Pay"),
        ("unionpay", 3, 7, "bank card"),
        ("credit_card", 3, 7, "credit card"),
        ("cash_on_delivery", 5, 10, "bank transfer"),
    ],
)
def test_refund_timeline_per_payment_method(p, method, low, high, channel):
    timeline = refund_timeline(p, method)
    assert (timeline.min_working_days, timeline.max_working_days) == (low, high)
    assert channel in timeline.channel.en
    assert f"{low}–{high}" in timeline.text.get("zh") and f"{low}–{high}" in timeline.text.en


def test_refund_timeline_of_an_unknown_method(p):
    with pytest.raises(ValueError, match="paypal"):
        refund_timeline(p, "paypal")


@pytest.mark.parametrize(
    ("keys", "months"),
    [
        (("phones", "digital"), 12),
        (("laptops", "digital"), 24),
        (("gaming_laptops", "laptops", "digital"), 24),  # a sub-category inherits
        (("tvs", "appliances"), 36),
        (("washers", "appliances"), 36),
        (("kitchen", "appliances"), 12),  # default
        ((), 12),
    ],
)
def test_warranty_per_category(p, keys, months):
    assert warranty_for(p, keys) == months


# ----------------------------------------------------------------------------- delivery


@pytest.mark.parametrize(
    ("total", "fee"),
    [("0.01", "8.00"), ("98.99", "8.00"), ("99", "0.00"), ("99.00", "0.00"), ("1500", "0.00")],
)
def test_shipping_fee_is_free_from_the_threshold(p, total, fee):
    assert shipping_fee(p, Decimal(total)) == Decimal(fee)


def test_shipping_fee_of_another_option(p):
    assert shipping_fee(p, Decimal("500"), "express") == p.delivery.options["express"].fee > 0


def test_delivery_options_in_the_customers_language(p):
    offers = delivery_options(p, "en")
    assert [o.key for o in offers] == ["standard", "express", "same_day", "pickup"]
    standard, same_day = offers[0], offers[2]
    assert (standard.fee, standard.free_from, standard.min_days, standard.max_days) == (
        Decimal("8.00"),
        Decimal("99.00"),
        2,
        4,
    )
    assert standard.remote_days == (5, 7)
    assert "Beijing" in same_day.cities and "the same day" in same_day.text
    assert "北京" in delivery_options(p, "zh")[2].cities


# ----------------------------------------------------------------------------- account


def test_the_account_section(p):
    assert p.account.erasure_grace_days == 7
    assert p.account.newsletter_states["subscribed"].en == "subscribed to our newsletter"
    codes = yaml.safe_load(PROJECT_TEXT)["account"]["messages"]
    for code in codes:
        decision = decide(p, True, code, due=date(2026, 3, 8), state=Bilingual("已订阅", "in"))
        zh, en = explain(decision, "zh"), explain(decision, "en")
        assert zh != en and "{" not in zh + en and re.search(r"[\u4e00-\u9fff]", zh)


def test_erasure_is_due_once_the_grace_days_have_ended_in_shop_time(p):
    requested = beijing(2026, 3, 1, 23, 30)  # 15:30 UTC: still 1 March in Beijing
    assert erasure_due(p, requested) == date(2026, 3, 8)
    assert not erasure_is_due(p, date(2026, 3, 8), beijing(2026, 3, 8, 23, 59))
    assert erasure_is_due(p, date(2026, 3, 8), beijing(2026, 3, 9, 0, 0))


def test_the_grace_days_come_from_the_file(tmp_path):
    path, _ = variant(tmp_path, "erasure_grace_days: 7", "erasure_grace_days: 30")
    assert erasure_due(load_policies(path), DELIVERED) == date(2026, 3, 31)


# ----------------------------------------------------------------------------- bad files


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "policies.yml"
    path.write_text("returns:\n  no_reason_days: [7\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policies\.yml:\d+: not valid YAML"):
        load_policies(path)


def test_empty_and_missing_files(tmp_path):
    path = tmp_path / "policies.yml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policies\.yml:1: the file is empty"):
        load_policies(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_policies(tmp_path / "nope.yml")


@pytest.mark.parametrize("bad", ["-1", "seven", "7.5", "true"])
def test_bad_number_of_days_names_file_line_and_key(tmp_path, bad):
    path, line = variant(tmp_path, "no_reason_days: 7 ", f"no_reason_days: {bad} ")
    with pytest.raises(ConfigError) as error:
        load_policies(path)
    assert str(error.value).startswith(
        f"{path}:{line}: returns.no_reason_days: must be a whole number of days ≥ 0"
    )


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        (  # a missing language
            "    en: the item is unused and can be resold",
            "    fr: l'article n'est pas utilisé",
            r"returns\.conditions\.fr",
            "unknown key; expected one of zh, en",
        ),
        (
            "free_from: 99",
            "free_from: -5",
            r"delivery\.options\.standard\.free_from",
            "must be an amount in yuan",
        ),
        (
            "carriers: [SF]",
            "carriers: [DHL]",
            r"delivery\.options\.express\.carriers\[0\]",
            "must be one of SF, JD",
        ),
        (
            "      zh: 订单还没有付款，可以直接免费取消。",
            "      zh: 订单还没有付款，可以免费取消（{dyas}）。",
            r"cancellation\.messages\.cancel_free\.zh",
            r"unknown placeholder \{dyas\}; this text can use \{fee\}",
        ),
        (
            "  no_reason_days: 7 ",
            "  no_reason_dayz: 7 ",
            r"returns\.no_reason_dayz",
            "unknown key",
        ),
        (
            "defect_days: 15 ",
            "defect_days: 5 ",
            r"returns\.defect_days",
            r"must be at least returns\.no_reason_days \(7\)",
        ),
        (
            "    paid: 0\n",
            "    pending_payment: 1\n",
            r"cancellation\.fees\.pending_payment",
            "nothing has been paid yet",
        ),
        (
            "self_service: [pending_payment, paid]",
            "self_service: [pending_payment, shipped]",
            r"cancellation\.self_service\[1\]",
            "must be one of pending_payment, paid",
        ),
        (
            "      working_days: [5, 10]",
            "      working_days: [10, 5]",
            r"refunds\.methods\.cash_on_delivery\.working_days",
            r"min \(10\) is more than max \(5\)",
        ),
        (
            "    cash_on_delivery:\n      channel:",
            "    paypal:\n      channel:",
            r"refunds\.methods\.paypal",
            "unknown key; expected one of alipay",
        ),
        (
            "default_option: standard",
            "default_option: drone",
            r"delivery\.default_option",
            "must be one of standard, express",
        ),
        (
            'order_before: "11:00"',
            "order_before: 11:00",  # YAML reads 11:00 as a number
            r"delivery\.options\.same_day\.order_before",
            r"must be a text \(put it in quotes\)",
        ),
        (
            "erasure_grace_days: 7",
            "erasure_grace_days: a week",
            r"account\.erasure_grace_days",
            "must be a whole number of days ≥ 0",
        ),
        (
            "      zh: 您已经申请过删除个人信息，我们会在 {due} 之后删除，不需要重复申请。",
            "      zh: 您已经申请过删除个人信息，我们会在 {date} 之后删除。",
            r"account\.messages\.erasure_pending\.zh",
            r"unknown placeholder \{date\}; this text can use \{due\}",
        ),
        (
            "    unsubscribed: {zh: 没有订阅优惠资讯",
            "    opted_out: {zh: 没有订阅优惠资讯",
            r"account\.newsletter_states\.opted_out",
            "unknown key; expected one of subscribed, unsubscribed",
        ),
    ],
)
def test_mistakes_name_file_line_and_key(tmp_path, old, new, key, reason):
    path, line = variant(tmp_path, old, new)
    with pytest.raises(ConfigError) as error:
        load_policies(path)
    assert re.match(rf"{re.escape(str(path))}:{line}: {key}: {reason}", str(error.value))


def test_missing_english_text_is_an_error(tmp_path):
    path, line = variant(
        tmp_path,
        "    en: the item is unused and can be resold, with its original packaging, accessories,"
        " gifts and invoice\n",
        "",
    )
    with pytest.raises(ConfigError) as error:
        load_policies(path)
    assert str(error.value) == (
        f"{path}:{line - 1}: returns.conditions: the en text is missing "
        "(every text needs zh and en)"
    )


def test_missing_key_is_an_error(tmp_path):
    path, _ = variant(tmp_path, "  inspection_working_days: 2\n", "")
    with pytest.raises(
        ConfigError, match=r"policies\.yml:\d+: refunds\.inspection_working_days: missing"
    ):
        load_policies(path)


ERASURE_DONE_TEXT = (
    "    erasure_done:\n      zh: 这个账户的个人信息已经删除了，不需要再操作。\n"
    "      en: This account's personal data has already been erased; there is nothing more to do.\n"
)


@pytest.mark.parametrize(
    ("removed", "key", "mapping_starts"),
    [
        ("  erasure_grace_days: 7\n", "account.erasure_grace_days", "  newsletter_states:\n"),
        (ERASURE_DONE_TEXT, "account.messages.erasure_done", "    newsletter_subscribe_ok:\n"),
    ],
)
def test_a_missing_account_key_names_file_and_line(tmp_path, removed, key, mapping_starts):
    """The line named is where the mapping that lacks the key starts (its first key)."""
    path, _ = variant(tmp_path, removed, "")
    text = path.read_text(encoding="utf-8")
    line = text[: text.index(mapping_starts)].count("\n") + 1
    with pytest.raises(ConfigError) as error:
        load_policies(path)
    assert str(error.value) == f"{path}:{line}: {key}: missing"


def test_the_account_section_is_required(tmp_path):
    start = PROJECT_TEXT.index("account:\n")
    end = PROJECT_TEXT.index("\n# What the bot says when asked about a policy.")
    path = tmp_path / "policies.yml"
    path.write_text(PROJECT_TEXT[:start] + PROJECT_TEXT[end:], encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:\d+: account: missing$"):
        load_policies(path)


def test_missing_refund_rule_for_an_accepted_payment_method(tmp_path):
    path, _ = variant(
        tmp_path,
        "    credit_card:\n      channel: {zh: 原路退回信用卡, en: back to your credit card}\n"
        "      working_days: [3, 7]\n",
        "",
    )
    with pytest.raises(ConfigError, match=r"refunds\.methods\.credit_card: missing"):
        load_policies(path)


def test_duplicate_key_is_an_error(tmp_path):
    path, line = variant(tmp_path, "  defect_days: 15 ", "  no_reason_days: 8\n  defect_days: 15 ")
    with pytest.raises(ConfigError, match=rf":{line}: returns\.no_reason_days: appears twice"):
        load_policies(path)
