"""Who holds an embedded ClickHouse directory, and waiting until nobody does.

Why a module of its own: chDB opens a data directory in one process at a
time, and cannot be initialised again in a process where one open failed.
Every opener (the engine process, a command reading the directory, the
ClickHouse client factory choosing between them) must therefore look at the
engine's lock before it opens, and wait or say who holds it, instead of
trying.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any

import clickhouse_connect

log = logging.getLogger(__name__)


class EngineDirectoryBusy(TimeoutError):
    """Another process holds the embedded ClickHouse directory."""


def held(path: Path) -> bool:
    """Whether another open file holds the engine's lock on ``<path>/status`` (not waiting).

    The file is opened read-only (``flock`` needs no write access) and a
    directory the engine never opened has none: it is not held.
    """
    try:
        fd = os.open(path / "status", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def wait_for_engine_directory(path: Path, timeout: float) -> None:
    """Wait until no process holds the engine's lock on ``path``.

    ClickHouse takes an exclusive ``flock`` on ``<path>/status``. chDB cannot
    be initialised again in a process where opening failed once, so an open
    that would fail on the lock must not be tried: the caller waits for the
    holder (often an engine process finishing after its worker died) or gets
    an error that names the directory.
    """
    if not held(path):
        return
    log.info(
        "embedded ClickHouse directory held by another process; waiting",
        extra={"directory": str(path), "timeout_s": timeout},
    )
    deadline = time.monotonic() + timeout
    while held(path):
        if time.monotonic() > deadline:
            raise EngineDirectoryBusy(
                f"the embedded ClickHouse directory {path} is held by another process "
                f"(a running worker, `annotel demo`, or their engine process) after "
                f"{timeout:g} s; stop it, or run against a ClickHouse server "
                "(ANNOTEL_CLICKHOUSE_URL)"
            )
        time.sleep(0.1)


def open_when_free(dsn: str, timeout: float) -> Any:
    """clickhouse-connect's chDB client of ``chdb://path``, in this process, once it is free.

    Waits up to ``timeout`` seconds for another process to let go of the
    directory (``wait_for_engine_directory``), then loads the engine here.
    """
    path = Path(dsn[len("chdb://") :])
    path.mkdir(parents=True, exist_ok=True)
    wait_for_engine_directory(path, timeout)
    return clickhouse_connect.get_client(dsn=dsn)
