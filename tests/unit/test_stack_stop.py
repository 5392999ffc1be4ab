"""Servers started by the tests and benchmarks are stopped (scripts/stack.py)."""

import signal
import subprocess
import sys
import time

import pytest

from scripts.stack import stop_process_group


@pytest.mark.parametrize("ignores_ctrl_c", [False, True])
def test_a_server_and_its_children_are_stopped(ignores_ctrl_c):
    ignore = "signal.signal(signal.SIGINT, signal.SIG_IGN); " if ignores_ctrl_c else ""
    server = (
        "import signal, subprocess, time; "
        f"{ignore}subprocess.Popen(['sleep', '300']); time.sleep(300)"
    )
    process = subprocess.Popen([sys.executable, "-c", server], start_new_session=True)
    time.sleep(0.5)  # let it start its child
    stop_process_group(process, grace_seconds=1)
    assert process.returncode is not None
    # Ctrl-C stops it; one that ignores Ctrl-C is killed after the grace period
    assert process.returncode == (-signal.SIGKILL if ignores_ctrl_c else -signal.SIGINT)
