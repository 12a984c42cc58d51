"""Run ``annotel`` but SIGKILL the process right after its Nth ClickHouse write returns.

The worst instant for consistency: rows are durable in ClickHouse, the
checkpoint record that covers them is not written, offsets are not committed.
Test-only fault injection around the real worker; nothing in the product knows.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from sinks import clickhouse

_LIMIT = int(os.environ["KILL_AFTER_WRITES"])
_real_write = clickhouse.ClickHouseWriter.write
_writes = [0]


def _write_then_die(self: Any, batches: Mapping[str, Sequence[Sequence[Any]]]) -> None:
    _real_write(self, batches)
    if batches.get("metrics_1m"):
        _writes[0] += 1
        if _writes[0] >= _LIMIT:
            os.kill(os.getpid(), signal.SIGKILL)


clickhouse.ClickHouseWriter.write = _write_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    from streams.cli import main

    sys.exit(main(sys.argv[1:]))
