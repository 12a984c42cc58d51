"""Test-only fault injection around the real worker's ClickHouse writes.

The wrappers (``kill_after_flush``, ``fail_after_flush``) patch
``ClickHouseWriter.write`` in their own process and then run the real
``annotel`` command line: nothing in the product knows. Only checkpoint
writes count (those carrying ``metrics_1m`` rows), not the dead-letter
agent's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from sinks import writer

Batches = Mapping[str, Sequence[Sequence[Any]]]


def on_nth_write(limit: int, fault: Callable[[], None], *, stored: bool) -> None:
    """Call ``fault`` at the ``limit``-th checkpoint write and every later one.

    ``stored``: the write's rows land in ClickHouse before the fault (the
    worst instant for a crash); otherwise the fault replaces the write.
    """
    real_write = writer.ClickHouseWriter.write
    writes = [0]

    def write(self: Any, batches: Batches, **options: Any) -> Any:
        counts = bool(batches.get("metrics_1m"))
        if counts:
            writes[0] += 1
        faulty = counts and writes[0] >= limit
        refused = []
        if stored or not faulty:
            refused = real_write(self, batches, **options)
        if faulty:
            fault()
        return refused

    writer.ClickHouseWriter.write = write  # type: ignore[method-assign]


def run_cli() -> NoReturn:
    from annotel.cli import main

    sys.exit(main(sys.argv[1:]))
