"""Injected incidents: their names, their seeded schedule, and malformed messages.

The schedule is drawn for every incident in a fixed order from its own random
stream, whichever incidents are enabled, so switching one incident off leaves
the scope and interval of the others unchanged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.units import from_epoch_s, rfc3339
from simulator.world import Project, Queue, World

INCIDENTS: tuple[str, ...] = (
    "vendor_quality_drop",
    "queue_stall",
    "aht_spike",
    "duplicates_and_late",
    "malformed",
)

DESCRIPTIONS = {
    "vendor_quality_drop": "a vendor's audit approval rate (and gold accuracy) drops in a project",
    "queue_stall": "a queue stops producing submissions (only expiries) after being active",
    "aht_spike": "handle times on one queue are multiplied",
    "duplicates_and_late": "a burst of re-sent duplicates and events delayed by minutes",
    "malformed": "a handful of invalid messages, one per kind",
}


class IncidentError(ValueError):
    """An unknown incident name (the message lists the known ones)."""


def parse_incidents(text: str) -> frozenset[str]:
    """``all``, ``none`` or a comma-separated list of incident names."""
    value = text.strip()
    if value == "all":
        return frozenset(INCIDENTS)
    if value in ("none", ""):
        return frozenset()
    names = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in INCIDENTS]
    if unknown:
        raise IncidentError(
            f"unknown incident(s) {', '.join(unknown)}: choose from {', '.join(INCIDENTS)}, "
            "all or none"
        )
    return frozenset(names)


def iso(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC (``Z``), milliseconds when not whole."""
    moment = from_epoch_s(round(ts, 3))
    return rfc3339(moment, "milliseconds" if moment.microsecond else "seconds")


@dataclass(slots=True, eq=False)
class Incident:
    """One scheduled incident; ``start <= t < end`` in event time (epoch seconds)."""

    name: str
    start: float
    end: float
    project: Project | None = None
    queue: Queue | None = None
    vendor_id: str | None = None
    params: dict[str, float] = field(default_factory=dict)
    time_basis: str = ""
    affected: int = 0
    plan: list[tuple[float, str]] = field(default_factory=list)  # malformed: (time, kind)

    def scope(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        if self.project is not None:
            labels["project_id"] = self.project.project_id
        if self.queue is not None:
            labels["queue_id"] = self.queue.queue_id
        if self.vendor_id is not None:
            labels["vendor_id"] = self.vendor_id
        return labels

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": DESCRIPTIONS[self.name],
            "scope": self.scope(),
            "start": iso(self.start),
            "end": iso(self.end),
            "time_basis": self.time_basis,
            "params": dict(self.params),
            "affected": self.affected,
        }


def schedule(world: World, seed: int, start: float, span_s: float) -> dict[str, Incident]:
    """Every incident's scope and interval for a run of ``span_s`` simulated seconds."""
    rng = random.Random(f"annotel-incidents/{seed}")
    length = min(max(round(0.2 * span_s), 60), 7200)
    order = list(world.projects)
    rng.shuffle(order)

    def project_at(i: int) -> Project:
        return order[i % len(order)]

    def at(low: float, high: float) -> float:
        return float(round(start + span_s * rng.uniform(low, high)))

    # Vendor drop: a (project, vendor) pair with a large share of the human flow, so
    # that its audits are numerous enough for a rule to notice.
    volumes: list[tuple[float, int, str]] = []
    for rank, candidate in enumerate(order):
        share: dict[str, float] = {}
        for queue in candidate.queues:
            if not queue.cum_weights:
                continue
            flow = queue.weight * (1 - queue.p_machine) / queue.cum_weights[-1]
            for person in queue.annotators:
                if person.vendor_id is not None:
                    share[person.vendor_id] = share.get(person.vendor_id, 0.0) + flow / person.speed
        for name in sorted(share):
            volumes.append((share[name], rank, name))
    vendor_project, vendor_id = order[0], None
    if volumes:
        top = max(v[0] for v in volumes)
        big = sorted((v for v in volumes if v[0] >= 0.6 * top), key=lambda v: (v[1], v[2]))
        _volume, rank, vendor_id = big[rng.randrange(len(big))]
        vendor_project = order[rank]
    rest = [p for p in order if p is not vendor_project] or order
    stall_project = rest[0 % len(rest)]
    aht_project = rest[1 % len(rest)]
    burst_project = rest[2 % len(rest)]
    stall_queue = max(stall_project.queues, key=lambda q: q.weight)
    aht_choices = [q for q in aht_project.queues if q is not stall_queue] or aht_project.queues
    aht_queue = aht_choices[rng.randrange(len(aht_choices))]

    drop_start = at(0.15, 0.25)
    stall_start = at(0.30, 0.40)
    aht_start = at(0.45, 0.55)
    burst_start = at(0.60, 0.68)
    burst_length = max(60, round(length * 0.6))
    incidents = {
        "vendor_quality_drop": Incident(
            "vendor_quality_drop",
            drop_start,
            drop_start + length,
            project=vendor_project,
            vendor_id=vendor_id,
            params={
                "approval_factor": round(rng.uniform(0.25, 0.4), 2),
                "gold_factor": round(rng.uniform(0.6, 0.75), 2),
            },
            time_basis="audit occurred_at for verdicts; submission occurred_at for gold",
        ),
        "queue_stall": Incident(
            "queue_stall",
            stall_start,
            stall_start + length,
            project=stall_project,
            queue=stall_queue,
            params={"expiry_share": 0.3},
            time_basis="task_completed occurred_at: no submitted or skipped events",
        ),
        "aht_spike": Incident(
            "aht_spike",
            aht_start,
            aht_start + length,
            project=aht_project,
            queue=aht_queue,
            params={"handle_time_factor": round(rng.uniform(2.5, 4.0), 2)},
            time_basis="submission occurred_at",
        ),
        "duplicates_and_late": Incident(
            "duplicates_and_late",
            burst_start,
            burst_start + burst_length,
            project=burst_project,
            params={
                "duplicate_share": 0.2,
                "delayed_within_share": 0.08,
                "delayed_beyond_share": 0.015,
            },
            time_basis="occurred_at of the original events",
        ),
    }
    times = sorted(at(0.1, 0.9) for _ in MALFORMED_KINDS)
    incidents["malformed"] = Incident(
        "malformed",
        times[0],
        times[-1] + 1,
        params={"count": float(len(MALFORMED_KINDS))},
        time_basis="publish time of the malformed lines",
    )
    kinds = list(MALFORMED_KINDS)
    rng.shuffle(kinds)
    incidents["malformed"].plan = list(zip(times, kinds, strict=True))
    return incidents


# -- malformed messages -------------------------------------------------------------------

# kind -> (expected dead-letter reason, what is wrong)
MALFORMED_KINDS: dict[str, tuple[str, str]] = {
    "truncated_json": ("invalid_json", "the message is cut off in the middle"),
    "gbk_encoded": ("invalid_json", "Chinese text encoded as GBK instead of UTF-8"),
    "json_array": ("not_an_object", "a batch sent as a JSON array"),
    "missing_event_type": ("unknown_event_type", "event_type is absent"),
    "unknown_event_type": ("unknown_event_type", "event_type task_started is not in contract v1"),
    "schema_version_2": ("unsupported_version", "schema_version 2"),
    "missing_task_id": ("missing_field", "task_id is absent"),
    "submitted_without_handle_time": ("missing_field", "a submission without handle_time_s"),
    "handle_time_as_string": ("invalid_field", 'handle_time_s is the string "45.2"'),
    "chinese_timestamp": ("invalid_field", "occurred_at written as 2026年11月23日 09时15分"),
    "verdict_in_chinese": ("invalid_field", "verdict 通过 instead of approve"),
    "created_after_occurred": ("invalid_field", "task_created_at after occurred_at"),
}


def break_event(kind: str, completed: dict[str, Any], audited: dict[str, Any]) -> bytes:
    """Turn valid events into the malformed message of ``kind``."""
    if kind == "truncated_json":
        line = orjson.dumps(completed)
        return line[: len(line) * 2 // 3]
    if kind == "gbk_encoded":
        text = orjson.dumps({**completed, "note": "标注完成，请复核"}).decode()
        return text.encode("gbk", errors="replace")
    if kind == "json_array":
        return orjson.dumps([completed, audited])
    if kind == "verdict_in_chinese":
        return orjson.dumps({**audited, "verdict": "通过"})
    event = dict(completed)
    if kind == "missing_event_type":
        del event["event_type"]
    elif kind == "unknown_event_type":
        event["event_type"] = "task_started"
    elif kind == "schema_version_2":
        event["schema_version"] = 2
    elif kind == "missing_task_id":
        del event["task_id"]
    elif kind == "submitted_without_handle_time":
        event.pop("handle_time_s", None)
    elif kind == "handle_time_as_string":
        event["handle_time_s"] = "45.2"
    elif kind == "chinese_timestamp":
        event["occurred_at"] = "2026年11月23日 09时15分"
    elif kind == "created_after_occurred":
        occurred = event["occurred_at"]
        event["task_created_at"] = occurred[:2] + str(int(occurred[2:4]) + 1) + occurred[4:]
    else:  # pragma: no cover - the kinds are a closed set
        raise ValueError(kind)
    return orjson.dumps(event)
