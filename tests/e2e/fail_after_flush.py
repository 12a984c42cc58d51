"""Run ``annotel`` but make its Nth ClickHouse checkpoint write raise instead of writing.

A write that fails for good (not one the writer retries): the checkpoint it
belongs to is lost, its changes already taken out of the in-memory state.
The worker must exit, and a restart must replay from the last checkpoint
record that landed. Before raising, the wrapper prints ``MARK`` and the
wall-clock time to the real standard error, for the test to time the exit.
Test-only fault injection around the real worker; nothing in the product knows.
"""

from __future__ import annotations

import os
import sys
import time

from clickhouse_connect.driver.exceptions import DatabaseError

from tests.e2e.write_faults import on_nth_write, run_cli

MARK = "injected checkpoint write failure at "


def _fail() -> None:
    # sys.__stderr__: the worker redirects sys.stderr into its logger.
    print(f"{MARK}{time.time():.3f}", file=sys.__stderr__, flush=True)
    raise DatabaseError("injected: the ClickHouse write failed")


if __name__ == "__main__":
    on_nth_write(int(os.environ["FAIL_AFTER_WRITES"]), _fail, stored=False)
    run_cli()
