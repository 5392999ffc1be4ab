"""Recommendations on the demo shop: offline quality, model build time, request latency.

Loads the demo shop (default seed, fixed reference time) into a temporary SQLite database — or
uses ``KEFU_DB_URL``, loading the demo shop there only if it has no products — exports the
customer events as a ``user,item,timestamp`` log (``kefu recommend export-log``), and evaluates it
leave-last-out (``kefu recommend evaluate``: item-to-item CF vs popularity, HR@10 / NDCG@10), once
with every event kind and once with purchases only.  Then it times ``ItemSimilarity.from_session``
(target: well under 5 s) and ``Recommender.recommend`` over a bounded, reproducible mix of
requests, half of them for identified customers.  Results: ``benchmarks/results/recommend.json``
and ``recommend.md``.

Usage: python -m benchmarks.recommend [--requests 400] [--k 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from benchmarks.bench import percentile
from kefu import migrate
from kefu.db import make_engine, make_session_factory, session_scope
from kefu.demo.generate import DEFAULT_SEED, load_demo_shop
from kefu.evaluation import EvaluationReport, evaluate, export_log, read_log
from kefu.models import Brand, Category, Customer, Product
from kefu.recommend import PREFERS, RecommendationRequest, Recommender
from kefu.search import Vocabulary
from kefu.similarity import ItemSimilarity

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE_TIME = datetime(2026, 11, 30, 12, 0)  # the demo shop's "now", for reproducible data
BUILD_REPEATS = 5
WARM_UP = 30
TARGETS = {"similarity_build_s": "< 5", "recommend_p95_ms": "<= 50"}
TEXTS = ["", "", "", "降噪", "gaming", "新款", "轻薄", "5G", "防水", "pro"]
BUDGETS = [None, None, Decimal(300), Decimal(1000), Decimal(3000), Decimal(8000)]
COLORS = [None, None, None, "黑色", "white", "蓝色"]


def requests(session: Session, rng: random.Random, count: int) -> list[RecommendationRequest]:
    """A reproducible mix of what customers ask for."""
    categories = session.scalars(select(Category.name_zh).order_by(Category.id)).all()
    brands = session.scalars(select(Brand.name_zh).order_by(Brand.id)).all()
    customers = session.scalars(select(Customer.id).order_by(Customer.id)).all()
    products = session.scalars(select(Product.id).order_by(Product.id)).all()
    out = []
    for i in range(count):
        request = RecommendationRequest(
            category=rng.choice(categories) if i % 5 else None,
            text=rng.choice(TEXTS),
            max_price=rng.choice(BUDGETS),
            color=rng.choice(COLORS),
            prefer=rng.choice(PREFERS),
            limit=3,
        )
        if i % 7 == 0:
            request.brands = [rng.choice(brands)]
        if i % 11 == 0:
            request.exclude_brands = [rng.choice(brands)]
        if i % 3 == 0:
            request.exclude_product_ids = rng.sample(products, 3)
        if i % 2 == 0:
            request.customer_id = rng.choice(customers)
        out.append(request)
    return out


def _evaluate_log(session: Session, folder: Path, kinds: list[str], k: int) -> dict:
    path = folder / f"log-{'-'.join(kinds)}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        export_log(session, out, kinds)
    start = time.perf_counter()
    report: EvaluationReport = evaluate(read_log(path), k=k)
    return {"kinds": kinds, **report.to_dict(), "seconds": round(time.perf_counter() - start, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="recommendation benchmark on the demo shop")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("KEFU_DB_URL") or f"sqlite:///{tmp}/recommend.db"
        migrate.upgrade(url)
        factory = make_session_factory(make_engine(url))
        with session_scope(factory) as session:
            if not session.scalar(select(func.count()).select_from(Product)):
                load_demo_shop(session, seed=DEFAULT_SEED, now=REFERENCE_TIME)
        with session_scope(factory) as session:
            evaluations = [
                _evaluate_log(session, Path(tmp), kinds, args.k)
                for kinds in (["purchase", "add_to_cart", "view"], ["purchase"])
            ]
            builds = []
            for _ in range(BUILD_REPEATS):
                start = time.perf_counter()
                similarity = ItemSimilarity.from_session(session)
                builds.append(time.perf_counter() - start)
            vocabulary = Vocabulary.load(session)
            recommender = Recommender(session, vocabulary, similarity, today=REFERENCE_TIME.date())
            rng = random.Random(7)
            for request in requests(session, rng, WARM_UP):
                recommender.recommend(request)
            latencies, answered, relaxed, personal = [], 0, 0, 0
            for request in requests(session, rng, args.requests):
                start = time.perf_counter()
                result = recommender.recommend(request)
                latencies.append((time.perf_counter() - start) * 1000)
                answered += bool(result.items)
                relaxed += bool(result.relaxed)
                personal += any(
                    r.code in ("also_bought", "also_viewed")
                    for item in result.items
                    for r in item.reasons
                )
    data = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": url.split(":", 1)[0],
        "evaluation": evaluations,
        "similarity_build_s": round(statistics.median(builds), 2),
        "similarity_build_max_s": round(max(builds), 2),
        "similarity_items": len(similarity),
        "requests": len(latencies),
        "requests_answered": answered,
        "requests_relaxed": relaxed,
        "requests_with_personal_reason": personal,
        "recommend_p50_ms": round(percentile(latencies, 50), 2),
        "recommend_p95_ms": round(percentile(latencies, 95), 2),
        "recommend_max_ms": round(max(latencies), 2),
        "targets": TARGETS,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recommend.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "recommend.md").write_text(markdown(data))
    print(json.dumps(data, indent=2))
    return 0


def markdown(data: dict) -> str:
    """The results as the Markdown tables of ``benchmarks/results/recommend.md``."""
    lines = [
        "# Recommendations on the demo shop",
        "",
        f"{data['date']}, {data['database']}; `python -m benchmarks.recommend`",
        "",
        "Leave-last-out offline evaluation (`kefu recommend evaluate`):",
        "",
        "| log | users | items | interactions | method | HR@k | NDCG@k |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in data["evaluation"]:
        for name, key in (("item-to-item CF", "cf"), ("popularity", "popularity")):
            lines.append(
                f"| {'+'.join(e['kinds'])} | {e['users']} | {e['items']} | {e['interactions']} "
                f"| {name} | {e[key]['hit_rate']:.4f} | {e[key]['ndcg']:.4f} |"
            )
    lines += [
        "",
        f"k = {data['evaluation'][0]['k']}.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| ItemSimilarity build, median of {BUILD_REPEATS} (s) | {data['similarity_build_s']} "
        f"| {TARGETS['similarity_build_s']} |",
        f"| recommend() p50 (ms) | {data['recommend_p50_ms']} | |",
        f"| recommend() p95 (ms) | {data['recommend_p95_ms']} | {TARGETS['recommend_p95_ms']} |",
        f"| requests answered / relaxed / with a personal reason | {data['requests_answered']} / "
        f"{data['requests_relaxed']} / {data['requests_with_personal_reason']} "
        f"of {data['requests']} | |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
