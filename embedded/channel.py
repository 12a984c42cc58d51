"""One request at a time over an engine process's socket: the client's end and the serving loop.

Why a module of its own: two channels lead into an engine process, the
worker's private socket pair (``embedded.chdb_process``) and the Unix socket
of read-only commands (``embedded.engine_reader``), and both speak the same
protocol (``embedded.wire``). The client's end (``EngineChannel``) and the
serving loop (``serve_requests``) live here, below both, so that neither
channel's module imports the other's for them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from embedded.wire import (
    EngineZone,
    ProtocolError,
    Wire,
    decode_native,
    error_reply,
    query_request,
)


class ChdbProcessError(RuntimeError):
    """An error raised in the chDB process, or the process being gone."""


@dataclass(frozen=True)
class QueryResult:
    """The part of clickhouse-connect's ``QueryResult`` that callers here read."""

    result_rows: list[tuple[Any, ...]]
    column_names: tuple[str, ...] = ()


class EngineChannel:
    """Requests to a process that serves chDB, one at a time, over a local socket.

    Shared by the worker's client of its own engine process and by the
    read-only clients of a running one (``embedded.engine_reader``). Both speak
    ``embedded.wire``: JSON headers and Native bodies, no pickle. A query
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


# A request's header and body; the reply's value (JSON) and body (Native bytes), if any.
# Called by ``serve_requests`` for each request of its ``op``, one at a time; an
# exception it raises goes back to the caller as an error reply (ClickHouse's text)
# and the loop serves the next request.
Handler = Callable[[dict[str, Any], bytes | None], tuple[Any, bytes | None]]


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
