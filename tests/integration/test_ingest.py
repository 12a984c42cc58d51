"""`annotel ingest` on the real embedded broker: every line accounted for once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from schemas import DeadLetter
from tests.kafka_helpers import consume_all

pytestmark = pytest.mark.integration


def _completed(i: int, project: str) -> dict[str, object]:
    return {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": f"c-{i}",
        "occurred_at": f"2026-11-23T08:{i % 60:02d}:00+08:00",
        "project_id": project,
        "queue_id": "队列",
        "task_id": f"t-{i}",
        "annotator_id": f"标注员-{i % 7}",
        "status": "submitted",
        "handle_time_s": 10 + i,
    }


def _audited(i: int, project: str) -> dict[str, object]:
    return {
        "event_type": "task_audited",
        "schema_version": 1,
        "event_id": f"a-{i}",
        "occurred_at": "2026-11-23T00:10:00Z",
        "project_id": project,
        "queue_id": "队列",
        "task_id": f"t-{i}",
        "annotator_id": f"标注员-{i % 7}",
        "auditor_id": "审核员",
        "verdict": "approve",
    }


def test_ingest_accounts_for_every_line(kafka_broker: str, tmp_path: Path) -> None:
    projects = ["医疗影像", "autonomous-driving", "客服对话", "p4", "p5"]
    lines: list[bytes] = []
    for i in range(200):
        lines.append(orjson.dumps(_completed(i, projects[i % 5])))
    for i in range(60):
        lines.append(orjson.dumps(_audited(i, projects[i % 5])))
    lines += lines[:25]  # duplicates: published again, the stream deduplicates them
    invalid = [
        b"{broken",
        b"[]",
        orjson.dumps({"event_type": "task_started"}),
        orjson.dumps({**_completed(999, "p"), "schema_version": 7}),
        orjson.dumps({**_completed(998, "p"), "handle_time_s": -3}),
        orjson.dumps({k: v for k, v in _audited(997, "p").items() if k != "verdict"}),
    ]
    lines += invalid
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")

    env = {**os.environ, "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": kafka_broker}
    out = subprocess.run(
        [sys.executable, "-m", "annotel", "ingest", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    summary = json.loads(out.stdout)
    assert summary["published"] == 285
    assert summary["dead_lettered"] == 6
    assert summary["blank"] == 1
    assert summary["by_reason"] == {
        "invalid_json": 1,
        "not_an_object": 1,
        "unknown_event_type": 1,
        "unsupported_version": 1,
        "invalid_field": 1,
        "missing_field": 1,
    }

    completed = consume_all(kafka_broker, "annotation.task-completed")
    audited = consume_all(kafka_broker, "annotation.task-audited")
    dlq = consume_all(kafka_broker, "annotation.dlq")
    # Every line is in exactly one place, byte-exact.
    landed = Counter(r.value for r in completed + audited)
    expected = Counter(line for line in lines if line not in invalid)
    assert landed == expected
    letters = [DeadLetter.from_json(r.value) for r in dlq]
    assert Counter(letter.payload for letter in letters) == Counter(invalid)
    assert all(letter.producer == "ingest" for letter in letters)
    assert all("line " in letter.message for letter in letters)
    # Partitioning contract: all events of a project share one partition.
    partitions: dict[bytes, set[int]] = {}
    for record in completed:
        partitions.setdefault(record.key, set()).add(record.partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert {k.decode() for k in partitions} == set(projects)


def test_ingest_reports_unreadable_file(tmp_path: Path) -> None:
    """Said before any broker is asked: here there is none (port 1), and no wait either."""
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "annotel", "ingest", str(tmp_path / "missing.jsonl")],
        env={**os.environ, "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "cannot read" in out.stderr and "missing.jsonl" in out.stderr
    # Before: the admin client's 30 s timeout on the absent broker, then the same message.
    assert time.monotonic() - began < 15
