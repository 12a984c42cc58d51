"""Test side of the HTTPS ClickHouse (``tests.clickhouse_https_server``) and a byte recorder.

``https_clickhouse`` runs the server in a process of its own (chDB opens one
data directory per process, and the test process may have its own) and
yields its port and events file. ``Recorder`` is a TCP relay: it keeps every
byte the client sent, so a test can show that nothing left in plain text.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def https_clickhouse(
    cert: Path, key: Path, data: Path, user: str, password: str
) -> Iterator[tuple[int, Path]]:
    """The server's port and its events file; the process is stopped on exit."""
    events = data.parent / f"{data.name}-events.jsonl"
    events.touch()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.clickhouse_https_server",
            str(cert),
            str(key),
            str(data),
            str(events),
        ],
        env={**os.environ, "TEST_CH_USER": user, "TEST_CH_PASSWORD": password},
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), "the HTTPS ClickHouse did not start"
        yield int(line), events
    finally:
        process.terminate()
        process.wait(30)


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Recorder:
    """A loopback TCP relay to ``127.0.0.1:upstream`` that keeps the bytes clients send."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.sent = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stopped = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self._pump(client)

    def _pump(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream)) as server:
            pairs = {client: server, server: client}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                readable, _, _ = select.select(list(pairs), [], [], 1.0)
                for source in readable:
                    chunk = source.recv(65536)
                    if not chunk:
                        return
                    if source is client:
                        with self._lock:
                            self.sent += chunk
                    pairs[source].sendall(chunk)
