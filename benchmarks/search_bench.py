"""Catalog import and search at the size of a real store (100,000 products, SQLite).

Generates a 100k-product CSV from the demo catalog (each demo product spawns editions with other
model numbers, prices and stock), imports it with ``kefu catalog import`` logic into a fresh
SQLite database (timed; target < 60 s), then runs a bounded mix of searches (free text in both
languages, category trees, brands, price ranges, attributes, in-stock, every sort order) and
reports p50/p95 latency (target p95 ≤ 20 ms).  Results: ``benchmarks/results/search.json``.

Usage: python -m benchmarks.search_bench [--products 100000] [--queries 600]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import yaml

from benchmarks.bench import percentile
from kefu import migrate
from kefu.db import make_engine, make_session_factory, session_scope
from kefu.demo.generate import CATALOG, load_taxonomy
from kefu.importer import import_catalog
from kefu.search import SearchQuery, Vocabulary, search

RESULTS = Path(__file__).resolve().parent / "results"
EDITIONS = ["", " Pro", " Max", " Lite", " 青春版", " 2026款", " 标准版", " 旗舰版", " Plus", " SE"]


def write_catalog_csv(path: Path, catalog: dict, count: int, rng: random.Random) -> None:
    """``count`` products derived from the demo catalog's products."""
    templates = catalog["products"]
    colors = catalog["colors"]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "sku",
                "title_zh",
                "title_en",
                "category",
                "brand",
                "price",
                "release_date",
                "rating",
                "sales_count",
                "attributes",
                "variants",
            ]
        )
        for index in range(count):
            t = templates[index % len(templates)]
            edition = EDITIONS[(index // len(templates)) % len(EDITIONS)]
            number = index // (len(templates) * len(EDITIONS))
            suffix = f"{edition} {number}" if number else edition
            price = Decimal(str(t["price"])) * Decimal(str(round(rng.uniform(0.6, 1.6), 2)))
            variants = [
                {
                    "sku": f"B{index}-{i}",
                    "color_zh": colors[c]["zh"],
                    "color_en": colors[c]["en"],
                    "stock": 0 if rng.random() < 0.1 else rng.randint(1, 99),
                }
                for i, c in enumerate(t.get("colors") or [])
            ] or [{"sku": f"B{index}-0", "stock": rng.randint(0, 99)}]
            attributes = {
                k: {"zh": str(v), "en": str(t.get("specs_en", {}).get(k, v))}
                for k, v in t.get("specs", {}).items()
            }
            writer.writerow(
                [
                    f"B{index:06d}",
                    t["zh"] + suffix,
                    t["en"] + suffix,
                    t["category"],
                    t["brand"],
                    str(price.quantize(Decimal("0.01"))),
                    f"{rng.randint(2023, 2026)}-{rng.randint(1, 12):02d}",
                    f"{rng.uniform(3.5, 5):.1f}",
                    rng.randint(0, 50000),
                    json.dumps(attributes, ensure_ascii=False),
                    json.dumps(variants, ensure_ascii=False),
                ]
            )


def queries(catalog: dict, rng: random.Random, count: int) -> list[SearchQuery]:
    """A bounded, reproducible mix of realistic searches."""
    leaves = [c for c in catalog["categories"] if c.get("parent")]
    tops = [c for c in catalog["categories"] if not c.get("parent")]
    brands = catalog["brands"]
    words = [
        "手机",
        "新款手机",
        "笔记本电脑",
        "耳机",
        "phone",
        "laptop",
        "运动鞋",
        "running shoes",
        "华为 手机",
        "apple",
        "小米 电视",
        "羽绒服",
        "零食",
        "蓝牙耳机 降噪",
        "lego",
        "面霜",
    ]
    sorts = ["relevance", "newest", "price_asc", "price_desc", "rating", "sales"]
    out = []
    for i in range(count):
        kind = i % 6
        q = SearchQuery(sort=rng.choice(sorts), limit=10)
        if kind == 0:
            q.text = rng.choice(words)
        elif kind == 1:
            q.category = rng.choice(leaves)["zh"]
            q.in_stock_only = True
        elif kind == 2:
            q.category = rng.choice(tops)["en"]
            q.min_price, q.max_price = Decimal(100), Decimal(rng.choice([500, 2000, 5000]))
        elif kind == 3:
            q.brands = [rng.choice(brands)["zh"]]
            q.text = rng.choice(["", "新款", "pro"])
        elif kind == 4:
            q.text = rng.choice(words)
            q.max_price = Decimal(rng.choice([300, 1000, 3000, 8000]))
            q.in_stock_only = True
        else:
            q.text = rng.choice(words)
            q.color = rng.choice(["黑色", "white"])
        out.append(q)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="catalog import and search benchmark")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=600)
    args = parser.parse_args(argv)
    rng = random.Random(7)
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        factory = make_session_factory(make_engine(url))
        with session_scope(factory) as session:
            load_taxonomy(session, catalog)
        csv_path = Path(tmp) / "catalog.csv"
        write_catalog_csv(csv_path, catalog, args.products, rng)
        start = time.perf_counter()
        with session_scope(factory) as session:
            report = import_catalog(session, csv_path, progress=sys.stderr.isatty())
        import_s = time.perf_counter() - start
        if not report.written or report.invalid:
            print(f"import failed: {report.errors[:3]}", file=sys.stderr)
            return 1
        latencies, hits = [], 0
        with session_scope(factory) as session:
            vocabulary = Vocabulary.load(session)
            for query in queries(catalog, rng, 50):  # warm-up
                search(session, query, vocabulary)
            for query in queries(catalog, rng, args.queries):
                t0 = time.perf_counter()
                result = search(session, query, vocabulary)
                latencies.append((time.perf_counter() - t0) * 1000)
                hits += bool(result.product_ids)
    report_data = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "products": args.products,
        "import_s": round(import_s, 1),
        "queries": len(latencies),
        "queries_with_results": hits,
        "search_p50_ms": round(percentile(latencies, 50), 2),
        "search_p95_ms": round(percentile(latencies, 95), 2),
        "search_max_ms": round(max(latencies), 2),
        "targets": {"import_s": "< 60", "search_p95_ms": "<= 20"},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search.json").write_text(json.dumps(report_data, indent=2) + "\n")
    print(json.dumps(report_data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
