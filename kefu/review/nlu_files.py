"""The project's NLU data as the export needs it: the domain's intents and entities
(``domain.yml``), which topic file of each language holds an intent (``data/nlu/<language>/
<topic>.yml``), the examples already there and the held-out test messages (``tests/nlu``,
``tests/stories``),
all by :func:`example_key`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kefu.review.masking import mask, text_key

LANGUAGES = ("zh", "en")
# '[黑色](color)' or '[黑色]{"entity": "color"}' → '黑色' (as scripts/nlu_gate.py reads them)
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def plain_text(example: str) -> str:
    return ANNOTATION.sub(r"\1", example).strip()


def example_key(text: str) -> str:
    """Two examples are the same when their masked texts are (one order number is as good as
    another): the key of :func:`kefu.review.masking.mask` of the text."""
    return text_key(mask(text))


@dataclass(frozen=True)
class Domain:
    intents: tuple[str, ...]
    entities: tuple[str, ...]


def load_domain(path: Path) -> Domain:
    """The intents and entities of a domain file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = []
    for section in ("intents", "entities"):
        values = data.get(section) or []
        names.append(tuple(v if isinstance(v, str) else next(iter(v)) for v in values))
    return Domain(*names)


def _examples(path: Path) -> list[tuple[str, str]]:
    """(intent, plain example text) of every example in an NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = []
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue
        for line in (block.get("examples") or "").splitlines():
            if line.strip().startswith("- "):
                found.append((block["intent"], plain_text(line.strip()[2:])))
    return found


@dataclass
class NluData:
    """What the training and test data already hold."""

    data_dir: Path  # data/nlu
    topics: dict[tuple[str, str], str] = field(default_factory=dict)  # (language, intent) → topic
    labelled: dict[str, dict[str, str]] = field(default_factory=dict)  # key → {intent: file}
    held_out: set[str] = field(default_factory=set)  # keys of test examples

    def file_for(self, language: str, intent: str) -> Path | None:
        """The topic file of ``intent`` in ``language``: the file that holds its examples in
        that language, else in the other one (topics are the same in both)."""
        topic = self.topics.get((language, intent))
        if topic is None:
            other = [t for (lang, i), t in self.topics.items() if i == intent]
            topic = other[0] if other else None
        return self.data_dir / language / f"{topic}.yml" if topic else None

    def add(self, key: str, intent: str, path: Path) -> None:
        self.labelled.setdefault(key, {})[intent] = str(path)


def _story_messages(path: Path) -> list[str]:
    """The customer messages of a test story file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        plain_text(str(step["user"]))
        for story in data.get("stories") or []
        for step in story.get("steps") or []
        if isinstance(step, dict) and "user" in step
    ]


def load_nlu_data(
    data_dir: Path, test_dir: Path | None = None, stories_dir: Path | None = None
) -> NluData:
    """Read ``data_dir`` (``data/nlu``: one folder per language, one file per topic) and the
    held-out messages: the examples under ``test_dir`` (``tests/nlu``) and the customer messages
    of the test stories under ``stories_dir`` (``tests/stories``)."""
    found = NluData(data_dir)
    for language in LANGUAGES:
        for path in sorted((data_dir / language).glob("*.yml")):
            for intent, text in _examples(path):
                found.topics.setdefault((language, intent), path.stem)
                found.add(example_key(text), intent, path)
    if test_dir is not None and test_dir.is_dir():
        for path in sorted(test_dir.glob("**/*.yml")):
            found.held_out.update(example_key(text) for _, text in _examples(path))
    if stories_dir is not None and stories_dir.is_dir():
        for path in sorted(stories_dir.glob("**/*.yml")):
            found.held_out.update(example_key(text) for text in _story_messages(path))
    return found
