"""Freed memory goes back to the operating system after the big loading steps."""

from __future__ import annotations

import gc
import sys

from kefu.memory import release_freed_memory


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def test_freed_objects_leave_the_resident_memory():
    """Objects over 512 bytes come from glibc's heap; one kept after them pins the heap's top,
    so freeing them alone leaves the pages in the process (as after loading the model)."""
    assert sys.platform == "linux"  # glibc: the machines kefu is tested and deployed on
    release_freed_memory()
    before = resident_mb()
    garbage = [bytes(1000 + i % 7) for i in range(150_000)]  # ~150 MB
    kept = bytes(1000)
    grown = resident_mb() - before
    del garbage
    gc.collect()
    assert resident_mb() - before > grown / 2  # freed, yet still resident
    assert release_freed_memory() is True
    assert resident_mb() - before < grown / 4
    assert len(kept) == 1000
