"""The worker's glibc arena limit: threads that allocate share one arena."""

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

REPO = Path(__file__).resolve().parents[2]

# Threads allocate buffers above pymalloc's limit (so glibc serves them) and keep
# them; malloc_stats() then prints one "Arena N:" block per arena in use.
PROGRAM = """
import ctypes, sys, threading
from streams.worker import limit_malloc_arenas
print(limit_malloc_arenas() if sys.argv[1] == "limit" else None, flush=True)
held, ready = [], threading.Barrier(4)
def work():
    ready.wait()
    held.append([bytes(2000 + i) for i in range(2000)])
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def _arenas(mode: str, **env: str) -> tuple[str, int]:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        cwd=REPO,
        env={**environment, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
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
