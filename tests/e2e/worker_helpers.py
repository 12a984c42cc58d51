"""Run real worker processes against a real broker and chDB directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kafka import KafkaProducer


def worker_env(bootstrap: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ANNOTEL_DATA_DIR": str(data_dir),
        "ANNOTEL_LOG_LEVEL": "WARNING",
        "ANNOTEL_BATCH_SIZE": "2000",
    }
    env.update(extra)
    return env


def start_worker(
    env: dict[str, str], *, until_drained: bool, log: Path, web_port: int = 0
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "annotel", "worker", "--web-port", str(web_port)]
    if until_drained:
        args.append("--until-drained")
    handle = open(log, "ab")  # noqa: SIM115
    return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)


def run_until_drained(env: dict[str, str], log: Path, timeout: float = 300) -> str:
    process = start_worker(env, until_drained=True, log=log)
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave a worker behind to load the machine
        process.wait(30)
        raise
    text = log.read_text(errors="replace")
    assert code == 0, f"worker exited {code}:\n{text[-4000:]}"
    return text


def events_read(web_port: int) -> int:
    """The worker's ``annotel_events_total`` (0 while its web server is not up)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=1) as reply:
            text = reply.read().decode()
    except (OSError, urllib.error.URLError):
        return 0
    for line in text.splitlines():
        if line.startswith("annotel_events_total "):
            return int(float(line.split()[1]))
    return 0


def ingest_file(bootstrap: str, path: Path) -> dict[str, Any]:
    """``annotel ingest FILE --json`` against ``bootstrap``: its summary."""
    env = {**os.environ, "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    out = subprocess.run(
        [sys.executable, "-m", "annotel", "ingest", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary: dict[str, Any] = json.loads(out.stdout)
    return summary


def drained_totals(text: str) -> dict[str, int]:
    line = [ln for ln in text.splitlines() if "drained: " in ln][-1]
    body = line.split("drained: ", 1)[1].strip()
    return {k: int(v) for k, v in (part.split("=") for part in body.split(", "))}


def publish(bootstrap: str, lines: list[bytes], topics: dict[str, str]) -> None:
    """Publish raw lines the way a platform feed would: keyed by project, invalid ones too.

    Lines are routed by a cheap look at event_type; anything unparsable goes to
    the task-completed topic so the stream (not ingest) must dead-letter it.
    """
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for line in lines:
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):  # what a feed may send: anything
                obj = {}
            topic = (
                topics.get(obj.get("event_type", ""), topics["task_completed"])
                if isinstance(obj, dict)
                else topics["task_completed"]
            )
            key = obj.get("project_id", "").encode() if isinstance(obj, dict) else b""
            producer.send(topic, key=key or None, value=line)
        producer.flush()
    finally:
        producer.close()


TOPICS = {"task_completed": "annotation.task-completed", "task_audited": "annotation.task-audited"}


def create_topics(bootstrap: str, partitions: int = 4) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [
                NewTopic(t, partitions, 1)
                for t in [
                    *TOPICS.values(),
                    "annotation.dlq",
                    "annotation.alerts",
                    "annotation-telemetry.state",
                ]
            ]
        )
    finally:
        admin.close()


def assert_exact(stream: object, text: str, dsn: str) -> None:
    """Every message accounted for once, and the tables equal the independent oracle."""
    from tests.oracle import Stream, counting, expected_current, read_current, read_tables

    assert isinstance(stream, Stream)
    totals = drained_totals(text)
    dead = sum(v for k, v in totals.items() if k.startswith("dead_"))
    assert totals["events_in"] == len(stream.lines)
    assert totals["accepted"] == len(stream.valid)
    assert totals["duplicates"] == stream.duplicates
    assert dead == stream.invalid
    numbers = counting(stream.valid)[1]
    assert totals.get("superseded", 0) == numbers["superseded"]
    assert totals.get("retractions", 0) == numbers["retractions"]
    assert_tables(stream, *read_tables(dsn))
    assert read_current(dsn) == expected_current(stream.valid)


def assert_tables(
    stream: object,
    metrics: dict[tuple[Any, ...], dict[str, Any]],
    errors: dict[tuple[Any, ...], int],
    counts: dict[str, int],
) -> None:
    """The tables read back equal the oracle's recomputation, row for row."""
    from tests.oracle import Stream, compare_metrics, oracle

    assert isinstance(stream, Stream)
    expected_metrics, expected_errors = oracle(stream.valid)
    problems = compare_metrics(metrics, expected_metrics)
    assert not problems, "\n".join(problems[:20])
    assert errors == expected_errors
    valid_tasks = sum(1 for e in stream.valid if e["event_type"] == "task_completed")
    assert counts["task_events"] == valid_tasks
    assert counts["audit_events"] == len(stream.valid) - valid_tasks
    assert counts["dlq_events"] == stream.invalid


def scrape(port: int, *, labels: bool = False) -> dict[str, float]:
    """A worker's /metrics, summed per metric name (labels dropped); {} when not up.

    With ``labels``, one entry per sample, keyed as written (``name{label="v"}``).
    """
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError):
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_part, value = line.rsplit(" ", 1)
        name = name_part if labels else name_part.split("{", 1)[0]
        values[name] = values.get(name, 0.0) + float(value)
    return values
