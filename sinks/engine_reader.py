"""Read-only queries into the engine process of a running worker.

Why: chDB opens a data directory in one process at a time. While a worker
runs, its engine process (``sinks.chdb_process``) holds the directory, so
``annotel top``, ``annotel report`` and ``annotel alerts list`` could not read
it until the worker stopped. The engine process therefore also listens on a
Unix socket; a command that finds the directory held sends its queries there.

- Only this user reaches the socket: it lives in ``$TMPDIR/annotel-<uid>/``,
  a directory of mode 0700 that both sides check is theirs before use (the
  replies are pickled, as on the worker's own channel).
- Only reads pass: every query runs with ClickHouse's ``readonly=1``, which
  refuses INSERT, DDL and a change of the setting itself, also in a second
  statement after a ``;`` (tested). It guards against accidents, not against
  this same user, who could open the directory anyway once the worker stops.
- The socket lives where ``$TMPDIR`` points: a worker and a command started
  with different ``TMPDIR`` values do not find each other (the command then
  says the directory is held).
- The worker is not slowed by a reader beyond the query itself: each reader
  has its own thread and engine handle in the engine process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

from sinks.chdb_process import ChdbProcessError, EngineChannel, query_handler, serve_requests

READ_ONLY = {"readonly": 1}
# How long a reader waits for the engine process to accept it and open its handle.
ATTACH_TIMEOUT_S = 10.0
# Longest a read may take (a report over months of minutes is a few seconds).
READ_TIMEOUT_S = 300.0
# How long a stopping engine process lets readers finish the query they are running.
READER_STOP_TIMEOUT_S = 10.0


class UnsafeSocketDirectory(RuntimeError):
    """The socket directory exists but is not private to this user."""


def _socket_dir(create: bool) -> Path | None:
    base = Path(tempfile.gettempdir()) / f"annotel-{os.getuid()}"
    if create:
        base.mkdir(mode=0o700, exist_ok=True)
    try:
        info = os.lstat(base)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UnsafeSocketDirectory(
            f"{base} is not a directory private to this user (mode 0700); remove it"
        )
    return base


def socket_path(directory: Path, *, create: bool = False) -> Path | None:
    """Where the engine process holding ``directory`` listens (a short path for any directory)."""
    base = _socket_dir(create)
    if base is None:
        return None
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    return base / f"chdb-{digest}.sock"


def serve_readers(dsn: str) -> Callable[[], None]:
    """Listen for readers of the engine this process holds; returns the function that stops.

    Runs in the engine process after it has opened the directory, so the socket
    belongs to the lock's holder: a socket left by a killed predecessor is replaced.
    A failure here leaves the worker's own channel untouched: readers then get the
    "directory is held" error instead.
    """
    import clickhouse_connect

    try:
        path = socket_path(Path(dsn[len("chdb://") :]), create=True)
        assert path is not None
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(8)
    except Exception as exc:
        print(f"annotel engine: no read-only socket: {exc}", file=sys.stderr)
        return lambda: None

    stopping = threading.Event()
    readers: dict[threading.Thread, socket.socket] = {}
    guard = threading.Lock()

    def answer(sock: socket.socket) -> None:
        # The Connection reads a duplicate descriptor; ``sock`` stays for stop()'s shutdown.
        conn = Connection(os.dup(sock.fileno()))
        client = None
        try:
            if stopping.is_set():
                return
            # A handle of its own on the engine this process already holds (no lock wait).
            client = clickhouse_connect.get_client(dsn=dsn)
            conn.send(("ok", None))
            serve_requests(conn, {"query": query_handler(client, READ_ONLY)})
        except Exception as exc:
            with contextlib.suppress(Exception):
                conn.send(("error", type(exc).__name__, str(exc)))
        finally:
            if client is not None:
                client.close()
            conn.close()
            sock.close()
            with guard:
                readers.pop(threading.current_thread(), None)

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # stopped
            thread = threading.Thread(target=answer, args=(sock,), daemon=True)
            with guard:
                if stopping.is_set():
                    sock.close()
                    return
                readers[thread] = sock
            thread.start()

    threading.Thread(target=accept, name="engine-readers", daemon=True).start()

    def stop() -> None:
        """Let readers finish their current query, then end their connections.

        The engine must not be closed, nor the process end, while a reader's
        query runs inside it: measured, that can end the process with SIGSEGV.
        """
        stopping.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        with contextlib.suppress(OSError):
            path.unlink()
        with guard:
            current = dict(readers)
        for sock in current.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # the reader's next recv or send fails
        deadline = time.monotonic() + READER_STOP_TIMEOUT_S
        for thread in current:
            thread.join(max(0.0, deadline - time.monotonic()))

    return stop


class EngineReader(EngineChannel):
    """Read-only queries, run by the engine process that holds a directory."""

    def __init__(self, conn: Connection, request_timeout: float = READ_TIMEOUT_S):
        self._conn = conn
        self._lock = threading.Lock()
        self.request_timeout = request_timeout
        self._receive(timeout=ATTACH_TIMEOUT_S)  # the engine process's "ok"

    @classmethod
    def attach(cls, directory: Path) -> EngineReader | None:
        """A reader of ``directory`` if a running engine process serves it, else None."""
        path = socket_path(directory)
        if path is None or not path.exists():
            return None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(ATTACH_TIMEOUT_S)
            sock.connect(str(path))
            sock.settimeout(None)
        except OSError:
            sock.close()
            return None  # a socket left by an engine process that is gone
        try:
            return cls(Connection(sock.detach()))
        except ChdbProcessError:
            return None

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> NoReturn:
        raise ChdbProcessError(
            "a reader of a running worker's engine runs queries only; stop the worker to change "
            "the database"
        )
