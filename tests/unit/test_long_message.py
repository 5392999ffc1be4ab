import re

from kefu.long_message import ask_start


def spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\w+", text)]


def test_a_short_message_is_read_whole():
    text = "where is my order"
    assert ask_start(text, spans(text), long_tokens=26, ask_tokens=5) == 0


def test_a_long_message_is_read_from_the_last_clause_with_enough_words():
    story = "I bought a kettle last month and my mother liked it a lot so I want one more, "
    text = story * 2 + "could you check where my order is"
    tokens = spans(text)
    first = ask_start(text, tokens, long_tokens=26, ask_tokens=5)
    assert text[tokens[first][0] :] == "could you check where my order is"


def test_a_last_clause_too_short_takes_the_clause_before_it():
    text = "word " * 30 + ", then the real question comes here, ok"
    tokens = spans(text)
    first = ask_start(text, tokens, long_tokens=26, ask_tokens=5)
    assert text[tokens[first][0] :] == "then the real question comes here, ok"


def test_a_long_message_without_clauses_keeps_its_last_tokens():
    text = " ".join(f"w{i}" for i in range(40))
    tokens = spans(text)
    assert ask_start(text, tokens, long_tokens=26, ask_tokens=5) == 40 - 26
