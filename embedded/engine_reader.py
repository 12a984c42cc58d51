"""Read-only queries into the engine process of a running worker.

Why: chDB opens a data directory in one process at a time. While a worker
runs, its engine process (``embedded.chdb_process``) holds the directory, so
``annotel top``, ``annotel report`` and ``annotel alerts list`` could not read
it until the worker stopped. The engine process therefore also listens on a
Unix socket; a command that finds the directory held sends its queries there.

- Only this user reaches the socket: it lives in ``$TMPDIR/annotel-<uid>/``,
  a directory of mode 0700 that both sides check is theirs before use, and
  the engine process asks the kernel for each peer's uid (``SO_PEERCRED``)
  and serves only its own: a process of another uid gets an error and the
  connection ends before anything else is read.
- Requests and replies are data (``embedded.wire``: JSON headers, query
  results in ClickHouse's Native format), never pickle: a peer cannot make
  the engine process run code, and a message that is not ours ends its
  channel.
- Only reads pass: ``embedded.reader_statements`` lets through a single
  ``SELECT`` / ``WITH`` / ``SHOW`` / ``DESCRIBE`` / ``EXISTS`` statement
  without ``INTO OUTFILE``, ``FORMAT`` or ``SETTINGS``, checked by the
  engine's own parser, and each reader's engine handle has ``readonly=1``.
- A reader's query runs at most ``READER_TIME_LIMIT_S`` seconds (the
  engine's ``max_execution_time``, which ``readonly=1`` keeps the reader from
  changing); past it the reader gets ClickHouse's ``TIMEOUT_EXCEEDED`` and the
  engine serves on.
- The listen backlog (``LISTEN_BACKLOG``) queues 64 connections while the
  engine is busy, and a reader that finds it full retries until
  ``ATTACH_TIMEOUT_S``: 32 ``annotel top`` at once are all served (tested).
- The socket lives where ``$TMPDIR`` points: a worker and a command started
  with different ``TMPDIR`` values do not find each other (the command then
  says the directory is held).
- The worker is not slowed by a reader beyond the query itself: each reader
  has its own thread and engine handle in the engine process.

What this guards is the running worker (its inserts, merges and files) and
the engine process (no code runs from a message), not the data from this
same user, who can read it here and open the directory once the worker stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from embedded.channel import ChdbProcessError, EngineChannel, Handler, serve_requests
from embedded.engine_handle import engine_timezone, open_handle, query_rows, run_native
from embedded.reader_statements import checked_statement
from embedded.wire import Wire, error_reply, params_field, text_field

# How long a reader's query may run in the engine (its max_execution_time, seconds).
READER_TIME_LIMIT_S = 60.0
# How long a reader waits for the engine process to accept it and open its handle.
ATTACH_TIMEOUT_S = 10.0
# How long a reader waits for an answer: the engine ends its query before this.
READ_TIMEOUT_S = READER_TIME_LIMIT_S + 30.0
# How long a stopping engine process lets readers finish the query they are running.
READER_STOP_TIMEOUT_S = 10.0
# Connections the engine process queues before accepting them.
LISTEN_BACKLOG = 64


class UnsafeSocketDirectory(RuntimeError):
    """The socket directory exists but is not private to this user."""


class PeerRefused(PermissionError):
    """The process at the other end of the socket is not of the engine's uid."""


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


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel recorded it
    when that process connected (``SO_PEERCRED``; Linux)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        raise PeerRefused("this platform does not tell a socket peer's uid (SO_PEERCRED)")
    ucred = struct.Struct("iII")  # pid, uid, gid
    _pid, uid, _gid = ucred.unpack(sock.getsockopt(socket.SOL_SOCKET, option, ucred.size))
    return int(uid)


def check_peer(sock: socket.socket, allowed_uid: int) -> None:
    uid = peer_uid(sock)
    if uid != allowed_uid:
        raise PeerRefused(
            f"the engine process serves readers of uid {allowed_uid} only, not uid {uid}"
        )


def _reader_handle(dsn: str, time_limit_s: float) -> Any:
    """A chDB handle of its own for one reader: its time limit set, then ``readonly=1``
    (after which the handle cannot change a setting any more)."""
    handle = open_handle(dsn)
    try:
        handle.query(f"SET max_execution_time = {float(time_limit_s)!r}")
        handle.query("SET readonly = 1")
    except BaseException:
        handle.close()
        raise
    return handle


def _reader_query(handle: Any) -> Handler:
    """A reader's ``query``: its statement checked by the engine's parser, then run as formatted."""

    def rows(sql: str, params: Mapping[str, str]) -> list[list[Any]]:
        return query_rows(handle, sql, params)

    def run(header: dict[str, Any], body: bytes | None) -> tuple[None, bytes]:
        params = params_field(header)
        statement = checked_statement(rows, text_field(header, "sql"), params)
        return None, run_native(handle, statement, params)

    return run


def serve_readers(
    dsn: str,
    *,
    time_limit_s: float | None = None,
    allowed_uid: int | None = None,
) -> Callable[[], None]:
    """Listen for readers of the engine this process holds; returns the function that stops.

    Runs in the engine process after it has opened the directory, so the socket
    belongs to the lock's holder: a socket left by a killed predecessor is replaced.
    A failure here leaves the worker's own channel untouched: readers then get the
    "directory is held" error instead. ``allowed_uid`` is this process's
    effective uid unless given (tests); ``time_limit_s`` is ``READER_TIME_LIMIT_S``.
    """
    limit = READER_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    uid = os.geteuid() if allowed_uid is None else allowed_uid
    try:
        path = socket_path(Path(dsn[len("chdb://") :]), create=True)
        assert path is not None
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(LISTEN_BACKLOG)
    except Exception as exc:
        print(f"annotel engine: no read-only socket: {exc}", file=sys.stderr)
        return lambda: None

    stopping = threading.Event()
    readers: dict[threading.Thread, socket.socket] = {}
    guard = threading.Lock()

    def answer(sock: socket.socket) -> None:
        # The Wire reads a duplicate descriptor; ``sock`` stays for stop()'s shutdown.
        wire = Wire(os.dup(sock.fileno()))
        handle = None
        try:
            if stopping.is_set():
                return
            try:
                check_peer(sock, uid)
            except PeerRefused as exc:
                print(f"annotel engine: reader refused: {exc}", file=sys.stderr)
                raise
            handle = _reader_handle(dsn, limit)
            wire.send({"ok": {"timezone": engine_timezone(handle)}})
            serve_requests(wire, {"query": _reader_query(handle)}, max_body=0)
        except Exception as exc:
            with contextlib.suppress(Exception):
                wire.send(error_reply(exc))
        finally:
            if handle is not None:
                handle.close()
            wire.close()
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


def _connect(path: Path) -> socket.socket | None:
    """A socket connected to ``path``, or None when nobody listens there.

    A full backlog (EAGAIN: the engine is busy accepting others) is retried
    until ``ATTACH_TIMEOUT_S``, so a burst of readers waits instead of failing.
    """
    deadline = time.monotonic() + ATTACH_TIMEOUT_S
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(ATTACH_TIMEOUT_S)
            sock.connect(str(path))
            sock.settimeout(None)
            return sock
        except BlockingIOError:
            sock.close()
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)
        except OSError:
            sock.close()
            return None  # a socket left by an engine process that is gone


class EngineReader(EngineChannel):
    """Read-only queries, run by the engine process that holds a directory."""

    def __init__(self, wire: Wire, request_timeout: float = READ_TIMEOUT_S):
        self._wire = wire
        self._lock = threading.Lock()
        self.request_timeout = request_timeout
        self._hello(timeout=ATTACH_TIMEOUT_S)  # the engine process's "ok"

    @classmethod
    def attach(cls, directory: Path) -> EngineReader | None:
        """A reader of ``directory`` if a running engine process serves it, else None."""
        path = socket_path(directory)
        if path is None or not path.exists():
            return None
        sock = _connect(path)
        if sock is None:
            return None
        try:
            return cls(Wire(sock.detach()))
        except ChdbProcessError:
            return None

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> NoReturn:
        raise ChdbProcessError(
            "a reader of a running worker's engine runs queries only; stop the worker to change "
            "the database"
        )
