"""The WeChat 5-second window with the knowledge layer: the real channel (Sanic, fake WeChat API)
in front of the real ``action_answer_from_knowledge`` and an OpenAI-compatible fake LLM.  A
quick answer goes back passively within the window; one that takes longer (a slow LLM) gets
"success" at the deadline and then arrives through the customer-service message API, checked by
the guardrails like any LLM answer.  The window is scaled down (``reply_timeout``) to keep the
test short; in production it is 4.5 s of WeChat's 5."""

from __future__ import annotations

import sys
import time

from rasa.core.channels.channel import UserMessage

from actions.knowledge import ActionAnswerFromKnowledge
from tests.channels.test_wechat_channel import (  # noqa: F401  (fixtures)
    new_openid,
    reply_fields,
    serve,
    text_body,
    wechat_api,
)
from tests.knowledge.test_llm import GOOD_ZH, Dispatcher, Tracker, fake_llm  # noqa: F401

WINDOW = 0.5  # seconds the channel waits for the bot before answering "success"
FAQ_TEXT = "礼品包装和手写贺卡都是免费的"


def knowledge_bot(language: str = "zh"):
    """The bot of a fallback turn: the knowledge action, its messages sent on the channel."""

    async def answer(message: UserMessage) -> None:
        dispatcher = Dispatcher()
        await ActionAnswerFromKnowledge().run(dispatcher, Tracker(message.text, language), {})
        for said in dispatcher.messages:
            await message.output_channel.send_text_message(message.sender_id, said["text"])

    return answer


def use(kb, fake_llm, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(sys.modules["kefu.knowledge.answer"], "_default_kb", kb)
    monkeypatch.setenv("KEFU_LLM_URL", fake_llm.settings.url)
    monkeypatch.setenv("KEFU_LLM_TIMEOUT", "3")


async def test_a_quick_answer_goes_back_within_the_window(
    serve,  # noqa: F811
    wechat_api,  # noqa: F811
    fake_llm,  # noqa: F811
    kb,
    monkeypatch,
):
    use(kb, fake_llm, monkeypatch)
    fake_llm.reply = GOOD_ZH
    kb.index()  # built before the clock starts, as in a running server
    served = await serve(wechat_api, reply_timeout=WINDOW * 4)
    served.bot.answer = knowledge_bot()
    started = time.monotonic()
    status, xml = await served.post(text_body(new_openid(), "可以礼品包装吗"))
    assert status == 200 and time.monotonic() - started < WINDOW * 4
    content = reply_fields(xml)["Content"]
    assert content.startswith(GOOD_ZH) and "来源：常见问题" in content
    assert wechat_api.sends == []


async def test_a_slow_llm_answer_goes_out_through_the_customer_service_api(
    serve,  # noqa: F811
    wechat_api,  # noqa: F811
    fake_llm,  # noqa: F811
    kb,
    monkeypatch,
):
    use(kb, fake_llm, monkeypatch)
    fake_llm.reply, fake_llm.delay = GOOD_ZH, WINDOW * 3
    kb.index()
    served = await serve(wechat_api, reply_timeout=WINDOW)
    served.bot.answer = knowledge_bot()
    openid = new_openid()
    started = time.monotonic()
    assert await served.post(text_body(openid, "可以礼品包装吗")) == (200, "success")
    assert time.monotonic() - started < WINDOW + 0.4  # at the deadline, not when the LLM is done
    await wechat_api.wait_for_sends(1)
    [(_, payload)] = wechat_api.sends
    assert payload["touser"] == openid and payload["msgtype"] == "text"
    assert payload["text"]["content"] == GOOD_ZH + "\n来源：常见问题「可以礼品包装吗？」"


async def test_a_slow_wrong_llm_answer_still_goes_out_as_the_checked_extractive_one(
    serve,  # noqa: F811
    wechat_api,  # noqa: F811
    fake_llm,  # noqa: F811
    kb,
    monkeypatch,
):
    use(kb, fake_llm, monkeypatch)
    fake_llm.reply, fake_llm.delay = "礼品包装收费 ¥15。", WINDOW * 3  # an invented price
    kb.index()
    served = await serve(wechat_api, reply_timeout=WINDOW)
    served.bot.answer = knowledge_bot()
    assert await served.post(text_body(new_openid(), "可以礼品包装吗")) == (200, "success")
    await wechat_api.wait_for_sends(1)
    content = wechat_api.sends[0][1]["text"]["content"]
    assert FAQ_TEXT in content and "¥15" not in content
