"""A ClickHouse HTTPS endpoint for tests: real TLS, real engine (chDB), a record of what arrived.

There is no ClickHouse server on this machine, and chDB has no network
interface, so this process stands in for one: it speaks enough of
ClickHouse's HTTP interface for clickhouse-connect (the query in the body or
the ``query`` parameter, ``param_*`` bindings, ``INSERT ... FORMAT Native``
with a body, plain or lz4) and answers through chDB, so clients get the
engine's own replies. It checks the Basic credentials it was given.

Every connection is written to an events file, one JSON object a line:
``{"event": "handshake", "version": ...}``, ``{"event": "handshake_failed",
"reason": ..., "plain": ...}`` (``plain`` when the first bytes were not a TLS
record) and ``{"event": "request", "user": ..., "authorized": ...}``.

Run by ``tests.clickhouse_https.https_clickhouse``:
``python -m tests.clickhouse_https_server CERT KEY DATA_DIR EVENTS`` with the
expected credentials in ``TEST_CH_USER`` / ``TEST_CH_PASSWORD``; it prints
its port, then serves until terminated.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame
from chdb import session as chdb_session


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, context: ssl.SSLContext, session: Any, user: str, password: str, events: Path
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.session = session
        self.user = user
        self.password = password
        self.events = events
        self.engine_lock = threading.Lock()
        self.log_lock = threading.Lock()

    def record(self, **event: Any) -> None:
        with self.log_lock, self.events.open("a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        try:
            first = request.recv(5, socket.MSG_PEEK)
        except OSError:
            return
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.record(
                event="handshake_failed",
                reason=getattr(exc, "reason", None) or type(exc).__name__,
                plain=not first.startswith(b"\x16\x03"),
            )
            return
        self.record(event="handshake", version=tls.version())
        self.RequestHandlerClass(tls, client_address, self)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self._body()
        if self.headers.get("Content-Encoding") == "lz4":
            body = lz4.frame.decompress(body)
        user, password = self._credentials()
        authorized = (user, password) == (self.server.user, self.server.password)
        self.server.record(event="request", user=user, authorized=authorized)
        if not authorized:
            self._reply(
                401,
                b"Code: 516. DB::Exception: "
                + f"{user}: Authentication failed. (AUTHENTICATION_FAILED)\n".encode(),
                code=516,
            )
            return
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        bindings = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
        query = params.get("query", "")
        try:
            with self.server.engine_lock:
                output = self._run(query, body, bindings)
        except Exception as exc:
            self._reply(500, f"Code: 1000. DB::Exception: {exc}\n".encode(), code=1000)
            return
        self._reply(200, output)

    def _run(self, query: str, body: bytes, bindings: dict[str, str]) -> bytes:
        session = self.server.session
        marker = b" FORMAT Native\n"
        if body.startswith(b"INSERT") and marker in body:
            # clickhouse-connect's insert: the statement, then the data (Native).
            statement, _, data = body.partition(marker)
            with tempfile.NamedTemporaryFile(suffix=".native") as file:
                file.write(data)
                file.flush()
                session.query(f"{statement.decode()} FROM INFILE '{file.name}' FORMAT Native")
            return b""
        result = session.query(query + body.decode(), "TabSeparated", params=bindings or None)
        return bytes(result.bytes())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _credentials(self) -> tuple[str | None, str | None]:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None, None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def _reply(self, status: int, payload: bytes, code: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-ClickHouse-Timezone", "UTC")
        if code is not None:
            self.send_header("X-ClickHouse-Exception-Code", str(code))
        self.end_headers()
        self.wfile.write(payload)


def serve(cert: Path, key: Path, data: Path, user: str, password: str, events: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _Server(context, chdb_session.Session(str(data)), user, password, events)
    print(server.server_address[1], flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("cert", "key", "data", "events"):
        parser.add_argument(name, type=Path)
    args = parser.parse_args()
    serve(
        args.cert,
        args.key,
        args.data,
        os.environ["TEST_CH_USER"],
        os.environ["TEST_CH_PASSWORD"],
        args.events,
    )


if __name__ == "__main__":
    main()
