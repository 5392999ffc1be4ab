"""Is an after-sales message a general question about the shop's rules, not about an order?

"企业能开增值税发票吗" and "how long until a refund reaches my card" are read as ``get_invoice``
and ``get_refund``; asking them for an order number is wrong.  A message is a general question
when it asks something (a question word or mark) and points at no order of the customer's: no
"my order", "我买的", "这单", no order number.  Such a question is answered from the shop's facts
instead of starting the order form: by the policy topic of the task (:data:`POLICY_TOPICS`,
answered from policies.yml), else by the knowledge layer (:mod:`kefu.knowledge`).

Plain substring checks on a bounded, folded, lower-cased text: linear-time.
"""

from __future__ import annotations

import re

from kefu.text import clip, normalize_for_nlu

MAX_CHARS = 300  # a general question is short; a long message is about the customer's case

QUESTION_MARKS = (
    *("吗", "么", "呢", "?", "多久", "多长时间", "几天", "怎么", "如何", "能不能", "可不可以"),
    *("是否", "可否", "能否", "有没有", "哪些", "什么时候", "多少"),
)
QUESTION_STARTS = (
    *("can ", "could ", "do you ", "does ", "is it ", "is there ", "are ", "how ", "what "),
    *("when ", "which ", "will ", "may i ", "should "),
)
OWN_ORDER = (
    *("我的订单", "我的单", "我买的", "我下的", "我订的", "我刚买", "我上次买", "这个订单", "这单"),
    *("那单", "这笔", "那笔", "订单号", "单号", "我的快递", "我的包裹", "我的退款", "我退的"),
    *("我的发票", "我的退货", "已经退", "已经申请", "还没到", "还没收到", "没收到"),
    *("my order", "my refund", "my parcel", "my package", "my return", "my invoice"),
    *("i ordered", "i bought", "i returned", "i paid", "order number", "this order", "that order"),
    *("i haven't", "i have not", "hasn't arrived", "not arrived", "still waiting"),
)
_ORDER_NUMBER = re.compile(r"\d{6,}")


def is_general_question(text: str) -> bool:
    """True for a question about the rules that names no order of the customer's."""
    folded = normalize_for_nlu(clip(text, MAX_CHARS + 1)).lower().strip()
    if not folded or len(folded) > MAX_CHARS:
        return False
    asks = any(mark in folded for mark in QUESTION_MARKS) or folded.startswith(QUESTION_STARTS)
    if not asks:
        return False
    return not any(words in folded for words in OWN_ORDER) and not _ORDER_NUMBER.search(folded)


# the order task of a general question already answered: the order form asks nothing
ANSWERED_QUESTION = "answered_question"

# order tasks whose general questions a policy answers (kefu.policies.answer topics)
POLICY_TOPICS = {
    "get_invoice": "get_invoice",
    "check_invoice": "get_invoice",
    "get_refund": "check_refund_policy",
    "track_refund": "check_refund_policy",
    "request_return": "check_refund_policy",
    "cancel_order": "check_cancellation_fee",
}
