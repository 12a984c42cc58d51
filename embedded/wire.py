"""What crosses the sockets of an embedded engine process: data, never pickle.

Why: a process that unpickles what it receives runs whatever code the sender
chose (a crafted ``__reduce__`` does). The engine process answers its worker
over a private socket pair and readers over a Unix socket that any process of
the user can reach (``embedded.engine_reader``); on neither is anything unpickled.

- A message is a JSON object (orjson), its header, optionally followed by one
  bytes body (the header then says ``"body": true``): an insert's rows or a
  query's result, both in ClickHouse's Native format, encoded and decoded by
  clickhouse-connect's own codec, as with a server. Rows never travel as Python
  objects, so a result reads back exactly as an in-process read returns it
  (datetimes, Decimals, 64-bit and wider integers, NaN, bytes).
- Query parameters are bound by the client with clickhouse-connect's binding,
  as for a server: ``{name:Type}`` placeholders get their values as text, so
  only strings cross.
- Frames are those of ``multiprocessing.connection``'s byte messages (a 4-byte
  big-endian length, then the bytes); only its ``send_bytes`` and
  ``recv_bytes`` are called, never the pickling ``send`` and ``recv``.
- A header over ``MAX_HEADER_BYTES``, or one that is not a JSON object, is a
  ``ProtocolError``: the serving side answers with an error and ends that
  channel (not the process).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from multiprocessing.connection import Connection
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import orjson
from clickhouse_connect.driver import tzutil
from clickhouse_connect.driver.ctypes import RespBuffCls
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.query import QueryContext, QueryResult
from clickhouse_connect.driver.transform import NativeTransform

# A request's or a reply's header: a query and its parameters, never rows.
MAX_HEADER_BYTES = 4 << 20


class ProtocolError(ValueError):
    """A message that is not one of ours: not JSON, not an object, a field of the wrong type."""


class Wire:
    """Messages (a JSON header and an optional bytes body) over a connected stream socket."""

    def __init__(self, fd: int):
        self._conn = Connection(fd)

    @property
    def closed(self) -> bool:
        return self._conn.closed

    def send(self, header: Mapping[str, Any], body: bytes | bytearray | None = None) -> None:
        """Write one message; OSError when the peer is gone."""
        if body is None:
            self._conn.send_bytes(orjson.dumps(header))
        else:
            self._conn.send_bytes(orjson.dumps({**header, "body": True}))
            self._conn.send_bytes(body)

    def poll(self, timeout: float) -> bool:
        return self._conn.poll(timeout)

    def receive(self, max_body: int | None = None) -> tuple[dict[str, Any], bytes | None]:
        """Read one message: its header and its body, if it has one.

        EOFError or OSError when the peer is gone or a frame is longer than
        allowed (the stream is then out of step: end the channel);
        ProtocolError when the header is not a JSON object or a body is not
        accepted (``max_body=0``).
        """
        raw = self._conn.recv_bytes(MAX_HEADER_BYTES)
        try:
            header = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ProtocolError("a message header must be a JSON object") from None
        if not isinstance(header, dict):
            raise ProtocolError("a message header must be a JSON object")
        if header.get("body") is not True:
            return header, None
        if max_body == 0:
            raise ProtocolError("this channel takes no message body")
        return header, self._conn.recv_bytes(max_body)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.close()


def error_reply(exc: BaseException) -> dict[str, str]:
    return {"error": type(exc).__name__, "message": str(exc)}


def text_field(header: Mapping[str, Any], name: str) -> str:
    value = header.get(name)
    if not isinstance(value, str):
        raise ProtocolError(f"field {name!r} must be a string")
    return value


def params_field(header: Mapping[str, Any]) -> dict[str, str]:
    """The bound query parameters of a request: names and values are text."""
    value = header.get("params", {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ProtocolError("field 'params' must map names to strings")
    return value


def engine_error_text(exc: BaseException) -> str:
    """ClickHouse's own text of an engine error (``Code: 62. DB::Exception: ...``)."""
    text = str(exc)
    start = text.find("Code: ")
    return text[start:].strip() if start > 0 else text.strip()


@dataclass(frozen=True)
class EngineZone:
    """The engine's time zone, applied to results as clickhouse-connect applies a server's."""

    tz: tzinfo
    apply_server_tz: bool

    @classmethod
    def named(cls, name: str) -> EngineZone:
        # clickhouse-connect's default ("auto"): apply the server's zone when it has no DST.
        try:
            zone, dst_safe = tzutil.normalize_timezone(
                tzutil.resolve_zone(name), trust_fixed_offset=True
            )
        except ZoneInfoNotFoundError:
            return cls(UTC, True)
        return cls(zone, dst_safe)


def query_request(
    sql: str, parameters: Mapping[str, Any] | None, zone: EngineZone
) -> tuple[dict[str, Any], QueryContext]:
    """A query request, bound as clickhouse-connect binds one for a server, and its context."""
    context = QueryContext(
        query=sql,
        parameters=dict(parameters) if parameters else None,
        server_tz=zone.tz,
        apply_server_tz=zone.apply_server_tz,
    )
    final = context.final_query
    if not isinstance(final, str):
        raise ValueError("binary query parameters are not supported by the engine process")
    params = {name.removeprefix("param_"): value for name, value in context.bind_params.items()}
    return {"op": "query", "sql": final, "params": params}, context


class _Body:
    """The byte source clickhouse-connect's response buffer reads: one chunk, the whole body."""

    exception_tag = None
    last_message = None

    def __init__(self, data: bytes):
        self._data = data

    @property
    def gen(self) -> Iterator[bytes]:
        yield self._data

    def close(self) -> None:
        return None


def decode_native(body: bytes, context: QueryContext) -> tuple[list[Any], tuple[str, ...]]:
    """Rows and column names of a Native result, decoded as an in-process query decodes them."""
    buffer: Callable[[_Body], Any] = RespBuffCls  # the C response buffer, untyped
    result = NativeTransform.parse_response(buffer(_Body(body)), context)
    if not isinstance(result, QueryResult):  # a NumpyResult only when asked for numpy
        raise TypeError(f"unexpected {type(result).__name__}")
    return list(result.result_rows), tuple(result.column_names)


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
