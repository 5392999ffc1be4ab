"""Jieba tokenizer for mixed Chinese/English text.

Rasa's own ``JiebaTokenizer`` keeps whitespace as tokens ("hello there" → "hello", " ", "there")
and sees full-width digits (１２３) as different characters from ASCII ones.  This tokenizer folds
full-width characters and control characters (keeping every offset), drops whitespace and
punctuation-only tokens, and caps the number of tokens so a 10,000-character message cannot
stall the model.  A long rambling message is read from its last clauses, where the ask is
(:mod:`kefu.long_message`).  Traditional Chinese (訂單, 退貨) is read as Simplified: the message
text itself is rewritten, one character for one character (:mod:`kefu.hanzi`), so that every
later component, the parse data and the actions see Simplified text at the customer's offsets,
while the conversation keeps what the customer typed.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from kefu.hanzi import to_simplified
from kefu.long_message import ASK_TOKENS, LONG_MESSAGE_TOKENS, ask_start
from kefu.text import normalize_for_nlu


def _is_noise(word: str) -> bool:
    """Whitespace or punctuation only."""
    return all(c.isspace() or unicodedata.category(c).startswith("P") for c in word)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class KefuTokenizer(JiebaTokenizer):
    """Jieba with a user dictionary, width folding and no whitespace tokens."""

    @staticmethod
    def supported_languages() -> list[str] | None:
        """Chinese, English and mixed text."""
        return None

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Jieba's defaults plus ``max_tokens`` and the long-message reading."""
        return {
            **JiebaTokenizer.get_default_config(),
            "max_tokens": 256,
            # a longer message is read from its last clauses (kefu.long_message)
            "long_message_tokens": LONG_MESSAGE_TOKENS,
            "ask_tokens": ASK_TOKENS,
        }

    def process(self, messages: list[Message]) -> list[Message]:
        """Read Traditional Chinese as Simplified (same offsets), then tokenize."""
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(TEXT, to_simplified(text))
        return super().process(messages)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Split the attribute's text into tokens whose offsets point into the original text."""
        import jieba

        text = normalize_for_nlu(message.get(attribute) or "")
        tokens = [
            Token(word, start, end)
            for word, start, end in jieba.tokenize(text)
            if not _is_noise(word)
        ]
        if not tokens and text.strip():
            # punctuation-only messages ("???") still need one token to be featurised
            stripped = text.strip()
            start = text.index(stripped)
            tokens = [Token(stripped, start, start + len(stripped))]
        tokens = tokens[: self._config["max_tokens"]]
        first = ask_start(
            text,
            [(t.start, t.end) for t in tokens],
            self._config.get("long_message_tokens", LONG_MESSAGE_TOKENS),  # a model trained
            self._config.get("ask_tokens", ASK_TOKENS),  # before these settings has defaults
        )
        return self._apply_token_pattern(tokens[first:])
