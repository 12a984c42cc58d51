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
request at a time, in the messages of ``embedded.wire`` (JSON headers, no
pickle). Rows travel both ways as ClickHouse Native bytes that the worker
encodes (inserts) and decodes (query results) with clickhouse-connect's own
codec, as for a server. When the worker dies, however it dies, the child
reads end-of-file and exits; a new worker's child waits until the old one
has let go of the directory. The child also
answers read-only queries of other commands while the worker runs
(``embedded.engine_reader``). A child that dies or hangs makes the
call fail: the writer's retry loop reconnects, which starts a new child.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver import options
from clickhouse_connect.driver.summary import QuerySummary

from embedded.channel import ChdbProcessError, EngineChannel, Handler, serve_requests
from embedded.engine_handle import engine_timezone, open_handle, run_native
from embedded.engine_lock import open_when_free
from embedded.engine_reader import serve_readers
from embedded.wire import ProtocolError, Wire, error_reply, native_block, params_field, text_field

# Longest a request may take before the child is presumed hung (clickhouse-connect's
# own default send/receive timeout is 300 s).
REQUEST_TIMEOUT_S = 300.0
# How long a new child keeps trying to open a directory a previous owner still holds.
OPEN_TIMEOUT_S = 60.0


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
    if "pandas" not in sys.modules:
        options.pd = None
        options.pd_time_test = None
    if "numpy" not in sys.modules:
        options.np = None
    if "pyarrow" not in sys.modules:
        options.arrow = None


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
        query may run there (``embedded.engine_reader.READER_TIME_LIMIT_S``)."""
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
        argv = [sys.executable, "-m", "embedded.chdb_process", str(child.fileno()), dsn]
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


def _serve(wire: Wire, dsn: str, reader_time_limit_s: float | None) -> None:
    try:
        # A worker killed a moment ago may leave its engine process finishing
        # its last request: wait for it to let go of the directory.
        client = open_when_free(dsn, OPEN_TIMEOUT_S)
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


def main(argv: Sequence[str]) -> int:
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
