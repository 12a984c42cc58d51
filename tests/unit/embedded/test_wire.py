"""What crosses an engine process's sockets: JSON headers, Native bodies, nothing unpickled."""

from __future__ import annotations

import os
import pickle
import socket
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.datatypes.registry import get_from_name

from embedded.wire import (
    MAX_HEADER_BYTES,
    EngineZone,
    ProtocolError,
    Wire,
    decode_native,
    native_block,
    params_field,
    query_request,
    text_field,
)


@pytest.fixture
def pair() -> Iterator[tuple[Wire, Wire]]:
    left, right = socket.socketpair()
    ends = (Wire(left.detach()), Wire(right.detach()))
    yield ends
    for end in ends:
        end.close()


def test_a_header_and_its_body_arrive_as_sent(pair: tuple[Wire, Wire]) -> None:
    sender, receiver = pair
    sender.send({"op": "insert_native", "table": "t"}, bytearray(b"\x00\x01rows"))
    sender.send({"op": "close"})
    assert receiver.receive() == (
        {"op": "insert_native", "table": "t", "body": True},
        b"\x00\x01rows",
    )
    assert receiver.receive() == ({"op": "close"}, None)


def test_a_pickled_message_is_refused_and_runs_nothing(
    pair: tuple[Wire, Wire], tmp_path: Path
) -> None:
    marker = tmp_path / "pickle-ran"

    class Touch:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    sender, receiver = pair
    sender._conn.send_bytes(pickle.dumps(Touch()))
    with pytest.raises(ProtocolError, match="must be a JSON object"):
        receiver.receive()
    sender._conn.send_bytes(b"[1, 2]")
    with pytest.raises(ProtocolError, match="must be a JSON object"):
        receiver.receive()
    assert not marker.exists()


def test_a_channel_without_bodies_refuses_one(pair: tuple[Wire, Wire]) -> None:
    sender, receiver = pair
    sender.send({"op": "query", "sql": "SELECT 1"}, b"smuggled")
    with pytest.raises(ProtocolError, match="takes no message body"):
        receiver.receive(max_body=0)


def test_a_header_over_the_limit_ends_the_channel(pair: tuple[Wire, Wire]) -> None:
    sender, receiver = pair
    # Only the frame's length: the receiver refuses it before reading the frame.
    os.write(sender._conn.fileno(), struct.pack("!i", MAX_HEADER_BYTES + 1))
    with pytest.raises(OSError, match="bad message length"):
        receiver.receive()


def test_fields_of_the_wrong_type_are_protocol_errors() -> None:
    assert text_field({"sql": "SELECT 1"}, "sql") == "SELECT 1"
    with pytest.raises(ProtocolError, match="'sql' must be a string"):
        text_field({"sql": ["SELECT 1"]}, "sql")
    assert params_field({}) == {}
    with pytest.raises(ProtocolError, match="'params' must map names to strings"):
        params_field({"params": {"n": 1}})


def test_parameters_are_bound_as_text_as_for_a_server() -> None:
    """Placeholders stay in the statement; only their values' text crosses."""
    request, _ = query_request(
        "SELECT {text:String}, {ids:Array(UInt64)}",
        {"text": "it's 标注", "ids": [0, 2**64 - 1]},
        EngineZone.named("UTC"),
    )
    assert request == {
        "op": "query",
        "sql": "SELECT {text:String}, {ids:Array(UInt64)}",
        "params": {"text": "it\\'s 标注", "ids": "[0, 18446744073709551615]"},
    }


def test_rows_encoded_for_an_insert_decode_back_as_a_result() -> None:
    names = ["s", "at", "d", "ids", "n"]
    types = [
        get_from_name(name)
        for name in ("String", "DateTime64(3, 'UTC')", "Decimal(18, 4)", "Array(UInt64)")
    ] + [get_from_name("Nullable(String)")]
    at = datetime(2026, 11, 23, 1, 2, 3, 123000, tzinfo=UTC)
    rows = [
        ["标注 ✓", at, Decimal("1.2345"), [0, 2**64 - 1], None],
        ["a\x00b", datetime(1970, 1, 1, tzinfo=UTC), Decimal("-3"), [], "x"],
    ]
    body = native_block("t", names, types, rows, column_oriented=False)
    _, context = query_request("SELECT 1", None, EngineZone.named("UTC"))
    decoded, columns = decode_native(bytes(body), context)
    assert columns == tuple(names)
    assert decoded == [
        ("标注 ✓", at.replace(tzinfo=None), Decimal("1.2345"), [0, 2**64 - 1], None),
        ("a\x00b", datetime(1970, 1, 1), Decimal("-3.0000"), [], "x"),
    ]


def test_an_unknown_engine_zone_falls_back_to_utc() -> None:
    assert EngineZone.named("Nowhere/Atlantis") == EngineZone(UTC, True)
    assert EngineZone.named("Asia/Shanghai").apply_server_tz
