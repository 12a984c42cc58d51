"""The worker's ``drained:`` line, read back from its log: the last one counts."""

from __future__ import annotations

from pathlib import Path

from annotel.demo.supervisor import WorkerProcess, parse_drained


def test_the_last_drained_line_gives_the_final_counters() -> None:
    log = "\n".join(
        [
            "--- annotel demo: worker run 1",
            "drained: accepted=5, events_in=7",
            '{"level": "info", "message": "worker starting"}',
            "drained: accepted=10, dead_invalid_json=1, duplicates=2, events_in=13, odd=x",
        ]
    )
    assert parse_drained(log) == {
        "accepted": 10,
        "dead_invalid_json": 1,
        "duplicates": 2,
        "events_in": 13,
    }
    assert parse_drained("the worker crashed\n") == {}


def test_a_missing_log_has_no_totals(tmp_path: Path) -> None:
    worker = WorkerProcess({}, 0, True, tmp_path / "missing.log")
    assert worker.drained_totals() == {} and worker.tail() == ""
