"""Agent assist: what a handed-off customer wants and replies the agent may send, grounded.

For a hand-off ticket (:class:`kefu.handoff.TicketView`) and the messages written since (the
console's live conversation), :func:`assist` returns

* a short **summary** for the agent: the topic and the customer's own words, the order they
  mean with its state from the shop database (only an order of the ticket's logged-in
  customer: an order number alone proves nothing), the products they named with their price
  (knowledge index) and stock (the database, now), and the questions the shop's information
  cannot answer;
* up to :data:`MAX_SUGGESTIONS` **suggested replies** in the customer's language, each built
  from the shop's data and citing it: the order's state, the knowledge layer's extractive
  answer to a question the customer asked (:func:`kefu.knowledge.answer`), the policy of the
  conversation's topic.  When nothing grounds a reply there is none, and the agent is told why.

Suggestions are never sent by themselves: the console puts one in the reply box for the agent
to edit and send.  Plain Python, no web framework; every text shown has the customer's proofs of
identity masked (:func:`kefu.handoff_text.mask_proofs`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.config import Bilingual
from kefu.handoff import TicketView
from kefu.handoff_text import GENERIC_INTENTS, TOPICS, mask_proofs
from kefu.identity import find_order_number, order_visible_to
from kefu.knowledge.answer import ANSWER, SOURCE_LABEL, answer, citation, product_names
from kefu.knowledge.facts import Fact
from kefu.knowledge.index import KnowledgeBase, KnowledgeIndex, question_terms
from kefu.models import Order, Product
from kefu.orders import ITEM_LINE, VIEW_TEXTS, after_sales_lines, latest_order, order_details
from kefu.policies import TOPICS as POLICY_TOPICS
from kefu.products import load_details, money

MAX_SUGGESTIONS = 3
MAX_QUESTIONS = 4  # the customer's latest messages asked of the knowledge layer
MAX_PRODUCTS = 2
MAX_QUOTE_CHARS = 80
# Words that ask for a person or greet, not about anything ("转人工", "在吗", "hello?"): a
# message made only of these (and question words) is not something to answer.
NOT_A_QUESTION = frozenset(
    "转 人工 转人工 人工客服 客服 真人 人 在 在吗 在不在 有人 有人吗 你好 您好 哈喽 嗨 喂 好的 好 "
    "谢谢 嗯 哦 ok okay hello hi hey human agent person someone real talk speak staff "
    "representative anyone there thanks thank".split()
)
# the policy an intent's topic is about (beyond the policy topics themselves)
TOPIC_POLICY = {
    "request_return": "check_refund_policy",
    "get_refund": "check_refund_policy",
    "track_refund": "check_refund_policy",
    "cancel_order": "check_cancellation_fee",
    "track_order": "delivery_period",
    "payment_issue": "check_payment_methods",
    "check_invoice": "get_invoice",
}
# topics about an order: its state is worth a reply
ORDER_TOPICS = frozenset(
    """track_order delivery_period change_order cancel_order check_cancellation_fee
    change_shipping_address request_return get_refund track_refund payment_issue get_invoice
    check_invoice complaint""".split()
)

TEXTS: Mapping[str, Bilingual] = {
    "wants": Bilingual("客户想要：{topic}", "The customer wants: {topic}"),
    "wants_unknown": Bilingual("客户想要：（意图不明）", "The customer wants: (not clear)"),
    "said": Bilingual("客户原话：「{quote}」", 'In their words: "{quote}"'),
    "order": Bilingual(
        "订单 {order_no}：{status}，{items}，实付 {total}",
        "Order {order_no}: {status}, {items}, total {total}",
    ),
    "order_latest": Bilingual("客户未指明订单；最近一笔：", "No order named; the latest one: "),
    "order_unverified": Bilingual(
        "客户提到订单 {order_no}，但它不属于已登录的客户或客户未登录："
        "未显示订单信息，需先核实身份。",
        "The customer mentioned order {order_no}, which is not the logged-in customer's (or "
        "they are not logged in): not shown; verify their identity first.",
    ),
    "product": Bilingual("商品：{line}", "Product: {line}"),
    "in_stock": Bilingual("库存 {count} 件", "{count} in stock"),
    "sold_out": Bilingual("缺货", "sold out"),
    "unanswered": Bilingual(
        "店铺资料回答不了：「{quote}」", 'The shop\'s information does not answer: "{quote}"'
    ),
    "order_reply": Bilingual(
        "您好，您的订单情况如下：\n{body}", "Hello, here is your order:\n{body}"
    ),
    "order_confirm": Bilingual(
        "您好，请问您咨询的是这笔订单吗？\n{body}", "Hello, is this the order you mean?\n{body}"
    ),
    "declined": Bilingual(
        "没有建议回复：店铺资料（订单、商品、政策、常见问题）里没有能回答客户的内容，请您亲自回复。",
        "No suggested reply: nothing in the shop's data (orders, products, policies, FAQ) "
        "answers the customer; please reply in your own words.",
    ),
}


@dataclass(frozen=True)
class Line:
    """One line of the summary: what it is about and the text (masked)."""

    kind: str  # "wants" | "said" | "order" | "product" | "unanswered"
    text: str


@dataclass(frozen=True)
class Suggestion:
    """A reply the agent may insert, edit and send; never sent by itself."""

    kind: str  # "order" | "knowledge" | "policy"
    text: str  # in the customer's language, with its source
    sources: tuple[str, ...]  # "订单 2602…", "常见问题「…」"
    answers: str = ""  # the customer's words it answers (masked), if any


@dataclass
class Assist:
    language: str
    summary: list[Line] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    declined: str = ""  # why there is no suggestion
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(name: str, language: str, **values: object) -> str:
    return TEXTS[name].get(language).format(**values)


def _shorten(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    text = " ".join(mask_proofs(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def customer_messages(view: TicketView, live: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """What the customer wrote, oldest first: the ticket's transcript, then the live messages
    (masked both), consecutive repeats once."""
    said: list[str] = []
    for item in [*view.transcript, *live]:
        text = item.get("text")
        if item.get("who") != "customer" or not isinstance(text, str) or not text.strip():
            continue
        text = mask_proofs(text).strip()
        if not said or said[-1] != text:
            said.append(text)
    return said


def is_question(text: str) -> bool:
    """Whether a customer's message is about something (not only "转人工", "在吗", a payload)."""
    if text.lstrip().startswith("/"):
        return False
    words = [w for w in question_terms(text) if w.strip() and w.lower() not in NOT_A_QUESTION]
    return any(any(c.isalnum() for c in w) for w in words)


def _topic(intents: Sequence[str]) -> str | None:
    topics = [i for i in intents if i not in GENERIC_INTENTS]
    return topics[-1] if topics else None


# ---- orders


def _named_orders(texts: Sequence[str], entities: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    values = entities.get("order_id")
    for value in values if isinstance(values, list) else [values]:
        if value:
            found.append(str(value))
    for text in texts:
        hit = find_order_number(text)
        if hit:
            found.append(hit[0])
    digits = [o for o in dict.fromkeys("".join(c for c in o if c.isdigit()) for o in found) if o]
    return digits[-3:]  # the latest mentioned last


def _order_body(session: Session, order: Order, language: str) -> tuple[str, str]:
    """(one summary line, the reply body) for an order: state, items, total, parcels."""
    details = order_details(session, order, language)
    items = (
        "，".join(i.title for i in details.items)
        if language == "zh"
        else ", ".join(i.title for i in details.items)
    )
    line = _text(
        "order",
        language,
        order_no=details.order_no,
        status=details.status_text,
        items=items,
        total=money(details.total),
    )
    body = [
        VIEW_TEXTS["header"]
        .get(language)
        .format(
            order_no=details.order_no,
            created=details.created.isoformat(),
            status=details.status_text,
        )
    ]
    body += [
        ITEM_LINE.format(title=i.title, quantity=i.quantity, amount=money(i.subtotal))
        for i in details.items
    ]
    body += after_sales_lines(details, language)
    return line, mask_proofs("\n".join(body))


def _orders(
    session: Session, view: TicketView, said: Sequence[str], topic: str | None, language: str
) -> tuple[list[Line], list[Suggestion]]:
    lines: list[Line] = []
    suggestions: list[Suggestion] = []
    source = "订单 {}" if language == "zh" else "Order {}"
    named = _named_orders(said, view.entities)
    shown = False
    for order_no in reversed(named):  # the latest mentioned first
        order = order_visible_to(session, order_no, view.customer_id)
        if order is None:
            lines.append(Line("order", _text("order_unverified", language, order_no=order_no)))
            continue
        line, body = _order_body(session, order, language)
        lines.append(Line("order", line))
        if not shown:
            reply = _text("order_reply", language, body=body)
            suggestions.append(Suggestion("order", reply, (source.format(order.order_no),)))
            shown = True
    if not named and view.customer_id is not None and topic in ORDER_TOPICS:
        order = latest_order(session, view.customer_id)
        if order is not None:
            line, body = _order_body(session, order, language)
            lines.append(Line("order", _text("order_latest", language) + line))
            reply = _text("order_confirm", language, body=body)
            suggestions.append(Suggestion("order", reply, (source.format(order.order_no),)))
    return lines, suggestions


# ---- products and knowledge


def _stock(session: Session, sku: str, language: str) -> str:
    """The product's stock now, from the shop database ("库存 12 件" / "sold out")."""
    product_id = session.scalars(select(Product.id).where(Product.sku == sku)).first()
    details = load_details(session, [product_id], language) if product_id is not None else []
    if not details:
        return ""
    stock = details[0].stock_total
    return _text("in_stock" if stock > 0 else "sold_out", language, count=stock)


def _products(
    session: Session, index: KnowledgeIndex, said: Sequence[str], language: str
) -> list[Line]:
    names = product_names(index)
    found: dict[str, Fact] = {}
    for text in reversed(said):
        for fact, _, _ in names.named(text)[:1]:
            found.setdefault(fact.id, fact)
        if len(found) >= MAX_PRODUCTS:
            break
    lines = []
    for fact in found.values():
        parts = [p for p in fact.text.get(language).split("\n") if p]
        price = [p for p in parts if p.startswith(("售价", "Price"))]
        sku = fact.id.split(":", 1)[1]
        stock = _stock(session, sku, language)
        line = " · ".join([fact.title.get(language), *price[:1], *([stock] if stock else [])])
        lines.append(Line("product", _text("product", language, line=line)))
    return lines


def _with_sources(body: str, facts: Sequence[Fact], language: str) -> tuple[str, tuple[str, ...]]:
    cited = tuple(citation(f, language) for f in facts)
    separator = "；" if language == "zh" else "; "
    return f"{body}\n{SOURCE_LABEL.get(language)}{separator.join(cited)}", cited


def _knowledge(
    kb: KnowledgeBase, index: KnowledgeIndex, questions: Sequence[str], language: str
) -> tuple[list[Suggestion], list[Line], set[str]]:
    suggestions: list[Suggestion] = []
    unanswered: list[Line] = []
    used: set[str] = set()
    for question in questions:
        found = answer(question, language, kb, index=index)
        if found.kind != ANSWER:
            unanswered.append(
                Line("unanswered", _text("unanswered", language, quote=_shorten(question)))
            )
            continue
        ids = {f.id for f in found.facts}
        if ids <= used:
            continue
        used |= ids
        suggestions.append(
            Suggestion("knowledge", found.text, tuple(found.citations), _shorten(question))
        )
    return suggestions, unanswered, used


def _policy(index: KnowledgeIndex, topic: str | None, used: set[str], language: str):
    policy = TOPIC_POLICY.get(topic or "", topic)
    if policy not in POLICY_TOPICS or f"policy:{policy}" in used:
        return None
    fact = next((f for f in index.facts if f.id == f"policy:{policy}"), None)
    if fact is None:
        return None
    text, cited = _with_sources(fact.text.get(language), [fact], language)
    return Suggestion("policy", text, cited)


# ---- all together


def assist(
    session: Session,
    view: TicketView,
    live: Sequence[Mapping[str, Any]] = (),
    kb: KnowledgeBase | None = None,
) -> Assist:
    """Summary and suggested replies for ``view`` (in its language), from its transcript, the
    live messages, the shop database (orders, in ``session``) and the knowledge base ``kb``
    (the process-wide one when None)."""
    from kefu.knowledge.answer import default_knowledge_base

    started = time.perf_counter()
    language = "en" if view.language == "en" else "zh"
    kb = kb if kb is not None else default_knowledge_base()
    index = kb.index()
    said = customer_messages(view, live)
    questions = [t for t in said if is_question(t)]
    topic = _topic(view.intents)
    result = Assist(language)

    if topic is not None:
        name = TOPICS.get(topic, (topic.replace("_", " "),) * 2)[1 if language == "en" else 0]
        result.summary.append(Line("wants", _text("wants", language, topic=name)))
    else:
        result.summary.append(Line("wants", _text("wants_unknown", language)))
    if questions:
        result.summary.append(Line("said", _text("said", language, quote=_shorten(questions[-1]))))

    order_lines, order_replies = _orders(session, view, said, topic, language)
    result.summary += order_lines
    result.summary += _products(session, index, questions, language)
    latest = list(reversed(questions))[:MAX_QUESTIONS]
    # a message naming an order is answered by the order's state, not by the knowledge
    general = [q for q in latest if find_order_number(q) is None]
    answered, unanswered, used = _knowledge(kb, index, general, language)
    policy = _policy(index, topic, used, language)
    if not (order_replies or policy):  # else the topic's reply covers what was asked
        result.summary += unanswered
    suggestions = order_replies + answered + ([policy] if policy is not None else [])
    result.suggestions = suggestions[:MAX_SUGGESTIONS]
    if not result.suggestions:
        result.declined = _text("declined", language)
    result.seconds = time.perf_counter() - started
    return result
