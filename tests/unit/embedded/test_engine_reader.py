"""The reader socket's own checks, without an engine: a peer of another uid is refused."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from embedded.engine_reader import EngineReader, serve_readers
from tests.reader_socket import ended, raw_connection


def test_a_peer_of_another_uid_is_refused(tmp_path: Path) -> None:
    """The check itself: a listener that serves another uid than this process's refuses it."""
    stop = serve_readers("chdb://" + str(tmp_path / "ch"), allowed_uid=os.getuid() + 1)
    try:
        conn = raw_connection(tmp_path / "ch")
        reply = orjson.loads(conn.recv_bytes())
        assert reply["error"] == "PeerRefused"
        assert f"not uid {os.getuid()}" in reply["message"]
        assert ended(conn), "nothing more is read from a refused peer"
        conn.close()
        assert EngineReader.attach(tmp_path / "ch") is None
    finally:
        stop()
