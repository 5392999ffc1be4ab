"""Parse every user message of the test stories with the trained model and list the ones whose
intent or entities differ from the story's annotation (a quick check while writing stories).

    .venv/bin/python -m scripts.check_story_nlu [tests/stories]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import yaml
from rasa.core.agent import Agent
from rasa.model import get_latest_model
from rasa.shared.nlu.training_data.entities_parser import parse_training_example

COMPARED = ("entity", "value", "start", "end")


def story_messages(folder: Path) -> list[tuple[str, str, str]]:
    """(file, annotated text, intent) for every user step."""
    found = []
    for path in sorted(folder.glob("*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8")).get("stories", []):
            for step in story["steps"]:
                if "user" in step and not step["user"].startswith("/"):
                    found.append((path.name, step["user"].strip(), step["intent"]))
    return found


async def main(folder: Path) -> int:
    agent = Agent.load(get_latest_model("models"))
    wrong = 0
    for name, annotated, intent in story_messages(folder):
        example = parse_training_example(annotated, intent)
        text = example.get("text")
        parsed = await agent.parse_message(text)
        expected = sorted(tuple(str(e[k]) for k in COMPARED) for e in example.get("entities", []))
        got = sorted(tuple(str(e[k]) for k in COMPARED) for e in parsed.get("entities", []))
        if parsed["intent"]["name"] != intent or expected != got:
            wrong += 1
            print(
                f"{name}: {text!r}\n  want {intent} {expected}\n  got  "
                f"{parsed['intent']['name']} ({parsed['intent']['confidence']:.2f}) {got}"
            )
    print(f"{wrong} message(s) differ")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/stories"))))
