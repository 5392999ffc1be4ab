"""The training data, test data and domain keep the project's rules."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

from kefu.text import fold_width
from scripts.nlu_gate import plain_text

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
LANGUAGES = ("zh", "en")
MIN_EXAMPLES_PER_LANGUAGE = 30


def examples(folder: Path) -> dict[str, list[str]]:
    """intent → plain example texts, from every NLU file under folder."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.glob("**/*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    found.setdefault(block["intent"], []).append(plain_text(line.strip()[2:]))
    return found


def story_texts(folder: Path) -> list[str]:
    texts = []
    for path in sorted(folder.glob("**/*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8")).get("stories", []):
            texts += [plain_text(s["user"]) for s in story["steps"] if "user" in s]
    return texts


def key(text: str) -> str:
    """Comparison key: case, width, spaces and punctuation do not make a sentence new."""
    text = fold_width(text).lower()
    return "".join(c for c in text if not (c.isspace() or unicodedata.category(c)[0] == "P"))


TRAIN = {lang: examples(ROOT / "data" / "nlu" / lang) for lang in LANGUAGES}
TEST = {lang: examples(ROOT / "tests" / "nlu" / lang) for lang in LANGUAGES}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_domain_intent_has_enough_training_examples(language):
    for intent in DOMAIN["intents"]:
        count = len(TRAIN[language].get(intent, []))
        assert count >= MIN_EXAMPLES_PER_LANGUAGE, f"{language}/{intent}: {count} examples"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_domain_intent_has_test_examples(language):
    missing = [i for i in DOMAIN["intents"] if not TEST[language].get(i)]
    assert not missing


def test_no_test_utterance_is_in_the_training_data():
    training = {key(t) for lang in LANGUAGES for texts in TRAIN[lang].values() for t in texts}
    tests = [t for lang in LANGUAGES for texts in TEST[lang].values() for t in texts]
    tests += story_texts(ROOT / "tests" / "stories")
    leaked = [t for t in tests if key(t) in training]
    assert not leaked, f"test utterances copied into training data: {leaked}"


def test_no_training_example_is_under_two_intents():
    seen: dict[str, str] = {}
    clashes = []
    for lang in LANGUAGES:
        for intent, texts in TRAIN[lang].items():
            for text in texts:
                other = seen.setdefault(key(text), intent)
                if other != intent:
                    clashes.append((text, other, intent))
    assert not clashes


def test_every_response_has_chinese_and_english():
    han = re.compile(r"[\u4e00-\u9fff]")
    for name, variations in DOMAIN["responses"].items():
        english = [
            v
            for v in variations
            if {"type": "slot", "name": "language", "value": "en"} in v.get("condition", [])
        ]
        default = [v for v in variations if not v.get("condition")]
        assert default, f"{name} has no default (Chinese) variation"
        assert all(han.search(v["text"]) for v in default), f"{name}: default is not Chinese"
        if name == "utter_unsupported_language":
            assert re.search(r"[A-Za-z]{4}", default[0]["text"])  # one bilingual message
            continue
        assert english, f"{name} has no English variation"
        assert not any("channel" in v for v in variations), f"{name}: channel variation"
