"""Satisfaction for every conversation (kefu.report.satisfaction): a rating where given, else an
estimate from sentiment, unanswered questions, repeated asks, hand-offs and thanks, with its
reason; agreement with the ratings and calibration once enough conversations are rated."""

from __future__ import annotations

import pytest

from kefu.report.metrics import Event, Rating, Ticket
from kefu.report.satisfaction import (
    HANDED_OFF,
    LEFT_WAITING,
    MIN_CALIBRATION,
    REPEATED,
    THANKED,
    UNANSWERED,
    Signals,
    estimate,
)
from tests.unit.test_report_metrics import T0, action, bot, report, start, user

KNOWLEDGE_ANSWER = "礼品包装和贺卡都是免费的。\n来源：常见问题「可以礼品包装吗？」"
DECLINE = "抱歉，这个问题在店铺的资料里没有找到确切的答案，我不想给您不准确的信息。"


def happy(sender, at):
    return [
        *start(sender, at),
        user(sender, at + 1, "有什么新款手机推荐", intent="recommend_product", sentiment=0.2),
        bot(sender, at + 2),
        user(sender, at + 3, "谢谢，很好", intent="thank", sentiment=0.8),
        bot(sender, at + 4),
    ]


def unhappy(sender, at):
    return [
        *start(sender, at),
        user(sender, at + 1, "快递箱子压坏了", intent="nlu_fallback", sentiment=-0.5),
        action(sender, at + 2, "action_answer_from_knowledge"),
        bot(sender, at + 3, DECLINE),
        user(sender, at + 4, "快递箱子压坏了！", intent="nlu_fallback", sentiment=-0.7),
        bot(sender, at + 5, DECLINE),
        user(sender, at + 6, "转人工", intent="contact_human_agent", sentiment=-0.6),
        pause(sender, at + 7),
    ]


def pause(sender, at):
    return Event(sender, "pause", at)


def test_every_conversation_gets_a_score_and_a_reason():
    events = happy("a", T0) + unhappy("b", T0 + 100)
    tickets = [Ticket("b", "requested", "abandoned", T0 + 107)]
    result = report(events, tickets=tickets).satisfaction
    assert result.conversations == 2 and result.estimated == 2 and result.rated == 0
    assert sum(result.distribution.values()) == 2
    low, high = result.lowest
    assert high.score >= 4.0 and "客户致谢 thanked" in high.reason
    assert low.score == 1.0 and low.source == "estimate"
    for part in ("2 个问题未能回答", "重复提问 1 次", "转人工", "等待人工时离开", "情绪负面"):
        assert part in low.reason
    assert result.average == pytest.approx((low.score + high.score) / 2, abs=0.01)
    # nothing personal in the per-conversation rows: no sender ids, no message texts
    shown = str([vars(s) for s in result.lowest])
    assert "'a'" not in shown and "快递箱子" not in shown and "新款手机" not in shown


def test_a_fallback_the_knowledge_layer_answered_is_not_unanswered():
    events = [
        *start("a", T0),
        user("a", T0 + 1, "可以礼品包装吗", intent="nlu_fallback", sentiment=0.0),
        action("a", T0 + 2, "action_answer_from_knowledge"),
        bot("a", T0 + 3, KNOWLEDGE_ANSWER),
    ]
    only = report(events).satisfaction.lowest[0]
    assert only.score == 3.0 and "未能回答" not in only.reason


def test_the_estimate_adds_up_its_signals():
    assert estimate(Signals())[0] == 3.0
    assert estimate(Signals(sentiment=0.5, thanked=True))[0] == 4.0 + THANKED
    value, _ = estimate(Signals(sentiment=0.0, unanswered=1, repeated=1, handed_off=True))
    assert value == pytest.approx(3.0 - UNANSWERED - REPEATED - HANDED_OFF, abs=0.06)
    assert estimate(Signals(sentiment=-1.0, unanswered=9, repeated=9, left_waiting=True))[0] == 1.0
    assert estimate(Signals(sentiment=1.0, thanked=True))[0] == 5.0
    assert LEFT_WAITING > HANDED_OFF  # leaving unserved is worse than being served by a person


def test_a_rating_is_the_score_and_the_estimate_is_compared_with_it():
    events = happy("a", T0) + unhappy("b", T0 + 100)
    ratings = [Rating("a", 5, T0 + 5), Rating("b", 4, T0 + 110)]
    result = report(events, ratings=ratings).satisfaction
    assert (result.rated, result.average_rating, result.estimated) == (2, 4.5, 0)
    rows = {s.rating: s for s in result.lowest}
    assert rows[5].source == "rating" and rows[5].score == 5.0 and "rated 5★" in rows[5].reason
    agreement = result.agreement
    assert agreement.rated == 2 and agreement.calibrated is False
    assert agreement.within_one_star == 0.5  # the happy one agrees, the unhappy one does not
    assert agreement.same_side == 0.5
    assert agreement.mean_absolute_error == pytest.approx(
        (abs(5 - rows[5].estimate) + abs(4 - rows[4].estimate)) / 2, abs=0.01
    )


def test_with_enough_ratings_the_estimates_are_calibrated():
    events, ratings = [], []
    for index in range(MIN_CALIBRATION):
        sender = f"r{index}"
        events += happy(sender, T0 + 100 * index)
        ratings.append(Rating(sender, 5, T0 + 100 * index + 5))
    events += unhappy("u", T0 + 5000)
    result = report(events, ratings=ratings).satisfaction
    agreement = result.agreement
    assert agreement.calibrated is True and agreement.rated == MIN_CALIBRATION
    raw = estimate(Signals(sentiment=(0.2 + 0.8 * 2) / 3, thanked=True))[0]
    assert agreement.calibration_offset == pytest.approx(5 - raw, abs=0.01)
    unrated = [s for s in result.lowest if s.source == "estimate"]
    assert len(unrated) == 1 and unrated[0].score == pytest.approx(
        min(5.0, max(1.0, 1.0 + agreement.calibration_offset)), abs=0.05
    )


def test_satisfaction_by_topic():
    events = happy("a", T0) + happy("b", T0 + 100) + unhappy("c", T0 + 200)
    by_topic = {t.key: t for t in report(events).satisfaction.by_topic}
    assert by_topic["recommend_product"].conversations == 2
    assert by_topic["recommend_product"].average >= 4.0
    assert by_topic["(none)"].conversations == 1  # fallbacks and a hand-off name no topic
