"""``https://`` is TLS with verification on any port: a real TLS server on 127.0.0.1 says so.

The server (``tests.clickhouse_https_server``) answers ClickHouse's HTTP
interface through chDB and writes down every handshake and request; a relay
(``Recorder``) in front of it keeps every byte the client sent. Both listen on
random high ports, never 443 or 8443, where clickhouse-connect alone would
have guessed TLS from the port.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme

from sinks.client import connect
from sinks.migrate import migrate
from sinks.server_url import TlsFiles
from tests.clickhouse_https import Recorder, https_clickhouse, read_events

USER = "writer"
# Every character that used to shift the parts of a URL.
PASSWORD = "Qzx1/Vwk2#Jyp3?Hmf4@Bqr5:Kzt6 %"
ENCODED = quote(PASSWORD, safe="")


@dataclass
class Tls:
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA the server's certificate does not chain to
    port: int
    events: Path
    relay: Recorder
    connections_before: int = 0

    def url(self, scheme: str = "https", query: str = "") -> str:
        return f"{scheme}://{USER}:{ENCODED}@127.0.0.1:{self.relay.port}/{query}"

    def settled_events(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The server's events once every connection of this test has its handshake recorded.

        The server writes a handshake's outcome after the client has already
        given up on it: reading at once could miss it, or leave it to land in
        the next test's record.
        """
        expected = self.relay.connections - self.connections_before
        deadline = time.monotonic() + timeout
        while True:
            events = read_events(self.events)
            handshakes = [e for e in events if e["event"].startswith("handshake")]
            if len(handshakes) >= expected or time.monotonic() > deadline:
                return events
            time.sleep(0.05)


def _write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    root = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server_pem = root / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    with https_clickhouse(server_pem, server_pem, root / "data", USER, PASSWORD) as (port, events):
        relay = Recorder(port)
        try:
            yield Tls(
                _write_ca(ca, root / "ca.pem"),
                _write_ca(trustme.CA(), root / "other-ca.pem"),
                port,
                events,
                relay,
            )
        finally:
            relay.close()


@pytest.fixture
def fresh(tls: Tls) -> Iterator[Tls]:
    """The shared server with an empty events file and an empty byte record."""
    tls.events.write_text("")
    tls.relay.sent.clear()
    tls.connections_before = tls.relay.connections
    yield tls
    tls.settled_events()


def _plain_text_sent(sent: bytes) -> list[bytes]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode())
    needles = [b"POST", b"GET", b"HTTP/1.1", b"Authorization", b"SELECT", USER.encode(), basic]
    needles += [part.encode() for part in ("Qzx1", "Vwk2", "Jyp3", "Hmf4", "Bqr5", "Kzt6")]
    needles.append(ENCODED.encode())
    return [needle for needle in needles if needle in sent]


def test_https_on_a_nonstandard_port_is_tls_with_the_right_ca(fresh: Tls) -> None:
    client = connect(fresh.url(), tls=TlsFiles(ca_file=fresh.ca))
    try:
        assert client.command("SELECT 1") == 1
        assert client.query("SELECT {n:UInt32} * 2", parameters={"n": 21}).result_rows == [(42,)]
    finally:
        client.close()
    events = fresh.settled_events()
    assert events[0]["event"] == "handshake"
    assert events[0]["version"] in ("TLSv1.2", "TLSv1.3")
    assert not [e for e in events if e["event"] == "handshake_failed"]
    # The password reached the server intact (percent-decoded), inside TLS only.
    requests = [e for e in events if e["event"] == "request"]
    assert requests and all(e["authorized"] and e["user"] == USER for e in requests)
    sent = bytes(fresh.relay.sent)
    assert sent.startswith(b"\x16\x03"), "the first bytes are not a TLS handshake record"
    assert _plain_text_sent(sent) == []


def test_an_untrusted_certificate_is_refused(fresh: Tls) -> None:
    # A CA that did not sign the server's certificate, then the system's trust store.
    for files in (TlsFiles(ca_file=fresh.other_ca), TlsFiles()):
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            connect(fresh.url(), tls=files)
    events = fresh.settled_events()
    failed = [e for e in events if e["event"] == "handshake_failed"]
    assert len(failed) >= 2 and all(not e["plain"] for e in failed)
    assert "UNKNOWN_CA" in failed[0]["reason"]
    # The client stopped at the handshake: no request, no credentials were sent.
    assert [e for e in events if e["event"] in ("handshake", "request")] == []
    assert _plain_text_sent(bytes(fresh.relay.sent)) == []


def test_http_scheme_is_plain_whatever_the_port(fresh: Tls) -> None:
    """The scheme decides both ways: http:// to a TLS port is plain HTTP (and fails)."""
    with pytest.raises(Exception, match=r"Connection aborted|RemoteDisconnected"):
        connect(fresh.url("http"))
    events = fresh.settled_events()
    assert events and all(e["event"] == "handshake_failed" and e["plain"] for e in events)
    assert bytes(fresh.relay.sent).startswith(b"POST ")


def test_migrations_and_inserts_run_over_tls(fresh: Tls, tmp_path: Path) -> None:
    """The whole path: DDL, a Native insert and reads, through `annotel migrate` and `top`."""
    env = {
        **os.environ,
        "ANNOTEL_CLICKHOUSE_URL": fresh.url(query="?compress=false"),
        "ANNOTEL_CLICKHOUSE_CA_FILE": str(fresh.ca),
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "annotel", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert f"on https://{USER}:***@127.0.0.1:{fresh.relay.port}/" in migrated.stdout
    top = subprocess.run(
        [sys.executable, "-m", "annotel", "top", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("{")
    client = connect(fresh.url(), tls=TlsFiles(ca_file=fresh.ca))
    try:
        assert migrate(client) == []  # idempotent: every version is recorded
        versions = client.query("SELECT count() FROM schema_migrations").result_rows[0][0]
        assert versions >= 3
    finally:
        client.close()
    assert _plain_text_sent(bytes(fresh.relay.sent)) == []
    for output in (migrated.stdout + migrated.stderr, top.stdout + top.stderr):
        assert "Qzx1" not in output and ENCODED not in output


def test_the_host_name_is_verified_too(tmp_path: Path) -> None:
    """A certificate for another name fails; ``server_host_name`` names the one to expect."""
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("ch.internal").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    files = TlsFiles(ca_file=_write_ca(ca, tmp_path / "ca.pem"))
    with https_clickhouse(server_pem, server_pem, tmp_path / "data", USER, PASSWORD) as (port, _):
        url = f"https://{USER}:{ENCODED}@127.0.0.1:{port}/"
        with pytest.raises(Exception, match=r"VERIFY_FAILED.*not valid for .127\.0\.0\.1"):
            connect(url, tls=files)
        client = connect(url + "?server_host_name=ch.internal", tls=files)
        try:
            assert client.command("SELECT 1") == 1
        finally:
            client.close()
