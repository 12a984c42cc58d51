"""`annotel demo --json` end to end: the summary is consistent and the data landed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_summary_is_consistent(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--json", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    dead = sum(summary["dead_lettered"].values())
    assert summary["events_in"] == summary["accepted"] + summary["duplicates"] + dead
    assert (
        summary["accepted"] == summary["tables"]["task_events"] + summary["tables"]["audit_events"]
    )
    assert summary["tables"]["dlq_events"] == dead
    assert summary["windows"] > 0
    assert summary["duplicates"] == 1  # the shipped sample holds one redelivery
