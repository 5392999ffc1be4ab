"""The stock ``rasa init`` bot, as the yardstick for kefu's benchmarks (issue 20).

The project is the one ``rasa init --no-prompt`` writes (Rasa's own scaffold), created once with
the project's venv under ``.kefu/bench/stock-bot/<rasa version>/`` and trained once there
(``models/stock.tar.gz``); later runs reuse both.  :func:`running` serves it with
``rasa run --enable-api`` on a free loopback port: in-memory tracker store, no action server
(the scaffold's endpoints file has every endpoint commented out), as a new user gets it.

Usage: python -m benchmarks.stock_bot [--retrain]   (prints where the trained bot is)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from scripts.stack import ROOT, free_port, stop_process_group

VENV_BIN = ROOT / ".venv" / "bin"
CACHE = Path(os.environ.get("KEFU_BENCH_CACHE", ROOT / ".kefu" / "bench"))
MODEL_NAME = "stock"


def rasa_version() -> str:
    """The version of Rasa in the project's venv (the stock bot is cached per version)."""
    out = subprocess.run(
        [str(VENV_BIN / "python"), "-c", "import rasa; print(rasa.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def rasa_env(cache_dir: Path | None = None) -> dict[str, str]:
    """The environment for the venv's ``rasa``: no telemetry, optionally its own train cache."""
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if cache_dir is not None:
        env["RASA_CACHE_DIRECTORY"] = str(cache_dir)
    return env


@dataclass
class StockBot:
    """The stock project on disk."""

    path: Path

    @property
    def model(self) -> Path:
        return self.path / "models" / f"{MODEL_NAME}.tar.gz"

    @property
    def train_cache(self) -> Path:
        return self.path / ".rasa-cache"

    def scaffold(self) -> None:
        """Write the ``rasa init`` project (what ``rasa init --no-prompt`` copies) if missing."""
        if (self.path / "domain.yml").exists():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(VENV_BIN / "python"),
                "-c",
                "import sys; from rasa.cli.scaffold import create_initial_project as c; "
                "c(sys.argv[1])",
                str(self.path),
            ],
            check=True,
        )

    def train(self, *extra: str, out: Path | None = None, cache_dir: Path | None = None) -> float:
        """``rasa train`` in the project; the wall time in seconds."""
        command = [str(VENV_BIN / "rasa"), "train", "--fixed-model-name", MODEL_NAME]
        command += ["--out", str(out or self.model.parent), *extra]
        start = time.perf_counter()
        subprocess.run(
            command,
            cwd=self.path,
            env=rasa_env(cache_dir or self.train_cache),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - start

    def ensure_trained(self) -> Path:
        """Scaffold and train once; the trained model."""
        self.scaffold()
        if not self.model.exists():
            self.train()
        return self.model


def stock_bot() -> StockBot:
    """The stock bot of this venv's Rasa version (not necessarily created or trained yet)."""
    return StockBot(CACHE / "stock-bot" / rasa_version())


@dataclass
class Server:
    """A running ``rasa run``: its URL and the PID of the server process."""

    url: str
    pid: int


@contextlib.contextmanager
def running(bot: StockBot, startup_timeout: float = 300) -> Iterator[Server]:
    """Serve the trained stock bot (REST channel and HTTP API) on a free port; stop it after."""
    port = free_port()
    log = (bot.path / "rasa.log").open("w")
    process = subprocess.Popen(
        [
            *(str(VENV_BIN / "rasa"), "run", "--enable-api", "-m", str(bot.model)),
            *("--endpoints", "endpoints.yml", "--interface", "127.0.0.1", "--port", str(port)),
        ],
        cwd=bot.path,
        env=rasa_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process.pid)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"stock bot exited during start-up (see {log.name})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"stock bot did not start within {startup_timeout} s")
            with contextlib.suppress(requests.ConnectionError):
                status = requests.get(f"{server.url}/status", timeout=2)
                if status.ok and status.json().get("model_file"):
                    break
            time.sleep(1)
        yield server
    finally:
        stop_process_group(process)
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="create and train the stock rasa init bot")
    parser.add_argument("--retrain", action="store_true", help="train again even if cached")
    args = parser.parse_args(argv)
    bot = stock_bot()
    bot.scaffold()
    if args.retrain or not bot.model.exists():
        print(f"stock bot: trained in {bot.train():.0f} s")
    print(f"stock bot: {bot.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
