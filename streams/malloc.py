"""glibc malloc settings for the worker, applied at start unless the operator set them.

Measured at 1.6 M events x 10 000 annotators (docs/performance.md, *Memory*):
most of the worker's resident memory above its live objects was free space
held by the allocators, not data. Two glibc defaults caused much of it:

- an arena per thread that allocates (checkpoints and alert snapshots are
  prepared on threads), each with its own high-water mark;
- the dynamic mmap threshold: once a mapped block is freed, glibc raises the
  threshold to that block's size (up to 32 MB), so later buffers of up to that
  size (fetch responses, rows, encoded snapshots) come from the heap, where
  long-lived objects allocated meanwhile keep the freed space from going back.

Both are set with ``mallopt`` before the worker starts threads. The same
settings from the environment (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``)
win: glibc applies those itself and the worker leaves them alone.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable

# mallopt parameter numbers (malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENAS = 1
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept fixed


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl, or no glibc: nothing to tune
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt  # type: ignore[no-any-return]


def _set(parameter: int, value: int, variable: str) -> bool:
    """mallopt, unless the operator set ``variable``; whether it was applied."""
    if variable in os.environ:
        return False
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(parameter, value))


def limit_arenas(arenas: int = ARENAS) -> bool:
    """One arena for the whole process: the threads take the GIL to allocate anyway.

    Only limits arenas created afterwards, so it must run before threads start.
    Measured: peak RSS 1 131 MB with the default arenas, 1 030 MB with one.
    """
    return _set(M_ARENA_MAX, arenas, "MALLOC_ARENA_MAX")


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Blocks of ``size`` and more are always mapped, and unmapped when freed.

    Setting the threshold also turns glibc's dynamic adjustment off
    (mallopt(3)). Measured at 1.6 M x 10 k: the heap held 215-325 MB with
    90-170 MB in use without it, 75-99 MB with 55-85 MB in use with it.
    """
    return _set(M_MMAP_THRESHOLD, size, "MALLOC_MMAP_THRESHOLD_")


def tune() -> dict[str, bool]:
    """Both settings; which of them this call applied."""
    return {"arenas": limit_arenas(), "mmap_threshold": fix_mmap_threshold()}
