"""No part of the ClickHouse password reaches stdout or stderr, however the URL spells it.

Issue 19, finding 6: ``annotel top``, ``report``, ``alerts list`` and
``migrate`` printed the password when it held an unencoded ``/ # ?`` or was
given as ``?password=``, and the client's exception text showed it again.
Each command runs as a user would run it, against an unreachable port; the
worker runs against a TLS ClickHouse with such a password, and its start
line and every other line it writes are checked.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme

from sinks.client import connect
from sinks.server_url import TlsFiles
from tests.clickhouse_https import https_clickhouse
from tests.e2e.worker_helpers import TOPICS, create_topics, drained_totals, publish, worker_env

PASSWORD = "Qzx1/Vwk2#Jyp3?Hmf4@Bqr5:Kzt6"
FRAGMENTS = ("Qzx1", "Vwk2", "Jyp3", "Hmf4", "Bqr5", "Kzt6")
COMMANDS = [
    ["top"],
    ["top", "--json"],
    ["report", "--out", "-"],
    ["alerts", "list"],
    ["migrate"],
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _leaks(text: str) -> list[str]:
    return [fragment for fragment in FRAGMENTS if fragment in text]


PORT = _closed_port()
URLS = {
    "unencoded user info": f"https://writer:{PASSWORD}@127.0.0.1:{PORT}/annotel",
    "encoded user info": f"https://writer:{quote(PASSWORD, safe='')}@127.0.0.1:{PORT}/annotel",
    "encoded ?password=": f"https://127.0.0.1:{PORT}/annotel?user=w&password={quote(PASSWORD)}",
    "unencoded ?password=": f"https://127.0.0.1:{PORT}/annotel?user=w&password={PASSWORD}",
    "http, encoded": f"http://writer:{quote(PASSWORD, safe='')}@127.0.0.1:{PORT}/annotel",
}


@pytest.mark.parametrize("form", list(URLS))
def test_commands_never_print_the_password(form: str, tmp_path: Path) -> None:
    env = {**os.environ, "ANNOTEL_CLICKHOUSE_URL": URLS[form]}
    for command in COMMANDS:
        done = subprocess.run(
            [sys.executable, "-m", "annotel", *command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = done.stdout + done.stderr
        assert done.returncode != 0, output
        assert _leaks(output) == [], f"annotel {' '.join(command)}: {output}"
        # Not silent: the user is told what failed, by the URL's redacted form or its setting.
        assert "ANNOTEL_CLICKHOUSE_URL" in output or f"127.0.0.1:{PORT}" in output, output


@pytest.fixture
def tls_clickhouse(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca = trustme.CA()
    server_pem, ca_pem = tmp_path / "server.pem", tmp_path / "ca.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    with https_clickhouse(server_pem, server_pem, tmp_path / "ch", "writer", PASSWORD) as (
        port,
        _,
    ):
        yield f"https://writer:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/", ca_pem


def test_worker_over_tls_logs_no_part_of_the_password(
    fresh_broker: str, tmp_path: Path, tls_clickhouse: tuple[str, Path]
) -> None:
    url, ca = tls_clickhouse
    create_topics(fresh_broker)
    sample = Path(__file__).resolve().parents[2] / "examples" / "sample-events.jsonl"
    publish(fresh_broker, sample.read_bytes().splitlines(), TOPICS)
    env = worker_env(
        fresh_broker,
        tmp_path / "data",
        ANNOTEL_CLICKHOUSE_URL=url,
        ANNOTEL_CLICKHOUSE_CA_FILE=str(ca),
        ANNOTEL_LOG_LEVEL="INFO",
    )
    done = subprocess.run(
        [sys.executable, "-m", "annotel", "worker", "--until-drained", "--web-port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    start = [line for line in output.splitlines() if "worker starting" in line]
    assert len(start) == 1 and f"https://writer:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in start[0]
    assert _leaks(output) == []
    assert quote(PASSWORD, safe="") not in output
    # The rows went the whole way: inserted over TLS, readable from the server.
    totals = drained_totals(output)
    client = connect(url, tls=TlsFiles(ca_file=ca))
    try:
        stored = sum(
            client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0]
            for table in ("task_events", "audit_events")
        )
    finally:
        client.close()
    assert totals["accepted"] > 0
    assert stored == totals["accepted"]
