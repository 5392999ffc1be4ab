"""What a hand-off ticket says: the agent's one-line briefing (:func:`summarise`), the
entities it keeps, and :func:`mask_proofs`, which takes out of any text what proves a
customer's identity (phone numbers and their last digits, e-mail addresses) before a ticket
stores it or the agent console shows it.  Plain functions, no database."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kefu.identity import find_phone, redact
from kefu.sentiment import NEUTRAL_BAND, STRONG_NEGATIVE

# ---- proofs

# what kefu.identity.redact leaves of a mobile number ("138****6093") or a short one ("***6093")
_MASKED_MOBILE = re.compile(r"(?<![\d*])(\d{3})\*{3,}\d{4}(?!\d)")
_MASKED_SHORT = re.compile(r"(?<!\d)\*{2,}\d{4}(?!\d)")
MAX_PROOF_SPANS = 50  # phone numbers masked per text, at most (a text has a bounded length)
# entities that are contact details: kept on a ticket only masked
CONTACT_ENTITIES = frozenset({"phone", "email", "phone_number", "phone_last4"})


def mask_proofs(text: str | None) -> str:
    """``text`` with e-mail addresses masked ("z***@example.com"), mobile numbers cut to their
    first 3 digits ("138****") and phone digits given as a proof ("尾号6093", "last 4 digits
    6093", a message of just 4 digits) replaced by "****": the last digits of a phone are what
    proves an order, so they are never shown next to order numbers."""
    text = redact(text or "")  # e-mails masked, mobiles as 138****6093
    text = _MASKED_MOBILE.sub(r"\1****", text)
    text = _MASKED_SHORT.sub("****", text)
    for _ in range(MAX_PROOF_SPANS):
        span = find_phone(text)
        if span is None:
            break
        start, end = span
        digits = re.sub(r"\D", "", text[start:end])
        text = text[:start] + (digits[:3] if len(digits) > 4 else "") + "****" + text[end:]
    return text


# ---- the agent's briefing

# what the customer was asking about, by intent (kefu's domain); other intents read as their name
TOPICS: dict[str, tuple[str, str]] = {
    "recommend_product": ("商品推荐", "product recommendations"),
    "product_info": ("商品信息", "product details"),
    "compare_products": ("商品对比", "comparing products"),
    "check_stock": ("库存", "stock"),
    "promotions": ("优惠活动", "promotions"),
    "place_order": ("下单", "placing an order"),
    "track_order": ("订单物流", "tracking an order"),
    "delivery_period": ("送达时间", "delivery time"),
    "delivery_options": ("配送方式", "delivery options"),
    "change_order": ("修改订单", "changing an order"),
    "cancel_order": ("取消订单", "cancelling an order"),
    "check_cancellation_fee": ("取消费用", "the cancellation fee"),
    "change_shipping_address": ("修改收货地址", "changing the delivery address"),
    "set_up_shipping_address": ("设置收货地址", "setting up an address"),
    "request_return": ("退货", "a return"),
    "get_refund": ("退款", "a refund"),
    "track_refund": ("退款进度", "the refund status"),
    "check_refund_policy": ("退款政策", "the refund policy"),
    "warranty_repair": ("保修维修", "warranty and repair"),
    "check_payment_methods": ("支付方式", "payment methods"),
    "payment_issue": ("支付问题", "a payment problem"),
    "get_invoice": ("开发票", "an invoice"),
    "check_invoice": ("发票查询", "the invoice status"),
    "create_account": ("注册账号", "creating an account"),
    "edit_account": ("修改账户信息", "editing the account"),
    "delete_account": ("注销账号", "deleting the account"),
    "switch_account": ("切换账号", "switching accounts"),
    "recover_password": ("找回密码", "password recovery"),
    "registration_problems": ("注册问题", "registration problems"),
    "newsletter_subscription": ("订阅资讯", "the newsletter"),
    "complaint": ("投诉", "a complaint"),
    "review": ("评价建议", "a review or feedback"),
}
# intents that carry no topic of their own
GENERIC_INTENTS = frozenset(
    """greet goodbye thank affirm deny bot_challenge help out_of_scope switch_language inform
    show_more refine_results no_preference nlu_fallback contact_human_agent
    contact_customer_service rate_satisfaction""".split()
)
FALLBACK_INTENT = "nlu_fallback"
# entities worth an agent's first glance; contact details (phone, email) stay out of summaries
ENTITY_LABELS: dict[str, tuple[str, str]] = {
    "order_id": ("订单", "order"),
    "product": ("商品", "product"),
    "brand": ("品牌", "brand"),
    "product_category": ("品类", "category"),
    "color": ("颜色", "colour"),
    "size": ("尺码", "size"),
    "storage": ("容量", "storage"),
    "quantity": ("数量", "quantity"),
    "price": ("价格", "price"),
    "return_reason": ("原因", "reason"),
}
MAX_ENTITY_CHARS = 40
MAX_QUOTE_CHARS = 60


def _mood(sentiment: float, language: str) -> str:
    if sentiment <= STRONG_NEGATIVE:
        return "情绪很负面" if language != "en" else "mood: very negative"
    if sentiment <= -NEUTRAL_BAND:
        return "情绪偏负面" if language != "en" else "mood: negative"
    if sentiment < NEUTRAL_BAND:
        return "情绪平稳" if language != "en" else "mood: neutral"
    return "情绪正面" if language != "en" else "mood: positive"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(mask_proofs(str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entity_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "/".join(_shorten(v, MAX_ENTITY_CHARS) for v in value)
    return _shorten(value, MAX_ENTITY_CHARS)


def summarise(
    transcript: Sequence[Mapping[str, Any]],
    intents: Sequence[str],
    entities: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    language: str,
    sentiment: float | None = None,
) -> str:
    """A one-line briefing for the agent in ``language`` (Chinese unless "en"), from the last
    topic intent, the entities worth seeing, the sentiment, how often the customer asked and
    their last message.  Deterministic, no model:
    "客户询问退货（订单 2602260900000001），情绪偏负面，已尝试 2 次未解决。最后一句：「…」"."""
    en = language == "en"
    topics = [intent for intent in intents if intent not in GENERIC_INTENTS]
    topic = topics[-1] if topics else None
    if topic is None:
        head = "Customer needs a person's help" if en else "客户需要人工协助"
    else:
        zh_name, en_name = TOPICS.get(topic, (topic.replace("_", " "),) * 2)
        head = f"Customer asked about {en_name}" if en else f"客户询问{zh_name}"

    shown = normalise_entities(entities)
    details = [
        f"{ENTITY_LABELS[name][1 if en else 0]} {_entity_text(shown[name])}"
        for name in ENTITY_LABELS
        if name in shown and shown[name] not in (None, "", [])
    ]
    if details:
        head += f" ({', '.join(details)})" if en else f"（{'，'.join(details)}）"

    parts = [head]
    if sentiment is not None:
        parts.append(_mood(sentiment, language))
    asked = topics.count(topic) if topic else 0
    if asked >= 2:
        parts.append(
            f"asked {asked} times without a resolution" if en else f"已尝试 {asked} 次未解决"
        )
    fallbacks = list(intents).count(FALLBACK_INTENT)
    if fallbacks:
        parts.append(
            f"the bot did not understand {fallbacks} time{'s' if fallbacks > 1 else ''}"
            if en
            else f"机器人 {fallbacks} 次没听懂"
        )
    summary = ("; " if en else "，").join(parts) + ("." if en else "。")
    said = [item for item in transcript if item.get("who") == "customer" and item.get("text")]
    if said:
        quote = _shorten(said[-1]["text"], MAX_QUOTE_CHARS)
        summary += f' Last message: "{quote}"' if en else f"最后一句：「{quote}」"
    return summary


# ---- entities


def normalise_entities(
    entities: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """Entities as ``{name: value}``; Rasa's list of ``{"entity", "value"}`` is folded, a
    repeated entity becoming a list of its distinct values.  Contact details (phone, e-mail)
    are kept only masked (:func:`mask_proofs`)."""
    if not entities:
        return {}
    if isinstance(entities, Mapping):
        pairs = [(str(name), value) for name, value in entities.items()]
    else:
        pairs = [(str(item.get("entity")), item.get("value")) for item in entities]
    folded: dict[str, Any] = {}
    for name, raw in pairs:
        value = json_value(raw)
        if name in CONTACT_ENTITIES:
            value = _masked(value)
        if name not in folded or isinstance(entities, Mapping):
            folded[name] = value
        else:
            values = folded[name] if isinstance(folded[name], list) else [folded[name]]
            folded[name] = values if value in values else [*values, value]
    return folded


def _masked(value: Any) -> Any:
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return None if value is None else mask_proofs(str(value))


def json_value(value: object) -> Any:
    """``value`` as JSON can hold it: scalars as they are, sequences as lists, else text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)
