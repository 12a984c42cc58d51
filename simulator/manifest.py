"""The manifest: the ground truth of the lines a run has yielded so far.

Read from the counters the loop keeps as it yields lines (``RunState``):
per project and in total, by source and vendor, the incidents with what they
affected, the malformed lines and, with versions on, the version rule's
ground truth (``simulator.versions.Ledger``). The format is in the package
docstring; the per-project names are the metrics_1m columns.
"""

from __future__ import annotations

from typing import Any

from simulator.counters import PROJECT_FIELDS, SOURCES
from simulator.incidents import iso
from simulator.state import RunState

MANIFEST_VERSION = 1


def build(run: RunState) -> dict[str, Any]:
    """Ground truth of the lines yielded so far (see the package docs for the format)."""
    sim = run.sim
    projects = run.world.projects
    per_project: list[dict[str, Any]] = [dict.fromkeys(PROJECT_FIELDS, 0) for _ in projects]
    by_source = dict.fromkeys(SOURCES, 0)
    by_vendor: dict[str, int] = {}
    ledger = run.ledger
    uncounted = {} if ledger is None else ledger.uncounted
    for stat, lines in sorted(
        run.stats.items(),
        key=lambda item: (item[0][0], item[0][1], item[0][2], item[0][3] or ""),
    ):
        pidx, counts, source, vendor = stat
        row = per_project[pidx]
        row["events"] += lines
        row[counts[0]] += lines  # the event type: every accepted line
        counting = lines - uncounted.get(stat, 0)  # the aggregates: what counts
        for name in counts[1:]:
            row[name] += counting
        by_source[source] += lines
        label = vendor or "(in-house)"
        by_vendor[label] = by_vendor.get(label, 0) + lines
    for project, row in zip(projects, per_project, strict=True):
        row["duplicates"] = run.duplicates[project.index]
        row["handle_time_sum_s"] = run.handle_micro[project.index] / 1_000_000
        row["audit_score_sum"] = run.score_micro[project.index] / 1_000_000
        if ledger is not None:
            row["superseded"] = ledger.superseded[project.index]
            row["retractions"] = ledger.retractions[project.index]
    by_reason: dict[str, int] = {}
    for item in run.malformed:
        by_reason[item["reason"]] = by_reason.get(item["reason"], 0) + 1
    unique = sum(row["events"] for row in per_project)
    duplicates = sum(run.duplicates)
    incidents = []
    for name in sim.incidents:
        described = run.active[name].describe()
        if name == "malformed":
            described["affected"] = len(run.malformed)
        incidents.append(described)
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "generator": "annotel simulate",
        "seed": sim.seed,
        "start": iso(sim.start_ts),
        "requested": {
            "events": run.n,
            "duration_s": None if run.duration is None else run.duration.total_seconds(),
        },
        "knobs": dict(sim.knobs),
        "allowed_lateness_s": sim.allowed_lateness_s,
        "complete": run.finished,
        "span": {
            "first_occurred_at": iso(run.first_occurred) if unique else None,
            "last_occurred_at": iso(run.max_occurred) if unique else None,
            "planned_s": round(run.span_s, 3),
        },
        "counts": {
            "lines": run.lines_out,
            "valid": unique + duplicates,
            "unique_events": unique,
            "duplicates": duplicates,
            "malformed": len(run.malformed),
            "malformed_by_reason": dict(sorted(by_reason.items())),
            "task_completed": sum(row["task_completed"] for row in per_project),
            "task_audited": sum(row["task_audited"] for row in per_project),
            "delayed_within_lateness": run.delayed_within,
            "late_beyond_lateness": run.late_beyond,
            "by_source": by_source,
            "by_vendor": dict(sorted(by_vendor.items())),
        },
        "per_project": {
            project.project_id: row for project, row in zip(projects, per_project, strict=True)
        },
        "incidents_enabled": list(sim.incidents),
        "incidents": incidents,
        "malformed": list(run.malformed),
        "world": run.world.describe(),
    }
    if ledger is not None:
        manifest["counts"]["superseded"] = sum(ledger.superseded)
        manifest["counts"]["retractions"] = sum(ledger.retractions)
        manifest["versions"] = ledger.describe()
    if run.book is not None:  # snapshots are accepted events, of no project's counts
        manifest["counts"]["queue_status"] = run.book.snapshots_out
        manifest["counts"]["valid"] += run.book.snapshots_out
        manifest["counts"]["unique_events"] += run.book.snapshots_out
        manifest["delivery"] = run.book.describe()
    return manifest
