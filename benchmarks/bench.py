"""kefu benchmarks: NLU parse latency, webhook latency and throughput, memory, training time.

Starts the real servers (scripts/run.sh) on free loopback ports, sends bounded request loops,
and writes ``benchmarks/results/latest.json`` (plus a dated copy).  Targets on a 2-core machine
(issue #2): parse p50 ≤ 10 ms; webhook p50 ≤ 60 ms at 1 client; ≥ 40 msg/s with p95 ≤ 800 ms at
20 clients; Rasa server RSS ≤ 1.5 GB; full training ≤ 10 min.

Usage: python -m benchmarks.bench [--skip-training] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import requests

from scripts.stack import ROOT, Stack, running_stack

RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {
    "parse_p50_ms": ("<=", 10),
    "webhook_1_client_p50_ms": ("<=", 60),
    "webhook_20_clients_msgs_per_s": (">=", 40),
    "webhook_20_clients_p95_ms": ("<=", 800),
    "rasa_rss_mb": ("<=", 1536),
    "training_s": ("<=", 600),
}
RUN = uuid.uuid4().hex[:8]
CONVERSATION_LENGTH = 10  # messages per conversation (sender id)
# A realistic mix of what customers send, both languages (help goes through the action server).
MESSAGES = [
    "你好",
    "hello",
    "在吗亲",
    "what can you do?",
    "你能帮我做什么",
    "谢谢啦",
    "thanks!",
    "你是机器人吗",
    "明天天气怎么样",
    "can you speak chinese",
    "黑色的",
    "bye",
]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def bench_parse(stack: Stack, n: int) -> dict:
    session = requests.Session()

    def parse(i: int) -> None:
        r = session.post(
            f"{stack.url}/model/parse",
            params={"token": stack.token},
            json={"text": MESSAGES[i % len(MESSAGES)]},
            timeout=30,
        )
        r.raise_for_status()

    for i in range(20):  # warm-up
        parse(i)
    latencies = [timed(lambda i=i: parse(i)) for i in range(n)]
    return {"parse_p50_ms": percentile(latencies, 50), "parse_p95_ms": percentile(latencies, 95)}


def _webhook(session: requests.Session, stack: Stack, sender: str, text: str) -> None:
    r = session.post(
        f"{stack.url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    r.raise_for_status()
    if not r.json():
        raise RuntimeError(f"no reply to {text!r}")


def _sender(client: int, message_index: int) -> str:
    """A new conversation every CONVERSATION_LENGTH messages, as with real customers."""
    return f"bench-{RUN}-{client}-{message_index // CONVERSATION_LENGTH}"


def bench_webhook_single(stack: Stack, n: int) -> dict:
    session = requests.Session()
    for i in range(10):
        _webhook(session, stack, f"warm-{RUN}", MESSAGES[i % len(MESSAGES)])
    latencies = [
        timed(lambda i=i: _webhook(session, stack, _sender(0, i), MESSAGES[i % len(MESSAGES)]))
        for i in range(n)
    ]
    return {
        "webhook_1_client_p50_ms": percentile(latencies, 50),
        "webhook_1_client_p95_ms": percentile(latencies, 95),
    }


def bench_webhook_concurrent(stack: Stack, clients: int, per_client: int) -> dict:
    def client(index: int) -> list[float]:
        session = requests.Session()
        return [
            timed(
                lambda i=i: _webhook(
                    session, stack, _sender(index + 1, i), MESSAGES[(i + index) % len(MESSAGES)]
                )
            )
            for i in range(per_client)
        ]

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = [ms for result in pool.map(client, range(clients)) for ms in result]
    elapsed = time.perf_counter() - start
    return {
        "webhook_20_clients_msgs_per_s": len(latencies) / elapsed,
        "webhook_20_clients_p50_ms": percentile(latencies, 50),
        "webhook_20_clients_p95_ms": percentile(latencies, 95),
        "webhook_20_clients_messages": len(latencies),
    }


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def bench_training() -> dict:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "rasa"), "train", "--force", "--out", out],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        )
        return {"training_s": time.perf_counter() - start}


def verdicts(results: dict) -> dict:
    out = {}
    for key, (op, target) in TARGETS.items():
        value = results.get(key)
        if value is not None:
            out[key] = {
                "value": round(value, 1),
                "target": f"{op} {target}",
                "met": value <= target if op == "<=" else value >= target,
            }
    return out


LABELS = {
    "parse_p50_ms": "NLU parse p50 (ms)",
    "webhook_1_client_p50_ms": "webhook p50, 1 client (ms)",
    "webhook_20_clients_msgs_per_s": "throughput, 20 clients (msg/s)",
    "webhook_20_clients_p95_ms": "webhook p95, 20 clients (ms)",
    "rasa_rss_mb": "Rasa server RSS (MB)",
    "training_s": "full training from scratch (s)",
}


def markdown_table(report: dict) -> str:
    """The README's benchmark table."""
    rows = ["| measure | result | target | met |", "|---|---|---|---|"]
    for key, verdict in report["targets"].items():
        met = "yes" if verdict["met"] else "**no**"
        rows.append(f"| {LABELS[key]} | {verdict['value']} | {verdict['target']} | {met} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="kefu benchmarks")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per run")
    parser.add_argument("--per-client", type=int, default=30, help="messages per client (20)")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)

    results: dict = {}
    with running_stack() as stack:
        results.update(bench_parse(stack, args.requests))
        results.update(bench_webhook_single(stack, args.requests))
        results.update(bench_webhook_concurrent(stack, 20, args.per_client))
        results["rasa_rss_mb"] = rss_mb(stack.rasa_pid())
    if not args.skip_training:
        results.update(bench_training())

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": {k: round(v, 2) for k, v in results.items() if v is not None},
        "targets": verdicts(results),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (RESULTS / "latest.json").write_text(text + "\n")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench-{stamp}.json").write_text(text + "\n")
    (RESULTS / "latest.md").write_text(markdown_table(report) + "\n")
    for key, verdict in report["targets"].items():
        mark = "ok  " if verdict["met"] else "MISS"
        print(f"{mark} {key:32} {verdict['value']:>9} (target {verdict['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
