"""Train the Rasa model only when something it is built from has changed.

The fingerprint covers the training data, domain, config and the Python code of the plug-ins and
the shop library they import (Rasa's own fingerprint does not look at custom component code).
It is stored next to the model as ``models/kefu.fingerprint``.

Usage: python scripts/train_if_stale.py [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "kefu.tar.gz"
FINGERPRINT = ROOT / "models" / "kefu.fingerprint"
INPUTS = ["config.yml", "domain.yml", "requirements.lock", "data", "kefu_rasa", "kefu"]
CODE = ["requirements.lock", "kefu_rasa", "kefu"]


def fingerprint(inputs: list[str] = INPUTS) -> str:
    """SHA-256 over the names and contents of every file the model depends on."""
    digest = hashlib.sha256()
    for name in inputs:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def is_stale() -> bool:
    """True when the model is missing or was trained from other inputs."""
    return (
        not MODEL.exists()
        or not FINGERPRINT.exists()
        or FINGERPRINT.read_text().strip() != fingerprint()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the model if its inputs changed.")
    parser.add_argument("--force", action="store_true", help="train even if up to date")
    args = parser.parse_args(argv)
    if not args.force and not is_stale():
        print(f"train: {MODEL.relative_to(ROOT)} is up to date")
        return 0
    wanted = fingerprint()
    rasa = Path(sys.executable).parent / "rasa"
    command = [str(rasa), "train", "--fixed-model-name", "kefu", "--out", str(MODEL.parent)]
    # the stories are written as whole conversations: gluing them together (Rasa's default
    # augmentation) only multiplies TED's training trackers (benchmarks/TUNING.md, T7)
    command += ["--augmentation", "0"]
    print("train: " + " ".join(command[1:]), flush=True)
    # Rasa caches trained components by config and data, not by plug-in code: one cache per
    # version of the code, so a changed component is never restored from an old cache.
    cache = ROOT / ".rasa" / f"cache-{fingerprint(CODE)[:16]}"
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_CACHE_DIRECTORY": str(cache),
        # fixed string hashing: set and dict orders (vocabularies, label ids) repeat run to run
        "PYTHONHASHSEED": "0",
    }
    result = subprocess.run(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        print("train: training failed", file=sys.stderr)
        return result.returncode
    FINGERPRINT.write_text(wanted + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
