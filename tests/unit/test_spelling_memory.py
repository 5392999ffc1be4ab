"""The spelling tables kept small in the server: English words as one sorted array, pinyin of
catalog names worked out in a child process (pypinyin never loaded in the caller)."""

from __future__ import annotations

import subprocess
import sys

from kefu.spelling import WordList, english_words, pinyin_forms_of


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


def test_the_pinyin_of_catalog_names():
    forms = pinyin_forms_of(["手机", "平板电脑", "耳机", "Apple", "手机"])
    assert forms == {  # all-Chinese names only; words cut by jieba in a fresh process
        "手机": ["shouji"],
        "平板电脑": ["pingban diannao", "pingbandiannao"],
        "耳机": ["erji"],
    }


def test_the_caller_never_loads_pypinyin_and_gets_what_it_would_compute():
    code = (
        "import sys; from kefu.spelling import pinyin_forms, pinyin_forms_of; "
        "names = ['手机', '平板电脑', '笔记本电脑', '空气净化器', '小米', '华为']; "
        "forms = pinyin_forms_of(names); "
        "assert 'pypinyin' not in sys.modules, 'pypinyin was imported here'; "
        "assert forms == {n: pinyin_forms(n) for n in names}, forms"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
