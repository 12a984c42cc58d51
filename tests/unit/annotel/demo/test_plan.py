"""The demo's plan: mistakes refused before anything starts, a start that is the same
phase of the simulated day every time, and a data directory that never mixes runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from annotel.cli import build_parser
from annotel.demo.plan import (
    DEFAULT_EVENTS,
    FOLLOW_HISTORY,
    MARKER,
    START_HOUR_UTC,
    DemoError,
    demo_start,
    make_plan,
    prepare_data_dir,
)
from annotel.resources import shipped_rules

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KNOBS = {"projects": 3, "vendors": 3, "annotators": 200, "tasks_per_second": 1.5}


def plan_args(*argv: str) -> object:
    return build_parser().parse_args(["demo", *argv])


def test_the_default_plan_uses_the_shipped_rules_and_a_fixed_phase(tmp_path: Path) -> None:
    plan = make_plan(plan_args("--data-dir", str(tmp_path)), now=NOW)
    assert plan.rules == shipped_rules() and plan.rules.is_file()
    assert plan.simulated and plan.events == DEFAULT_EVENTS and plan.seed == 1
    assert plan.start is not None and plan.start.hour == START_HOUR_UTC
    assert plan.dsn == "chdb://" + str(tmp_path / "clickhouse")


def test_the_start_is_the_latest_0900_beijing_whose_span_has_ended() -> None:
    start = demo_start(1, 40_000, KNOBS, NOW)
    assert start.hour == START_HOUR_UTC and start.minute == 0
    assert start < NOW - timedelta(hours=4)  # 40 k lines span about four simulated hours
    assert NOW - start < timedelta(days=1, hours=5)  # the latest such morning


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input", "x.jsonl", "--seed", "2"], "--seed: only for the simulated feed"),
        (["--input", "/nowhere/x.jsonl"], "--input /nowhere/x.jsonl does not exist"),
        (["--rules", "/nowhere/rules.yaml"], "rules file /nowhere/rules.yaml does not exist"),
        (["--projects", "9"], "projects"),
    ],
)
def test_mistakes_are_refused_before_anything_starts(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(DemoError, match=message):
        make_plan(plan_args("--data-dir", str(tmp_path), *argv), now=NOW)


def test_apache_kafka_that_cannot_run_is_said_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOTEL_KAFKA_HOME", str(tmp_path / "no-kafka"))
    with pytest.raises(DemoError, match=r"--broker apache: .*(make kafka-broker|Java)"):
        make_plan(plan_args("--data-dir", str(tmp_path), "--broker", "apache"), now=NOW)
    assert make_plan(plan_args("--data-dir", str(tmp_path)), now=NOW).broker == "tansu"


def test_a_previous_demos_data_is_cleared_and_other_data_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "clickhouse").mkdir()
    note = prepare_data_dir(tmp_path)
    assert note is not None and note.startswith("moved existing ClickHouse data")
    [aside] = tmp_path.glob("clickhouse.before-demo-*")
    assert aside.is_dir()
    record = json.loads((tmp_path / MARKER).read_text(encoding="utf-8"))
    assert record["status"] == "running"

    (tmp_path / "clickhouse").mkdir()
    note = prepare_data_dir(tmp_path)  # the marker says it is a demo's: deleted
    assert note is not None and note.startswith("cleared the previous demo's")
    assert not (tmp_path / "clickhouse").exists() and aside.is_dir()


def test_a_running_demo_keeps_its_data_dir(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "demo"])
    cmdline = Path(f"/proc/{other.pid}/cmdline")
    deadline = time.monotonic() + 10
    while b"demo" not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # empty until the child's exec has completed
    try:
        marker = {"status": "running", "pid": other.pid}
        (tmp_path / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        with pytest.raises(DemoError, match=f"another annotel demo \\(pid {other.pid}\\)"):
            prepare_data_dir(tmp_path)
    finally:
        other.kill()
        other.wait()
    assert prepare_data_dir(tmp_path) is None  # it died: the directory is free


def test_follow_starts_in_the_past_so_its_history_never_runs_ahead_of_the_clock(
    tmp_path: Path,
) -> None:
    plan = make_plan(plan_args("--follow", "--data-dir", str(tmp_path)), now=NOW)
    assert plan.start == NOW - FOLLOW_HISTORY
