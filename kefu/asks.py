"""Several asks in one message: "帮我查下物流，再问下能开发票吗", "return it, and also any deals?".

The classifier gives a message one intent, so the second ask would be lost.  :func:`split_asks`
cuts a message where customers join asks ("顺便", "另外", "再问下", "by the way", "and also", a
semicolon or a second question mark); the first part goes to the dialogue as before and the
others are answered from the shop's facts (:mod:`kefu.knowledge`) or offered.

One left-to-right scan with a compiled alternation of fixed phrases: linear-time.
"""

from __future__ import annotations

import re

from kefu.text import clip

MAX_ASKS = 3
MIN_ASK_CHARS = 2  # "好吗" after a comma is no ask of its own

_JOINERS = (
    *("顺便问一下", "顺便问下", "顺便问问", "顺便", "另外", "还有就是", "还有个问题", "再问一下"),
    *("再问下", "还想问", "还要问", "以及", "此外", "对了"),
    *("by the way", "btw", "and also", "also,", "one more thing", "another question"),
)
_SPLIT = re.compile(
    "|".join(
        [*(re.escape(j) for j in sorted(_JOINERS, key=len, reverse=True)), r"[;；]", r"[?？](?=.)"]
    ),
    re.IGNORECASE,
)
_EDGES = " ,，.。!！、:：~～-"  # trimmed from both ends of an ask


def split_asks(text: str) -> list[str]:
    """The asks in ``text``, in order (one element when it has only one)."""
    text = clip(text)
    parts = [p.strip(_EDGES) for p in _SPLIT.split(text)]
    asks = [p for p in parts if len(p) >= MIN_ASK_CHARS]
    if len(asks) <= 1:
        return [text.strip()] if text.strip() else []
    return asks[: MAX_ASKS - 1] + (
        [" ".join(asks[MAX_ASKS - 1 :])] if len(asks) >= MAX_ASKS else []
    )
