"""Giving freed memory back to the system (glibc), between the inspection's speech tasks.

Whisper's decodes on several threads allocate and free large buffers; glibc keeps what a
thread freed in that thread's malloc arena (64 MB-aligned heaps), so the process's resident
size grows with the number of threads that decoded, not with what is in use: on the 18-minute
babble probe ~0.7 GB of the peak was such freed memory (docs/bench.md). ``trim`` returns it.
No-op where glibc is missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        _ = lib.malloc_trim
    except (OSError, AttributeError):
        return None
    return lib


def trim() -> bool:
    """Return the free memory at the top and inside every malloc arena to the system
    (``malloc_trim(0)``: a few milliseconds); True when something was released."""
    lib = _libc()
    return bool(lib.malloc_trim(0)) if lib is not None else False
