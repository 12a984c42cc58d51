"""Freed heap memory handed back to the OS: on glibc it really shrinks the heap."""

from __future__ import annotations

import ctypes
import sys
import time

import pytest

from streams.heap import HeapTrimmer


def _glibc() -> bool:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


def test_interval_zero_never_trims() -> None:
    trimmer = HeapTrimmer(0)
    assert not trimmer.enabled
    trimmer.maybe_trim()
    assert trimmer.trims == 0


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="glibc only")
def test_trims_at_most_once_per_interval() -> None:
    trimmer = HeapTrimmer(0.05)
    assert trimmer.enabled
    trimmer.maybe_trim()
    assert trimmer.trims == 0  # the interval starts at creation
    time.sleep(0.06)
    trimmer.maybe_trim()
    trimmer.maybe_trim()
    assert trimmer.trims == 1 and trimmer.seconds >= 0


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="glibc only")
def test_a_trim_returns_freed_memory_that_glibc_kept() -> None:
    """Many medium blocks (below mmap's threshold) freed out of order leave holes in the heap."""

    def rss_anon_kb() -> int:
        with open("/proc/self/status") as status:
            return next(int(ln.split()[1]) for ln in status if ln.startswith("RssAnon:"))

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 * 1024) for _ in range(3000)]  # ~190 MB
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)  # make the pages resident
    keep = blocks[-1]  # holds the top of the heap: glibc cannot shrink it on its own
    for block in blocks[:-1]:
        libc.free(block)
    before = rss_anon_kb()
    trimmer = HeapTrimmer(1e-9)
    time.sleep(0.001)
    trimmer.maybe_trim()
    after = rss_anon_kb()
    libc.free(keep)
    assert trimmer.trims == 1
    assert before - after > 100 * 1024, (before, after)  # at least 100 of the ~190 MB
