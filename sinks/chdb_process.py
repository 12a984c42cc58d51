"""Embedded ClickHouse (chDB) in a process of its own, behind the client calls the writer uses.

Why a process: chDB is the whole ClickHouse engine as a library. Loaded into
the worker it costs the worker about 330 MB (some 230 MB of the engine's
mapped library and about 100 MB of its own allocator) and its inserts share
the worker's interpreter. In production the worker talks to a ClickHouse
server, which is another process anyway; running the embedded engine in a
child process gives the laptop stack the same shape: the worker's memory is
the stream's memory, and chDB's work runs on the other core.

The child owns the data directory (chDB allows one process per directory) and
answers ``command``, ``query`` and ``insert`` over a local socket pair, one
request at a time. Inserts travel as ClickHouse Native bytes that the worker
encodes with clickhouse-connect's own codec, as for a server. When the worker
dies, however it dies, the child reads end-of-file and exits; a new worker's
child waits until the old one has let go of the directory. A child that dies or hangs makes the
call fail: the writer's retry loop reconnects, which starts a new child.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

# Longest a request may take before the child is presumed hung (clickhouse-connect's
# own default send/receive timeout is 300 s).
REQUEST_TIMEOUT_S = 300.0
# How long a new child keeps trying to open a directory a previous owner still holds.
OPEN_TIMEOUT_S = 60.0


class ChdbProcessError(RuntimeError):
    """An error raised in the chDB process, or the process being gone."""


@dataclass(frozen=True)
class QueryResult:
    """The part of clickhouse-connect's ``QueryResult`` that callers here read."""

    result_rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class InsertTypes:
    """What ``create_insert_context`` returns here: the table's column types, in order."""

    column_types: list[Any]


def _encode_lists_only() -> None:
    """Keep clickhouse-connect from importing pandas, numpy and pyarrow into the worker.

    Its insert context probes whether the data is a pandas DataFrame or a numpy
    array, and the probe imports pandas, which imports numpy and pyarrow:
    measured 45 MB of anonymous memory and 40-76 MB of mapped libraries, to
    learn that a list is not a DataFrame. The worker passes only lists, so
    where neither library is loaded yet it tells clickhouse-connect they are
    absent, a configuration clickhouse-connect supports (both are optional).
    """
    from clickhouse_connect.driver import options

    if "pandas" not in sys.modules:
        options.pd = None
        options.pd_time_test = None
    if "numpy" not in sys.modules:
        options.np = None
    if "pyarrow" not in sys.modules:
        options.arrow = None


def native_block(
    table: str,
    column_names: Sequence[str],
    column_types: Sequence[Any],
    data: Sequence[Sequence[Any]],
    column_oriented: bool,
) -> bytearray:
    """The rows in ClickHouse's Native format, encoded as clickhouse-connect encodes an insert.

    The worker encodes (the same codec as an insert into a server) and the
    engine process only ingests the bytes: no Python objects cross the socket
    and the engine process does no Python work per row.
    """
    from datetime import UTC

    from clickhouse_connect.driver.insert import InsertContext
    from clickhouse_connect.driver.transform import NativeTransform

    context = InsertContext(
        table,
        list(column_names),
        list(column_types),
        data=data,
        column_oriented=column_oriented,
        server_tz=UTC,
    )
    out = bytearray()
    for number, chunk in enumerate(NativeTransform.build_insert(context)):
        if context.insert_exception is not None:
            raise context.insert_exception
        if number == 0:
            # The first chunk starts with the "INSERT INTO ... FORMAT Native" line an
            # HTTP body carries; the engine process names the table itself.
            chunk = chunk[chunk.index(b"\n") + 1 :]
        out += chunk
    if context.insert_exception is not None:
        raise context.insert_exception
    return out  # no copy into bytes: the socket and raw_insert take a bytearray


class ChdbProcessClient:
    """A clickhouse-connect-like client whose chDB engine runs in a child process."""

    def __init__(
        self,
        dsn: str,
        *,
        open_timeout: float = OPEN_TIMEOUT_S,
        request_timeout: float = REQUEST_TIMEOUT_S,
    ):
        if not dsn.startswith("chdb://"):
            raise ValueError("ChdbProcessClient serves chdb:// DSNs only")
        self.dsn = dsn
        self.request_timeout = request_timeout
        _encode_lists_only()
        self._lock = threading.Lock()
        parent, child = socket.socketpair()
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sinks.chdb_process", str(child.fileno()), dsn],
                pass_fds=[child.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                # Out of the terminal's process group: Ctrl-C stops the worker,
                # which then closes this process after its last write.
                start_new_session=True,
            )
        finally:
            child.close()
        self._conn = Connection(parent.detach())
        try:
            self._receive(timeout=open_timeout + 30.0)  # the child's "ready"
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        return self._call("command", sql, parameters)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        return QueryResult(self._call("query", sql, parameters))

    def create_insert_context(self, table: str, column_names: Sequence[str]) -> InsertTypes:
        from clickhouse_connect.datatypes.registry import get_from_name

        described = dict(
            self._call(
                "query",
                "SELECT name, type FROM system.columns "
                "WHERE database = currentDatabase() AND table = {table:String}",
                {"table": table},
            )
        )
        missing = [name for name in column_names if name not in described]
        if missing:
            raise ChdbProcessError(f"table {table!r} has no column(s) {', '.join(missing)}")
        return InsertTypes([get_from_name(described[name]) for name in column_names])

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        column_types: Sequence[Any] | None = None,
        column_oriented: bool = False,
    ) -> None:
        if column_types is None:
            column_types = self.create_insert_context(table, column_names).column_types
        body = native_block(table, column_names, column_types, data, column_oriented)
        self._call("insert_native", table, list(column_names), payload=body)

    def close(self) -> None:
        """Ask the child to close chDB and exit; kill it if it does not."""
        with self._lock:
            if not self._conn.closed:
                with contextlib.suppress(OSError):
                    self._conn.send(("close",))
                self._conn.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _call(self, op: str, *args: Any, payload: bytes | bytearray | None = None) -> Any:
        """One request and its reply; ``payload`` follows the request as a message of its own.

        An insert body goes as raw bytes (``send_bytes``) rather than inside the
        pickled request: pickling would copy it once in each process.
        """
        with self._lock:
            if self._conn.closed:
                raise ChdbProcessError("the chDB process client is closed")
            try:
                self._conn.send((op, *args))
                if payload is not None:
                    self._conn.send_bytes(payload)
            except OSError as exc:
                self._gone(answered=True, detail=f" ({exc.strerror or exc})")
            return self._receive(timeout=self.request_timeout)

    def _receive(self, timeout: float) -> Any:
        try:
            ready = self._conn.poll(timeout)
            reply = self._conn.recv() if ready else None
        except (EOFError, OSError):
            self._gone(answered=True)
        if reply is None:
            self._gone(answered=False)
        if reply[0] == "error":
            raise ChdbProcessError(f"{reply[1]}: {reply[2]}")
        return reply[1]

    def _gone(self, *, answered: bool, detail: str = "") -> NoReturn:
        """Close the connection and say how the child ended, whichever side noticed first.

        A write can meet the closed socket (EPIPE) before the child is reaped,
        so its exit status is waited for here: the caller learns "exited with
        status -9", not only "broken pipe". A child that did not answer in
        time is presumed hung and killed.
        """
        if not answered:
            self.process.kill()
        try:
            status: int | None = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        self._conn.close()
        if not answered:
            what = "did not answer"
        elif status is None:
            what = "closed its connection"
        else:
            what = f"exited with status {status}"
        raise ChdbProcessError(f"the chDB process {what}{detail}")


def _serve(conn: Connection, dsn: str) -> None:
    from sinks.clickhouse import connect

    try:
        # A worker killed a moment ago may leave its engine process finishing
        # its last request: wait for it to let go of the directory.
        client = connect(dsn, open_timeout=OPEN_TIMEOUT_S)
    except Exception as exc:
        conn.send(("error", type(exc).__name__, str(exc)))
        return
    conn.send(("ok", None))
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return  # the worker is gone
            op = request[0]
            if op == "close":
                return
            try:
                if op == "command":
                    result = client.command(request[1], parameters=request[2])
                elif op == "query":
                    result = client.query(request[1], parameters=request[2]).result_rows
                elif op == "insert_native":
                    table, names = request[1:]
                    try:
                        body = conn.recv_bytes()  # sent right after the request
                    except (EOFError, OSError):
                        return  # the worker is gone between the two messages
                    client.raw_insert(table, names, body, fmt="Native")
                    result = None
                else:
                    raise ValueError(f"unknown request {op!r}")
            except Exception as exc:
                conn.send(("error", type(exc).__name__, str(exc)))
            else:
                conn.send(("ok", result))
    finally:
        client.close()


def main(argv: Sequence[str]) -> int:
    import signal

    # The worker decides when this process ends (by closing the socket).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, dsn = int(argv[0]), argv[1]
    conn = Connection(fd)
    try:
        _serve(conn, dsn)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
