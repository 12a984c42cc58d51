"""Hands freed heap memory back to the operating system (glibc's ``malloc_trim``).

Every checkpoint allocates and frees megabytes: fetched batches, row columns,
encoded records, full snapshots. glibc keeps freed memory inside its heaps
and returns on its own only the free space at the very top, so the worker's
resident size climbed with every transient peak and stayed there. Measured on
a worker at 800 000 events with 10 000 annotators: one ``malloc_trim(0)``
released 169 MB of 1 047 MB at once. Trimming every few seconds keeps the
resident size close to what is in use. Elsewhere (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


class HeapTrimmer:
    """Calls ``malloc_trim(0)`` at most every ``interval_s`` seconds (0: never)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._trim = _malloc_trim() if interval_s > 0 else None
        self._last = time.monotonic()
        self.trims = 0
        self.seconds = 0.0  # spent trimming, for /metrics

    @property
    def enabled(self) -> bool:
        return self._trim is not None

    def maybe_trim(self) -> None:
        if self._trim is None or time.monotonic() - self._last < self.interval_s:
            return
        started = time.monotonic()
        self._trim(0)
        self._last = time.monotonic()
        self.trims += 1
        self.seconds += self._last - started
