"""Text normalisation that keeps character offsets stable.

Customers type full-width digits and letters (１２３, ＡＢＣ), ideographic spaces and stray control
characters.  NLU needs them folded to their ASCII forms, but entity offsets must still point into
the original message, so every function here maps one character to exactly one character.

The rule-based readers of customer text (budgets, addresses, invoice titles, ratings, ...) read
at most :data:`MAX_PARSE_CHARS` characters (:func:`clip`), and each does work that grows
linearly with what it reads: no regular expression here backtracks over a run of the text more
than a bounded number of times, and no loop rescans the text before each match.
"""

from __future__ import annotations

import unicodedata

from kefu.hanzi import to_simplified

_FULLWIDTH_START = 0xFF01  # ！
_FULLWIDTH_END = 0xFF5E  # ～
_FULLWIDTH_OFFSET = 0xFEE0
_IDEOGRAPHIC_SPACE = "\u3000"


_WIDTH_TABLE = {
    code: code - _FULLWIDTH_OFFSET for code in range(_FULLWIDTH_START, _FULLWIDTH_END + 1)
}
_WIDTH_TABLE[ord(_IDEOGRAPHIC_SPACE)] = ord(" ")

# What a reader of customer text looks at, at most: a message longer than this is not an
# answer to the bot's question, and reading it all would only cost time.
MAX_PARSE_CHARS = 2000


def clip(text: str | None, limit: int = MAX_PARSE_CHARS) -> str:
    """``text`` cut to its first ``limit`` characters ("" for None): offsets stay valid."""
    return (text or "")[:limit]


def fold_width(text: str) -> str:
    """Map full-width ASCII variants and the ideographic space to ASCII, one char for one char."""
    return text.translate(_WIDTH_TABLE)


def blank_control_chars(text: str) -> str:
    """Replace control and format characters (except newline and tab) with spaces, length kept."""
    return "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" else c for c in text
    )


def normalize_for_nlu(text: str) -> str:
    """Offset-preserving normalisation applied before tokenisation and catalog matching:
    width folding, control characters blanked, Traditional Chinese read as Simplified."""
    return to_simplified(blank_control_chars(fold_width(text)))
