"""Long rambling messages: the ask is at the end.

"上周给我妈买了个电饭煲，她说挺好的，我也想送朋友一个，朋友家人多……所以想问下有没有大容量的推荐"
is a recommendation request, but its words are mostly the story before it, and a bag of words
of the whole message matches no intent well.  Customers who tell a story put the ask last, so
the intent classifier reads a message of more than :data:`LONG_MESSAGE_TOKENS` tokens from the
last clauses only: clauses are taken from the end until they hold :data:`ASK_TOKENS` tokens.
Entities are still found in the whole message (the rule- and catalog-based extractors read the
text, not these tokens).  Training examples are read the same way: of the long-message
examples in ``data/nlu`` (a story, then the ask) those of 18–26 tokens teach the classifier to
look past a story, and the longer ones are trained on their last clauses, as they are read.
"""

from __future__ import annotations

from collections.abc import Sequence

LONG_MESSAGE_TOKENS = 26  # the ordinary training and test examples have at most 22 tokens
ASK_TOKENS = 5
CLAUSE_ENDS = frozenset("，。！？,.!?;；\n…")


def ask_start(
    text: str, spans: Sequence[tuple[int, int]], long_tokens: int, ask_tokens: int
) -> int:
    """Index of the first token of the ask in a message tokenised into ``spans`` (start, end
    offsets into ``text``): 0 for a message of at most ``long_tokens`` tokens."""
    if len(spans) <= long_tokens:
        return 0
    start = len(spans)
    for i in range(len(spans) - 1, 0, -1):
        gap = text[spans[i - 1][1] : spans[i][0]]
        if any(c in CLAUSE_ENDS for c in gap) and len(spans) - i >= ask_tokens:
            start = i
            break
    else:
        return max(0, len(spans) - long_tokens)  # no clause boundary: the last tokens
    return start
