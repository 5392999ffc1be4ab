"""The report's metrics on hand-built tracker events, ratings and tickets."""

import json
import random
from datetime import datetime, timezone

import pytest

from kefu.report.metrics import (
    OTHER_TOPIC,
    Event,
    Period,
    Rating,
    Ticket,
    build_report,
    group_topics,
    keywords,
    price_band,
    scrub,
    split_sessions,
)

# 2026-11-10 00:00 UTC = 08:00 Beijing time
T0 = datetime(2026, 11, 10, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0
DAY = 86_400.0
PERIOD = Period(T0 - 5 * DAY, T0 + 5 * DAY, utc_offset_hours=8)
TOP_LEVEL_KEYS = [
    "schema",
    "period",
    "generated_at",
    "has_data",
    "volume",
    "per_day",
    "containment",
    "handoff",
    "fallback",
    "csat",
    "estimated_satisfaction",
    "satisfaction",
    "intents",
    "demand",
    "unmet_needs",
    "topics",
    "resolution",
    "sources",
]


def start(sender, at):
    """What Rasa writes when a session starts."""
    return [
        Event(sender, "action", at, action="action_session_start"),
        Event(sender, "session_started", at + 0.01),
        Event(sender, "action", at + 0.02, action="action_listen"),
    ]


def user(sender, at, text, intent="greet", channel="webchat", language="zh", **more):
    return Event(
        sender, "user", at, intent=intent, text=text, channel=channel, language=language, **more
    )


def bot(sender, at, text="好的"):
    return Event(sender, "bot", at, text=text)


def action(sender, at, name):
    return Event(sender, "action", at, action=name)


def session(sender, at, *texts, intent="greet", **more):
    """A session with one customer message and one bot answer per text, a minute apart."""
    events = start(sender, at)
    for index, text in enumerate(texts):
        events.append(user(sender, at + 60 * index + 1, text, intent=intent, **more))
        events.append(bot(sender, at + 60 * index + 2))
    return events


def report(events=(), ratings=(), tickets=(), period=PERIOD, **options):
    return build_report(events, ratings, tickets, period, generated_at=T0, **options)


# ---- sessions ---------------------------------------------------------------------------------


def test_no_events_is_an_empty_report_not_a_crash():
    result = report()
    data = result.to_dict()
    assert list(data) == TOP_LEVEL_KEYS
    json.dumps(data)  # JSON-ready
    assert result.has_data is False
    assert result.volume.conversations == 0
    assert result.containment.rate is None
    assert result.handoff.rate is None
    assert result.fallback.message_rate is None
    assert result.fallback.conversation_rate is None
    assert result.csat.average is None and result.csat.count == 0
    assert result.estimated_satisfaction.estimated_rating is None
    assert result.intents == []
    assert result.unmet_needs.topics == []
    assert [d.conversations for d in result.per_day] == [0] * len(result.per_day)
    assert result.per_day[0].date == "2026-11-05" and result.per_day[-1].date == "2026-11-15"


def test_session_start_action_and_event_open_one_session():
    events = [*session("a", T0, "你好"), *session("a", T0 + 2 * HOUR, "在吗")]
    sessions = split_sessions(reversed(events))  # order of the input does not matter
    assert len(sessions) == 2
    assert [e.type for e in sessions[1].events[:2]] == ["action", "session_started"]
    assert sessions[0].end == T0 + 2  # not the next session's action_session_start


def test_events_without_session_start_are_one_session():
    events = [user("a", T0, "hi", language="en"), bot("a", T0 + 1), user("a", T0 + 5, "x")]
    assert len(split_sessions(events)) == 1


def test_session_with_only_bot_events_is_not_a_conversation():
    events = [*start("w", T0), bot("w", T0 + 1, "您好！有什么可以帮您？")]
    result = report(events)
    assert result.volume.conversations == 0
    assert result.volume.bot_messages == 0
    assert result.volume.sessions_without_customer_messages == 1
    assert result.has_data is False
    assert result.containment.rate is None


def test_volume_counts_messages_customers_channels_and_languages():
    events = [
        *session("a", T0, "你好", "有手机吗"),
        *session("a", T0 + 3 * HOUR, "谢谢"),
        *session("b", T0, "hello", channel="telegram", language="en"),
    ]
    events.append(Event("b", "slot", T0 + 5, action="language", value="en"))
    result = report(events)
    volume = result.volume
    assert (volume.conversations, volume.customers) == (3, 2)
    assert (volume.customer_messages, volume.bot_messages, volume.messages) == (4, 4, 8)
    assert [(c.key, c.count) for c in volume.by_channel] == [("webchat", 2), ("telegram", 1)]
    assert [(c.key, c.count, c.share) for c in volume.by_language] == [
        ("zh", 2, 0.6667),
        ("en", 1, 0.3333),
    ]


def test_sessions_that_started_before_the_period_are_left_out():
    period = Period(T0, T0 + DAY, 8)
    events = [*session("a", T0 - 10, "你好"), *session("b", T0 + 10, "你好")]
    events.append(user("a", T0 + 20, "还在吗"))  # same session as before the period
    result = report(events, period=period)
    assert result.volume.conversations == 1
    assert result.volume.customer_messages == 1


def test_conversations_per_day_on_the_shops_clock():
    late = datetime(2026, 11, 10, 23, 30, tzinfo=timezone.utc).timestamp()  # 07:30 on the 11th
    events = [*session("a", T0, "你好"), *session("b", late, "你好"), *session("c", late, "hi")]
    per_day = {d.date: d.conversations for d in report(events).per_day}
    assert per_day["2026-11-10"] == 1
    assert per_day["2026-11-11"] == 2
    assert sum(per_day.values()) == 3


# ---- fallback, hand-off, containment ----------------------------------------------------------


def test_fallback_per_message_and_per_conversation():
    events = [
        *start("a", T0),
        user("a", T0 + 1, "asdfgh", intent="nlu_fallback"),
        action("a", T0 + 2, "action_default_fallback"),
        user("a", T0 + 3, "你好"),
        *start("b", T0),
        user("b", T0 + 1, "推荐手机", intent="recommend_product"),
        action("b", T0 + 2, "action_default_fallback"),  # answered with the fallback action
        user("b", T0 + 3, "天气怎么样", intent="out_of_scope"),
        *start("c", T0),
        user("c", T0 + 1, "你好"),
        user("c", T0 + 2, "谢谢"),
    ]
    fallback = report(events).fallback
    assert fallback.customer_messages == 6
    assert fallback.messages == 2
    assert fallback.message_rate == pytest.approx(2 / 6, abs=1e-4)
    assert (fallback.conversations, fallback.conversation_rate) == (2, pytest.approx(2 / 3, 1e-3))
    assert (fallback.out_of_scope_messages, fallback.out_of_scope_rate) == (1, 0.1667)


def test_fallback_action_before_any_customer_message_counts_nothing():
    events = [
        *start("a", T0),
        action("a", T0 + 1, "action_default_fallback"),
        user("a", T0 + 2, "你好"),
    ]
    assert report(events).fallback.messages == 0


def test_handoff_from_pause_ticket_or_rating_and_containment():
    events = [
        *session("paused", T0, "我要人工"),
        Event("paused", "pause", T0 + 10),
        Event("paused", "resume", T0 + 600),
        *session("ticket", T0, "投诉"),
        *session("rated", T0, "退货"),
        *session("bot", T0, "你好"),
    ]
    tickets = [
        Ticket("ticket", "complaint", "claimed", T0 + 30, claimed_at=T0 + 30 + 240),
        Ticket("gone", "requested", "abandoned", T0 + 30),  # no conversation in the tracker
        Ticket("ticket", "frustration", "closed", T0 + 40, claimed_at=T0 + 40 + 600),
    ]
    ratings = [Rating("rated", 4, T0 + 100, human_involved=True)]
    result = report(events, ratings, tickets)
    assert (result.handoff.conversations, result.handoff.rate) == (3, 0.75)
    assert result.handoff.paused_in_tracker == 1
    assert result.handoff.tickets == 3
    reasons = {c.key: c.count for c in result.handoff.reasons}
    assert reasons == {"requested": 1, "fallbacks": 0, "complaint": 1, "frustration": 1}
    statuses = {c.key: c.count for c in result.handoff.statuses}
    assert statuses == {"open": 0, "claimed": 1, "closed": 1, "abandoned": 1}
    assert result.handoff.median_minutes_to_claim == 7.0
    assert (result.containment.contained, result.containment.rate) == (1, 0.25)


def test_tickets_and_ratings_link_to_the_senders_session_of_their_time():
    events = [*session("a", T0, "你好"), *session("a", T0 + 5 * HOUR, "我要投诉")]
    tickets = [Ticket("a", "complaint", "open", T0 + 5 * HOUR + 60)]
    resolution = report(events, tickets=tickets).resolution
    assert (resolution.conversations, resolution.handed_off, resolution.contained) == (2, 1, 1)


# ---- satisfaction -----------------------------------------------------------------------------


def test_csat_average_distribution_and_groups():
    ratings = [
        Rating("a", 5, T0, ("track_order",), "zh", "webchat"),
        Rating("b", 4, T0, ("track_order", "return_policy"), "en", "rest"),
        Rating("c", 1, T0, ("return_policy", "return_policy"), "zh", "webchat"),
        Rating("d", 3, T0, (), None, None),
        Rating("old", 1, T0 - 30 * DAY, ("track_order",)),  # outside the period
    ]
    csat = report(ratings=ratings).csat
    assert (csat.count, csat.average) == (4, 3.25)
    assert csat.distribution == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1}
    assert [(g.key, g.count, g.average) for g in csat.by_intent] == [
        ("return_policy", 2, 2.5),
        ("track_order", 2, 4.5),
        ("(none)", 1, 3.0),
    ]
    assert [(g.key, g.average) for g in csat.by_language] == [
        ("zh", 3.0),
        ("en", 4.0),
        ("unknown", 3.0),
    ]
    assert [(g.key, g.count) for g in csat.by_channel] == [
        ("webchat", 2),
        ("rest", 1),
        ("unknown", 1),
    ]


def test_ratings_without_tracker_events_still_count():
    result = report(ratings=[Rating("nobody", 2, T0), Rating("nobody2", 4, T0)])
    assert result.has_data is True
    assert (result.csat.count, result.csat.average) == (2, 3.0)
    assert result.csat.without_conversation == 2
    assert result.csat.linked_to_conversations == 0
    assert result.volume.conversations == 0
    assert result.resolution.rated == 0


def test_estimated_satisfaction_from_stored_and_computed_sentiment():
    events = [
        *start("happy", T0),
        user("happy", T0 + 1, "太好了，谢谢", sentiment=0.8),
        user("happy", T0 + 2, "再见", sentiment=0.4),
        *start("angry", T0),
        user("angry", T0 + 1, "this is terrible", language="en"),  # no stored score
        *start("rated", T0),
        user("rated", T0 + 1, "垃圾", sentiment=-1.0),
        *start("silent", T0),
        user("silent", T0 + 1, "en", sentiment=None),
        user("silent", T0 + 2, "odd", sentiment=7),  # out of range: ignored
    ]
    calls = []

    def scorer(text, language):
        calls.append((text, language))
        return -0.6 if "terrible" in text else None

    estimate = report(events, [Rating("rated", 2, T0 + 10)], scorer=scorer).estimated_satisfaction
    assert estimate.is_estimate is True
    assert estimate.conversations_without_rating == 3
    assert estimate.conversations_covered == 2
    assert estimate.coverage == 0.6667
    assert estimate.average_sentiment == pytest.approx((0.6 - 0.6) / 2, abs=1e-3)
    assert estimate.estimated_rating == 3.0
    assert estimate.distribution == {"negative": 1, "neutral": 0, "positive": 1}
    assert (estimate.messages_scored_stored, estimate.messages_scored_estimated) == (2, 1)
    assert ("this is terrible", "en") in calls
    assert all("垃圾" not in text for text, _ in calls)  # rated conversations are not estimated


def test_estimate_without_a_scorer_uses_stored_scores_only():
    events = [*start("a", T0), user("a", T0 + 1, "差评", sentiment=-0.5), *session("b", T0, "好")]
    estimate = report(events).estimated_satisfaction
    assert (estimate.conversations_covered, estimate.estimated_rating) == (1, 2.0)


# ---- intents and demand -----------------------------------------------------------------------


def test_top_intents_largest_first_with_shares():
    events = [
        *session("a", T0, "推荐手机", "推荐电脑", intent="recommend_product"),
        *session("b", T0, "订单到哪了", intent="track_order"),
        *session("c", T0, "你好"),
    ]
    intents = report(events).intents
    assert [(i.key, i.count, i.share) for i in intents] == [
        ("recommend_product", 2, 0.5),
        ("greet", 1, 0.25),
        ("track_order", 1, 0.25),
    ]


@pytest.mark.parametrize(
    ("value", "band"),
    [
        ({"min": 1000, "max": 2000, "currency": "CNY"}, "1000-2000"),
        ('{"min": null, "max": 800, "currency": "CNY"}', "500-1000"),
        ({"max": 500}, "<500"),
        ({"max": "1,500"}, "1000-2000"),
        ({"min": 5000}, "5000+"),
        ({"min": 3000, "max": 6000}, "5000+"),
        (299, "<500"),
        (1000, "1000-2000"),
        ("4999.5", "2000-5000"),
        ("¥8000", "5000+"),
        ("-5000 CNY", "2000-5000"),
        ("3000-5000 CNY", "2000-5000"),
        ("5000- CNY", "5000+"),
        ({"max": 300, "currency": "USD"}, "other currency"),
        ("-300 USD", "other currency"),
        ("5000-1000 CNY contradictory", None),
        ("0-0 CNY not_positive", None),
        ({"min": 1, "max": 2, "problem": "implausible"}, None),
        ({"currency": "CNY"}, None),
        ({}, None),
        ("", None),
        ("cheap", None),
        ("{not json", None),
        ([1000], None),
        (None, None),
        (True, None),
        (-20, None),
        (float("nan"), None),
    ],
)
def test_price_band(value, band):
    assert price_band(value) == band


def test_demand_counts_categories_brands_and_price_bands_per_conversation():
    def asks(sender, *entities):
        return [*start(sender, T0), user(sender, T0 + 1, "…", entities=entities)]

    events = [
        *asks("a", ("product_category", "phones"), ("brand", "Apple"), ("price", "-5000 CNY")),
        *asks("a2", ("product_category", "phones"), ("product_category", "Phones")),
        *asks("b", ("product_category", "laptops"), ("brand", "apple"), ("price", 8000)),
        *asks("c", ("brand", "华为"), ("price", {"max": 300, "currency": "USD"})),
        *asks("d", ("brand", ["华为", "小米"]), ("price", None), ("color", "黑色")),
    ]
    labels = {"product_category": {"phones": "手机 Phones"}, "brand": {"apple": "苹果 Apple"}}
    demand = report(events, labels=labels).demand
    assert [(c.key, c.count, c.label) for c in demand.categories] == [
        ("phones", 2, "手机 Phones"),
        ("laptops", 1, "laptops"),
    ]
    assert [(c.key, c.count) for c in demand.brands] == [("apple", 2), ("华为", 2), ("小米", 1)]
    assert demand.brands[0].label == "苹果 Apple"
    bands = {c.key: c.count for c in demand.price_bands}
    assert bands == {
        "<500": 0,
        "500-1000": 0,
        "1000-2000": 0,
        "2000-5000": 1,
        "5000+": 1,
        "other currency": 1,
    }


# ---- unmet needs ------------------------------------------------------------------------------


def test_scrub_masks_phones_emails_order_numbers_and_long_numbers():
    text = (
        "订单号 2611300709568588 电话 13812346093 邮箱 zhang.san@example.com "
        "卡号 6222 0213 1664 5123 手机尾号 4821 预算 3000 元 iPhone 15"
    )
    scrubbed = scrub(text)
    for secret in ("2611300709568588", "13812346093", "zhang.san", "6222 0213", "4821"):
        assert secret not in scrubbed
    assert "138****" in scrubbed and "@example.com" in scrubbed
    assert "3000 元" in scrubbed and "iPhone 15" in scrubbed
    assert scrub(None) == ""


def test_keywords_drop_stop_words_numbers_and_plurals():
    assert keywords("Do you sell cat foods? 123") == ["sell", "cat", "food"]
    words = keywords("请问你们有没有卖猫粮的？")
    assert "请问" not in words and "有没有" not in words and "的" not in words
    assert any("猫" in w for w in words)


def test_unmet_needs_grouped_by_shared_keywords_with_redacted_examples():
    events = [
        *start("a", T0),
        user("a", T0 + 1, "你们卖猫粮吗", intent="nlu_fallback"),
        user("a", T0 + 2, "有没有猫粮 我电话13812346093", intent="nlu_fallback"),
        user("a", T0 + 3, "猫粮什么时候到货", intent="out_of_scope"),
        user("a", T0 + 4, "猫粮多少钱", intent="nlu_fallback"),
        user("a", T0 + 5, "推荐手机", intent="recommend_product"),
        *start("b", T0),
        user("b", T0 + 1, "do you sell gift cards", intent="out_of_scope", language="en"),
        user("b", T0 + 2, "gift card for order 2611300709568588?", intent="nlu_fallback"),
        user("b", T0 + 3, "what's the weather", intent="out_of_scope", language="en"),
    ]
    unmet = report(events).unmet_needs
    assert (unmet.messages, unmet.fallback_messages, unmet.out_of_scope_messages) == (7, 4, 3)
    topics = {t.keywords[0]: t for t in unmet.topics if t.keywords}
    assert unmet.topics[0].label == "猫 · 粮" and unmet.topics[0].count == 4
    assert len(unmet.topics[0].examples) == 3
    assert topics["card"].count == 2 and topics["card"].label == "card · gift"
    assert unmet.topics[-1].label == OTHER_TOPIC and unmet.topics[-1].count == 1
    text = json.dumps(report(events).to_dict(), ensure_ascii=False)
    assert "13812346093" not in text and "2611300709568588" not in text


def test_topics_do_not_depend_on_the_order_of_messages():
    messages = [
        "退货运费谁出",
        "退货要运费吗",
        "can I pay with paypal",
        "paypal payment",
        "发票抬头怎么改",
        "发票开错了",
        "hello there",
    ]
    first = group_topics(messages)
    shuffled = messages[:]
    random.Random(3).shuffle(shuffled)
    second = group_topics(shuffled)
    assert [(t.label, t.count, t.examples) for t in first] == [
        (t.label, t.count, t.examples) for t in second
    ]
    assert {t.keywords[0] for t in first if t.keywords} == {"运费", "paypal", "发票"}


def test_topics_limit_examples_and_put_the_rest_in_other():
    messages = [f"wifi problem number {i}" for i in range(10)]
    topics = group_topics(messages, max_topics=1)
    assert topics[0].count == 10 and len(topics[0].examples) == 3
    assert group_topics([]) == []
    assert [t.label for t in group_topics(["only one message"])] == [OTHER_TOPIC]


# ---- resolution -------------------------------------------------------------------------------


def test_resolution_counts_contained_rated_handed_off_and_recontacted_separately():
    events = [
        *session("a", T0, "退货"),  # contained, rated 5, came back after 3 hours
        *session("a", T0 + 3 * HOUR, "退货怎么还没处理"),  # handed off (pause)
        Event("a", "pause", T0 + 3 * HOUR + 30),
        *session("b", T0, "你好"),  # contained, rated 3
        *session("c", T0, "hi", language="en"),  # contained, not rated
    ]
    ratings = [Rating("a", 5, T0 + 100), Rating("b", 3, T0 + 100)]
    resolution = report(events, ratings).resolution
    assert resolution.conversations == 4
    assert (resolution.contained, resolution.handed_off) == (3, 1)
    assert (resolution.rated, resolution.good_rating, resolution.contained_with_good_rating) == (
        2,
        1,
        1,
    )
    assert (resolution.recontacted_24h, resolution.contained_recontacted_24h) == (1, 1)


def test_recontact_exactly_at_24_hours_counts_one_second_later_does_not():
    first = session("a", T0, "你好")  # last event at T0 + 2
    last = first[-1].timestamp
    on_time = session("a", last + DAY, "又来了")
    assert on_time[0].timestamp - last == DAY
    assert report([*first, *on_time]).resolution.recontacted_24h == 1

    late = session("a", last + DAY + 1, "又来了")
    assert report([*first, *late]).resolution.recontacted_24h == 0


def test_a_session_without_customer_messages_is_not_a_recontact():
    events = [*session("a", T0, "你好"), *start("a", T0 + HOUR), bot("a", T0 + HOUR + 1)]
    assert report(events).resolution.recontacted_24h == 0


def test_recontact_after_the_period_end_counts():
    period = Period(T0, T0 + DAY, 8)
    events = [*session("a", T0 + DAY - 100, "你好"), *session("a", T0 + DAY + HOUR, "还在吗")]
    result = report(events, period=period)
    assert result.volume.conversations == 1
    assert result.resolution.recontacted_24h == 1


def test_conversation_language_from_the_slot_else_the_messages():
    events = [
        *start("slot", T0),
        Event("slot", "slot", T0 + 1, action="language", value="en"),
        user("slot", T0 + 2, "你好", language="zh"),
        *start("parsed", T0),
        user("parsed", T0 + 1, "hello", language="en"),
        *start("detected", T0),
        user("detected", T0 + 1, "我的快递到哪了", language=None),
        *start("digits", T0),
        user("digits", T0 + 1, "12345", language=None),
    ]
    languages = {s.sender_id: s.language() for s in split_sessions(events)}
    assert languages == {"slot": "en", "parsed": "en", "detected": "zh", "digits": "unknown"}


# ---- the period -------------------------------------------------------------------------------


def test_period_relative_to_until_or_from_a_date_on_the_shops_clock():
    from kefu.report import ReportError, parse_period

    now = T0
    assert parse_period("30d", now=now) == Period(now - 30 * DAY, now, 0)
    assert parse_period("12h", now=now).start == now - 12 * HOUR
    assert parse_period("2W", now=now).start == now - 14 * DAY
    period = parse_period("2026-11-01", "2026-11-30", now=now, utc_offset_hours=8)
    assert period.local_text(period.start) == "2026-11-01T00:00+08:00"
    assert period.local_text(period.end) == "2026-12-01T00:00+08:00"  # the 30th included
    until = parse_period("1d", "2026-11-10T12:00", utc_offset_hours=8)
    assert until.local_text(until.end) == "2026-11-10T12:00+08:00"
    for since, until in (("lately", None), ("0d", None), ("2026-12-01", "2026-11-01")):
        with pytest.raises(ReportError):
            parse_period(since, until, now=now)
