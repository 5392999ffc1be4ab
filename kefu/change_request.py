"""Does the customer's message ask for a change, or only ask about an order?

The intent classifier can read a question about an order as a change ("这个订单买了什么，寄到
哪里？" came out as ``cancel_order``).  A change is previewed only when the message itself says
what to change: a cancel, address, return, refund or invoice word in either language
(:func:`asks_for_change`).  Otherwise the order is shown instead (tracking answers "what did I
buy, where is it going").  Button payloads ("/cancel_order") are explicit requests.

Plain substring checks on a bounded, folded, lower-cased text: linear-time.
"""

from __future__ import annotations

from kefu.text import fold_width

MAX_CHARS = 500

# the words that name each change, zh and en; a message asking for the change contains one
CHANGE_WORDS: dict[str, tuple[str, ...]] = {
    "cancel_order": (
        "取消",
        "撤",
        "退单",
        "不要了",
        "不想要",
        "不要再发",
        "别发",
        "不需要了",
        "不买了",
        "不想买",
        "作废",
        "关掉",
        "不要这单",
        "不想等",
        "cancel",
        "don't send",
        "dont send",
        "do not send",
        "don't ship",
        "dont ship",
        "stop",
        "withdraw",
        "void",
        "call off",
        "terminate",
        "kill",
        "don't want",
        "dont want",
        "don't need",
        "dont need",
        "no longer",
        "changed my mind",
        "regret",
    ),
    "change_shipping_address": (
        "改",
        "换",
        "修改",
        "错",
        "搬家",
        "新地址",
        "补",
        "漏",
        "不对",
        "更正",
        "拦截",
        "change",
        "update",
        "wrong",
        "fix",
        "correct",
        "modify",
        "edit",
        "amend",
        "redirect",
        "reroute",
        "instead",
        "moved",
        "move to",
        "missing",
        "incomplete",
        "forgot",
        "typo",
        "typed",
        "different",
        "somewhere else",
        "not living",
        "away",
        "not mine",
        "by mistake",
    ),
    "request_return": (
        "退",
        "换",
        "寄回",
        "不合",
        "不喜欢",
        "不满意",
        "return",
        "exchange",
        "back",
        "swap",
        "replace",
        "pickup",
        "pick up",
    ),
    "get_refund": (
        "退",
        "赔",
        "返还",
        "还给我",
        "还我",
        "refund",
        "money back",
        "my money",
        "the money",
        "reimburs",
        "pay back",
        "paid back",
        "difference",
    ),
    "get_invoice": (
        "发票",
        "开票",
        "专票",
        "普票",
        "收据",
        "报销",
        "报账",
        "invoice",
        "receipt",
        "fapiao",
        "reimburse",
    ),
}
CHANGE_TASKS = frozenset(CHANGE_WORDS)


def _folded(text: str) -> str:
    return fold_width(text or "")[:MAX_CHARS].lower()


def asks_for_change(task: str, text: str) -> bool:
    """True when ``text`` asks for the change ``task`` (an order task that changes data).

    Tasks that change nothing are always "asked for"; a button payload ("/cancel_order") is an
    explicit request.
    """
    if task not in CHANGE_WORDS:
        return True
    folded = _folded(text)
    if folded.lstrip().startswith("/"):
        return True
    return any(word in folded for word in CHANGE_WORDS[task])
