"""``annotel report``, ``annotel top`` and ``annotel alerts list`` on simulated data.

The database is filled through the production path without Kafka: simulator
lines → ``schemas.decode.ContractDecoder`` → ``streams.partition.PartitionState`` →
``streams.rows`` → ``sinks.writer.ClickHouseWriter`` (``streams.testing``).
The alert rows come from the real evaluator (``alerts.evaluator.Evaluator``
with the shipped rules) fed the same closed minutes, written with
``streams.rows.alert_row``: the incidents the simulator injects produce
the alerts the report lists.

chDB opens one data directory per process, for the life of the process, so
everything that touches the database runs in a child process: the pytest
process may already hold another module's directory.
"""

from __future__ import annotations

import html.parser
import http.server
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.rows import alert_row
from tests.wilson import score_interval

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "examples" / "rules.yaml"
SEED = 7
START = datetime(2026, 11, 23, 1, tzinfo=UTC)
EVENTS = 40_000  # enough for incidents to fire and resolve with the calibrated simulator


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
)
CHARTS = (
    "throughput",
    "aht",
    "audit-pass-rate",
    "gold-accuracy",
    "vendor-pass-rate",
    "error-categories",
)
# A contributor with 3 tasks, all approved: first on any board that ignored sample sizes.
TINY = "tiny-0001"
TINY_PROJECT, TINY_QUEUE, TINY_VENDOR = "autonomous-driving", "lidar-boxes", "apex-labeling"
MIN_TASKS, MIN_AUDITS, MIN_GOLD = 20, 5, 5  # the CLI defaults


def tiny_contributor() -> list[bytes]:
    """3 submitted tasks and 3 approving audits, near the end of the simulated stream."""
    lines = []
    for i in range(3):
        at = datetime(2026, 11, 23, 1, 41, 10 * i, tzinfo=UTC)
        common = {
            "schema_version": 1,
            "project_id": TINY_PROJECT,
            "queue_id": TINY_QUEUE,
            "task_id": f"tiny-task-{i}",
            "annotator_id": TINY,
            "vendor_id": TINY_VENDOR,
            "locale": "en-US",
            "source": "human",
        }
        lines.append(
            {
                **common,
                "event_type": "task_completed",
                "event_id": f"tiny-tc-{i}",
                "occurred_at": at.isoformat(),
                "task_type": "bbox",
                "status": "submitted",
                "handle_time_s": 30.0,
                "task_created_at": (at - timedelta(minutes=30)).isoformat(),
                "attempt": 1,
            }
        )
        lines.append(
            {
                **common,
                "event_type": "task_audited",
                "event_id": f"tiny-ta-{i}",
                "occurred_at": (at + timedelta(seconds=5)).isoformat(),
                "auditor_id": "qa-tiny",
                "verdict": "approve",
                "score": 1.0,
                "audit_kind": "spot",
                "audit_time_s": 5.0,
            }
        )
    return [json.dumps(line).encode() for line in lines]


def populate(data_dir: Path, events: int = EVENTS, seed: int = SEED) -> dict[str, Any]:
    """Fill ``data_dir/clickhouse`` with simulated traffic and the alerts it causes.

    Returns the simulator's manifest (ground truth) and the alert transitions.
    """
    from alerts.evaluator import Evaluator
    from alerts.rules import load_rules
    from simulator import Simulator
    from sinks.client import connect
    from sinks.migrate import migrate
    from sinks.writer import ClickHouseWriter
    from streams.testing import write
    from streams.windows import WIDTH

    client = connect("chdb://" + str(data_dir / "clickhouse"))
    migrate(client)
    writer = ClickHouseWriter(lambda: client)
    # Every incident switched on, and versions: edits, deletions, re-audits.
    sim = Simulator(seed, START, versions=True)
    lines = [*sim.events(n=events), *tiny_contributor()]
    state = write(writer, lines)

    # The closed minutes, as the alert stage receives them, through the shipped rules.
    evaluator = Evaluator(load_rules(RULES))
    minutes: dict[int, dict[Any, list[int]]] = defaultdict(dict)
    for key, aggregate in state.windows.items():
        if any(aggregate[:WIDTH]):  # as the handoff: the fields, windows with something counted
            minutes[key[0]][key] = aggregate[:WIDTH]
    for minute in sorted(minutes):
        evaluator.add_minute(minute, minutes[minute])
    transitions = evaluator.advance(max(minutes) + 60, datetime.now(UTC))
    rows = [alert_row(e, emitted_at=e.window_end + timedelta(seconds=2)) for e in transitions]
    writer.write({"alerts": rows})
    client.close()
    return {
        "manifest": sim.manifest,
        "transitions": [
            {
                "fingerprint": e.fingerprint,
                "rule": e.rule,
                "status": e.status,
                "repeat": e.repeat,
                "scope": e.scope,
                "starts_at": e.starts_at.isoformat(),
                "ends_at": e.ends_at.isoformat() if e.ends_at else None,
            }
            for e in transitions
        ],
    }


# -- the child process (everything that opens chDB) ------------------------------------------

INDEPENDENT_SQL = {
    # Straight from the versions that count (the _current views over the accepted events),
    # not from the minute aggregates the report reads.
    "tasks": """SELECT annotator_id, any(vendor_id) AS vendor_id,
        countIf(status = 'submitted') AS submitted,
        sumIf(handle_time_s, status = 'submitted') AS handle_time,
        countIf(status = 'submitted' AND is_gold) AS gold,
        countIf(status = 'submitted' AND is_gold AND gold_correct) AS gold_correct
        FROM task_events_current WHERE source != 'machine' GROUP BY annotator_id""",
    "audits": """SELECT annotator_id, count() AS audits, countIf(verdict = 'approve') AS approved
        FROM audit_events_current WHERE source != 'machine' GROUP BY annotator_id""",
    "vendor_audits": """SELECT vendor_id,
        count() AS audits, countIf(verdict = 'approve') AS approved
        FROM audit_events_current WHERE source != 'machine' GROUP BY vendor_id""",
    "submitted_by_minute": """SELECT project_id, toUnixTimestamp(window_start) AS minute,
        countIf(status = 'submitted') AS submitted
        FROM task_events_current GROUP BY project_id, minute""",
    "quality_windows": """SELECT vendor_id,
        toUnixTimestamp(toStartOfInterval(occurred_at, INTERVAL 15 MINUTE)) AS window,
        count() AS audits, countIf(verdict = 'approve') AS approved
        FROM audit_events_current WHERE project_id = {project:String}
        GROUP BY vendor_id, window""",
}
QUALITY_PROJECT = "医疗影像标注"


def _independent(client: Any) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, sql in INDEPENDENT_SQL.items():
        result = client.query(sql, parameters={"project": QUALITY_PROJECT})
        out[name] = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    return out


def _cli(argv: list[str]) -> dict[str, Any]:
    from annotel.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(argv)
    return {
        "argv": argv,
        "rc": code,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "seconds": round(time.monotonic() - started, 3),
    }


def child(data_dir: str, out_dir: str) -> None:
    """Populate, run the commands, read the report model and the independent figures."""
    from alerts.rules import load_rules
    from reports.model import build_report
    from sinks.client import connect

    out = Path(out_dir)
    started = time.monotonic()
    written = populate(Path(data_dir))
    populated_s = time.monotonic() - started
    source = ["--data-dir", data_dir]
    runs = {
        "report_html": _cli(["report", *source, "--out", str(out / "report.html")]),
        "report_md": _cli(["report", *source, "--format", "md", "--out", str(out / "report.md")]),
        "top": _cli(["top", *source]),
        "top_json": _cli(["top", *source, "--json"]),
        "alerts": _cli(["alerts", "list", *source]),
        "alerts_firing": _cli(["alerts", "list", *source, "--status", "firing", "--json"]),
        "alerts_resolved": _cli(["alerts", "list", *source, "--status", "resolved", "--json"]),
    }
    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"))
    report = build_report(client, load_rules(RULES)).to_dict()
    independent = _independent(client)
    client.close()
    result = {
        "written": written,
        "populate_s": round(populated_s, 3),
        "runs": runs,
        "report": report,
        "independent": independent,
    }
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False, default=str))


def empty_child(data_dir: str, out_dir: str) -> None:
    """The commands on a migrated database without rows."""
    from sinks.client import connect
    from sinks.migrate import migrate

    client = connect("chdb://" + str(Path(data_dir) / "clickhouse"))
    migrate(client)
    client.close()
    source = ["--data-dir", data_dir]
    runs = {
        "report": _cli(["report", *source, "--out", str(Path(out_dir) / "empty.html")]),
        "top": _cli(["top", *source]),
        "alerts": _cli(["alerts", "list", *source, "--status", "firing"]),
        "missing": _cli(["top", "--data-dir", str(Path(out_dir) / "nowhere")]),
    }
    (Path(out_dir) / "result.json").write_text(json.dumps(runs, ensure_ascii=False))


def _in_child(function: str, data_dir: Path, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    code = (
        f"import sys; from tests.integration.test_report import {function}; "
        f"{function}(*sys.argv[1:])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(data_dir), str(out_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads((out_dir / "result.json").read_text())
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("report")
    result = _in_child("child", base / "data", base / "out")
    result["out"] = base / "out"
    return result


# -- independent recomputation ---------------------------------------------------------------


def _people(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per contributor, from the raw event tables."""
    people: dict[str, dict[str, Any]] = {}
    for row in world["independent"]["tasks"]:
        people[row["annotator_id"]] = {**row, "audits": 0, "approved": 0}
    for row in world["independent"]["audits"]:
        entry = people.setdefault(
            row["annotator_id"],
            {"submitted": 0, "handle_time": 0.0, "gold": 0, "gold_correct": 0},
        )
        entry.update(audits=row["audits"], approved=row["approved"])
    return people


def _bounds(successes: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson interval, independently (tests.wilson)."""
    return score_interval(successes, n, 0.95)


def _rank(people: dict[str, dict[str, Any]], min_tasks: int, min_audits: int) -> list[str]:
    """By the lower bound of the pass rate, then more audits, then id."""
    eligible = [
        (name, p)
        for name, p in people.items()
        if p["submitted"] >= min_tasks and p["audits"] >= min_audits and p["audits"] > 0
    ]
    eligible.sort(
        key=lambda item: (
            -round(_bounds(item[1]["approved"], item[1]["audits"])[0], 9),
            -item[1]["audits"],
            item[0],
        )
    )
    return [name for name, _p in eligible]


def _vendor(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in report["vendors"] if v["vendor"] == name)


# -- tests -----------------------------------------------------------------------------------


def test_commands_succeed(world: dict[str, Any]) -> None:
    for name, run in world["runs"].items():
        assert run["rc"] == 0, f"{name}: {run['stderr']}"
    assert world["runs"]["report_html"]["stdout"].startswith("wrote ")
    assert (world["out"] / "report.html").stat().st_size > 20_000
    assert (world["out"] / "report.md").stat().st_size > 2_000


def test_project_totals_equal_the_simulator_ground_truth(world: dict[str, Any]) -> None:
    truth = world["written"]["manifest"]["per_project"]
    projects = {p["project_id"]: p["figures"]["sums"] for p in world["report"]["projects"]}
    assert set(projects) == set(truth)
    for project, expected in truth.items():
        extra = 3 if project == TINY_PROJECT else 0  # the tiny contributor's tasks and audits
        sums = projects[project]
        assert sums["tasks_submitted"] == expected["tasks_submitted"] + extra
        assert sums["audits"] == expected["audits"] + extra
        assert sums["audits_approved"] == expected["audits_approved"] + extra
        assert sums["gold_submitted"] == expected["gold_submitted"]
        assert sums["gold_correct"] == expected["gold_correct"]
    total = world["report"]["totals"]["sums"]
    assert total["tasks_submitted"] == sum(t["tasks_submitted"] for t in truth.values()) + 3


def test_vendor_pass_rate_equals_the_raw_audits(world: dict[str, Any]) -> None:
    raw = {r["vendor_id"]: r for r in world["independent"]["vendor_audits"]}
    for vendor_id, shown in (
        ("华数标注", "华数标注"),
        ("", "(in-house)"),
        (TINY_VENDOR, TINY_VENDOR),
    ):
        row = _vendor(world["report"], shown)
        expected = raw[vendor_id]["approved"] / raw[vendor_id]["audits"]
        assert row["figures"]["sums"]["audits"] == raw[vendor_id]["audits"]
        assert row["figures"]["rates"]["audit_pass_rate"] == pytest.approx(expected, rel=1e-12)
    # The HTML shows the same figure, formatted.
    page = (world["out"] / "report.html").read_text()
    rate = _vendor(world["report"], "华数标注")["figures"]["rates"]["audit_pass_rate"]
    assert f"{rate * 100:.1f}%" in page


def test_leaderboard_equals_an_independent_ranking(world: dict[str, Any]) -> None:
    people = _people(world)
    board = world["report"]["leaderboard"]
    ranking = _rank(people, MIN_TASKS, MIN_AUDITS)
    assert board["ranked"] == len(ranking)
    assert board["active"] == sum(1 for p in people.values() if p["submitted"] or p["audits"])
    assert [a["annotator_id"] for a in board["top"]] == ranking[:10]
    first = board["top"][0]
    raw = people[first["annotator_id"]]
    sums, rates = first["figures"]["sums"], first["figures"]["rates"]
    assert sums["tasks_submitted"] == raw["submitted"]
    assert sums["audits"] == raw["audits"]
    assert rates["audit_pass_rate"] == pytest.approx(raw["approved"] / raw["audits"], rel=1e-12)
    assert rates["aht_s"] == pytest.approx(raw["handle_time"] / raw["submitted"], rel=1e-9)
    assert sums["gold_submitted"] == raw["gold"]

    # Needs coaching: ranked people whose upper bound is under the shipped rules' floors
    # (75 % pass rate, and 75 % gold accuracy from MIN_GOLD gold tasks), lowest upper
    # bound of the pass rate first.
    def upper(name: str) -> float:
        return _bounds(people[name]["approved"], people[name]["audits"])[1]

    flagged = [
        name
        for name in ranking
        if upper(name) < 0.75
        or (
            people[name]["gold"] >= MIN_GOLD
            and _bounds(people[name]["gold_correct"], people[name]["gold"])[1] < 0.75
        )
    ]
    assert flagged, "the simulated low-quality annotators are demonstrably below the floor"
    assert board["coaching_total"] == len(flagged)
    shown = [a["annotator_id"] for a in board["coaching"]]
    assert len(shown) == min(10, len(flagged))
    assert [round(upper(n), 9) for n in shown] == sorted(round(upper(n), 9) for n in flagged)[
        : len(shown)
    ]
    assert set(shown) <= set(flagged)
    # Fairness: some people below the floor by their raw rate are not flagged, since
    # their samples cannot say so yet.
    below_by_rate = [n for n in ranking if people[n]["approved"] / people[n]["audits"] < 0.75]
    assert set(below_by_rate) - set(flagged)


def test_minimum_samples_keep_small_contributors_off_the_boards(world: dict[str, Any]) -> None:
    people = _people(world)
    tiny = people[TINY]
    assert (tiny["submitted"], tiny["audits"], tiny["approved"]) == (3, 3, 3)
    # By pass rate it is the best there is, and without minimums it would be ranked ...
    assert all(p["approved"] <= p["audits"] for p in people.values())
    assert TINY in _rank(people, 1, 1)
    # ... with them (the defaults: 20 tasks, 5 audits) it is on no board.
    assert TINY not in _rank(people, MIN_TASKS, MIN_AUDITS)
    board = world["report"]["leaderboard"]
    listed = {a["annotator_id"] for a in board["top"]} | {
        a["annotator_id"] for a in board["coaching"]
    }
    assert TINY not in listed
    small = [
        n for n, p in people.items() if 0 < p["submitted"] < MIN_TASKS or p["audits"] < MIN_AUDITS
    ]
    assert small and not listed & set(small)
    page = (world["out"] / "report.html").read_text()
    assert TINY not in page
    assert f"{board['active'] - board['ranked']} have too few samples" in page


def test_sla_attainment_equals_a_recomputation(world: dict[str, Any]) -> None:
    """vendor_quality_low (audit pass rate >= 85 % per project and vendor, 15m windows,
    min_samples 20) on one project, from the raw audits."""
    period = world["report"]["period"]
    start = datetime.fromisoformat(period["start"]).timestamp()
    end = datetime.fromisoformat(period["end"]).timestamp()
    judged = met = 0
    for row in world["independent"]["quality_windows"]:
        if row["window"] < start or row["window"] + 900 > end or row["audits"] < 20:
            continue
        judged += 1
        met += row["approved"] / row["audits"] >= 0.85
    cell = next(
        c
        for c in world["report"]["sla"]["cells"]
        if c["rule"] == "vendor_quality_low" and c["project_id"] == QUALITY_PROJECT
    )
    assert judged > 0
    assert (cell["met"], cell["windows"]) == (met, judged)
    # The injected quality drop of 华数标注 on this project is the worst scope.
    assert cell["worst"]["scope"] == {"vendor_id": "华数标注"}


def test_incidents_are_the_evaluator_episodes(world: dict[str, Any]) -> None:
    transitions = world["written"]["transitions"]
    fired = {(t["fingerprint"], t["starts_at"]) for t in transitions if t["status"] == "firing"}
    resolved = {
        (t["fingerprint"], t["starts_at"]): t["ends_at"]
        for t in transitions
        if t["status"] == "resolved"
    }
    assert fired and resolved, "the injected incidents fire and some resolve"
    episodes = world["report"]["incidents"]

    def key(e: dict[str, Any]) -> tuple[str, str]:
        return e["fingerprint"], datetime.fromisoformat(e["starts_at"]).isoformat()

    assert {key(e) for e in episodes} == fired
    for episode in episodes:
        ends = resolved.get(key(episode))
        assert episode["ongoing"] is (ends is None)
        if ends is not None:
            assert datetime.fromisoformat(episode["ends_at"]) == datetime.fromisoformat(ends)
            expected = datetime.fromisoformat(ends) - datetime.fromisoformat(episode["starts_at"])
            assert episode["duration_s"] == expected.total_seconds()
    page = (world["out"] / "report.html").read_text()
    assert page.count("still firing</span>") >= len(fired) - len(resolved)


def test_top_shows_the_current_status(world: dict[str, Any]) -> None:
    truth = world["written"]["manifest"]["per_project"]
    status = json.loads(world["runs"]["top_json"]["stdout"])
    assert status["window_s"] == pytest.approx(
        (
            datetime.fromisoformat(status["as_of"]) - datetime.fromisoformat(status["window_start"])
        ).total_seconds()
    )
    by_project = {p["project_id"]: p for p in status["projects"]}
    assert set(by_project) == set(truth)
    ongoing = [e for e in world["report"]["incidents"] if e["ongoing"]]
    # "The last hour" recomputed from the raw events: minutes in [window_start, as_of).
    first = datetime.fromisoformat(status["window_start"]).timestamp()
    last = datetime.fromisoformat(status["as_of"]).timestamp()
    in_hour: dict[str, int] = defaultdict(int)
    for row in world["independent"]["submitted_by_minute"]:
        if first <= row["minute"] < last:
            in_hour[row["project_id"]] += row["submitted"]
    assert status["window_s"] == 3600, "the data spans more than an hour"
    for project in truth:
        shown = by_project[project]
        assert shown["tasks_submitted"] == in_hour[project]
        assert shown["firing_alerts"] == sum(
            1 for e in ongoing if e["scope"].get("project_id") == project
        )
    assert status["firing_alerts"] == len(ongoing)
    text = world["runs"]["top"]["stdout"]
    assert "pass rate (audits)" in text and "firing" in text
    for project in truth:
        assert project in text
    assert f"{len(ongoing)} alerts firing" in text


def test_alerts_list_shows_the_latest_transition_per_series(world: dict[str, Any]) -> None:
    transitions = world["written"]["transitions"]
    latest: dict[str, str] = {}
    for t in transitions:  # in evaluation order
        latest[t["fingerprint"]] = t["status"]
    firing = json.loads(world["runs"]["alerts_firing"]["stdout"])
    resolved = json.loads(world["runs"]["alerts_resolved"]["stdout"])
    assert {a["fingerprint"] for a in firing} == {f for f, s in latest.items() if s == "firing"}
    assert {a["fingerprint"] for a in resolved} == {f for f, s in latest.items() if s == "resolved"}
    assert all(a["status"] == "firing" and a["ends_at"] is None for a in firing)
    assert all(a["status"] == "resolved" and a["ends_at"] for a in resolved)
    text = world["runs"]["alerts"]["stdout"]
    assert text.splitlines()[0].split() == [
        "status",
        "severity",
        "rule",
        "scope",
        "since",
        "value",
        "threshold",
        "summary",
    ]
    assert f"{len(latest)} alert series, {len(firing)} firing" in text
    assert "华数标注" in text


def test_markdown_report(world: dict[str, Any]) -> None:
    text = (world["out"] / "report.md").read_text()
    for heading in (
        "# Annotation operations report",
        "## Summary",
        "### What changed: the biggest movers",
        "## SLA attainment",
        "## Trends",
        "## Incidents",
        "## Vendor comparison",
        "## Annotators",
        "### Needs coaching",
        "## Top error categories",
    ):
        assert f"\n{heading}\n" in f"\n{text}", heading
    assert "first half of the period" in text  # says what the comparison is
    assert "医疗影像标注" in text and "普通话语音转写" in text
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line


def test_html_is_self_contained(world: dict[str, Any]) -> None:
    page = (world["out"] / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in page, chart
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "url(", " src=", " href="):
        assert forbidden not in page.lower(), forbidden
    assert "医疗影像标注" in page and "普通话语音转写" in page


# -- headless Chromium -----------------------------------------------------------------------


class _Charts(html.parser.HTMLParser):
    """Each ``<svg data-chart>`` with the marks drawn inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, int]] = {}
        self.current: str | None = None
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "svg" and values.get("data-chart"):
            self.current = str(values["data-chart"])
            self.charts[self.current] = {"path": 0, "circle": 0, "rect": 0, "text": 0}
            self.depth = 0
        elif self.current is not None:
            if tag == "svg":
                self.depth += 1
            marks = self.charts[self.current]
            if tag == "path" and len(re.findall(r"[ML]", values.get("d") or "")) >= 2:
                marks["path"] += 1
            elif tag == "rect" and float(values.get("width") or 0) > 0:
                marks["rect"] += 1
            elif tag in ("circle", "text"):
                marks[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self.current is not None:
            if self.depth == 0:
                self.current = None
            else:
                self.depth -= 1


@pytest.fixture
def served(world: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """The report on a loopback HTTP server that records every request."""
    requests: list[str] = []
    directory = str(world["out"])

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=directory, **kwargs)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            requests.append(self.path)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no noise in the test output (the favicon's 404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/report.html", requests
    finally:
        server.shutdown()
        server.server_close()


def _keep_artifacts() -> bool:
    """``ANNOTEL_KEEP_ARTIFACTS=1`` (tests/conftest.py leaves this one ANNOTEL_ variable)."""
    return os.environ.get("ANNOTEL_KEEP_ARTIFACTS") == "1"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [
            str(CHROMIUM),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _console(stderr: str) -> list[str]:
    """Messages the page logged (errors, failed loads), from Chromium's own log."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium "
    "fonts-wqy-microhei)",
)
def test_report_renders_in_headless_chromium(
    world: dict[str, Any], served: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, requests = served
    dom = _chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not _console(dom.stderr), _console(dom.stderr)
    assert "<h1>Annotation operations report</h1>" in dom.stdout
    parser = _Charts()
    parser.feed(dom.stdout)
    assert set(parser.charts) == set(CHARTS)
    for chart, marks in parser.charts.items():
        drawn = marks["path"] + marks["rect"] + marks["circle"]
        assert drawn > 0 and marks["text"] > 3, (chart, marks)
    for chart in ("throughput", "aht", "audit-pass-rate", "gold-accuracy"):
        assert parser.charts[chart]["path"] >= 5, chart  # one line per project

    shot = tmp_path / "report.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", url)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not _console(run.stderr), _console(run.stderr)
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 4000)
    assert shot.stat().st_size > 100_000  # text, tables and charts, not a blank page
    # Nothing but the page itself was fetched: no network assets.
    assert {path for path in requests if path != "/favicon.ico"} == {"/report.html"}
    if _keep_artifacts():
        artifacts = ROOT / "tests" / "artifacts"
        artifacts.mkdir(exist_ok=True)
        shutil.copy(shot, artifacts / "report.png")
        shutil.copy(world["out"] / "report.html", artifacts / "report.html")


def test_empty_database(tmp_path: Path) -> None:
    runs = _in_child("empty_child", tmp_path / "data", tmp_path / "out")
    assert runs["report"]["rc"] == 1
    assert "has no metrics yet: nothing to report" in runs["report"]["stderr"]
    assert not (tmp_path / "out" / "empty.html").exists()
    assert runs["top"]["rc"] == 0 and "no metrics yet" in runs["top"]["stdout"]
    assert runs["alerts"]["rc"] == 0 and "no firing alerts" in runs["alerts"]["stdout"]
    assert runs["missing"]["rc"] == 1 and "no database at" in runs["missing"]["stderr"]


def busy_child(data_dir: str, out_dir: str) -> None:
    """The commands beside a running engine process, beside another holder, and once free."""
    import sinks.client
    from embedded.chdb_process import ChdbProcessClient
    from sinks.migrate import migrate

    dsn = "chdb://" + str(Path(data_dir) / "clickhouse")
    engine = ChdbProcessClient(dsn)  # as a worker holds it
    migrate(engine)
    try:
        runs = {"beside_engine": _cli(["top", "--data-dir", data_dir])}
    finally:
        engine.close()
    # A holder that is not an engine process (chDB loaded into some other program).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from sinks.client import connect; c = connect({dsn!r}); print(1, flush=True); "
            "import time; time.sleep(600)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"1"
    default = sinks.client.ENGINE_RELEASE_TIMEOUT_S
    sinks.client.ENGINE_RELEASE_TIMEOUT_S = 0.3
    try:
        runs["held"] = _cli(["top", "--data-dir", data_dir])
    finally:
        sinks.client.ENGINE_RELEASE_TIMEOUT_S = default
        holder.kill()
        holder.wait()
    # Nothing was tried on the engine while it was held: this same process opens it now.
    runs["free"] = _cli(["top", "--data-dir", data_dir])
    (Path(out_dir) / "result.json").write_text(json.dumps(runs, ensure_ascii=False))


def test_commands_read_beside_a_worker_and_name_any_other_holder(tmp_path: Path) -> None:
    runs = _in_child("busy_child", tmp_path / "data", tmp_path / "out")
    beside = runs["beside_engine"]
    assert beside["rc"] == 0 and "no metrics yet" in beside["stdout"], beside
    held = runs["held"]
    assert held["rc"] == 1
    assert "is held by another process (a running worker" in held["stderr"], held["stderr"]
    assert str(tmp_path / "data" / "clickhouse") in held["stderr"]
    assert runs["free"]["rc"] == 0, runs["free"]["stderr"]
    assert "no metrics yet" in runs["free"]["stdout"]
