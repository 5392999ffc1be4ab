"""Giving memory that Python has freed back to the operating system.

Loading the model (TED's one building step, the classifier files) and building the catalog
matcher make hundreds of thousands of short-lived objects.  Python frees them, but glibc's
allocator keeps the freed pages in the process, so the server's resident memory stays as if
they were alive: about 50 MB here (benchmarks/PROFILE.md).  :func:`release_freed_memory` asks
glibc to return them (``malloc_trim``) after those steps; elsewhere (musl, macOS) it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> bool:
    """Collect garbage, then hand freed heap pages back to the OS; False where unsupported."""
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
