"""Report topics (kefu.report.topics): the questions the bot could not answer, grouped by
meaning with the knowledge layer's multilingual embeddings (across languages), labelled, with
their conversations, hand-offs and satisfaction; by keywords without an embedder."""

from __future__ import annotations

import pytest

from kefu.knowledge.embed import default_encoder
from kefu.report.metrics import OTHER_TOPIC, Ticket
from kefu.report.topics import report_topics
from tests.unit.test_report_metrics import T0, action, bot, report, start, user

DECLINE = "抱歉，这个问题在店铺的资料里没有找到确切的答案，我不想给您不准确的信息。"
ANSWERED = "礼品包装和贺卡都是免费的。\n来源：常见问题「可以礼品包装吗？」"


def asked(sender, at, text, reply=DECLINE, intent="nlu_fallback", language="zh"):
    return [
        *start(sender, at),
        user(sender, at + 1, text, intent=intent, language=language, sentiment=-0.1),
        action(sender, at + 2, "action_answer_from_knowledge"),
        bot(sender, at + 3, reply),
    ]


@pytest.fixture(scope="module")
def embed():
    return default_encoder().encode


def events():
    return [
        *asked("a", T0, "你们卖猫粮吗"),
        *asked("b", T0 + 100, "有没有猫粮 我电话13812346093"),
        *asked("c", T0 + 200, "do you sell cat food?", language="en"),
        *asked("d", T0 + 300, "能用比特币付款吗"),
        *asked("e", T0 + 400, "can I pay with bitcoin", language="en"),
        *asked("f", T0 + 500, "明天天气怎么样", intent="out_of_scope"),
        *asked("g", T0 + 600, "可以礼品包装吗", reply=ANSWERED),  # answered: not a gap
    ]


def test_questions_are_grouped_by_meaning_across_languages(embed):
    tickets = [Ticket("d", "fallbacks", "abandoned", T0 + 305)]
    topics = report(events(), tickets=tickets, embed=embed).topics
    assert topics.method == "embeddings"
    assert (topics.questions, topics.conversations) == (6, 6)
    first, second, rest = topics.topics
    assert first.questions == 3 and "猫" in first.label  # 猫粮 and cat food together
    assert "do you sell cat food?" in first.examples
    assert all("13812346093" not in x for x in first.examples)  # redacted as in unmet needs
    assert second.questions == 2 and second.conversations == 2 and second.handed_off == 1
    assert {x for x in second.examples} == {"能用比特币付款吗", "can I pay with bitcoin"}
    assert rest.label == OTHER_TOPIC and rest.examples == ["明天天气怎么样"]
    assert all("礼品包装" not in x for t in topics.topics for x in t.examples)
    assert first.average_satisfaction is not None and first.average_satisfaction < 3


def test_without_an_embedder_topics_come_from_keywords():
    topics = report(events()).topics
    assert topics.method == "keywords"
    labels = [t.label for t in topics.topics]
    assert labels[0] == "猫 · 粮" and labels[-1] == OTHER_TOPIC
    assert sum(t.questions for t in topics.topics) == 6


def test_a_failing_embedder_falls_back_to_keywords():
    def broken(texts):
        raise RuntimeError("no model here")

    sessions_events = events()
    topics = report(sessions_events, embed=broken).topics
    assert topics.method == "keywords" and topics.questions == 6


def test_no_unanswered_question_no_topic(embed):
    result = report_topics([], lambda session: False, {}, embed)
    assert (result.questions, result.topics) == (0, [])
