"""Customers' ways of writing (tests/writing/ways_of_writing.yml) understood by the running bot."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

pytestmark = pytest.mark.model

CASES = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "writing" / "ways_of_writing.yml").read_text("utf-8")
)


def parse(bot, text: str) -> dict:
    response = requests.post(
        f"{bot.url}/model/parse", params={"token": bot.token}, json={"text": text}, timeout=60
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("way", sorted(CASES["ways"]))
def test_a_way_of_writing_is_understood(bot, way):
    cases = CASES["ways"][way]
    right, wrong, missing = 0, [], []
    for case in cases:
        parsed = parse(bot, case["text"])
        found = {(e["entity"], str(e["value"])) for e in parsed.get("entities", [])}
        missing += [
            (case["text"], entity, value)
            for entity, value in (case.get("entities") or {}).items()
            if (entity, str(value)) not in found
        ]
        if "intent" in case:
            got = (parsed.get("intent") or {}).get("name")
            if got == case["intent"]:
                right += 1
            else:
                wrong.append((case["text"], case["intent"], got))
    judged = sum(1 for case in cases if "intent" in case)
    accuracy = right / judged if judged else 1.0
    print(f"{way}: {right}/{judged} intents right")
    assert not missing, f"entities not found: {missing}"
    assert accuracy >= CASES["min_accuracy"], f"{way}: {right}/{judged}; wrong: {wrong}"
