"""Time every SQL statement a process runs, per database and statement kind (SQLAlchemy events).

In-process: :func:`install` then :func:`snapshot`.  Around another program (the action server):
``python -m benchmarks.sql_timing OUT.json actions.server --port 5055`` runs the module as
``__main__`` and writes the totals to OUT.json when it is stopped (SIGINT or SIGTERM).
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

_lock = threading.Lock()
_totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # key → [count, seconds]
_installed = False


def statement_key(database: str | None, statement: str) -> str:
    """``<database file> <VERB>``, e.g. ``shop.db SELECT``."""
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
    return f"{Path(database or 'memory').name} {verb}"


def _before(conn, cursor, statement, parameters, context, executemany) -> None:
    conn.info.setdefault("kefu_bench_started", []).append(time.perf_counter())


def _after(conn, cursor, statement, parameters, context, executemany) -> None:
    started = conn.info["kefu_bench_started"].pop()
    key = statement_key(conn.engine.url.database, statement)
    with _lock:
        total = _totals[key]
        total[0] += 1
        total[1] += time.perf_counter() - started


def install() -> None:
    """Listen to every engine of this process (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Engine, "before_cursor_execute", _before)
        event.listen(Engine, "after_cursor_execute", _after)
        _installed = True


def snapshot(reset: bool = False) -> dict[str, dict[str, float]]:
    """Statements and milliseconds so far, per key; optionally start counting again."""
    with _lock:
        out = {k: {"count": int(c), "ms": round(s * 1000, 2)} for k, (c, s) in _totals.items()}
        if reset:
            _totals.clear()
    return out


def main(argv: list[str]) -> None:
    out, module, *args = argv

    def dump(*_: object) -> None:
        Path(out).write_text(json.dumps(snapshot(), indent=2) + "\n")
        os._exit(0)

    def keep_writing() -> None:  # in case the program's own signal handlers win
        while True:
            time.sleep(2)
            Path(out).write_text(json.dumps(snapshot(), indent=2) + "\n")

    install()
    threading.Thread(target=keep_writing, daemon=True).start()
    signal.signal(signal.SIGTERM, dump)
    signal.signal(signal.SIGINT, dump)
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        dump()


if __name__ == "__main__":
    main(sys.argv[1:])
