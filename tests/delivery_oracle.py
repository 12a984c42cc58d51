"""A seeded stream of submissions and queue snapshots, and an independent delivery oracle.

The oracle recomputes every ``delivery_1m`` row in plain Python from the
generator's own events, with none of the production code (neither
``schemas.forecast`` nor ``streams.delivery``): the latest snapshot, the
trailing sums and every formula of docs/metrics.md ("Delivery") are written
out again here, the ratios with ``Fraction`` so the float rounding is the
only difference left to compare.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TZ8 = timezone(timedelta(hours=8))
PROJECTS = ["医疗影像标注", "autonomous-driving", "客服对话质检"]
QUEUES = ["队列-分割", "lidar-boxes"]
ANNOTATORS = [f"标注员-{i:02d}" for i in range(12)]
WINDOW_US = 2 * 3_600_000_000
DAY_US = 24 * 3_600_000_000
HOUR_US = 3_600_000_000


@dataclass
class DeliveryStream:
    lines: list[bytes] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)  # unique submissions
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # unique snapshots
    duplicates: int = 0
    last_minute: int = 0  # epoch s of the last minute with a submission


def _us(text: str) -> int:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH) // timedelta(
        microseconds=1
    )


def _spell(moment: datetime, rng: random.Random) -> str:
    if rng.random() < 0.5:
        moment = moment.astimezone(TZ8)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generate(seed: int, minutes: int, start: datetime) -> DeliveryStream:
    """Submissions every minute in every project (so every partition closes the same
    minutes), a snapshot per queue and minute plus, in a fifth of the minutes, a second
    one in the same minute with other counts, shuffled within 50 s and partly redelivered."""
    rng = random.Random(seed)
    stream = DeliveryStream()
    timed: list[tuple[float, dict[str, Any]]] = []
    open_left = {(p, q): rng.randint(300, 3000) for p in PROJECTS for q in QUEUES}
    due = {key: start + timedelta(hours=rng.randint(2, 30)) for key in open_left}
    serial = 0
    for minute in range(minutes):
        base = start + timedelta(minutes=minute)
        for project in PROJECTS:
            for queue in QUEUES:
                key = (project, queue)
                stalled = queue == QUEUES[1] and 30 <= minute < 60 and project == PROJECTS[0]
                count = 0 if stalled else rng.randint(0, 6)
                if project == PROJECTS[0] and queue == QUEUES[0] and count == 0:
                    count = 1  # every partition sees a submission in every minute
                for _ in range(count):
                    serial += 1
                    moment = base + timedelta(milliseconds=rng.randint(0, 59_999))
                    event = {
                        "event_type": "task_completed",
                        "schema_version": 1,
                        "event_id": f"t-{serial}",
                        "occurred_at": _spell(moment, rng),
                        "project_id": project,
                        "queue_id": queue,
                        "task_id": f"task-{serial}",
                        "annotator_id": rng.choice(ANNOTATORS),
                        "status": "submitted" if rng.random() < 0.9 else "skipped",
                        "handle_time_s": round(rng.uniform(5, 400), 3),
                    }
                    open_left[key] = max(0, open_left[key] - 1)
                    timed.append((moment.timestamp(), event))
                if minute >= minutes - 1:
                    continue  # no snapshot after the last submissions
                for extra in range(1 + (rng.random() < 0.2)):
                    serial += 1
                    moment = base + timedelta(milliseconds=rng.randint(0, 59_999))
                    snapshot: dict[str, Any] = {
                        "event_type": "queue_status",
                        "schema_version": 1,
                        "event_id": f"s-{serial:07d}",
                        "occurred_at": _spell(moment, rng),
                        "project_id": project,
                        "queue_id": queue,
                        "open_tasks": open_left[key] + extra * 7,
                    }
                    if rng.random() < 0.9:
                        snapshot["due_at"] = _spell(due[key], rng)
                    if rng.random() < 0.5:
                        snapshot["target_total"] = 5000
                        snapshot["in_progress"] = rng.randint(0, 20)
                    timed.append((moment.timestamp(), snapshot))
    # Shuffled within 50 s (under the 2 min lateness): nothing is late.
    timed.sort(key=lambda item: item[0] + rng.uniform(0, 50))
    for _, event in timed:
        line = json.dumps(event, ensure_ascii=False).encode()
        stream.lines.append(line)
        if event["event_type"] == "queue_status":
            stream.snapshots.append(event)
        elif event["status"] == "submitted":
            stream.tasks.append(event)
        if rng.random() < 0.05:  # a redelivery, somewhat later
            stream.lines.insert(len(stream.lines) - rng.randint(0, 3), line)
            stream.duplicates += 1
    last = max(_us(t["occurred_at"]) for t in stream.tasks)
    stream.last_minute = last // 60_000_000 * 60
    return stream


def oracle(
    stream: DeliveryStream, plans: dict[tuple[str, str], dict[str, Any]]
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every (project, queue, minute) row of delivery_1m, from the events alone."""
    submissions: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    for task in stream.tasks:
        submissions[(task["project_id"], task["queue_id"])].append(
            (
                _us(task["occurred_at"]),
                round(task["handle_time_s"] * 1_000_000),
                task["annotator_id"],
            )
        )
    snapshots: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for snap in stream.snapshots:
        snapshots[(snap["project_id"], snap["queue_id"])].append(snap)
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for key, snaps in snapshots.items():
        first = min(_us(s["occurred_at"]) for s in snaps) // 60_000_000 * 60
        plan = plans.get(key, {})
        for minute in range(first, stream.last_minute + 60, 60):
            now = (minute + 60) * 1_000_000
            known = [s for s in snaps if _us(s["occurred_at"]) < now]
            latest = max(known, key=lambda s: (_us(s["occurred_at"]), s["event_id"].encode()))
            open_tasks = latest["open_tasks"]
            due = plan.get("due_us", _us(latest["due_at"]) if "due_at" in latest else None)
            in_day = [s for s in submissions[key] if now - DAY_US <= s[0] < now]
            # The window starts at its length back, or at the day's first submission.
            first = min((s[0] // 60_000_000 * 60_000_000 for s in in_day), default=now - 60_000_000)
            since = max(now - WINDOW_US, first)
            window = now - since
            in_window = [s for s in in_day if since <= s[0]]
            submitted = len(in_window)
            handle = sum(s[1] for s in in_day)
            active = len({s[2] for s in in_window})
            if open_tasks == 0:
                eta: int | None = now
            elif submitted:
                eta = now + open_tasks * window // submitted
            else:
                eta = None
            required = None
            if due is not None and due > now:
                required = Fraction(open_tasks) / (
                    Fraction(due - now, HOUR_US) * Fraction(plan.get("hours_per_day", 8)) / 24
                )
            aht = Fraction(handle, 1_000_000 * len(in_day)) if in_day else None
            utilization = Fraction(plan.get("utilization", "0.75"))
            needed = (
                None if required is None or aht is None else required * aht / 3600 / utilization
            )
            rows[(*key, minute)] = {
                "open_tasks": open_tasks,
                "target_total": plan.get("target_total", latest.get("target_total")),
                "due_ms": None if due is None else due // 1000,
                "submitted": submitted,
                "submitted_24h": len(in_day),
                "annotators_active": active,
                "throughput_per_hour": Fraction(submitted * HOUR_US, window),
                "window_s": window // 1_000_000,
                "eta_ms": None if eta is None else eta // 1000,
                "slack_h": None if due is None or eta is None else Fraction(due - eta, HOUR_US),
                "required_per_hour": required,
                "aht_s": aht,
                "annotators_needed": needed,
                "annotators_gap": None if needed is None else needed - active,
                "snapshot_event_id": latest["event_id"],
            }
    return rows
