"""Training time: the stock bot trained from scratch and incrementally, and kefu's from a log.

kefu is not trained from scratch here: its figures are read from the log of a training that
already ran (``make train > LOG``), from the timestamps of Rasa's "Starting to train component" /
"Finished training component" lines.  Its incremental training (:func:`kefu_incremental`,
``python -m benchmarks.training --kefu-incremental``) trains a copy of the project with one more
NLU example, on the cache ``make train`` left (the model in ``models/`` is not touched).
The stock bot is trained in a temporary copy of its project: from scratch with an empty cache,
then incrementally after one more NLU example, with the cache of the first training (Rasa
restores every component whose inputs did not change).  Rasa's ``--finetune`` is no option for
the stock bot: UnexpecTEDIntentPolicy fails on it in Rasa 3.6 ("Number of examples differs for
keys 'label_action_name', 'label'").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.stock_bot import StockBot

LINE = re.compile(
    r"^(?:\x1b\[[0-9;]*m)?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) .*?"
    r"(Starting to train|Finished training|Restored) component '([^']+)'"
)
NEW_EXAMPLE = "- intent: greet\n  examples: |\n    - hiya, good to see you\n"


def component_spans(log: str) -> dict:
    """Seconds per trained component, in pipeline order (repeated names numbered): from its
    "Starting to train" line to the next one (its training, then its processing of the training
    data for the components after it; Rasa runs the graph's nodes one at a time), and the
    seconds from the first to the last such line.  Components restored from the cache: 0."""
    events: list[tuple[datetime, str | None, bool]] = []  # (time, component started, restored)
    names: list[str] = []
    for line in log.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
        key, restored = None, match[2] == "Restored"
        if match[2] != "Finished training":
            key, n = match[3], 1
            while key in names:
                n += 1
                key = f"{match[3]} ({n})"
            names.append(key)
        events.append((at, key, restored))
    spans: dict[str, float] = {}
    for i, (at, key, restored) in enumerate(events):
        if key is not None:
            until = next((t for t, k, _ in events[i + 1 :] if k is not None), events[-1][0])
            spans[key] = 0.0 if restored else (until - at).total_seconds()
    logged = (events[-1][0] - events[0][0]).total_seconds() if events else None
    return {"components_s": spans, "logged_s": logged}


def from_log(path: Path) -> dict:
    """kefu's training figures from a training log (see the module docstring)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    out = {"source": str(path), **component_spans(text)}
    out["complete"] = "Your Rasa model is trained and saved" in text or bool(
        re.search(r"Finished training component '[^']*Policy", text)
    )
    return out


def stock_training(bot: StockBot) -> dict:
    """Seconds to train the stock bot from scratch, then incrementally (see the docstring)."""
    with tempfile.TemporaryDirectory(prefix="stock-train-") as tmp:
        copy = StockBot(Path(tmp) / "project")
        shutil.copytree(bot.path, copy.path, ignore=shutil.ignore_patterns("models", ".rasa*"))
        scratch = copy.train()
        with (copy.path / "data" / "nlu.yml").open("a", encoding="utf-8") as nlu:
            nlu.write("\n" + NEW_EXAMPLE)
        incremental = copy.train()
    return {"scratch_s": round(scratch, 1), "incremental_s": round(incremental, 1)}


KEFU_NEW_EXAMPLE = "- intent: greet\n  examples: |\n    - 早上好呀，好久不见\n"
KEFU_PROJECT = ("config.yml", "domain.yml", "data")


def kefu_incremental() -> float:
    """Seconds for ``rasa train`` of kefu after one more NLU example, with the cache of the
    last ``make train`` (Rasa restores the components whose inputs did not change)."""
    from scripts import train_if_stale as trainer

    cache = trainer.ROOT / ".rasa" / f"cache-{trainer.fingerprint(trainer.code_inputs())[:16]}"
    if not cache.exists():
        raise SystemExit(f"no training cache at {cache}: run `make train` first")
    with tempfile.TemporaryDirectory(prefix="kefu-train-") as tmp:
        project = Path(tmp)
        for name in KEFU_PROJECT:
            source = trainer.ROOT / name
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, project / name)
        with (project / "data" / "nlu" / "zh" / "conversation.yml").open("a") as nlu:
            nlu.write("\n" + KEFU_NEW_EXAMPLE)
        command = [str(Path(sys.executable).parent / "rasa"), "train", "--fixed-model-name"]
        command += ["kefu", "--out", str(project / "models"), "--augmentation", "0"]
        env = {
            **os.environ,
            "RASA_TELEMETRY_ENABLED": "false",
            "RASA_CACHE_DIRECTORY": str(cache),
            "PYTHONHASHSEED": "0",
            "PYTHONPATH": str(trainer.ROOT),  # kefu's plug-ins
        }
        start = time.perf_counter()
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


if __name__ == "__main__":
    if sys.argv[1:] != ["--kefu-incremental"]:
        raise SystemExit("usage: python -m benchmarks.training --kefu-incremental")
    print(f"kefu, training after one more NLU example (warm cache): {kefu_incremental():.1f} s")
