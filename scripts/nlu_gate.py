"""Fail when intent classification is not good enough in either language.

Reads what ``rasa test nlu --successes`` wrote (``intent_report.json``, ``intent_successes.json``,
``intent_errors.json``), splits the predictions by the language folder each test example comes
from, and checks per language: macro-F1 ≥ ``min_macro_f1`` and every intent's F1 ≥
``min_intent_f1`` (thresholds in ``tests/nlu/gate.yml``).  Writes ``nlu_gate.json`` next to the
report and exits 1 when a threshold is missed.

Usage: python scripts/nlu_gate.py [--results results/nlu] [--gate tests/nlu/gate.yml]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from kefu.hanzi import to_simplified

ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def plain_text(example: str) -> str:
    """Strip Rasa entity annotations: '[黑色](color)' → '黑色'."""
    return ANNOTATION.sub(r"\1", example).strip()


def texts_by_language(folders: dict[str, str]) -> dict[str, str]:
    """Map each test example's plain text to the language whose folder holds it, also in
    Simplified characters (the tokenizer rewrites a Traditional message's text before the
    results are written)."""
    language_of: dict[str, str] = {}
    for language, folder in folders.items():
        for path in sorted(Path(folder).glob("**/*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for block in data.get("nlu", []):
                for line in (block.get("examples") or "").splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        text = plain_text(line[2:])
                        language_of[text] = language_of[to_simplified(text)] = language
    return language_of


def f1_scores(pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Per-intent precision/recall/F1 for (gold, predicted) pairs, over the gold intents."""
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    support: dict[str, int] = defaultdict(int)
    for gold, predicted in pairs:
        support[gold] += 1
        if gold == predicted:
            tp[gold] += 1
        else:
            fn[gold] += 1
            fp[predicted] += 1
    scores = {}
    for intent in sorted(support):
        precision = tp[intent] / (tp[intent] + fp[intent]) if tp[intent] + fp[intent] else 0.0
        recall = tp[intent] / support[intent]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[intent] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support[intent],
        }
    return scores


def evaluate(results: Path, gate: dict) -> tuple[dict, list[str]]:
    """Scores per language and the list of failures."""
    if not (results / "intent_report.json").exists():
        raise SystemExit(f"nlu_gate: {results}/intent_report.json missing; run rasa test nlu")
    predictions = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = results / name
        if path.exists():
            predictions += json.loads(path.read_text(encoding="utf-8"))
    language_of = texts_by_language(gate["languages"])
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    unknown = 0
    for p in predictions:
        language = language_of.get(p["text"].strip())
        if language is None:
            unknown += 1
            continue
        pairs[language].append((p["intent"], (p.get("intent_prediction") or {}).get("name")))
    failures = []
    if unknown:
        failures.append(f"{unknown} predictions could not be matched to a test file")
    summary = {}
    for language in gate["languages"]:
        scores = f1_scores(pairs.get(language, []))
        if not scores:
            failures.append(f"{language}: no test examples evaluated")
            continue
        macro = sum(s["f1"] for s in scores.values()) / len(scores)
        summary[language] = {"macro_f1": macro, "examples": len(pairs[language]), "intents": scores}
        if macro < gate["min_macro_f1"]:
            failures.append(f"{language}: macro-F1 {macro:.3f} < {gate['min_macro_f1']}")
        for intent, s in scores.items():
            if s["f1"] < gate["min_intent_f1"]:
                failures.append(
                    f"{language}: intent '{intent}' F1 {s['f1']:.3f} < {gate['min_intent_f1']}"
                )
    return summary, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="results/nlu", type=Path)
    parser.add_argument("--gate", default="tests/nlu/gate.yml", type=Path)
    args = parser.parse_args(argv)
    gate = yaml.safe_load(args.gate.read_text(encoding="utf-8"))
    summary, failures = evaluate(args.results, gate)
    (args.results / "nlu_gate.json").write_text(
        json.dumps({"summary": summary, "failures": failures}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    for language, data in summary.items():
        worst = min(data["intents"].items(), key=lambda kv: kv[1]["f1"])
        print(
            f"nlu_gate: {language}: macro-F1 {data['macro_f1']:.3f} over {data['examples']} "
            f"examples; lowest intent {worst[0]} F1 {worst[1]['f1']:.3f}"
        )
    for failure in failures:
        print(f"nlu_gate: FAIL {failure}", file=sys.stderr)
    print("nlu_gate: " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
