"""The spelling tables kept small in the server: English words as one sorted array, pinyin of
catalog names worked out in a child process (pypinyin never loaded in the caller)."""

from __future__ import annotations

import subprocess
import sys

from kefu.spelling import WordList, english_words, pinyin_forms, pinyin_forms_of


def test_a_word_list_answers_like_a_set():
    words = WordList(["hello", "café", "iphone", "x" * 30])
    assert "hello" in words and "café" in words and "iphone" in words
    assert "hell" not in words and "helloo" not in words and "" not in words
    assert "x" * 30 not in words  # longer than the kept width
    assert "hello\0" not in words and None not in words  # type: ignore[operator]
    assert len(words) == 3


def test_the_english_list_knows_common_words_and_not_typos():
    english = english_words()
    assert len(english) > 150_000
    assert all(w in english for w in ("phone", "laptop", "charger", "delivery"))
    assert "labtop" not in english and "iphnoe" not in english


def test_pinyin_of_many_names_is_the_same_as_one_by_one():
    names = ["手机", "平板电脑", "耳机", "小米", "Apple", "华为手机"]
    forms = pinyin_forms_of(names)
    assert set(forms) == {"手机", "平板电脑", "耳机", "小米", "华为手机"}  # all-Chinese names only
    assert all(forms[name] == pinyin_forms(name) for name in forms)
    assert "shouji" in forms["手机"]


def test_the_caller_never_loads_pypinyin():
    code = (
        "import sys; from kefu.spelling import pinyin_forms_of; "
        "assert 'shouji' in pinyin_forms_of(['手机'])['手机']; "
        "assert 'pypinyin' not in sys.modules, 'pypinyin was imported here'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
