"""The cost of encryption at rest in the conversation store (SQLite, one process).

The same conversations are saved turn by turn and read back through Rasa's plain SQL tracker
store (with kefu's SQLite tuning) and through kefu's encrypted tracker store: latency per save
and per retrieve (p50 / p95) and turns per second.  Results: ``benchmarks/results/privacy.json``.

Usage: python -m benchmarks.privacy_bench [--conversations 50] [--turns 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.pool import SingletonThreadPool

from benchmarks.bench import percentile
from kefu_rasa.tracker_store import EncryptedTrackerStore, _pragmas

RESULTS = Path(__file__).resolve().parent / "results"
DOMAIN = Domain.from_dict(
    {"intents": ["inform"], "slots": {"note": {"type": "any", "mappings": [{"type": "custom"}]}}}
)
TEXT = "我想把收货地址改成北京市朝阳区建国路88号，电话13912345678，谢谢"


class PlainStore(SQLTrackerStore):
    """Rasa's SQL tracker store with the same SQLite tuning as kefu's: the baseline."""

    def __init__(self, db: str) -> None:
        super().__init__(domain=DOMAIN, dialect="sqlite", db=db)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=SingletonThreadPool)
        sa.event.listen(self.engine, "connect", _pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)


def turn(tracker: DialogueStateTracker, number: int) -> None:
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(f"{TEXT} {number}", intent={"name": "inform", "confidence": 1.0}))
    tracker.update(SlotSet("note", {"detail": TEXT, "turn": number}))
    tracker.update(BotUttered(f"好的，已记录：{TEXT}"))


def measure(store, conversations: int, turns: int) -> dict:
    saves, reads = [], []
    started = time.perf_counter()
    for turn_number in range(turns):
        for conversation in range(conversations):
            sender = f"bench:{conversation}"
            before = time.perf_counter()
            tracker = asyncio.run(store.retrieve(sender)) or DialogueStateTracker(
                sender, DOMAIN.slots
            )
            middle = time.perf_counter()
            turn(tracker, turn_number)
            asyncio.run(store.save(tracker))
            saves.append(time.perf_counter() - middle)
            reads.append(middle - before)
    elapsed = time.perf_counter() - started
    return {
        "save_ms_p50": round(percentile(saves, 50) * 1000, 2),
        "save_ms_p95": round(percentile(saves, 95) * 1000, 2),
        "retrieve_ms_p50": round(percentile(reads, 50) * 1000, 2),
        "retrieve_ms_p95": round(percentile(reads, 95) * 1000, 2),
        "turns_per_second": round(conversations * turns / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args(argv)
    os.environ["KEFU_DATA_KEY"] = base64.b64encode(os.urandom(32)).decode()
    with tempfile.TemporaryDirectory() as folder:
        plain = measure(PlainStore(f"{folder}/plain.db"), args.conversations, args.turns)
        encrypted_store = EncryptedTrackerStore(domain=DOMAIN, db=f"{folder}/encrypted.db")
        encrypted = measure(encrypted_store, args.conversations, args.turns)
    result = {
        "benchmark": "privacy",
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "conversations": args.conversations,
        "turns": args.turns,
        "plain": plain,
        "encrypted": encrypted,
        "throughput_ratio": round(encrypted["turns_per_second"] / plain["turns_per_second"], 3),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "privacy.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
