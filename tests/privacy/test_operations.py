"""Safe operations: ``make clean`` never deletes databases, keys, secrets or backups, and
``make reset-demo`` refuses anything but the local demo; ``make run`` starts the daily job."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n?)+)", text, re.MULTILINE)
    assert match, f"no {target} target"
    return [line.strip() for line in match.group(1).splitlines()]


def test_make_clean_keeps_databases_keys_secrets_and_backups():
    lines = recipe("clean")
    words = " ".join(lines).split()
    kefu_paths = [w for w in words if w.startswith(".kefu")]
    assert kefu_paths and all(re.fullmatch(r"\.kefu/\*\.(log|out)", p) for p in kefu_paths)


def test_reset_demo_refuses_production_and_a_configured_database():
    lines = recipe("reset-demo")
    guard = " ".join(line.replace("\\", "") for line in lines[:3]).lstrip("@").replace("$$", "$")
    for env in ({"KEFU_PROFILE": "production"}, {"KEFU_DB_URL": "postgresql://db/shop"}):
        result = subprocess.run(["bash", "-c", guard], env=env, capture_output=True, text=True)
        assert result.returncode == 1 and "refused" in result.stderr
    assert subprocess.run(["bash", "-c", guard], env={}).returncode == 0
    assert not any("keys" in line or "secret" in line for line in lines)


def test_make_run_starts_the_daily_privacy_job():
    assert ".venv/bin/kefu privacy daily" in (ROOT / "scripts" / "run.sh").read_text("utf-8")
