"""A load generator for Rasa's REST channel: short multi-turn conversations from distinct senders.

Each client is a thread that holds conversations one after another, one message at a time (a
customer waits for the answer); every conversation has a sender id of its own.  The result is
the throughput over the whole run and latency percentiles over every message.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

Conversation = Sequence[str]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process (VmRSS in /proc), in MB; None when it is gone."""
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


@dataclass
class LoadResult:
    """What one load run measured."""

    clients: int
    elapsed_s: float
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)  # "ok", "empty", "http 429", "error"

    def summary(self) -> dict:
        """Throughput, percentiles and outcome counts, rounded for the report."""
        n = len(self.latencies_ms)
        return {
            "clients": self.clients,
            "messages": n,
            "msgs_per_s": round(n / self.elapsed_s, 2) if self.elapsed_s else 0.0,
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p95_ms": round(percentile(self.latencies_ms, 95), 1),
            "p99_ms": round(percentile(self.latencies_ms, 99), 1),
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def send(session: requests.Session, url: str, sender: str, text: str) -> str:
    """One message to the REST channel; its outcome ("ok", "empty", "http NNN" or "error")."""
    try:
        response = session.post(
            f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120
        )
    except requests.RequestException:
        return "error"
    if response.status_code != 200:
        return f"http {response.status_code}"
    return "ok" if response.json() else "empty"


def run(
    url: str,
    conversations: Sequence[Conversation],
    clients: int,
    per_client: int,
    sender_prefix: str,
) -> LoadResult:
    """``clients`` concurrent clients, each holding ``per_client`` conversations in turn."""

    def client(index: int) -> list[tuple[float, str]]:
        session = requests.Session()
        measured = []
        for k in range(per_client):
            sender = f"{sender_prefix}-{index}-{k}"
            for text in conversations[(index + k) % len(conversations)]:
                start = time.perf_counter()
                outcome = send(session, url, sender, text)
                measured.append(((time.perf_counter() - start) * 1000, outcome))
        return measured

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        per_thread = list(pool.map(client, range(clients)))
    result = LoadResult(clients, time.perf_counter() - start)
    for ms, outcome in (m for thread in per_thread for m in thread):
        result.latencies_ms.append(ms)
        result.outcomes[outcome] += 1
    return result
