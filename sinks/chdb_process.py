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
child waits until the old one has let go of the directory. The child also
answers read-only queries of other commands while the worker runs
(``sinks.engine_reader``). A child that dies or hangs makes the
call fail: the writer's retry loop reconnects, which starts a new child.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
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
    column_names: tuple[str, ...] = ()


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


class EngineChannel:
    """Requests to a process that serves chDB, one at a time, over a local socket.

    Shared by the worker's client of its own engine process and by the
    read-only clients of a running one (``sinks.engine_reader``).
    """

    _conn: Connection
    _lock: threading.Lock
    request_timeout: float

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        names, rows = self._call("query", sql, parameters)
        return QueryResult(rows, tuple(names))

    def close(self) -> None:
        """Tell the serving side this client is done; idempotent."""
        with self._lock:
            if not self._conn.closed:
                with contextlib.suppress(OSError):
                    self._conn.send(("close",))
                self._conn.close()

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
        self._conn.close()
        what = "closed the connection" if answered else "did not answer"
        raise ChdbProcessError(f"the chDB process {what}{detail}")


class ChdbProcessClient(EngineChannel):
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

    def create_insert_context(self, table: str, column_names: Sequence[str]) -> InsertTypes:
        from clickhouse_connect.datatypes.registry import get_from_name

        described = dict(
            self.query(
                "SELECT name, type FROM system.columns "
                "WHERE database = currentDatabase() AND table = {table:String}",
                {"table": table},
            ).result_rows
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
        super().close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

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


class _PeerGone(Exception):
    """The other end closed the socket in the middle of a request."""


Handler = Callable[[Connection, tuple[Any, ...]], Any]


def query_handler(client: Any, settings: dict[str, Any] | None = None) -> Handler:
    """A ``query`` request: column names and rows, as ``EngineChannel.query`` expects."""

    def run(conn: Connection, args: tuple[Any, ...]) -> Any:
        result = client.query(args[0], parameters=args[1], settings=settings)
        return list(result.column_names), result.result_rows

    return run


def serve_requests(conn: Connection, handlers: dict[str, Handler]) -> None:
    """Answer requests one at a time until the peer closes the socket or asks to close.

    An error of a request goes back to the caller, with ClickHouse's text, and
    the loop carries on: one bad query does not end the engine process.
    """
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the peer is gone
        except Exception:
            return  # not a request of ours (unpickling failed): end this channel, not the process
        op = request[0]
        if op == "close":
            return
        reply: tuple[Any, ...]
        try:
            handler = handlers.get(op)
            if handler is None:
                raise ValueError(f"unknown request {op!r}")
            reply = ("ok", handler(conn, tuple(request[1:])))
        except _PeerGone:
            return
        except Exception as exc:
            reply = ("error", type(exc).__name__, str(exc))
        try:
            conn.send(reply)
        except OSError:
            return


def _worker_handlers(client: Any) -> dict[str, Handler]:
    def command(conn: Connection, args: tuple[Any, ...]) -> Any:
        return client.command(args[0], parameters=args[1])

    def insert_native(conn: Connection, args: tuple[Any, ...]) -> None:
        table, names = args
        try:
            body = conn.recv_bytes()  # sent right after the request
        except (EOFError, OSError):
            raise _PeerGone from None  # the worker is gone between the two messages
        client.raw_insert(table, names, body, fmt="Native")

    return {"command": command, "query": query_handler(client), "insert_native": insert_native}


def _serve(conn: Connection, dsn: str) -> None:
    from sinks.clickhouse import connect
    from sinks.engine_reader import serve_readers

    try:
        # A worker killed a moment ago may leave its engine process finishing
        # its last request: wait for it to let go of the directory.
        client = connect(dsn, open_timeout=OPEN_TIMEOUT_S)
    except Exception as exc:
        conn.send(("error", type(exc).__name__, str(exc)))
        return
    # Readers can attach once the worker hears "ok": the socket is bound first.
    stop_readers = serve_readers(dsn)
    conn.send(("ok", None))
    try:
        serve_requests(conn, _worker_handlers(client))
    finally:
        stop_readers()
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
    code = main(sys.argv[1:])
    # The engine is closed and the directory written: end here, without the
    # interpreter's teardown, which a reader thread still inside chDB (past
    # READER_STOP_TIMEOUT_S) could crash.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
