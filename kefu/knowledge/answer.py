"""Long-tail answers from the shop's facts, in the customer's language, with citations.

:func:`answer` is extractive (no LLM): the facts that answer, as the shop wrote them, with
where they come from; or, when no fact answers well enough, an honest decline that offers a
person.  :func:`answer_with_llm` lets a configured LLM compose the answer from the same facts
and sends it only if it passes :mod:`kefu.knowledge.guardrails`; otherwise, on a timeout or an
error, the extractive answer goes out.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from kefu.asks import split_asks
from kefu.config import Bilingual
from kefu.knowledge.facts import KIND_LABELS, Fact
from kefu.knowledge.guardrails import carries_instructions
from kefu.knowledge.index import Hit, KnowledgeBase, KnowledgeIndex
from kefu.knowledge.products import ProductNames, answer_about
from kefu.text import fold_width

logger = logging.getLogger(__name__)

# When a FAQ / policy / shop fact answers (Hit.cosine, Hit.coverage): chosen on
# tests/knowledge/longtail_eval.yml (python -m scripts.longtail_eval) as the middle of the
# range of values that answers the most questions with no unanswerable one answered.
CLOSE_MEANING = 0.8  # the question means the same as one of the fact's phrasings, or
SOME_MEANING, MOST_WORDS = 0.55, 0.6  # similar meaning and most of its words in the fact, or
ALL_WORDS, LEAST_MEANING = 0.9, 0.25  # (nearly) all its words in the fact, loosely related
SECOND_FACT_MARGIN = 0.03  # a second answering fact is added when this close to the first
MAX_FACTS = 2


def answers(hit: Hit) -> bool:
    """Whether a general fact answers the question well enough to be said."""
    return (
        hit.cosine >= CLOSE_MEANING
        or (hit.cosine >= SOME_MEANING and hit.coverage >= MOST_WORDS)
        or (hit.coverage >= ALL_WORDS and hit.cosine >= LEAST_MEANING)
    )


_PERSONAL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+?\d[\d\- ]{6,}\d")
GENERAL_KINDS = ("faq", "policy", "shop")  # products are answered only when named
ANSWER = "answer"
DECLINE = "decline"


@dataclass
class KnowledgeAnswer:
    kind: str  # ANSWER or DECLINE
    text: str
    language: str
    facts: list[Fact] = field(default_factory=list)  # cited, best first
    citations: list[str] = field(default_factory=list)  # "常见问题「可以礼品包装吗？」"
    source: str = "extractive"  # or "llm"
    confidence: float = 0.0
    reason: str = ""  # why declined, or why the LLM answer was not used
    offer_person: bool = False
    evidence: list[str] = field(default_factory=list)  # fact texts shown (for the LLM)
    seconds: float = 0.0


DECLINE_TEXT = Bilingual(
    "抱歉，这个问题在店铺的资料里没有找到确切的答案，我不想给您不准确的信息。"
    "您可以换个说法再问我，或者转人工客服为您解答（热线 {hotline}，{hours}）。",
    "Sorry, I couldn't find a reliable answer to that in the shop's information, and I'd rather "
    "not guess. You can ask me in other words, or talk to a person (hotline {hotline}, {hours}).",
)
DECLINE_PRODUCT_TEXT = Bilingual(
    "抱歉，店铺资料里关于「{product}」没有写到您问的这一点，我不想给您不准确的信息。"
    "可以转人工客服帮您确认（热线 {hotline}，{hours}）。",
    "Sorry, the shop's information on \"{product}\" does not cover what you asked, and I'd "
    "rather not guess. A person can check it for you (hotline {hotline}, {hours}).",
)
SOURCE_LABEL = Bilingual("来源：", "Source: ")
SEVERAL_ASKS = "several_asks"  # the reason of an answer to several asks (no LLM composes it)
ASK_LABEL = Bilingual("「{ask}」", '"{ask}"')
UNANSWERED_ASKS_TEXT = Bilingual(
    "{asks}：店铺资料里没有找到确切的答案，可以转人工客服为您解答（热线 {hotline}，{hours}）。",
    "{asks}: the shop's information has no reliable answer; a person can help (hotline "
    "{hotline}, {hours}).",
)


def citation(fact: Fact, language: str) -> str:
    label = KIND_LABELS[fact.kind].get(language)
    title = fact.title.get(language)
    return f"{label}「{title}」" if language == "zh" else f'{label} "{title}"'


def _contact(kb: KnowledgeBase | None) -> dict[str, str]:
    from kefu.config import shop_config

    config = (kb.config if kb is not None else None) or shop_config()
    return {
        "hotline": config.customer_service.hotline,
        "hours_zh": config.customer_service.hours.zh,
        "hours_en": config.customer_service.hours.en,
    }


def decline(
    language: str, kb: KnowledgeBase | None, reason: str, product: Fact | None = None
) -> KnowledgeAnswer:
    contact = _contact(kb)
    template = DECLINE_PRODUCT_TEXT if product else DECLINE_TEXT
    text = template.get(language).format(
        hotline=contact["hotline"],
        hours=contact["hours_en" if language == "en" else "hours_zh"],
        product=product.title.get(language) if product else "",
    )
    return KnowledgeAnswer(DECLINE, text, language, reason=reason, offer_person=True)


def _present(blocks: list[tuple[Fact, str]], language: str) -> tuple[str, list[str]]:
    citations = [citation(fact, language) for fact, _ in blocks]
    separator = "；" if language == "zh" else "; "
    body = "\n\n".join(text for _, text in blocks)
    return f"{body}\n{SOURCE_LABEL.get(language)}{separator.join(citations)}", citations


def _ranked(hits: list[Hit]) -> list[Hit]:
    """General (non-product) facts, by confidence."""
    return sorted((h for h in hits if h.fact.kind != "product"), key=lambda h: -h.confidence)


def _general(index: KnowledgeIndex, question: str) -> list[Hit]:
    hits = _ranked(index.search(question, limit=10, kinds=GENERAL_KINDS))
    if not hits:
        return []
    best = hits[0]
    if not answers(best):
        return []
    chosen = [best]
    for hit in hits[1:MAX_FACTS]:
        if answers(hit) and hit.confidence >= best.confidence - SECOND_FACT_MARGIN:
            chosen.append(hit)
    return chosen


_names_cache: dict[int, ProductNames] = {}


def product_names(index: KnowledgeIndex) -> ProductNames:
    """The product-name finder of ``index`` (one kept, for the latest index)."""
    key = id(index)
    if key not in _names_cache:
        _names_cache.clear()
        _names_cache[key] = ProductNames(index.facts)
    return _names_cache[key]


def answer(
    question: str,
    language: str,
    kb: KnowledgeBase | None = None,
    *,
    index: KnowledgeIndex | None = None,
) -> KnowledgeAnswer:
    """The extractive answer to ``question`` in ``language`` ("zh" or "en")."""
    started = time.perf_counter()
    language = "en" if language == "en" else "zh"
    kb = kb if kb is not None else default_knowledge_base()
    index = index or kb.index()
    result = _answer(question, language, kb, index)
    if result.kind == DECLINE:
        # "退货，顺便问下优惠": each ask on its own; never for text carrying instructions,
        # which is declined whole
        asks = [] if carries_instructions(question) else split_asks(question)
        if len(asks) > 1:
            result = _several(asks, [_answer(a, language, kb, index) for a in asks], kb) or result
    result.seconds = time.perf_counter() - started
    return result


def _several(
    asks: list[str], results: list[KnowledgeAnswer], kb: KnowledgeBase
) -> KnowledgeAnswer | None:
    """One answer to several asks: each answered one under its words, then the others named
    with the way to a person; None when none is answered."""
    answered = [(a, r) for a, r in zip(asks, results, strict=True) if r.kind == ANSWER]
    if not answered:
        return None
    language = results[0].language
    label = ASK_LABEL.get(language)
    blocks = [f"{label.format(ask=a)}\n{r.text}" for a, r in answered]
    unanswered = [a for a, r in zip(asks, results, strict=True) if r.kind != ANSWER]
    if unanswered:
        contact = _contact(kb)
        blocks.append(
            UNANSWERED_ASKS_TEXT.get(language).format(
                asks="、".join(label.format(ask=a) for a in unanswered),
                hotline=contact["hotline"],
                hours=contact["hours_en" if language == "en" else "hours_zh"],
            )
        )
    return KnowledgeAnswer(
        ANSWER,
        "\n\n".join(blocks),
        language,
        facts=[f for _, r in answered for f in r.facts],
        citations=[c for _, r in answered for c in r.citations],
        confidence=min(r.confidence for _, r in answered),
        reason=SEVERAL_ASKS,
        offer_person=bool(unanswered),
        evidence=[e for _, r in answered for e in r.evidence],
    )


def _answer(
    question: str, language: str, kb: KnowledgeBase, index: KnowledgeIndex
) -> KnowledgeAnswer:
    if not (question or "").strip() or question.strip().startswith("/"):
        return decline(language, kb, "empty")
    # phone numbers, e-mail addresses and order numbers say nothing about what is asked
    question = _PERSONAL.sub(" ", fold_width(question))
    named = product_names(index).named(question)
    if named:
        best_share = named[0][1]
        products = [n for n in named if n[1] == best_share][:MAX_FACTS]
        answers = [answer_about(fact, question, words) for fact, _, words in products]
        answered = [a for a in answers if a.answered]
        if answered:
            blocks = [
                (
                    a.fact,
                    "\n".join(
                        [a.lines[language][0]] + [f"· {line}" for line in a.lines[language][1:]]
                    ),
                )
                for a in answered
            ]
            text, citations = _present(blocks, language)
            return KnowledgeAnswer(
                ANSWER,
                text,
                language,
                facts=[a.fact for a in answered],
                citations=citations,
                confidence=1.0,
                evidence=[b for _, b in blocks],
            )
        # the product is known, the aspect is not in its facts: maybe a policy question
        # about the product ("小米 15 保修多久")
        general = _general(index, question)
        if general:
            return _general_answer(general, language)
        return decline(language, kb, "product_aspect", product=answers[0].fact)
    general = _general(index, question)
    if general:
        return _general_answer(general, language)
    return decline(language, kb, "no_fact")


def _general_answer(hits: list[Hit], language: str) -> KnowledgeAnswer:
    blocks = [(h.fact, h.fact.text.get(language)) for h in hits]
    text, citations = _present(blocks, language)
    return KnowledgeAnswer(
        ANSWER,
        text,
        language,
        facts=[h.fact for h in hits],
        citations=citations,
        confidence=hits[0].confidence,
        evidence=[b for _, b in blocks],
    )


_default_kb: KnowledgeBase | None = None


def default_knowledge_base() -> KnowledgeBase:
    """The process-wide knowledge base of the shop (``KEFU_DB_URL``, policies.yml, shop.yml,
    faq/)."""
    global _default_kb
    if _default_kb is None:
        _default_kb = KnowledgeBase()
    return _default_kb


async def answer_with_llm(
    question: str,
    language: str,
    kb: KnowledgeBase | None = None,
    *,
    settings=None,
    http_session=None,
) -> KnowledgeAnswer:
    """The answer composed by the configured LLM from the facts, if it passes the guardrails;
    otherwise the extractive answer (also without an LLM configured).  Retrieval runs in a
    worker thread, the LLM call on the running event loop with its timeout."""
    import asyncio

    from kefu.knowledge.guardrails import check
    from kefu.knowledge.llm import LLMError, LLMSettings, compose

    settings = settings if settings is not None else LLMSettings.from_env()
    extractive = await asyncio.to_thread(answer, question, language, kb)
    if settings is None or extractive.kind != ANSWER or extractive.reason == SEVERAL_ASKS:
        return extractive  # several asks are answered from the facts, each under its words
    started = time.perf_counter()
    try:
        composed = await compose(settings, question, extractive, session=http_session)
    except LLMError as error:
        logger.info("LLM answer not used: %s", error)
        extractive.reason = f"llm_error:{error.code}"
        return extractive
    if composed is None:  # the model says the facts do not answer
        extractive.reason = "llm_no_answer"
        return extractive
    problems = check(composed, extractive.facts, extractive.language, kb=kb)
    if problems:
        logger.info("LLM answer rejected by the guardrails: %s", "; ".join(problems))
        extractive.reason = "guardrails:" + ",".join(p.split(":")[0] for p in problems)
        return extractive
    separator = "；" if extractive.language == "zh" else "; "
    sources = separator.join(extractive.citations)
    text = f"{composed}\n{SOURCE_LABEL.get(extractive.language)}{sources}"
    return KnowledgeAnswer(
        ANSWER,
        text,
        extractive.language,
        facts=extractive.facts,
        citations=extractive.citations,
        source="llm",
        confidence=extractive.confidence,
        evidence=extractive.evidence,
        seconds=extractive.seconds + time.perf_counter() - started,
    )
