"""Score kefu's long-tail answers on tests/knowledge/longtail_eval.yml.

    KEFU_DB_URL=sqlite:////tmp/kb/shop.db .venv/bin/python -m scripts.longtail_eval

Each question is scored **right** (an answer containing every `must` string, or a decline
where `decline: true`), **declined** (an honest decline of an answerable question) or
**wrong** (an answer missing a `must` string, or any answer to a `decline: true` question).
The extractive default is always scored; the LLM path too when ``KEFU_LLM_URL`` is set
(guardrail fallbacks are counted).  Results go to benchmarks/results/longtail.json
(``--out``), with every reply; ``--verbose`` prints the ones that are not right.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

import yaml

from kefu.knowledge.answer import ANSWER, answer, answer_with_llm
from kefu.knowledge.index import KnowledgeBase
from kefu.knowledge.llm import LLMSettings
from kefu.text import fold_width

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "tests" / "knowledge" / "longtail_eval.yml"
OUT = ROOT / "benchmarks" / "results" / "longtail.json"


def _norm(text: str) -> str:
    text = fold_width(text or "").lower()
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


def score(item: dict, kind: str, text: str) -> str:
    if item.get("decline"):
        return "right" if kind != ANSWER else "wrong"
    if kind != ANSWER:
        return "declined"
    body = _norm(text)
    return "right" if all(_norm(str(m)) in body for m in item["must"]) else "wrong"


def load_set(path: Path = EVAL_SET) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]


def _summary(rows: list[dict]) -> dict:
    out = {}
    groups = {
        "all": rows,
        "zh": [r for r in rows if r["lang"] == "zh"],
        "en": [r for r in rows if r["lang"] == "en"],
        "zh-TW": [r for r in rows if r.get("tw")],
        "answerable": [r for r in rows if not r.get("decline")],
        "unanswerable": [r for r in rows if r.get("decline")],
    }
    for name, group in groups.items():
        counts = {
            k: sum(1 for r in group if r["score"] == k) for k in ("right", "wrong", "declined")
        }
        out[name] = {"questions": len(group), **counts}
    return out


def run_extractive(items: list[dict], kb: KnowledgeBase) -> list[dict]:
    rows = []
    for item in items:
        result = answer(item["q"], item["lang"], kb)
        rows.append(
            {
                **item,
                "kind": result.kind,
                "score": score(item, result.kind, result.text),
                "reason": result.reason,
                "citations": result.citations,
                "confidence": round(result.confidence, 3),
                "ms": round(result.seconds * 1000, 2),
                "reply": result.text,
            }
        )
    return rows


async def run_llm(items: list[dict], kb: KnowledgeBase, settings: LLMSettings) -> list[dict]:
    rows = []
    for item in items:
        started = time.perf_counter()
        result = await answer_with_llm(item["q"], item["lang"], kb, settings=settings)
        rows.append(
            {
                **item,
                "kind": result.kind,
                "source": result.source,
                "score": score(item, result.kind, result.text),
                "reason": result.reason,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "reply": result.text,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=EVAL_SET)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    items = load_set(args.set)
    kb = KnowledgeBase(refresh_seconds=3600)
    started = time.perf_counter()
    index = kb.index()
    build = time.perf_counter() - started
    encoder = index.cache.encoder
    timings = []
    for item in items[:40]:
        t = time.perf_counter()
        encoder.encode([item["q"]])
        timings.append((time.perf_counter() - t) * 1000)
    report: dict = {
        "eval_set": str(args.set.relative_to(ROOT) if args.set.is_relative_to(ROOT) else args.set),
        "facts": len(index.facts),
        "index_seconds": round(build, 2),
        "embedding_ms_p50": round(statistics.median(timings), 2),
    }
    rows = run_extractive(items, kb)
    latencies = sorted(r["ms"] for r in rows)
    report["extractive"] = {
        "summary": _summary(rows),
        "latency_ms_p50": latencies[len(latencies) // 2],
        "latency_ms_p95": latencies[int(len(latencies) * 0.95)],
        "rows": rows,
    }
    _print("extractive", report["extractive"]["summary"], rows, args.verbose)
    print(
        f"latency per answer p50 {report['extractive']['latency_ms_p50']} ms, "
        f"p95 {report['extractive']['latency_ms_p95']} ms; "
        f"embedding p50 {report['embedding_ms_p50']} ms; index {report['index_seconds']} s"
    )
    settings = LLMSettings.from_env()
    if settings is not None:
        llm_rows = asyncio.run(run_llm(items, kb, settings))
        report["llm"] = {
            "model": settings.model,
            "summary": _summary(llm_rows),
            "composed_by_llm": sum(1 for r in llm_rows if r["source"] == "llm"),
            "guardrail_fallbacks": sum(
                1 for r in llm_rows if str(r["reason"]).startswith("guardrails")
            ),
            "rows": llm_rows,
        }
        _print("llm", report["llm"]["summary"], llm_rows, args.verbose)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _print(name: str, summary: dict, rows: list[dict], verbose: bool) -> None:
    for group, counts in summary.items():
        print(
            f"{name:10s} {group:12s} {counts['questions']:3d} questions: right {counts['right']:3d}"
            f"  wrong {counts['wrong']:3d}  declined {counts['declined']:3d}"
        )
    if verbose:
        for row in rows:
            if row["score"] != "right":
                print(f"--- {row['score']}: {row['q']} ({row['reason']})\n{row['reply']}")


if __name__ == "__main__":
    sys.exit(main())
