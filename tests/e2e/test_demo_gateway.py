"""``annotel demo --via-gateway``: the same simulated day over HTTP gives the same summary.

Two real demos with the same seed: one publishing straight to the broker, one
posting through a real ``annotel gateway`` process (one project as Label
Studio webhooks, the rest as NDJSON). Every number of the summary must be
equal (events in, accepted, duplicates, late corrections, dead letters by
reason, windows, alerts by rule, table counts, incidents), and the Label
Studio project's events must really have taken the connector's path: their
stored ``event_id``s are the connector's, as many as the summary says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_demo import assert_adds_up, query, run_demo

pytestmark = pytest.mark.e2e

ARGS = ["--events", "6000", "--seed", "3"]
SAME = (
    "events_in",
    "accepted",
    "duplicates",
    "late",
    "dead_lettered",
    "windows",
    "alerts_fired",
    "alerts_resolved",
    "alerts_by_rule",
    "tables",
    "incidents",
)


def test_the_demo_through_the_gateway_has_the_same_summary(tmp_path: Path) -> None:
    direct = run_demo(*ARGS, "--data-dir", str(tmp_path / "direct"))
    via = run_demo(*ARGS, "--data-dir", str(tmp_path / "via"), "--via-gateway", timeout=400)
    assert_adds_up(via)
    assert {key: via[key] for key in SAME} == {key: direct[key] for key in SAME}
    assert "gateway" not in direct

    gateway = via["gateway"]
    assert gateway["label_studio_events"] > 500, gateway
    assert gateway["label_studio_requests"] < gateway["label_studio_events"]  # bulk deliveries
    assert gateway["contract_events"] > gateway["label_studio_events"]
    rows = query(
        via["clickhouse"],
        "SELECT project_id, count() FROM task_events FINAL "
        "WHERE startsWith(event_id, 'ls:ann:') GROUP BY project_id",
    )
    # Only the chosen project went through the connector; its repeated lines were duplicates.
    [(project, stored)] = rows
    assert project == gateway["label_studio_project"]
    assert gateway["label_studio_events"] - via["duplicates"] <= stored
    assert stored <= gateway["label_studio_events"]
    assert (tmp_path / "via" / "connectors.yaml").is_file()
    log = (tmp_path / "via" / "logs" / "gateway.log").read_text(errors="replace")
    assert "Bearer" not in log
