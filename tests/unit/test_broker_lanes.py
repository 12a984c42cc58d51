"""The Kafka-facing tests run on both brokers: none of them may fall back to Tansu alone.

Read from the test files themselves: a test of these files that takes the
Tansu-only fixtures (``broker``, ``fresh_broker``) would run on one broker
while the file's other tests run on two, and nothing else would notice.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
# The ingest, oracle, crash, scale-out, alert, dead-letter, demo and topic tests.
KAFKA_FACING = (
    "integration/test_ingest.py",
    "integration/test_topics.py",
    "e2e/test_oracle.py",
    "e2e/test_crash.py",
    "e2e/test_scale_out.py",
    "e2e/test_alerts_e2e.py",
    "e2e/test_poison.py",
    "e2e/test_demo.py",
)
BOTH = {"kafka_broker", "broker_kind"}
TANSU_ONLY = {"broker", "fresh_broker"}
# Tests of these files that need no broker lane: what they check is not Kafka's.
NO_LANE = {
    "test_ingest_reports_unreadable_file": "fails before any broker is asked",
    "test_input_file_replay_and_a_second_run_starts_clean": "the data dir's reuse; the "
    "simulated demo test covers the broker on both lanes",
}


def _tests(path: Path) -> list[ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


@pytest.mark.parametrize("name", KAFKA_FACING)
def test_every_kafka_facing_test_runs_on_both_brokers(name: str) -> None:
    tests = _tests(TESTS / name)
    assert tests, name
    for test in tests:
        arguments = {a.arg for a in test.args.args}
        assert not arguments & TANSU_ONLY, f"{name}::{test.name} runs on Tansu only"
        if test.name not in NO_LANE:
            assert arguments & BOTH, f"{name}::{test.name} takes no broker lane"
