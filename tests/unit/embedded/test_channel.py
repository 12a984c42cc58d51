"""One request at a time over a wire: errors reach the caller, the serving loop carries on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_connect.datatypes.registry import get_from_name

from embedded.channel import ChdbProcessError, EngineChannel, Handler, serve_requests
from embedded.wire import Wire, native_block


class _Client(EngineChannel):
    """The client's end as the engine's clients build it: a wire, then the server's hello."""

    def __init__(self, wire: Wire, request_timeout: float = 10.0):
        self._wire = wire
        self._lock = threading.Lock()
        self.request_timeout = request_timeout
        self._hello(timeout=10.0)

    def call(self, request: dict[str, Any], body: bytes | None = None) -> tuple[Any, bytes | None]:
        return self._call(request, body)


def _query(header: dict[str, Any], body: bytes | None) -> tuple[None, bytes]:
    """A result as the engine process sends one: the rows in Native bytes."""
    types = [get_from_name("String"), get_from_name("UInt64")]
    rows = [[header["sql"], 2**64 - 1], [header["params"].get("p", ""), 0]]
    return None, bytes(native_block("r", ["sql", "n"], types, rows, column_oriented=False))


def _fail(header: dict[str, Any], body: bytes | None) -> tuple[Any, None]:
    raise ValueError("Code: 62. DB::Exception: Syntax error")


def _echo(header: dict[str, Any], body: bytes | None) -> tuple[Any, None]:
    return {"op": header["op"], "body": None if body is None else body.decode()}, None


@pytest.fixture
def served() -> Iterator[tuple[_Client, threading.Thread]]:
    """A client and the thread serving it; the server says hello first, as the engine does."""
    left, right = socket.socketpair()
    server = Wire(right.detach())
    handlers: dict[str, Handler] = {"query": _query, "fail": _fail, "echo": _echo}

    def serve() -> None:
        server.send({"ok": {"timezone": "UTC"}})
        serve_requests(server, handlers)
        server.close()

    thread = threading.Thread(target=serve)
    thread.start()
    client = _Client(Wire(left.detach()))
    yield client, thread
    client.close()
    thread.join(10)


def test_a_query_is_bound_sent_and_its_native_result_decoded(
    served: tuple[_Client, threading.Thread],
) -> None:
    client, _ = served
    result = client.query("SELECT {p:String}", {"p": "标注"})
    assert result.column_names == ("sql", "n")
    assert result.result_rows == [("SELECT {p:String}", 2**64 - 1), ("标注", 0)]


def test_an_error_reaches_the_caller_and_the_loop_carries_on(
    served: tuple[_Client, threading.Thread],
) -> None:
    client, thread = served
    with pytest.raises(ChdbProcessError, match=r"^ValueError: Code: 62\. DB::Exception"):
        client.call({"op": "fail"})
    with pytest.raises(ChdbProcessError, match="ProtocolError: unknown request 'drop'"):
        client.call({"op": "drop"})
    assert client.call({"op": "echo"}, b"rows") == ({"op": "echo", "body": "rows"}, None)
    assert thread.is_alive()


def test_close_ends_the_loop_and_a_closed_client_says_so(
    served: tuple[_Client, threading.Thread],
) -> None:
    client, thread = served
    client.close()
    thread.join(10)
    assert not thread.is_alive(), "the serving loop returned on 'close'"
    with pytest.raises(ChdbProcessError, match="client is closed"):
        client.call({"op": "echo"})


def test_a_peer_that_does_not_speak_the_protocol_ends_its_channel() -> None:
    left, right = socket.socketpair()
    server, peer = Wire(right.detach()), Wire(left.detach())
    thread = threading.Thread(target=serve_requests, args=(server, {"echo": _echo}))
    thread.start()
    peer._conn.send_bytes(b"not json")
    header, _ = peer.receive()
    assert header == {"error": "ProtocolError", "message": "a message header must be a JSON object"}
    thread.join(10)
    assert not thread.is_alive()
    server.close()
    peer.close()


def test_a_server_that_does_not_answer_in_time_is_reported() -> None:
    left, right = socket.socketpair()
    silent = Wire(right.detach())
    silent.send({"ok": {"timezone": "UTC"}})
    client = _Client(Wire(left.detach()), request_timeout=0.2)
    with pytest.raises(ChdbProcessError, match="the chDB process did not answer"):
        client.call({"op": "echo"})
    silent.close()
    with pytest.raises(ChdbProcessError, match="client is closed"):
        client.call({"op": "echo"})
