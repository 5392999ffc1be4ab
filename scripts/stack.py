"""Start and stop kefu's servers (scripts/run.sh) from Python, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from kefu.agent_console import hash_password

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "kefu.tar.gz"
# KEFU_LIMIT_SCALE for the servers the tests and the benchmark start (shop.yml `channels`)
LIMIT_SCALE = 1000


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    """A running kefu (Rasa server plus action server)."""

    url: str
    token: str
    rasa_port: int
    actions_port: int
    shop_port: int
    action_secret: str = ""
    agent_port: int = 0
    agent_name: str = "xiaoli"
    agent_password: str = ""
    outbox: Path = ROOT / ".kefu" / "outbox.jsonl"  # codes and notices sent to customers

    @property
    def shop_url(self) -> str:
        """The demo shop page with the web chat embedded."""
        return f"http://127.0.0.1:{self.shop_port}"

    def rasa_pid(self) -> int | None:
        """PID of the Rasa server process (``python -m kefu_rasa.server``, found by its port
        on the command line)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            args = [a.decode(errors="replace") for a in cmdline]
            if "kefu_rasa.server" in args[:3] and str(self.rasa_port) in args:
                return int(entry.name)
        return None


@contextlib.contextmanager
def running_stack(startup_timeout: float = 300) -> Iterator[Stack]:
    """Run scripts/run.sh on free ports with fresh secrets; stop it (Ctrl-C) afterwards.

    Channels switched on by variables in the caller's environment (credentials.yml) come up too.
    All test customers come from 127.0.0.1, so the per-address, channel and global limits are
    raised (``KEFU_LIMIT_SCALE``, unless the caller set it); the per-conversation one stays.
    """
    if not MODEL.exists():
        raise RuntimeError("models/kefu.tar.gz is missing: run `make train` first")
    stack = Stack(
        "", secrets.token_urlsafe(24), free_port(), free_port(), free_port(), secrets.token_hex(24)
    )
    stack.url = f"http://127.0.0.1:{stack.rasa_port}"
    stack.agent_port, stack.agent_password = free_port(), secrets.token_urlsafe(16)
    stack.outbox = ROOT / ".kefu" / f"outbox-{stack.rasa_port}.jsonl"
    env = {
        **os.environ,
        "KEFU_RASA_PORT": str(stack.rasa_port),
        "KEFU_ACTIONS_PORT": str(stack.actions_port),
        "KEFU_SHOP_PORT": str(stack.shop_port),
        "KEFU_API_TOKEN": stack.token,
        "KEFU_ACTION_SECRET": stack.action_secret,
        "KEFU_AGENT_PORT": str(stack.agent_port),
        "KEFU_AGENTS": f"{stack.agent_name}:{hash_password(stack.agent_password)}",
        "KEFU_AGENT_SECRET": secrets.token_urlsafe(48),
        "KEFU_OUTBOX": str(stack.outbox),
        "KEFU_WEBCHAT_SECRET": os.environ.get("KEFU_WEBCHAT_SECRET") or secrets.token_urlsafe(32),
        "KEFU_LIMIT_SCALE": os.environ.get("KEFU_LIMIT_SCALE") or str(LIMIT_SCALE),
    }
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run.sh"), "server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"scripts/run.sh exited early:\n{process.stdout.read()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kefu did not start within {startup_timeout} s")
            with contextlib.suppress(requests.ConnectionError):
                status = requests.get(
                    f"{stack.url}/status", params={"token": stack.token}, timeout=2
                )
                shop_up = (
                    os.environ.get("KEFU_DEMO_SHOP") == "0"
                    or requests.get(stack.shop_url, timeout=2).ok
                )
                console_up = requests.get(
                    f"http://127.0.0.1:{stack.agent_port}/login", timeout=2
                ).ok
                if status.ok and shop_up and console_up:
                    break
            time.sleep(1)
        yield stack
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 30) -> None:
    """Ctrl-C to a server started in its own session (and its children), then a kill after
    ``grace_seconds``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
