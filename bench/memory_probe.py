"""The worker, watched from inside: allocator figures over time and a census of objects.

Run by ``python -m bench.memory`` in place of ``python -m annotel``; the
worker itself is unchanged. Environment:

- ``PROBE_OUT``: file for JSON lines (``sample`` every ``PROBE_EVERY`` seconds, one ``census``);
- ``PROBE_CENSUS_AT``: after this many input messages, stop the event loop once
  and measure what the partition states and the alert stage hold (0: never).

Why from inside: RSS alone cannot tell live objects from free space that an
allocator keeps. pymalloc's arena count comes from ``sys._debugmallocstats``
(it prints to file descriptor 2, which is borrowed for a moment), glibc's
heap and mappings from ``mallinfo2``; what is left of the anonymous memory is
chDB's own allocator, thread stacks and other mappings.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import re
import sys
import tempfile
import threading
import time
import types
from collections.abc import Iterable
from operator import attrgetter
from typing import Any, TextIO

import orjson

from bench.stack import proc_status_kb

_MIB = 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@functools.cache
def _libc_mallinfo2() -> Any:
    function = ctypes.CDLL("libc.so.6").mallinfo2
    function.restype = _MallInfo2
    return function


def mallinfo() -> _MallInfo2:
    """glibc's ``mallinfo2()``: heap (``arena``), in use (``uordblks``), mapped (``hblkhd``)."""
    return _libc_mallinfo2()()  # type: ignore[no-any-return]


def _status() -> dict[str, int]:
    """Resident memory in MiB, anonymous and file-backed."""
    status = proc_status_kb()
    return {name: status[name] // 1024 for name in ("RssAnon", "RssFile")}


def pymalloc_stats() -> dict[str, int]:
    """Arenas held and bytes in live blocks, from ``sys._debugmallocstats`` on fd 2.

    Written to a temporary file, not a pipe: a pipe would block the writer
    once its buffer is full.
    """
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read()

    def number(pattern: bytes) -> int:
        match = re.search(pattern + rb"\s*=\s*([\d,]+)", text)
        return int(match.group(1).replace(b",", b"")) if match else -1

    return {
        "arenas": number(rb"# arenas allocated current"),  # 1 MiB each on 3.10+
        "allocated_bytes": number(rb"# bytes in allocated blocks"),
    }


def sample() -> dict[str, Any]:
    status = _status()
    info = mallinfo()
    pymalloc = pymalloc_stats()
    heap, mapped = info.arena // _MIB, info.hblkhd // _MIB
    return {
        "kind": "sample",
        "anon": status["RssAnon"],
        "file": status["RssFile"],
        "glibc_heap": heap,
        "glibc_heap_used": info.uordblks // _MIB,
        "glibc_mapped": mapped,
        "pymalloc_arenas": pymalloc["arenas"],
        "other_anon": status["RssAnon"] - heap - mapped - pymalloc["arenas"],
    }


def _sampler(out: TextIO, every: float, lock: threading.Lock) -> None:
    started = time.monotonic()
    while True:
        row = sample()
        row["t"] = round(time.monotonic() - started, 2)
        with lock:
            out.write(orjson.dumps(row).decode() + "\n")
            out.flush()
        time.sleep(every)


_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def deep_size(roots: Iterable[Any], seen: set[int]) -> tuple[int, int]:
    """Bytes (``sys.getsizeof``) and count of objects reachable from ``roots``, not in ``seen``.

    Shared ``seen`` sets make successive calls count each object once, for
    the first root set that reaches it. Types, modules and code are not
    followed (they would pull in the whole program).
    """
    total = count = 0
    stack = list(roots)
    while stack:
        item = stack.pop()
        key = id(item)
        if key in seen or item is seen or isinstance(item, _OPAQUE):
            continue
        seen.add(key)
        total += sys.getsizeof(item)
        count += 1
        stack.extend(gc.get_referents(item))
    return total, count


def census(processor: Any, alerts: Iterable[Any]) -> dict[str, Any]:
    """What the partition states and the alert stage hold, by part: MiB and objects.

    The allocator figures are read first: the walk's own bookkeeping (a set
    of millions of ids) would otherwise be counted as the worker's.
    """
    info = mallinfo()
    pymalloc = pymalloc_stats()
    figures = {
        **_status(),
        "pymalloc_arenas_mib": pymalloc["arenas"],
        "pymalloc_allocated_mib": round(pymalloc["allocated_bytes"] / _MIB, 1),
        "glibc_heap_mib": info.arena // _MIB,
        "glibc_heap_used_mib": info.uordblks // _MIB,
        "glibc_heap_free_mib": info.fordblks // _MIB,
        "glibc_mapped_mib": info.hblkhd // _MIB,
    }
    seen: set[int] = set()
    states = list(processor.states.values())
    parts: dict[str, dict[str, float]] = {}

    def add(name: str, roots: Iterable[Any]) -> None:
        size, count = deep_size(roots, seen)
        parts[name] = {"mib": round(size / _MIB, 1), "objects": count}

    for name in (
        "marks.seen",
        "marks.by_minute",
        "store.windows",
        "store.open_by_minute",
        "store.packed",
        "store.errors",
        "entities.records",
        "entities.by_minute",
        "entities.dims_of",
        "pending_tasks",
        "pending_audits",
    ):
        add(f"state.{name}", [attrgetter(name)(state) for state in states])
    add("state.other", states)
    for runtime in alerts:
        add("alerts.evaluator", [runtime.stage.evaluator])
        add("alerts.stage_other", [runtime.stage])
    return {"kind": "census", **figures, "parts": parts}


def _install_census(out: TextIO, at: int, lock: threading.Lock) -> None:
    """Take the census once, in the event loop, after ``at`` input messages."""
    # The worker's modules load here, after ``malloc.tune()`` in ``main``, as in the worker.
    from streams import processor as module
    from streams.alert_stage import AlertRuntime

    original = module.Processor.process
    done = [0, False]

    async def process(self: Any, messages: Any) -> None:
        await original(self, messages)
        done[0] += len(messages)
        if not done[1] and done[0] >= at:
            done[1] = True
            gc.unfreeze()  # start-up objects are frozen; the alert runtime is among them
            alerts = [o for o in gc.get_objects() if isinstance(o, AlertRuntime)]
            row = {**census(self, alerts), "messages": done[0]}
            with lock:
                out.write(orjson.dumps(row).decode() + "\n")
                out.flush()

    module.Processor.process = process  # type: ignore[method-assign]


def main() -> int:
    # Not at the top: nothing of the worker loads before the probe starts.
    from streams import malloc

    malloc.tune()  # as the worker does, before this module's thread allocates
    out = open(os.environ["PROBE_OUT"], "w")  # noqa: SIM115  (lives as long as the process)
    lock = threading.Lock()
    at = int(os.environ.get("PROBE_CENSUS_AT", "0"))
    if at > 0:
        _install_census(out, at, lock)
    every = float(os.environ.get("PROBE_EVERY", "0.5"))
    threading.Thread(target=_sampler, args=(out, every, lock), daemon=True).start()
    # Here, not at the top: the worker's modules load after malloc.tune(), as in the worker.
    from annotel.cli import main as worker_main

    return worker_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
