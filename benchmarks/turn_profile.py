"""Where a turn's time goes, measured in-process on a trained model (issue 20).

Loads the model with Rasa's ``Agent`` (kefu: its tracker store on a scratch SQLite file, its
action server started here on a free port) and times, per message:

* **parse**: every graph node of the NLU pipeline (``Agent.parse_message``), per component;
* **turn**: ``Agent.handle_message`` as a whole, each graph node (NLU components, sentiment,
  policies), the tracker store's reads and writes, the action server round trips, and the SQL
  statements on each database, in this process and in the action server.

One process, one message at a time: the figures are the cost of a turn without queueing.

Usage: python -m benchmarks.turn_profile [--bot kefu|stock] [--repeats N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import requests

from benchmarks import sql_timing
from benchmarks.bench_env import isolate
from benchmarks.conversations import conversations
from benchmarks.load import percentile, rss_mb
from scripts.stack import MODEL, ROOT, free_port

TRACKER_STORE = "tracker store"
ACTION_SERVER = "action server round trip"
SERVER = ("actions.server", "--port")


class Recorder:
    """Milliseconds per label, summed within a message, one sample per message."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.current: Counter = Counter()
        self.calls: Counter = Counter()

    def add(self, label: str, ms: float) -> None:
        self.current[label] += ms
        self.calls[label] += 1

    def end_message(self) -> None:
        for label, ms in self.current.items():
            self.samples[label].append(ms)
        self.current.clear()

    def summary(self, messages: int) -> dict[str, dict[str, float]]:
        """Per label: mean over all messages (0 where it did not run), p50 and p95 where it ran,
        in how many messages it ran, and how often it ran per message."""
        return {
            label: {
                "mean_ms": round(sum(values) / messages, 2),
                "p50_ms": round(percentile(values, 50), 2),
                "p95_ms": round(percentile(values, 95), 2),
                "runs": len(values),
                "calls_per_message": round(self.calls[label] / messages, 2),
            }
            for label, values in sorted(self.samples.items(), key=lambda kv: -sum(kv[1]))
        }


def node_label(node_name: str) -> str:
    """``run_kefu_rasa.tokenizer.KefuTokenizer0`` → ``KefuTokenizer0``."""
    name = node_name.removeprefix("run_")
    return name.rsplit(".", 1)[-1]


@contextlib.contextmanager
def timing(recorder: Recorder, tracker_store=None) -> Iterator[None]:
    """Time graph nodes, remote actions and the tracker store's reads/writes into ``recorder``."""
    from rasa.core.actions.action import RemoteAction
    from rasa.engine.graph import GraphNode

    def timed_async(label, fn):
        async def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                recorder.add(label, (time.perf_counter() - start) * 1000)

        return wrapper

    original_call, original_run = GraphNode.__call__, RemoteAction.run

    def call(node, *inputs):
        start = time.perf_counter()
        try:
            return original_call(node, *inputs)
        finally:
            recorder.add(node_label(node._node_name), (time.perf_counter() - start) * 1000)

    async def remote_run(action, *args, **kwargs):
        start = time.perf_counter()
        try:
            return await original_run(action, *args, **kwargs)
        finally:
            ms = (time.perf_counter() - start) * 1000
            recorder.add(ACTION_SERVER, ms)
            recorder.add(f"{ACTION_SERVER}: {action.name()}", ms)  # which actions make the calls

    GraphNode.__call__ = call
    RemoteAction.run = remote_run
    methods = ("retrieve", "retrieve_full_tracker", "save") if tracker_store else ()
    for name in methods:
        label = f"{TRACKER_STORE} {'write' if name == 'save' else 'read'}"
        setattr(tracker_store, name, timed_async(label, getattr(tracker_store, name)))
    try:
        yield
    finally:
        GraphNode.__call__, RemoteAction.run = original_call, original_run
        for name in methods:
            delattr(tracker_store, name)


@contextlib.contextmanager
def action_server(sql_out: Path) -> Iterator[tuple[str, str]]:
    """kefu's action server on a free port, its SQL timed into ``sql_out``; (URL, secret)."""
    port, secret = free_port(), secrets.token_urlsafe(32)
    env = {**os.environ, "KEFU_ACTION_SECRET": secret, "KEFU_OUTBOX": str(sql_out) + ".outbox"}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sql_timing", str(sql_out), *SERVER, str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(240):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            if process.poll() is not None:
                raise RuntimeError("the action server exited during start-up")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/webhook", secret
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


async def _profile(model: Path, bot: str, repeats: int, endpoints) -> dict:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import UserMessage

    rss = {"before_load": rss_mb(os.getpid())}
    agent = await load_agent(model_path=str(model), endpoints=endpoints)
    rss["after_load"] = rss_mb(os.getpid())
    chats = conversations(bot)
    texts = [text for chat in chats for text in chat]

    parse = Recorder()
    with timing(parse):
        for _ in range(2):  # warm-up (first calls build caches)
            for text in texts:
                await agent.parse_message(text)
        parse.current.clear()
        parse.calls.clear()
        for _ in range(repeats):
            for text in texts:
                start = time.perf_counter()
                await agent.parse_message(text)
                parse.add("parse (total)", (time.perf_counter() - start) * 1000)
                parse.end_message()

    turn = Recorder()
    sql_timing.install()
    run = uuid.uuid4().hex[:8]
    with timing(turn, agent.tracker_store):
        for r in range(repeats + 1):  # the first round warms up
            for i, chat in enumerate(chats):
                sender = f"profile-{run}-{r}-{i}"
                for text in chat:
                    start = time.perf_counter()
                    await agent.handle_message(UserMessage(text, sender_id=sender))
                    turn.add("turn (total)", (time.perf_counter() - start) * 1000)
                    turn.end_message()
            if r == 0:
                turn.samples.clear()
                turn.calls.clear()
                sql_timing.snapshot(reset=True)
    rss["after_turns"] = rss_mb(os.getpid())
    return {
        "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "parse_messages": repeats * len(texts),
        "parse": parse.summary(repeats * len(texts)),
        "turn_messages": repeats * len(texts),
        "turn": turn.summary(repeats * len(texts)),
        "sql_rasa_process": sql_timing.snapshot(),
    }


def profile(bot: str, repeats: int) -> dict:
    """The parse and turn profile of ``bot`` ("kefu": models/kefu.tar.gz; "stock")."""
    if bot == "stock":
        from benchmarks.stock_bot import stock_bot

        return asyncio.run(_profile(stock_bot().ensure_trained(), bot, repeats, None))
    from rasa.core.utils import AvailableEndpoints

    with tempfile.TemporaryDirectory(prefix="kefu-profile-") as tmp:
        sql_out = Path(tmp) / "actions-sql.json"
        with action_server(sql_out) as (url, secret):
            os.environ["KEFU_ACTION_SERVER_URL"], os.environ["KEFU_ACTION_SECRET"] = url, secret
            os.environ["KEFU_TRACKER_DB_URL"] = f"sqlite:///{Path(tmp) / 'trackers.db'}"
            endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
            result = asyncio.run(_profile(MODEL, bot, repeats, endpoints))
            before = sql_timing_file(sql_out)
        result["sql_action_server"] = sql_timing_file(sql_out) or before
    return result


def sql_timing_file(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def quiet() -> None:
    """Warnings only: Rasa's debug logging of every prediction would be part of the timings."""
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="profile a turn in-process")
    parser.add_argument("--bot", choices=["kefu", "stock"], default="kefu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    quiet()
    isolate()
    result = {"bot": args.bot, **profile(args.bot, args.repeats)}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
