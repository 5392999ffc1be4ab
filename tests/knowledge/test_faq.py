"""The FAQ folder: the shipped starter FAQ is valid; mistakes name the file and the line."""

from __future__ import annotations

import pytest

from kefu.config import ConfigError
from kefu.knowledge.faq import load_faq, load_faq_file

GOOD = """entries:
  - id: one
    question: {zh: 问题, en: Question}
    answer: {zh: 回答, en: Answer}
"""


def write(tmp_path, text, name="a.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_starter_faq_is_valid_and_bilingual():
    entries = load_faq()
    assert len(entries) >= 20
    assert len({e.id for e in entries}) == len(entries)
    for entry in entries:
        assert entry.question.zh and entry.question.en and entry.answer.zh and entry.answer.en


def test_a_good_file_loads(tmp_path):
    [entry] = load_faq_file(write(tmp_path, GOOD))
    assert (entry.id, entry.question.en, entry.answer.zh) == ("one", "Question", "回答")
    assert entry.source.endswith("a.yml:2")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            GOOD.replace("en: Answer", "fr: Réponse"),
            "a.yml:4: entry 'one': answer: unknown language 'fr'",
        ),
        (GOOD.replace(", en: Answer", ""), "a.yml:4: entry 'one': answer: missing 'en'"),
        (
            GOOD.replace("    answer: {zh: 回答, en: Answer}\n", ""),
            "a.yml:2: entry 'one': missing 'answer'",
        ),
        (GOOD + "    extra: 1\n", "a.yml:5: entry 'one': unknown key 'extra'"),
        (GOOD.replace("id: one", "id: 'two words'"), "a.yml:2: entry 'two words': id may hold"),
        (GOOD.replace("en: Question", "en: ''"), "a.yml:3: entry 'one': question.en is empty"),
        (GOOD.replace("entries:", "questions:"), "a.yml:1: unknown key 'questions'"),
        ("entries: [\n", "a.yml:2: not valid YAML"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_faq_file(write(tmp_path, text))
    assert message in str(error.value)


def test_duplicate_ids_across_files_are_refused(tmp_path):
    first, second = write(tmp_path, GOOD, "a.yml"), write(tmp_path, GOOD, "b.yml")
    with pytest.raises(ConfigError, match=r"b.yml:2: entry id 'one' is already used at .*a.yml:2"):
        load_faq([first, second])
