"""Agent assist on the demo shop: latency of the summary and suggestions per ticket, and whether
they stay grounded (``python -m benchmarks.assist_bench``, demo database from ``KEFU_DB_URL``).

Tickets are made up in memory (nothing is written): every question of the long-tail set
(tests/knowledge/longtail_eval.yml) followed by "转人工", scored like the long-tail evaluation
(a knowledge suggestion for a question the shop cannot answer is wrong); and order questions
("订单 … 到哪了") asked by the order's owner (the suggestion must carry the order's state) and by
another customer (nothing of the order may show).  Results: ``benchmarks/results/assist.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from benchmarks.bench import percentile
from kefu.assist import assist
from kefu.db import make_engine, make_session_factory
from kefu.handoff import TicketView
from kefu.knowledge.index import KnowledgeBase
from kefu.models import Order
from kefu.policies import load_policies
from scripts.longtail_eval import load_set, score

RESULTS = Path(__file__).resolve().parent / "results" / "assist.json"


def ticket(said: list[str], intents: list[str], language: str, customer: int | None) -> TicketView:
    transcript = []
    for text in said:
        transcript += [{"who": "customer", "text": text}, {"who": "bot", "text": "…"}]
    return TicketView(
        id=1,
        conversation_id="bench",
        customer_id=customer,
        channel="webchat",
        language=language,
        reason="requested",
        status="open",
        agent=None,
        summary="",
        intents=tuple(intents),
        entities={},
        sentiment=None,
        transcript=tuple(transcript),
        created_at=datetime.now(timezone.utc),
        claimed_at=None,
        closed_at=None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=60)
    args = parser.parse_args(argv)
    factory = make_session_factory(make_engine())
    kb = KnowledgeBase(factory)
    started = time.perf_counter()
    kb.index()
    build = time.perf_counter() - started
    statuses = load_policies().order_statuses
    rng = random.Random(17)
    times: list[float] = []
    counts = {"right": 0, "wrong": 0, "declined": 0}
    orders = {"owner_right": 0, "owner_wrong": 0, "leaked": 0, "asked": 0}
    with factory() as session:
        for item in load_set():
            view = ticket([item["q"], "转人工"], ["nlu_fallback"], item["lang"], None)
            result = assist(session, view, (), kb)
            times.append(result.seconds * 1000)
            knowledge = [s for s in result.suggestions if s.kind == "knowledge"]
            text = knowledge[0].text if knowledge else ""
            counts[score(item, "answer" if knowledge else "decline", text)] += 1
        picked = rng.sample(list(session.scalars(select(Order))), args.orders)
        for order in picked:
            said = [f"订单 {order.order_no} 到哪了", "转人工"]
            own = assist(session, ticket(said, ["track_order"], "zh", order.customer_id), (), kb)
            other = assist(session, ticket(said, ["track_order"], "zh", -1), (), kb)
            times += [own.seconds * 1000, other.seconds * 1000]
            first = own.suggestions[0] if own.suggestions else None
            status = statuses[order.status].zh
            ok = first is not None and first.kind == "order" and status in first.text
            orders["owner_right" if ok else "owner_wrong"] += 1
            # another customer gets no order reply and only the "verify first" line
            orders["leaked"] += any(s.kind == "order" for s in other.suggestions) or any(
                x.kind == "order" and "核实" not in x.text for x in other.summary
            )
            orders["asked"] += 1
    out = {
        "index_build_s": round(build, 2),
        "tickets": len(times),
        "p50_ms": round(percentile(times, 50), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "longtail": counts,
        "orders": orders,
    }
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, ensure_ascii=False))
    return 0 if counts["wrong"] == 0 and orders["leaked"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
