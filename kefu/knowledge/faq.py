"""The merchant's FAQ folder (``faq/`` at the top of the repository, or ``KEFU_FAQ_DIR``).

Every ``*.yml`` / ``*.yaml`` file in the folder holds entries, each in Chinese and English::

    entries:
      - id: ship-hong-kong             # unique across the folder: letters, digits, - and _
        question:                      # the question, shown as the citation
          zh: 可以寄到香港吗？
          en: Do you ship to Hong Kong?
        also:                          # optional: other ways customers ask
          zh: [港澳台能发货吗]
          en: [delivery to Macau]
        answer:
          zh: 可以，……
          en: Yes, ...

A mistake raises :class:`kefu.config.ConfigError` naming the file, the line and the entry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from kefu.config import Bilingual, ConfigError

DEFAULT_FAQ_DIR = Path(__file__).resolve().parent.parent.parent / "faq"
LANGUAGES = ("zh", "en")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
_ENTRY_KEYS = {"id", "question", "also", "answer"}
MAX_ANSWER_CHARS = 2000


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: Bilingual
    answer: Bilingual
    also: dict[str, tuple[str, ...]]  # language → other phrasings
    source: str  # "faq/shipping.yml:12"


def faq_dir() -> Path:
    return Path(os.environ.get("KEFU_FAQ_DIR") or DEFAULT_FAQ_DIR)


def faq_files(folder: str | Path | None = None) -> list[Path]:
    """The FAQ files in ``folder``, sorted by name (a missing folder has none)."""
    folder = Path(folder) if folder else faq_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def _where(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _mapping(path: Path, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{_where(path, node)}: {what} must be a mapping")
    result: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if not isinstance(name, str):
            raise ConfigError(f"{_where(path, key)}: {what}: keys must be text")
        if name in result:
            raise ConfigError(f"{_where(path, key)}: {what}: '{name}' given twice")
        result[name] = value
    return result


def _text(path: Path, node: yaml.Node, what: str, limit: int) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null"):
        raise ConfigError(f"{_where(path, node)}: {what} must be text")
    text = str(node.value).strip()
    if not text:
        raise ConfigError(f"{_where(path, node)}: {what} is empty")
    if len(text) > limit:
        raise ConfigError(f"{_where(path, node)}: {what} is longer than {limit} characters")
    return text


def _bilingual(path: Path, node: yaml.Node, what: str, limit: int) -> Bilingual:
    fields = _mapping(path, node, what)
    for key in fields:
        if key not in LANGUAGES:
            raise ConfigError(f"{_where(path, fields[key])}: {what}: unknown language '{key}'")
    texts = {}
    for language in LANGUAGES:
        if language not in fields:
            raise ConfigError(f"{_where(path, node)}: {what}: missing '{language}'")
        texts[language] = _text(path, fields[language], f"{what}.{language}", limit)
    return Bilingual(**texts)


def _also(path: Path, node: yaml.Node, what: str) -> dict[str, tuple[str, ...]]:
    fields = _mapping(path, node, what)
    result: dict[str, tuple[str, ...]] = {}
    for key, value in fields.items():
        if key not in LANGUAGES:
            raise ConfigError(f"{_where(path, value)}: {what}: unknown language '{key}'")
        if not isinstance(value, yaml.SequenceNode):
            raise ConfigError(f"{_where(path, value)}: {what}.{key} must be a list of questions")
        result[key] = tuple(_text(path, item, f"{what}.{key}", 200) for item in value.value)
    return result


def _entry(path: Path, node: yaml.Node, index: int) -> FaqEntry:
    fields = _mapping(path, node, f"entry {index + 1}")
    ident_node = fields.get("id")
    if ident_node is None:
        raise ConfigError(f"{_where(path, node)}: entry {index + 1}: missing 'id'")
    ident = _text(path, ident_node, f"entry {index + 1}: id", 80)
    if not _ID.match(ident):
        raise ConfigError(
            f"{_where(path, ident_node)}: entry '{ident}': id may hold letters, digits, - and _"
        )
    what = f"entry '{ident}'"
    for key, value in fields.items():
        if key not in _ENTRY_KEYS:
            raise ConfigError(
                f"{_where(path, value)}: {what}: unknown key '{key}' (known: {sorted(_ENTRY_KEYS)})"
            )
    for key in ("question", "answer"):
        if key not in fields:
            raise ConfigError(f"{_where(path, node)}: {what}: missing '{key}'")
    return FaqEntry(
        id=ident,
        question=_bilingual(path, fields["question"], f"{what}: question", 200),
        answer=_bilingual(path, fields["answer"], f"{what}: answer", MAX_ANSWER_CHARS),
        also=_also(path, fields["also"], f"{what}: also") if "also" in fields else {},
        source=_where(path, node),
    )


def load_faq_file(path: str | Path) -> list[FaqEntry]:
    """The entries of one FAQ file; mistakes raise :class:`ConfigError` with file and line."""
    path = Path(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read FAQ file ({error.strerror})") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        problem = getattr(error, "problem", "")
        raise ConfigError(f"{path}:{line}: not valid YAML ({problem})") from error
    if root is None:
        return []
    top = _mapping(path, root, "the file")
    for key, _ in root.value:
        if key.value != "entries":
            raise ConfigError(
                f"{_where(path, key)}: unknown key '{key.value}' (expected 'entries')"
            )
    entries = top.get("entries")
    if entries is None:
        return []
    if not isinstance(entries, yaml.SequenceNode):
        raise ConfigError(f"{_where(path, entries)}: 'entries' must be a list")
    return [_entry(path, node, i) for i, node in enumerate(entries.value)]


def load_faq(paths: Iterable[str | Path] | None = None) -> list[FaqEntry]:
    """Every entry of the FAQ folder (or of ``paths``); ids must be unique across files."""
    entries: list[FaqEntry] = []
    seen: dict[str, str] = {}
    for path in faq_files() if paths is None else paths:
        for entry in load_faq_file(path):
            if entry.id in seen:
                raise ConfigError(
                    f"{entry.source}: entry id '{entry.id}' is already used at {seen[entry.id]}"
                )
            seen[entry.id] = entry.source
            entries.append(entry)
    return entries
