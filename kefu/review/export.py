"""``kefu review export``: annotated review items into the NLU training data.

Each annotated item becomes one example in ``data/nlu/<language>/<topic>.yml``, the file that
already holds its intent in that language, appended to the intent's block (the rest of the file,
comments included, is left as it is).  Placeholders become made-up values annotated as their
entity (:func:`kefu.review.masking.fill_placeholders`); the person's entities are annotated
``[words](entity)``.  Nothing is written twice and nothing contradicts the data:

* *duplicate*: the same text (:func:`kefu.review.nlu_files.example_key`) is already an example
  of that intent: not written, the item counts as exported;
* *conflict*: the same text is an example of another intent: not written, reported, the item
  stays annotated with a note until a person settles it (re-annotate or change the data);
* *held out*: the text is a held-out test example (``tests/nlu``) or a customer message of a
  test story (``tests/stories``), which must never be trained on: not written, reported, the
  item stays annotated with a note;
* *no topic*: no file holds the intent in either language: reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from kefu.models import ReviewItem
from kefu.review.masking import fill_placeholders
from kefu.review.nlu_files import NluData, example_key
from kefu.review.queue import ANNOTATED, EXPORTED, items

MAX_EXPORTED = 100_000


@dataclass
class Exported:
    """One example written, or why not."""

    item_id: int
    text: str  # the example line as written (or as it would have been)
    intent: str
    path: str | None = None
    other: str | None = None  # conflict: the intent and file that already have the text


@dataclass
class ExportReport:
    written: list[Exported] = field(default_factory=list)
    duplicates: list[Exported] = field(default_factory=list)
    conflicts: list[Exported] = field(default_factory=list)
    held_out: list[Exported] = field(default_factory=list)
    no_topic: list[Exported] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What happened, one line per example that was not simply written."""
        shown = [f"wrote {e.intent}: {e.text} → {e.path}" for e in self.written]
        shown += [f"duplicate, already in {e.path}: {e.text}" for e in self.duplicates]
        shown += [f"CONFLICT {e.intent} vs {e.other}: {e.text}" for e in self.conflicts]
        shown += [f"held-out test example, not trained on: {e.text}" for e in self.held_out]
        shown += [f"no topic file for {e.intent}: {e.text}" for e in self.no_topic]
        return shown

    def summary(self) -> str:
        return (
            f"exported {len(self.written)} example(s); {len(self.duplicates)} duplicate(s), "
            f"{len(self.conflicts)} conflict(s), {len(self.held_out)} held-out, "
            f"{len(self.no_topic)} without a topic"
        )


def _escape(text: str) -> str:
    """Brackets of the customer's own would read as entity annotations."""
    return text.replace("[", "［").replace("]", "］")


def example_line(item: ReviewItem) -> str:
    """The item as a training example: placeholders filled, entities annotated."""
    text, spans = fill_placeholders(_escape(item.text), item.language)
    taken = [(start, end) for start, end, _ in spans]
    for entity in item.entities or []:
        words = _escape(entity["text"])
        for found in re.finditer(re.escape(words), text):
            if not any(found.start() < end and start < found.end() for start, end in taken):
                spans.append((found.start(), found.end(), entity["entity"]))
                taken.append((found.start(), found.end()))
                break
    for start, end, name in sorted(spans, reverse=True):
        text = f"{text[:start]}[{text[start:end]}]({name}){text[end:]}"
    return text


_INTENT_LINE = re.compile(r"^- intent:\s*(\S+)\s*$")


def insert_examples(content: str, intent: str, examples: list[str]) -> str:
    """``content`` of an NLU file with ``examples`` appended to ``intent``'s block (a new block
    at the end when it has none)."""
    lines = content.splitlines()
    new = [f"    - {example}" for example in examples]
    heads = [(i, _INTENT_LINE.match(line)) for i, line in enumerate(lines)]
    start = next((i for i, head in heads if head and head.group(1) == intent), None)
    if start is None:
        block = [f"- intent: {intent}", "  examples: |", *new]
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, *block]) + "\n"
    last = start
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line.startswith(" "):
            break  # the next block
        if line.strip().startswith("- "):
            last = i
    return "\n".join([*lines[: last + 1], *new, *lines[last + 1 :]]) + "\n"


def _new_file() -> str:
    return 'version: "3.1"\nnlu:\n'


def export(session: Session, nlu: NluData, now: datetime, write: bool = True) -> ExportReport:
    """Write the annotated items into the topic files of ``nlu`` (nothing with ``write``
    False: the report only) and mark them exported."""
    report = ExportReport()
    pending: dict[Path, dict[str, list[str]]] = {}
    done: list[ReviewItem] = []
    for item in items(session, ANNOTATED, limit=MAX_EXPORTED):
        line = example_line(item)
        key = example_key(item.text)
        entry = Exported(item.id, line, item.intent)
        labelled = nlu.labelled.get(key, {})
        others = {i: p for i, p in labelled.items() if i != item.intent}
        path = nlu.file_for(item.language, item.intent)
        if key in nlu.held_out:
            report.held_out.append(entry)
            item.export_note = "held-out test example"
        elif others:
            entry.other = ", ".join(f"{i} ({p})" for i, p in sorted(others.items()))
            report.conflicts.append(entry)
            item.export_note = f"already labelled {entry.other}"
        elif item.intent in labelled:
            entry.path = labelled[item.intent]
            report.duplicates.append(entry)
            done.append(item)
        elif path is None:
            report.no_topic.append(entry)
            item.export_note = "no topic file holds this intent"
        else:
            entry.path = str(path)
            report.written.append(entry)
            pending.setdefault(path, {}).setdefault(item.intent, []).append(line)
            nlu.add(key, item.intent, path)
            done.append(item)
    if not write:
        session.rollback()
        return report
    contents = {}
    for path, by_intent in pending.items():
        content = path.read_text(encoding="utf-8") if path.exists() else _new_file()
        for intent, examples in by_intent.items():
            content = insert_examples(content, intent, examples)
        yaml.safe_load(content)  # still YAML: raises before any file is written otherwise
        contents[path] = content
    for path, content in contents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    for item in done:
        item.status = EXPORTED
        item.exported_at = now
        item.export_note = None
    return report
