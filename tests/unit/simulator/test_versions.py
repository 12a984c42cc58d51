"""The simulator's versions: edits, deletes and re-audits as platforms send them.

Off (the default), the feed and its manifest are the bytes they were before
versions existed. On, every line is decoded with the contract's decoder and
the manifest's aggregates are checked against a recount by the version rule
of ``schemas.versions`` (the simulator computes its ground truth without it).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import ContractDecoder, ContractEvent, DecodeError, TaskAudited, TaskCompleted
from schemas.versions import entity, order_key
from simulator import Simulator
from simulator import versions as plan

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC) - timedelta(hours=8)  # 09:00 in Beijing
DECODER = ContractDecoder(1 << 20, 3650 * 86400)
CLOCK = START + timedelta(days=30)
VERDICT = {"approve": "audits_approved", "fix": "audits_fixed", "reject": "audits_rejected"}


def _digest(sim: Simulator, **size: Any) -> tuple[str, str]:
    lines = hashlib.sha256(b"\n".join(sim.events(**size))).hexdigest()
    manifest = orjson.dumps(sim.manifest, option=orjson.OPT_SORT_KEYS)
    return lines, hashlib.sha256(manifest).hexdigest()


# (lines, manifest) digests of the streams without versions, recorded from the
# simulator built without the versions code (the roster's standout and weak
# annotators included); the versions option off must never change a byte.
BEFORE = [
    (
        lambda: Simulator(42, START),
        {"n": 20_000},
        "d864421fb2602a7a05861dc32948ab766e6036979c6d24ddb2c1074a28eeaa20",
        "054b41e07887e22ea10cd03325e1d7d25b6b13262e6a885229e1e5f4c5f28313",
    ),
    (
        lambda: Simulator(7, START, set(), tasks_per_second=1.3),
        {"duration": timedelta(hours=1)},
        "6a85657ab409bc2d27ad60e442528a44d9d7e773b0fd4d3af64bdaadc7063671",
        "432bc6fc16f7e41ee075854e60a85443bb1f4ee41d7f8487329a6ca57c8a124b",
    ),
    (
        lambda: Simulator(3, START, projects=2, vendors=2, annotators=20),
        {"n": 5000},
        "48f3b597ae4dea48c96846f8680c4b0f30ad6707a10e09f23bfc2d2ad9bf843d",
        "dad2f71f7798311461c03d2756a16988f26ee1c97f8d7c7318051703cfc925cd",
    ),
    (  # the demo's default run
        lambda: Simulator(
            1,
            datetime(2026, 11, 22, 20, tzinfo=UTC),
            None,
            projects=3,
            vendors=3,
            annotators=200,
            tasks_per_second=1.5,
        ),
        {"n": 40_000},
        "9d916d4dd135704ae9056901f6e8e76df1a6f8b9e2c3f9e3e882598d2d6dba9c",
        "0ee6b7c576879334de4dc445cfcb2bbb1a5d1b86a0db811ae84f11612eceab36",
    ),
]


@pytest.mark.parametrize(("make", "size", "lines", "manifest"), BEFORE)
def test_off_the_feed_and_manifest_are_the_bytes_they_were(
    make: Any, size: dict[str, Any], lines: str, manifest: str
) -> None:
    sim = make()
    assert _digest(sim, **size) == (lines, manifest)
    assert "versions" not in sim.knobs and "versions" not in sim.manifest


# -- on ---------------------------------------------------------------------------------


def _events(lines: list[bytes]) -> list[ContractEvent]:
    """The unique accepted events, in publish order."""
    events, seen = [], set()
    for line in lines:
        event = DECODER.decode(line, CLOCK)
        if isinstance(event, DecodeError):
            continue
        if (event.project_id, event.event_id) not in seen:
            seen.add((event.project_id, event.event_id))
            events.append(event)
    return events


def _recount(events: list[ContractEvent]) -> dict[str, Any]:
    """The manifest's counts, per project, by the version rule (schemas.versions)."""
    latest: dict[Any, ContractEvent] = {}
    counted: list[ContractEvent] = []
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        row = rows[event.project_id]
        row["events"] += 1
        row[event.event_type] += 1
        row["retractions"] += event.retracted
        key = entity(event)
        if key is None:
            counted.append(event)
        elif key not in latest:
            latest[key] = event
        else:
            row["superseded"] += 1
            if order_key(event) > order_key(latest[key]):
                latest[key] = event
    counted += [e for e in latest.values() if not e.retracted]
    for event in counted:
        row = rows[event.project_id]
        if isinstance(event, TaskCompleted):
            if event.status == "submitted":
                row["tasks_submitted"] += 1
                row["rework_submitted"] += event.attempt > 1
                row["gold_submitted"] += event.is_gold
                row["gold_correct"] += bool(event.gold_correct)
                row["handle_micro"] += round((event.handle_time_s or 0) * 1e6)
            else:
                row[f"tasks_{event.status}"] += 1
        elif isinstance(event, TaskAudited):
            row["audits"] += 1
            row[VERDICT[event.verdict]] += 1
            row["score_micro"] += round((event.score or 0) * 1e6)
    return rows


def _assert_manifest_follows_the_rule(
    events: list[ContractEvent], manifest: dict[str, Any]
) -> None:
    rows = _recount(events)
    per_project = manifest["per_project"]
    assert set(per_project) == set(rows)
    for project_id, row in per_project.items():
        expected = rows[project_id]
        for name, value in row.items():
            if name == "handle_time_sum_s":
                assert round(value * 1e6) == expected["handle_micro"], project_id
            elif name == "audit_score_sum":
                assert round(value * 1e6) == expected["score_micro"], project_id
            elif name != "duplicates":
                assert value == expected[name], (project_id, name)
    counts = manifest["counts"]
    assert counts["superseded"] == sum(r["superseded"] for r in rows.values())
    assert counts["retractions"] == sum(r["retractions"] for r in rows.values())


Run = tuple[list[bytes], dict[str, Any], list[ContractEvent]]


@pytest.fixture(scope="module")
def long_run() -> Run:
    """Three simulated days: versions of every kind, and the ledger's forgetting."""
    sim = Simulator(42, START, versions=True, tasks_per_second=0.25)
    lines = list(sim.events(duration=timedelta(days=3)))
    return lines, sim.manifest, _events(lines)


def test_on_the_manifest_is_the_version_rule_over_what_was_published(long_run: Run) -> None:
    lines, manifest, events = long_run
    assert manifest["knobs"]["versions"] is True and manifest["complete"]
    counts = manifest["counts"]
    assert counts["lines"] == len(lines) == counts["valid"] + counts["malformed"]
    assert counts["unique_events"] == len(events)
    assert counts["task_completed"] == sum(e.event_type == "task_completed" for e in events)
    assert counts["superseded"] > 500 and counts["retractions"] > 50
    _assert_manifest_follows_the_rule(events, manifest)


def test_the_manifest_holds_for_every_prefix_of_the_feed() -> None:
    """Ground truth of the lines yielded so far, versions sent out of order included."""
    sim = Simulator(8, START, versions=True)
    feed = sim.events(n=30_000)
    lines: list[bytes] = []
    for cut in (7_000, 19_000, 30_000):
        lines += itertools.islice(feed, cut - len(lines))
        _assert_manifest_follows_the_rule(_events(lines), sim.manifest)
    assert sim.manifest["versions"]["out_of_order"] > 0


def _kinds(events: list[ContractEvent]) -> dict[str, list[ContractEvent]]:
    by_entity: dict[Any, list[ContractEvent]] = defaultdict(list)
    for event in events:
        key = entity(event)
        if key is not None:
            by_entity[key].append(event)
    return by_entity


def test_the_rates_are_what_the_options_say(long_run: Run) -> None:
    _lines, manifest, events = long_run
    end = max(e.occurred_at for e in events)
    completed = [e for e in events if isinstance(e, TaskCompleted) and e.revision == 1]
    with_id = [e for e in completed if e.submission_id is not None]
    assert abs(len(with_id) / len(completed) - plan.P_SUBMISSION_ID) < 0.015
    # Shares of the work old enough for every later version to be out already.
    settled = [
        e
        for e in completed
        if e.status == "submitted" and e.occurred_at < end - timedelta(hours=19)
    ]
    versions = _kinds(events)
    edited = deleted = 0
    for event in settled:
        if event.submission_id is None:
            continue
        later = [v for v in versions.get(entity(event), []) if v is not event]
        edited += any(v.revision == 2 and not v.retracted for v in later)
        deleted += any(v.retracted for v in later)
    assert 0.025 < edited / len(settled) < 0.035, edited / len(settled)
    assert 0.0035 < deleted / len(settled) < 0.0065, deleted / len(settled)
    audits = [e for e in events if isinstance(e, TaskAudited)]
    first_audits = [a for a in audits if not a.event_id.endswith("-re")]
    old = [a for a in first_audits if a.occurred_at < end - timedelta(hours=9)]
    ids = {(a.project_id, a.event_id) for a in audits}
    re_audited = sum((a.project_id, a.event_id + "-re") in ids for a in old)
    assert 0.04 < re_audited / len(old) < 0.06, re_audited / len(old)
    described = manifest["versions"]
    assert described["edits"] > 0.02 * len(completed)
    assert 0.1 < described["restores"] / described["deletions"] < 0.35


def test_versions_look_like_what_platforms_send(long_run: Run) -> None:
    _lines, _manifest, events = long_run
    position = {(e.project_id, e.event_id): i for i, e in enumerate(events)}
    seen: Counter[str] = Counter()
    for versions in _kinds(events).values():
        ordered = sorted(versions, key=order_key)
        first = ordered[0]
        for later in ordered[1:]:
            assert later.occurred_at > first.occurred_at  # no ties: later work is later
            if later.retracted:
                seen["ids only" if later.queue_id is None else "whole version"] += 1
                continue
            if isinstance(later, TaskCompleted):
                assert isinstance(first, TaskCompleted)
                assert (later.task_id, later.annotator_id, later.attempt) == (
                    first.task_id,
                    first.annotator_id,
                    first.attempt,
                )
                seen["moved queue"] += later.queue_id != first.queue_id
                seen["new handle time"] += later.handle_time_s != first.handle_time_s
            else:
                seen["re-audit"] += 1
                assert isinstance(later, TaskAudited) and isinstance(first, TaskAudited)
                seen["other auditor"] += later.auditor_id != first.auditor_id
            key = (first.project_id, first.event_id)
            seen["out of order"] += position[key] > position[(later.project_id, later.event_id)]
    for name in ("ids only", "whole version", "moved queue", "re-audit", "out of order"):
        assert seen[name] > 5, (name, seen)
    assert seen["new handle time"] > 0.8 * seen["moved queue"]


def test_on_the_same_seed_gives_the_same_bytes_in_any_process() -> None:
    sim = Simulator(5, START, versions=True)
    first = b"\n".join(sim.events(n=8000))
    manifest = sim.manifest
    again = Simulator(5, START, **{k: v for k, v in manifest["knobs"].items()})
    assert b"\n".join(again.events(n=8000)) == first and again.manifest == manifest
    assert b"\n".join(Simulator(6, START, versions=True).events(n=8000)) != first
    code = (
        "import hashlib; from datetime import datetime, UTC; from simulator import Simulator;"
        "sim = Simulator(5, datetime(2026, 11, 23, 1, tzinfo=UTC), versions=True);"
        "print(hashlib.sha256(b'\\n'.join(sim.events(n=8000))).hexdigest())"
    )
    root = Path(__file__).resolve().parents[3]
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert digests == {hashlib.sha256(first).hexdigest() + "\n"}
