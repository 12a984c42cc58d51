"""The worker's glibc settings: one arena for all threads, a fixed mmap threshold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)

REPO = Path(__file__).resolve().parents[3]

# Threads allocate buffers above pymalloc's limit (so glibc serves them) and keep
# them; malloc_stats() then prints one "Arena N:" block per arena in use.
PROGRAM = """
import ctypes, sys, threading
from streams.malloc import limit_arenas
print(limit_arenas() if sys.argv[1] == "limit" else None, flush=True)
held, ready = [], threading.Barrier(4)
def work():
    ready.wait()
    held.append([bytes(2000 + i) for i in range(2000)])
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def _run(program: str, mode: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``program`` in a fresh interpreter, with no glibc setting from our environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    return subprocess.run(
        [sys.executable, "-c", program, mode],
        cwd=REPO,
        env={**environment, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _arenas(mode: str, **env: str) -> tuple[str, int]:
    done = _run(PROGRAM, mode, **env)
    arenas = sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))
    return done.stdout.strip(), arenas


def test_threads_get_arenas_of_their_own_by_default() -> None:
    _, arenas = _arenas("default")
    assert arenas > 1


def test_the_limit_keeps_every_thread_in_one_arena() -> None:
    applied, arenas = _arenas("limit")
    assert applied == "True"
    assert arenas == 1


def test_an_operator_setting_is_left_to_glibc() -> None:
    applied, arenas = _arenas("limit", MALLOC_ARENA_MAX="3")
    assert applied == "False"
    assert 1 < arenas <= 3


# A 4 MB buffer freed raises glibc's dynamic threshold to 4 MB; then 100 buffers
# of 600 kB are kept. mallinfo2 tells where they came from: the heap (arena)
# or mappings of their own (hblkhd).
MMAP_PROGRAM = """
import sys
from bench.memory_probe import mallinfo
from streams.malloc import fix_mmap_threshold
print(fix_mmap_threshold() if sys.argv[1] == "fix" else None, flush=True)
big = bytes(4 * 2**20)
del big
kept = [bytes(600_000 + i) for i in range(100)]
info = mallinfo()
print(info.arena >> 20, info.hblkhd >> 20)
"""


def _where(mode: str, **env: str) -> tuple[str, int, int]:
    done = _run(MMAP_PROGRAM, mode, **env)
    applied, sizes = done.stdout.strip().splitlines()
    heap, mapped = (int(v) for v in sizes.split())
    return applied, heap, mapped


def test_by_default_a_freed_large_buffer_sends_later_ones_to_the_heap() -> None:
    _, heap, mapped = _where("default")
    assert heap >= 57 and mapped < 5  # the 100 x 600 kB buffers: ~57 MiB


def test_the_fixed_threshold_maps_every_large_buffer() -> None:
    applied, heap, mapped = _where("fix")
    assert applied == "True"
    assert mapped >= 57 and heap < 5


def test_an_operator_threshold_is_left_to_glibc() -> None:
    applied, heap, mapped = _where("fix", MALLOC_MMAP_THRESHOLD_=str(8 * 2**20))
    assert applied == "False"
    assert heap >= 57 and mapped < 5  # 600 kB is below the operator's 8 MiB
