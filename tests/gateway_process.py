"""A real ``annotel gateway`` process on loopback, and an HTTP client for the tests."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.loopback import free_port

TOKEN = "gateway-client-token-0123456789"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class GatewayProcess:
    """``python -m annotel gateway`` with its own environment; stderr (the logs) kept."""

    def __init__(self, bootstrap: str, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.log = workdir / f"gateway-{self.port}.log"
        self.env = {
            **os.environ,
            "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ANNOTEL_GATEWAY_PORT": str(self.port),
            "ANNOTEL_GATEWAY_TOKEN": TOKEN,
            "ANNOTEL_MAX_FUTURE_SKEW": "3650d",
            "ANNOTEL_LOG_LEVEL": "INFO",
            **env,
        }
        self.process: subprocess.Popen[str] | None = None
        self._local = threading.local()

    def start(self, timeout: float = 60) -> GatewayProcess:
        handle = open(self.log, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "annotel", "gateway"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=handle,
            text=True,
        )
        handle.close()
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the gateway did not start: {line!r}\n{self.logs()[-3000:]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.request("GET", "/health").status == 200:
                return self
            time.sleep(0.1)
        raise RuntimeError("the gateway did not answer /health")

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self._local.connection = connection
        return connection

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request on this thread's keep-alive connection (reconnecting once if closed)."""
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request(method, path, body=body, headers=dict(headers or {}))
                response = connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self._local.connection = None
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        raise AssertionError("unreachable")

    def post_events(
        self, body: bytes, content_type: str = "application/json", token: str | None = TOKEN
    ) -> Reply:
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", "/v1/events", body, headers)

    def post_hook(
        self, source: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> Reply:
        return self.request(
            "POST",
            f"/v1/hooks/{source}",
            body,
            {"Content-Type": "application/json", **(headers or {})},
        )

    def metrics(self) -> dict[str, float]:
        text = self.request("GET", "/metrics").body.decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values
