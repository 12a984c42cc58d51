"""The alert stage's pure logic: closed windows from every input partition → one evaluator,
exactly once.

The windows topic carries ``piece`` and ``mark`` records (``alerts.handoff``).
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
(alerts table, alerts topic) are written, every few seconds; in between, each
evaluation leaves a small step record (offset, ``now``) so that a replay
evaluates where the original run did (``streams.alert_stage``). Replays are
recognised by the deterministic ``AlertEvent.event_id`` and not published twice.
The digest book (``alerts.digest``: what digest receivers collected this
period) is part of the same snapshot; ``take_digests`` hands over the periods
the latest evaluations closed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from alerts.digest import Digest, DigestBook
from alerts.evaluator import Evaluator
from alerts.evaluator.delivery import DeliveryEvaluator, without_delivery
from alerts.handoff import Piece, decode
from alerts.model import AlertEvent
from alerts.rules import RuleSet
from alerts.silences import Silences
from schemas.json_pieces import json_array
from schemas.units import epoch_us, from_epoch_s, from_epoch_us

log = logging.getLogger(__name__)

PUBLISHED_KEPT = 10_000  # recent event ids kept in the snapshot
STEP = "step"  # ``kind`` of an alert-state record that is not a full snapshot


def step_time(record: Mapping[str, Any]) -> datetime:
    """The ``now`` of a step record, exactly."""
    return from_epoch_us(int(record["now_us"]))


@dataclass
class AlertStage:
    """Everything the alert stage knows between two windows-topic records.

    Pure, so that its whole state is one snapshot and a replay of the same
    records at the same evaluation points (``streams.alert_stage``) rebuilds it
    exactly; the caller owns the order of outputs and state records.
    """

    rules: RuleSet
    partitions: int  # input partitions that report (all must be heard from)
    evaluator: Evaluator = field(init=False)
    delivery: DeliveryEvaluator = field(init=False)  # the delivery rules (their own stage)
    applied: dict[int, int] = field(default_factory=dict)  # partition -> closed_before applied
    idle: dict[int, bool] = field(default_factory=dict)
    pending: dict[str, list[Any]] = field(default_factory=dict)  # attempt -> pieces' minutes
    offset: int = 0  # next windows-topic offset to read
    closed_before: int = 0  # global
    published: list[str] = field(default_factory=list)  # recent event ids (replay guard)
    bad_records: int = 0
    # Ids found on the alerts topic at recovery that a replay may compute again (see
    # ``guard``); kept apart from ``published`` so that trimming it cannot drop them.
    replayed: set[str] = field(default_factory=set)
    _seen: set[str] = field(default_factory=set, init=False, repr=False)  # set(published)
    # What digest receivers have collected this period (``alerts.digest``): snapshotted
    # with the evaluator, so a period's content survives a crash.
    book: DigestBook = field(init=False)
    ready: list[Digest] = field(default_factory=list, init=False)  # periods just closed

    def __post_init__(self) -> None:
        self.evaluator = Evaluator(without_delivery(self.rules))
        self.delivery = DeliveryEvaluator(self.rules)
        self.book = DigestBook.from_receivers(self.rules.receivers)
        self._seen = set(self.published)

    # -- input ------------------------------------------------------------------------

    def apply(self, offset: int, value: bytes) -> None:
        """One windows-topic record, in log order."""
        self.offset = offset + 1
        record = decode(value)
        if record is None:
            self.bad_records += 1
            log.error("windows topic: unreadable record skipped", extra={"offset": offset})
            return
        if isinstance(record, Piece):
            self.pending.setdefault(record.attempt, []).extend(record.minutes)
            return
        partition = record.partition
        minutes = self.pending.pop(record.attempt, [])
        floor = self.applied.get(partition, 0)
        for window_start, rows, *rest in minutes:
            if window_start < floor or window_start >= record.closed_before:
                continue  # already applied by an earlier attempt, or not closed by this one
            self.evaluator.add_rows(window_start, rows)
            if rest and rest[0]:  # delivery forecasts of the minute (alerts.handoff)
                self.delivery.add(window_start, rest[0])
            if len(rest) > 1:  # its error-category counts (absent from older records)
                self.evaluator.add_errors(window_start, rest[1])
        self.applied[partition] = max(floor, record.closed_before)
        self.idle[partition] = record.idle

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
        events = self.evaluator.advance(target, now, silences)
        events = events + self.delivery.advance(target, now, silences)
        if self.book:
            watermark = self.evaluator.closed_before
            assert watermark is not None
            self.ready.extend(self.book.collect(events, watermark))
        return events

    def take_digests(self) -> list[Digest]:
        """The digests of periods that ended at the evaluations since the last call."""
        ready, self.ready = self.ready, []
        return ready

    def new_events(self, events: Iterable[AlertEvent]) -> list[AlertEvent]:
        """Events not published before (a replay after a crash recomputes the same ids)."""
        seen, replayed = self._seen, self.replayed
        fresh = [e for e in events if e.event_id not in seen and e.event_id not in replayed]
        for event in fresh:
            self.published.append(event.event_id)
            seen.add(event.event_id)
        if len(self.published) > PUBLISHED_KEPT:
            dropped = self.published[:-PUBLISHED_KEPT]
            del self.published[:-PUBLISHED_KEPT]
            seen.difference_update(dropped)
        return fresh

    def guard(self, published: Iterable[Mapping[str, Any]]) -> int:
        """Remember the alerts already on the alerts topic that a replay may compute again.

        A replay starts from the restored snapshot, so it can only recompute events of
        rule windows that end after the snapshot's ``closed_before``; older ids are
        left out (the topic holds the whole history). Returns how many were kept.
        """
        closed = self.evaluator.closed_before
        floor = None if closed is None else from_epoch_s(closed)
        kept = 0
        for event in published:
            event_id = event.get("event_id")
            if not isinstance(event_id, str) or event_id in self._seen:
                continue
            if floor is not None:
                try:
                    end = datetime.fromisoformat(str(event.get("window_end")))
                except ValueError:
                    end = None  # unreadable: keep it, to be safe
                if end is not None and end.tzinfo is not None and end <= floor:
                    continue
            self.replayed.add(event_id)
            kept += 1
        return kept

    # -- checkpoints ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {**self._snapshot_head(), "evaluator": self.evaluator.state()}

    def _snapshot_head(self) -> dict[str, Any]:
        return {
            "seq": self.offset,
            "offset": self.offset,
            "applied": {str(k): v for k, v in self.applied.items()},
            "idle": {str(k): v for k, v in self.idle.items()},
            "pending": self.pending,
            "closed_before": self.closed_before,
            "published": self.published,
            "delivery": self.delivery.state(),
            "digests": self.book.state(),
        }

    def snapshot_json(self, record: Mapping[str, Any]) -> Iterator[bytes]:
        """The JSON of ``{**record, **self.snapshot()}``, byte for byte, in pieces.

        For ``encode_chunks``: at 10 000 annotators the snapshot's objects and
        its JSON were each tens of MB, held at once with the chunks, and that
        moment set the worker's peak RSS (docs/performance.md). Here the
        evaluator's series and partial windows are encoded a few thousand at a
        time. ``record`` must not hold an ``evaluator`` key.
        """
        yield orjson.dumps({**record, **self._snapshot_head()})[:-1] + b',"evaluator":'
        yield orjson.dumps(self.evaluator.state_head())[:-1] + b',"rules":{'
        for index, (name, head, partials, lifecycles) in enumerate(self.evaluator.rule_states()):
            yield b"," * bool(index) + orjson.dumps(name) + b":" + orjson.dumps(head)[:-1]
            yield b',"partials":['
            for position, (start, items) in enumerate(partials):
                yield b"," * bool(position) + b"[" + orjson.dumps(start) + b","
                yield from json_array(items)
                yield b"]"
            yield b'],"series":'
            yield from json_array(lifecycles)
            yield b"}"
        yield b"}}}"  # rules, evaluator, the record

    def step_record(self, now: datetime) -> dict[str, Any]:
        """Where (windows-topic offset) and when (``now`` for silences) ``evaluate`` ran.

        Written after every evaluation between full snapshots, so that a replay from
        the last full snapshot evaluates at exactly the same points (see
        ``streams.alert_stage``).
        """
        return {"kind": STEP, "seq": self.offset, "offset": self.offset, "now_us": epoch_us(now)}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        self.offset = int(snapshot["offset"])
        self.applied = {int(k): int(v) for k, v in snapshot["applied"].items()}
        self.idle = {int(k): bool(v) for k, v in snapshot["idle"].items()}
        self.pending = dict(snapshot["pending"])
        self.closed_before = int(snapshot["closed_before"])
        self.published = list(dict.fromkeys(snapshot["published"]))
        self._seen = set(self.published)
        self.replayed = set()
        self.evaluator = Evaluator(without_delivery(self.rules), state=snapshot["evaluator"])
        self.delivery = DeliveryEvaluator(self.rules, state=snapshot.get("delivery"))
        self.book = DigestBook.from_receivers(self.rules.receivers)
        self.book.restore(snapshot.get("digests", {}))
        self.ready = []
