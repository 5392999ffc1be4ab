"""Throughput and latency of 1 and of 2 Rasa instances, side by side in one run.

Starts the cluster (scripts/cluster.py: 2 Rasa instances, 2 action servers, HAProxy, production
profile on PostgreSQL, Redis and RabbitMQ), then sends the same bounded load (``--clients``
customers at once, ``--messages`` each, the message mix of benchmarks/bench.py) to one Rasa
instance directly and then through the balancer to both.  Writes
``benchmarks/results/cluster.json`` and prints a table with the ratio.  On a machine with as
many cores as instances (plus the services) the ratio shows how kefu scales out; on a small
machine the instances share its cores and the ratio shows that instead.

Usage: python -m benchmarks.cluster [--clients 10] [--messages 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import requests

from benchmarks.bench import CONVERSATION_LENGTH, MESSAGES, RESULTS, percentile, rss_mb
from scripts.cluster import Cluster, drop_queue, running_cluster

RUN = uuid.uuid4().hex[:8]


def load(cluster: Cluster, base: str, label: str, clients: int, per_client: int) -> dict:
    """``clients`` customers sending ``per_client`` messages each to ``base``, all at once."""
    headers = {"Authorization": f"Bearer {cluster.rest_token}"}

    def customer(index: int) -> list[float]:
        session = requests.Session()
        latencies = []
        for i in range(per_client):
            sender = f"bench-{RUN}-{label}-{index}-{i // CONVERSATION_LENGTH}"
            text = MESSAGES[(i + index) % len(MESSAGES)]
            start = time.perf_counter()
            answer = session.post(
                f"{base}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                headers=headers,
                timeout=90,
            )
            answer.raise_for_status()
            if not answer.json():
                raise RuntimeError(f"no reply to {text!r}")
            latencies.append((time.perf_counter() - start) * 1000)
        return latencies

    customer(clients)  # warm-up: a first conversation on each path
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [ms for each in pool.map(customer, range(clients)) for ms in each]
    elapsed = time.perf_counter() - start
    return {
        "messages": len(latencies),
        "msgs_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--messages", type=int, default=20, help="per client")
    args = parser.parse_args(argv)
    queue = f"kefu_bench_{RUN}"  # the benchmark's events are dropped afterwards
    with running_cluster(broker_queue=queue) as cluster:
        one = load(cluster, cluster.rasa_url(0), "one", args.clients, args.messages)
        two = load(cluster, cluster.url, "two", args.clients, args.messages)
        memory = {
            name: round(rss_mb(process.pid) or 0)
            for name, process in cluster.processes.items()
            if name != "haproxy"
        }
    drop_queue(cluster.broker_url, queue)
    report = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "clients": args.clients,
        "messages_per_client": args.messages,
        "one_instance": one,
        "two_instances": two,
        "throughput_ratio": round(two["msgs_per_s"] / one["msgs_per_s"], 2),
        "rss_mb": memory,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\n| {args.clients} clients | 1 instance | 2 instances |\n|---|---|---|")
    for key, name in (("msgs_per_s", "messages/s"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms")):
        print(f"| {name} | {one[key]} | {two[key]} |")
    print(f"\nthroughput ratio 2:1 = {report['throughput_ratio']} on {os.cpu_count()} CPUs")
    print(f"memory (RSS MB): {memory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
