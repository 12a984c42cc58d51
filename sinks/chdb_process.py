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
request at a time, in the messages of ``sinks.engine_wire`` (JSON headers, no
pickle). Rows travel both ways as ClickHouse Native bytes that the worker
encodes (inserts) and decodes (query results) with clickhouse-connect's own
codec, as for a server. When the worker dies, however it dies, the child
reads end-of-file and exits; a new worker's child waits until the old one
has let go of the directory. The child also
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import orjson
from clickhouse_connect.driver.summary import QuerySummary

from sinks.engine_wire import (
    EngineZone,
    ProtocolError,
    Wire,
    decode_native,
    engine_error_text,
    error_reply,
    params_field,
    query_request,
    text_field,
)

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
    read-only clients of a running one (``sinks.engine_reader``). Both speak
    ``sinks.engine_wire``: JSON headers and Native bodies, no pickle. A query
    is bound and its result decoded here, by clickhouse-connect, as for a
    server; the engine process only runs it.
    """

    _wire: Wire
    _lock: threading.Lock
    _zone: EngineZone
    request_timeout: float

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        request, context = query_request(sql, parameters, self._zone)
        _, body = self._call(request)
        if body is None:
            raise ChdbProcessError("the chDB process answered a query without its result")
        rows, names = decode_native(body, context)
        return QueryResult(rows, names)

    def close(self) -> None:
        """Tell the serving side this client is done; idempotent."""
        with self._lock:
            if not self._wire.closed:
                with contextlib.suppress(OSError):
                    self._wire.send({"op": "close"})
                self._wire.close()

    def _hello(self, timeout: float) -> None:
        """The serving side's first message: ready, and the engine's time zone."""
        value, _ = self._receive(timeout)
        zone = value.get("timezone") if isinstance(value, dict) else None
        self._zone = EngineZone.named(zone if isinstance(zone, str) else "UTC")

    def _call(
        self, request: Mapping[str, Any], body: bytes | bytearray | None = None
    ) -> tuple[Any, bytes | None]:
        """One request (with its body, if any) and its reply."""
        with self._lock:
            if self._wire.closed:
                raise ChdbProcessError("the chDB process client is closed")
            try:
                self._wire.send(request, body)
            except OSError as exc:
                self._gone(answered=True, detail=f" ({exc.strerror or exc})")
            return self._receive(timeout=self.request_timeout)

    def _receive(self, timeout: float) -> tuple[Any, bytes | None]:
        try:
            if not self._wire.poll(timeout):
                self._gone(answered=False)
            header, body = self._wire.receive()
        except (EOFError, OSError):
            self._gone(answered=True)
        except ProtocolError as exc:
            self._gone(answered=True, detail=f" ({exc})")
        if "error" in header:
            raise ChdbProcessError(f"{header['error']}: {header.get('message', '')}")
        return header.get("ok"), body

    def _gone(self, *, answered: bool, detail: str = "") -> NoReturn:
        self._wire.close()
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
        reader_time_limit_s: float | None = None,
    ):
        """Start the engine process; ``reader_time_limit_s`` overrides how long a reader's
        query may run there (``sinks.engine_reader.READER_TIME_LIMIT_S``)."""
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
        argv = [sys.executable, "-m", "sinks.chdb_process", str(child.fileno()), dsn]
        if reader_time_limit_s is not None:
            argv.append(repr(float(reader_time_limit_s)))
        try:
            self.process = subprocess.Popen(
                argv,
                pass_fds=[child.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                # Out of the terminal's process group: Ctrl-C stops the worker,
                # which then closes this process after its last write.
                start_new_session=True,
            )
        finally:
            child.close()
        self._wire = Wire(parent.detach())
        try:
            self._hello(timeout=open_timeout + 30.0)  # the child's "ready"
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """A statement run by the engine process (DDL, migrations): str, int, list or summary.

        It takes no parameters: values travel as data only in queries and
        inserts, and no caller binds values into a command.
        """
        if parameters:
            raise ChdbProcessError(
                "a command to the chDB process takes no parameters; bind values in a query"
            )
        value, _ = self._call({"op": "command", "sql": sql})
        if isinstance(value, dict) and isinstance(value.get("summary"), dict):
            return QuerySummary(value["summary"])
        return value.get("value") if isinstance(value, dict) else value

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
        self._call({"op": "insert_native", "table": table, "columns": list(column_names)}, body)

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
        self._wire.close()
        if not answered:
            what = "did not answer"
        elif status is None:
            what = "closed its connection"
        else:
            what = f"exited with status {status}"
        raise ChdbProcessError(f"the chDB process {what}{detail}")


# A request's header and body; the reply's value (JSON) and body (Native bytes), if any.
Handler = Callable[[dict[str, Any], bytes | None], tuple[Any, bytes | None]]


class DatabaseError(RuntimeError):
    """An error of the engine, with ClickHouse's text (named as clickhouse-connect names it)."""


def run_native(handle: Any, sql: str, params: Mapping[str, str]) -> bytes:
    """Run a query on a chDB connection handle; its result in ClickHouse's Native format.

    The parameters are already bound as text by the client (``sinks.engine_wire``).
    """
    try:
        result = handle.query(f"{sql}\n FORMAT Native", "Native", params=dict(params))
    except Exception as exc:
        raise DatabaseError(engine_error_text(exc)) from None
    data: bytes = result.bytes()
    return data


def query_rows(handle: Any, sql: str, params: Mapping[str, str]) -> list[list[Any]]:
    """The rows of a small query of the engine process's own, as JSON values."""
    try:
        result = handle.query(sql, "JSONCompact", params=dict(params))
    except Exception as exc:
        raise DatabaseError(engine_error_text(exc)) from None
    rows: list[list[Any]] = orjson.loads(result.bytes())["data"]
    return rows


def engine_timezone(handle: Any) -> str:
    """The engine's time zone, sent to each client so that it decodes as for a server."""
    return str(query_rows(handle, "SELECT timezone()", {})[0][0])


def serve_requests(
    wire: Wire, handlers: Mapping[str, Handler], *, max_body: int | None = None
) -> None:
    """Answer requests one at a time until the peer closes the socket or asks to close.

    An error of a request goes back to the caller, with ClickHouse's text, and
    the loop carries on: one bad query does not end the engine process. A
    message that is not one of ours gets an error and ends this channel (the
    peer does not speak the protocol, and the stream may be out of step).
    ``max_body=0`` refuses requests that carry a body.
    """
    while True:
        try:
            header, body = wire.receive(max_body)
        except (EOFError, OSError):
            return  # the peer is gone (also between a request and its body)
        except ProtocolError as exc:
            with contextlib.suppress(OSError):
                wire.send(error_reply(exc))
            return
        op = header.get("op")
        if op == "close":
            return
        reply: dict[str, Any]
        payload: bytes | None = None
        try:
            handler = handlers.get(op) if isinstance(op, str) else None
            if handler is None:
                raise ProtocolError(f"unknown request {op!r}")
            value, payload = handler(header, body)
            reply = {"ok": value}
        except Exception as exc:
            reply, payload = error_reply(exc), None
        try:
            wire.send(reply, payload)
        except OSError:
            return


def _worker_handlers(client: Any, handle: Any) -> dict[str, Handler]:
    """The worker's requests: statements and inserts through clickhouse-connect's engine
    client, queries on a chDB handle of their own (their parameters arrive bound)."""

    def command(header: dict[str, Any], body: bytes | None) -> tuple[Any, None]:
        result = client.command(text_field(header, "sql"))
        if isinstance(result, QuerySummary):
            return {"summary": dict(result.summary)}, None
        return {"value": list(result) if isinstance(result, tuple) else result}, None

    def query(header: dict[str, Any], body: bytes | None) -> tuple[None, bytes]:
        return None, run_native(handle, text_field(header, "sql"), params_field(header))

    def insert_native(header: dict[str, Any], body: bytes | None) -> tuple[None, None]:
        columns = header.get("columns")
        if body is None or not isinstance(columns, list):
            raise ProtocolError("an insert names its columns and carries its rows as the body")
        client.raw_insert(text_field(header, "table"), columns, body, fmt="Native")
        return None, None

    return {"command": command, "query": query, "insert_native": insert_native}


def open_handle(dsn: str) -> Any:
    """A chDB connection handle of its own on the engine this process holds (chDB allows
    many handles on one directory; each has its own settings)."""
    # The engine library (some 230 MB mapped) loads in the engine process only, never in
    # the worker or in a reader's process, which import this module for its clients.
    import chdb

    connect: Callable[[str], Any] = chdb.connect  # untyped in chdb
    return connect(engine_path(dsn))


def _serve(wire: Wire, dsn: str, reader_time_limit_s: float | None) -> None:
    from sinks.clickhouse import connect
    from sinks.engine_reader import serve_readers

    try:
        # A worker killed a moment ago may leave its engine process finishing
        # its last request: wait for it to let go of the directory.
        client = connect(dsn, open_timeout=OPEN_TIMEOUT_S)
    except Exception as exc:
        wire.send(error_reply(exc))
        return
    try:
        handle = open_handle(dsn)
        zone = engine_timezone(handle)
    except Exception as exc:
        client.close()
        wire.send(error_reply(exc))
        return
    # Readers can attach once the worker hears "ok": the socket is bound first.
    stop_readers = serve_readers(dsn, time_limit_s=reader_time_limit_s)
    wire.send({"ok": {"timezone": zone}})
    try:
        serve_requests(wire, _worker_handlers(client, handle))
    finally:
        stop_readers()
        handle.close()
        client.close()


def engine_path(dsn: str) -> str:
    """The directory as chDB's connection string names it (clickhouse-connect resolves it the
    same way: chDB compares the strings, and one process may open one directory)."""
    return os.path.realpath(dsn[len("chdb://") :])


def main(argv: Sequence[str]) -> int:
    import signal

    # The worker decides when this process ends (by closing the socket).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, dsn = int(argv[0]), argv[1]
    reader_time_limit_s = float(argv[2]) if len(argv) > 2 else None
    wire = Wire(fd)
    try:
        _serve(wire, dsn, reader_time_limit_s)
    finally:
        wire.close()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # The engine is closed and the directory written: end here, without the
    # interpreter's teardown, which a reader thread still inside chDB (past
    # READER_STOP_TIMEOUT_S) could crash.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
