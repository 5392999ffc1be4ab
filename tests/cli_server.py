"""Run a ``kefu`` server command (``demo serve``, ``agent serve``) as a real process in a test."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

from scripts.stack import ROOT, free_port


@dataclass
class Served:
    url: str  # http://127.0.0.1:<port>
    first: requests.Response | None = None  # the answer to the first request that got one
    output: str = ""  # everything the process printed, once it has stopped


@contextmanager
def kefu_serving(
    args: list[str], env: dict[str, str], path: str, first_timeout: float = 2.0
) -> Iterator[Served]:
    """Start ``python -m kefu.cli *args --port <free port>``, wait (30 s at most) until ``path``
    answers, and stop the process afterwards; its output is in ``Served.output`` then."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", *args, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while served.first is None:
            assert process.poll() is None, process.stdout.read()
            try:
                served.first = requests.get(served.url + path, timeout=first_timeout)
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"kefu {' '.join(args)} did not start"
                time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        served.output, _ = process.communicate(timeout=10)
