"""Opening ClickHouse read-only for ``annotel report``, ``annotel top`` and ``annotel alerts list``.

The three commands read the same database the same way: ``--data-dir DIR``
(the embedded chDB of a demo or a worker) or else the settings
(``ANNOTEL_CLICKHOUSE_URL``, else ``ANNOTEL_DATA_DIR``). Every failure is one
line on stderr naming the target by its redacted form only: a DSN and a
client's error text may both carry a password.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from annotel import config
from reports.period import PeriodError
from reports.queries import NotAnnotelDatabase
from schemas.redact import describe_error, redact
from sinks.client import EngineDirectoryBusy, connect
from sinks.server_url import TlsFiles


class ReadFailure(Exception):
    """A failure the command reports in one line, with its exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def data_dir_dsn(data_dir: str) -> str:
    """The embedded database of a data directory, as the worker and the demo lay it out."""
    return "chdb://" + str((Path(data_dir) / "clickhouse").resolve())


def add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="read the embedded ClickHouse under DIR (default: ANNOTEL_CLICKHOUSE_URL, "
        "else ANNOTEL_DATA_DIR)",
    )


def source_dsn(args: argparse.Namespace) -> str:
    """``--data-dir``'s database, or the configured one (settings read only then)."""
    return data_dir_dsn(args.data_dir) if args.data_dir else config.settings().clickhouse_dsn()


def source_tls(args: argparse.Namespace) -> TlsFiles | None:
    """The CA and client certificate files for an ``https://`` server (none for a data dir)."""
    return None if args.data_dir else config.settings().clickhouse_tls()


def _connect(dsn: str, tls: TlsFiles | None) -> Any:
    """A client, or a failure that names the target by its redacted form only."""
    if dsn.startswith("chdb://"):
        path = Path(dsn[len("chdb://") :])
        if not path.is_dir():
            raise ReadFailure(
                f"no database at {path}: nothing has been written there yet "
                "(run `annotel demo` or the worker, or pass --data-dir)"
            )
    try:
        return connect(dsn, read_only=True, tls=tls)
    except EngineDirectoryBusy as exc:
        raise ReadFailure(f"cannot open: {exc}") from None
    except Exception as exc:
        # The lock can also be taken between the wait and chDB's own open.
        if dsn.startswith("chdb://") and "EmbeddedServer" in str(exc):
            raise ReadFailure(
                f"cannot open {dsn[len('chdb://') :]}: the embedded ClickHouse opens a data "
                "directory in one process at a time, and another one (a running worker or "
                "`annotel demo`) may hold it. Stop it, or run against a ClickHouse server "
                "(ANNOTEL_CLICKHOUSE_URL)."
            ) from None
        raise ReadFailure(f"{redact(dsn)}: {describe_error(exc)}") from None


def run_read(name: str, dsn: str, work: Callable[[Any], int], tls: TlsFiles | None = None) -> int:
    """``work(client)`` on a read-only client, closed after; every failure an exit status."""
    try:
        client = _connect(dsn, tls)
        try:
            return work(client)
        finally:
            client.close()
    except ReadFailure as exc:
        print(f"annotel {name}: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        # The reader went away (``annotel alerts list | head``): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except PeriodError as exc:
        print(f"annotel {name}: {exc}", file=sys.stderr)
        return 2
    except NotAnnotelDatabase as exc:
        print(f"annotel {name}: {redact(dsn)}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # Never the raw DSN or the raw error text: either may carry a password.
        print(f"annotel {name}: {redact(dsn)}: {describe_error(exc)}", file=sys.stderr)
        return 1
