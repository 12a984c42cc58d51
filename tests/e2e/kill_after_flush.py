"""Run ``annotel`` but SIGKILL the process right after its Nth ClickHouse write returns.

The worst instant for consistency: rows are durable in ClickHouse, the
checkpoint record that covers them is not written, offsets are not committed.
Test-only fault injection around the real worker; nothing in the product knows.
"""

from __future__ import annotations

import os
import signal

from tests.e2e.write_faults import on_nth_write, run_cli

if __name__ == "__main__":
    on_nth_write(
        int(os.environ["KILL_AFTER_WRITES"]),
        lambda: os.kill(os.getpid(), signal.SIGKILL),
        stored=True,
    )
    run_cli()
