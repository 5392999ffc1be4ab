"""The side-by-side benchmark's own shop database, conversation store and data key.

Other work on the same checkout (tests, demos, migrations) writes to ``.kefu/shop.db`` and
``.kefu/trackers.db``; the benchmark keeps its state under ``.kefu/bench/`` instead, so that
neither their writes nor their keys change what it measures.  Variables already set win.
"""

from __future__ import annotations

import os
import subprocess

from benchmarks.stock_bot import CACHE, VENV_BIN

STATE = CACHE / "kefu"


def isolate() -> dict[str, str]:
    """Point kefu at the benchmark's state (for this process and the servers it starts) and
    create the demo shop there if it is missing; the variables set."""
    STATE.mkdir(parents=True, exist_ok=True)
    STATE.chmod(0o700)
    wanted = {
        "KEFU_DB_URL": f"sqlite:///{STATE / 'shop.db'}",
        "KEFU_TRACKER_DB_URL": f"sqlite:///{STATE / 'trackers.db'}",
        "KEFU_DATA_KEY_FILE": str(STATE / "data.key"),
    }
    for name, value in wanted.items():
        os.environ.setdefault(name, value)
    subprocess.run([str(VENV_BIN / "kefu"), "db", "upgrade"], check=True, capture_output=True)
    subprocess.run(
        [str(VENV_BIN / "kefu"), "demo", "load", "--if-empty"], check=True, capture_output=True
    )
    return {name: os.environ[name] for name in wanted}
