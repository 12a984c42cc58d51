"""A raw client of an engine process's reader socket, as any local process could be.

Shared by the reader tests that need no engine (``tests/unit/embedded``) and
those that run one (``tests/integration``): it speaks frames only, not the
protocol's client, so a test can send what the client never would.
"""

from __future__ import annotations

import socket
from multiprocessing.connection import Connection
from pathlib import Path

from embedded.engine_reader import socket_path


def raw_connection(directory: Path) -> Connection:
    """A connection to the reader socket that speaks frames only, as any local process can."""
    path = socket_path(directory)
    assert path is not None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(path))
    sock.settimeout(None)  # Connection reads the descriptor blocking
    return Connection(sock.detach())


def ended(conn: Connection) -> bool:
    """Whether the engine process closed this connection (end-of-file within 10 s)."""
    if not conn.poll(10):
        return False
    try:
        conn.recv_bytes()
    except (EOFError, OSError):
        return True
    return False
