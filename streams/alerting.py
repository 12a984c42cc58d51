"""Closed windows from every input partition → one alert evaluator, exactly once.

Input partitions close their minutes independently (each has its own
watermark) and may live on different workers, while a rule's scope may span
partitions (a vendor works on several projects). So each partition's
checkpoint publishes what it closed to the single-partition windows topic:

- ``piece`` records carry aggregates of closed minutes (split to stay small);
- one ``mark`` record per checkpoint attempt says "partition p has closed
  everything before T" and how many pieces belong to that attempt.

The alert stage (``AlertStage``, pure apart from what its caller does with
the output) applies an attempt's pieces only when its mark arrives, and only
minutes at or above what it already applied for that partition. A worker that
crashed mid-checkpoint leaves pieces without a mark; its replay re-sends the
minutes under a new attempt id, so nothing is counted twice. The global
watermark is the minimum over partitions that still have open windows
(idle, caught-up partitions do not hold it back); rule windows are evaluated
when it passes their end.

The stage's state (evaluator, per-partition progress, unfinished attempts,
input offset) is snapshotted to the alert-state topic after its outputs
(alerts table, alerts topic) are written; replays are recognised by the
deterministic ``AlertEvent.event_id`` and not published twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from alerts.evaluator import Evaluator
from alerts.model import AlertEvent
from alerts.rules import RuleSet
from alerts.silences import Silences
from streams.state import ClosedWindow

log = logging.getLogger(__name__)

PIECE_KEYS = 2000  # aggregate rows per piece record: well under the broker's message limit


def encode_reports(
    partition: int, closed_before: int, idle: bool, closed: Sequence[ClosedWindow]
) -> list[bytes]:
    """The records one checkpoint of one partition publishes: pieces, then the mark."""
    attempt = uuid.uuid4().hex
    pieces: list[bytes] = []
    rows: list[list[Any]] = []
    current: list[list[Any]] = []

    def flush() -> None:
        nonlocal rows, current
        if rows:
            pieces.append(orjson.dumps({"k": "piece", "p": partition, "a": attempt, "m": rows}))
        rows, current = [], []

    count = 0
    for window in closed:
        current = []
        rows.append([window.window_start, current])
        for key, aggregate in window.aggregates.items():
            current.append([*key[1:], *aggregate])
            count += 1
            if count % PIECE_KEYS == 0:
                flush()
                current = []
                rows.append([window.window_start, current])
    flush()
    mark = {
        "k": "mark",
        "p": partition,
        "a": attempt,
        "n": len(pieces),
        "closed_before": closed_before,
        "idle": idle,
    }
    return [*pieces, orjson.dumps(mark)]


@dataclass
class AlertStage:
    rules: RuleSet
    partitions: int  # input partitions that report (all must be heard from)
    evaluator: Evaluator = field(init=False)
    applied: dict[int, int] = field(default_factory=dict)  # partition -> closed_before applied
    idle: dict[int, bool] = field(default_factory=dict)
    pending: dict[str, list[Any]] = field(default_factory=dict)  # attempt -> pieces' minutes
    offset: int = 0  # next windows-topic offset to read
    closed_before: int = 0  # global
    published: list[str] = field(default_factory=list)  # recent event ids (replay guard)
    bad_records: int = 0

    def __post_init__(self) -> None:
        self.evaluator = Evaluator(self.rules)

    # -- input ------------------------------------------------------------------------

    def apply(self, offset: int, value: bytes) -> None:
        """One windows-topic record, in log order."""
        self.offset = offset + 1
        try:
            record = orjson.loads(value)
            kind = record["k"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.bad_records += 1
            log.error("windows topic: unreadable record skipped", extra={"offset": offset})
            return
        if kind == "piece":
            self.pending.setdefault(record["a"], []).extend(record["m"])
            return
        partition = int(record["p"])
        minutes = self.pending.pop(record["a"], [])
        floor = self.applied.get(partition, 0)
        for window_start, rows in minutes:
            if window_start < floor or window_start >= record["closed_before"]:
                continue  # already applied by an earlier attempt, or not closed by this one
            aggregates = {(window_start, *row[:6]): row[6:] for row in rows}
            self.evaluator.add_minute(window_start, aggregates)
        self.applied[partition] = max(floor, int(record["closed_before"]))
        self.idle[partition] = bool(record["idle"])

    def forget_orphans(self, keep: int = 64) -> None:
        """Pieces whose mark never came (a crashed attempt) are dropped, oldest first."""
        while len(self.pending) > keep:
            self.pending.pop(next(iter(self.pending)))

    # -- evaluation -------------------------------------------------------------------

    def global_closed_before(self) -> int:
        """Minimum over partitions still filling windows; everything when all are idle."""
        heard = [self.applied.get(p) for p in range(self.partitions)]
        if any(v is None for v in heard):
            return self.closed_before  # a partition not heard from yet may hold anything
        busy = [self.applied[p] for p in range(self.partitions) if not self.idle.get(p, False)]
        candidate = min(busy) if busy else max(self.applied.values(), default=0)
        return max(self.closed_before, candidate)

    def evaluate(self, now: datetime, silences: Silences | None = None) -> list[AlertEvent]:
        target = self.global_closed_before()
        if target <= self.closed_before:
            return []
        self.closed_before = target
        return self.evaluator.advance(target, now, silences)

    def new_events(self, events: Iterable[AlertEvent]) -> list[AlertEvent]:
        """Events not published before (a replay after a crash recomputes the same ids)."""
        seen = set(self.published)
        fresh = [e for e in events if e.event_id not in seen]
        self.published.extend(e.event_id for e in fresh)
        del self.published[:-10_000]
        return fresh

    # -- checkpoints ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "seq": self.offset,
            "offset": self.offset,
            "applied": {str(k): v for k, v in self.applied.items()},
            "idle": {str(k): v for k, v in self.idle.items()},
            "pending": self.pending,
            "closed_before": self.closed_before,
            "published": self.published,
            "evaluator": self.evaluator.state(),
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        self.offset = int(snapshot["offset"])
        self.applied = {int(k): int(v) for k, v in snapshot["applied"].items()}
        self.idle = {int(k): bool(v) for k, v in snapshot["idle"].items()}
        self.pending = dict(snapshot["pending"])
        self.closed_before = int(snapshot["closed_before"])
        self.published = list(snapshot["published"])
        self.evaluator = Evaluator(self.rules, state=snapshot["evaluator"])


def alert_row(event: AlertEvent, emitted_at: datetime | None = None) -> list[Any]:
    """A row of the ``alerts`` table (column order of sinks.schema)."""
    return [
        event.fingerprint,
        event.rule,
        event.status,
        event.severity,
        event.labels,
        event.annotations,
        event.metric,
        event.value,
        event.threshold,
        event.window_start,
        event.window_end,
        event.starts_at,
        event.ends_at,
        emitted_at or datetime.now(UTC),
        event.muted_by,
        event.repeat,
    ]
