"""``python -m bench --gateway``: events/s through ``annotel gateway`` and its request latency.

The seeded simulator stream (the one the main run replays) is posted to a
real ``annotel gateway`` process on the embedded broker as NDJSON batches of
500 lines, by a few clients at once on keep-alive connections, the way a
platform team's exporter would. Each request's latency is the time until its
``200``, which the gateway gives only after the broker acknowledged every
record of it (``acks=all``): so the figure includes the durable write, not
only the HTTP handling. For scale, the same records are then produced
straight to a fresh broker with the bench's own producer (``stack.produce``).

Every line is accounted for: the answers' accepted and rejected add up to
the lines sent, and the gateway's ``/metrics`` published count matches.
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from bench import stack
from bench.latency import percentile
from schemas.loopback import free_port

TOKEN = "bench-gateway-token-0123456789abcdef"
BATCH = 500


@contextmanager
def gateway_process(bootstrap: str, log: Path) -> Iterator[int]:
    """``python -m annotel gateway`` on a free loopback port; yields the port."""
    port = free_port()
    env = {
        **os.environ,
        "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ANNOTEL_GATEWAY_PORT": str(port),
        "ANNOTEL_GATEWAY_TOKEN": TOKEN,
        "ANNOTEL_GATEWAY_RATE_LIMIT": "100000",
        "ANNOTEL_GATEWAY_RATE_BURST": "100000",
        "ANNOTEL_LOG_LEVEL": "WARNING",
    }
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "annotel", "gateway"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=handle,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the gateway did not start: {line!r} (log: {log})")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class Client:
    """One keep-alive connection per thread, as an exporter's worker would hold."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def post(self, body: bytes) -> tuple[int, dict[str, Any], float]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.local.connection = connection
        headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {TOKEN}"}
        started = time.perf_counter()
        connection.request("POST", "/v1/events", body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        return response.status, orjson.loads(data), elapsed

    def published(self) -> float:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", "/metrics")
            text = connection.getresponse().read().decode()
        finally:
            connection.close()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("annotel_gateway_events_published_total{")
        )


def gateway_run(n: int, clients: int, tmp: Path) -> dict[str, Any]:
    """N simulator lines through the gateway with ``clients`` concurrent posters."""
    stream = stack.build_stream(n)
    lines = [value for _topic, _key, value in stream.records]
    bodies = [b"\n".join(lines[i : i + BATCH]) for i in range(0, len(lines), BATCH)]
    with stack.broker() as (bootstrap, _process):
        stack.create_topics(bootstrap)
        with gateway_process(bootstrap, tmp / "gateway.log") as port:
            client = Client(port)
            client.post(bodies[0][: bodies[0].find(b"\n")])  # warm: connection, producer
            warm = client.published()
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                answers = list(pool.map(client.post, bodies))
            wall = time.perf_counter() - started
            published = client.published() - warm
    statuses = {status for status, _answer, _elapsed in answers}
    accepted = sum(answer["accepted"] for _s, answer, _e in answers)
    rejected = sum(len(answer["rejected"]) for _s, answer, _e in answers)
    latencies_ms = [elapsed * 1000 for _s, _a, elapsed in answers]
    with stack.broker() as (bootstrap, _process):
        stack.create_topics(bootstrap)
        direct_s = stack.produce(bootstrap, stream.records)
    return {
        "events": len(lines),
        "batch": BATCH,
        "requests": len(bodies),
        "clients": clients,
        "statuses": sorted(statuses),
        "accepted": accepted,
        "rejected": rejected,
        "accounted_for": accepted + rejected == len(lines),
        "published_per_metrics": int(published),
        "seconds": round(wall, 2),
        "events_per_s": round(len(lines) / wall),
        "latency_ms": {
            "p50": round(statistics.median(latencies_ms), 1),
            "p90": round(percentile(latencies_ms, 90) or 0.0, 1),
            "p99": round(percentile(latencies_ms, 99) or 0.0, 1),
            "max": round(max(latencies_ms), 1),
        },
        "direct_producer_events_per_s": round(len(lines) / direct_s),
    }


def render(result: dict[str, Any]) -> str:
    latency = result["latency_ms"]
    return "\n".join(
        [
            f"gateway: {result['events']:,} events as {result['requests']} NDJSON requests of "
            f"{result['batch']}, {result['clients']} clients, statuses {result['statuses']}",
            f"  accepted {result['accepted']:,}, rejected {result['rejected']:,} "
            f"(accounted for: {result['accounted_for']}; /metrics published "
            f"{result['published_per_metrics']:,})",
            f"  {result['events_per_s']:,} events/s ({result['seconds']} s); request latency "
            f"p50 {latency['p50']} ms, p90 {latency['p90']} ms, p99 {latency['p99']} ms, "
            f"max {latency['max']} ms",
            f"  the same records straight to the broker: "
            f"{result['direct_producer_events_per_s']:,} events/s",
        ]
    )
