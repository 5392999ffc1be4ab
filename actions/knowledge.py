"""Answers from the shop's knowledge when NLU falls back (kefu.knowledge): facts from the FAQ
folder, policies.yml, shop.yml and the catalog, or an honest "I don't know" with the way to a
person.  With ``KEFU_LLM_URL`` set an LLM composes the answer from the same facts, awaited here
with its timeout (never in Rasa's event loop) and checked by the guardrails."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import reply_language
from kefu.knowledge import KnowledgeAnswer, answer_with_llm

logger = logging.getLogger(__name__)


def time_budget() -> float:
    """Seconds the answer may take in all (``KEFU_KNOWLEDGE_TIMEOUT``, default 4.5: a WeChat
    reply must leave within 5; the LLM's own timeout is ``KEFU_LLM_TIMEOUT``)."""
    try:
        return max(0.5, float(os.environ.get("KEFU_KNOWLEDGE_TIMEOUT") or 4.5))
    except ValueError:
        return 4.5


PERSON_BUTTON = {"zh": "转人工客服", "en": "Talk to a person"}
PERSON_PAYLOAD = "/contact_human_agent"


async def knowledge_answer(text: str, language: str) -> KnowledgeAnswer | None:
    """The shop's answer to ``text`` (possibly an honest decline), or None when there is none
    within :func:`time_budget` or the knowledge cannot be read (logged)."""
    try:
        return await asyncio.wait_for(answer_with_llm(text, language), time_budget())
    except asyncio.TimeoutError:
        # the first question after a start builds the index (seconds; it goes on in the
        # background and answers the next question), or the LLM is slow
        logger.warning("No answer from the shop's knowledge within %.1f s", time_budget())
    except Exception:  # the knowledge cannot be read: say so as before, never crash
        logger.exception("No answer from the shop's knowledge")
    return None


def say_knowledge_answer(dispatcher: CollectingDispatcher, result: KnowledgeAnswer) -> None:
    """The answer, with a button to a person where the answer offers one."""
    buttons = (
        [{"title": PERSON_BUTTON[result.language], "payload": PERSON_PAYLOAD}]
        if result.offer_person
        else []
    )
    dispatcher.utter_message(text=result.text, buttons=buttons)


class ActionAnswerFromKnowledge(Action):
    """Answer the customer's latest message from the shop's facts, or decline honestly."""

    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = reply_language(tracker)
        text = tracker.latest_message.get("text") or ""
        if not text.strip() or text.lstrip().startswith("/"):
            dispatcher.utter_message(response="utter_ask_rephrase")  # a bare intent payload
            return []
        result = await knowledge_answer(text, language)
        if result is None:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        say_knowledge_answer(dispatcher, result)
        return []
