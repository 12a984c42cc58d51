"""Digests: what was routed to a ``digest:`` receiver, collected and sent once per period.

A coaching signal (an annotator's audit pass rate) is for a contributor
manager's morning, not for a page: its transitions are collected per receiver
and sent as one message when the period ends, listing what fired, what is
still firing and what resolved, per scope, worst first (severity, then how
far past the threshold the value is).

The clock is event time: a period ends when the stage's watermark (the end of
the rule windows it has evaluated) reaches the period's end, never by the wall
clock. So a replay of the same minutes sends the same digests with the same
contents, a restart neither loses nor repeats one, and a replayed history of a
week sends a week of digests. The book is part of the alert stage's snapshot
(``alerts.stage``): what a period has collected survives a crash with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from alerts.model import SEVERITIES, AlertEvent
from alerts.receivers.settings import DigestSchedule, digest_schedule
from schemas.units import from_epoch_s, rfc3339

FIRED = "fired"
STILL_FIRING = "still_firing"
RESOLVED = "resolved"
SECTIONS = (FIRED, STILL_FIRING, RESOLVED)


def period_end(schedule: DigestSchedule, moment: int) -> int:
    """The first period end at or after ``moment`` (epoch seconds): a window that ends
    exactly at a period's end belongs to that period."""
    if schedule.every_s is not None:
        return -(-moment // schedule.every_s) * schedule.every_s
    assert schedule.at is not None
    local = from_epoch_s(moment).astimezone(schedule.zone)
    hour, minute = schedule.at
    day = local.date()
    for offset in range(3):  # today's, tomorrow's (a DST gap can skip a local time)
        candidate = datetime(
            day.year, day.month, day.day, hour, minute, tzinfo=schedule.zone
        ) + timedelta(days=offset)
        end = int(candidate.timestamp())
        if end >= moment:
            return end
    raise AssertionError("no period end within two days")  # pragma: no cover


def _badness(event: AlertEvent) -> float:
    """How far past its threshold the value is, in the direction the rule fires."""
    if event.value is None:
        return float("-inf")
    op = event.extra.get("op")
    if isinstance(op, str) and op.startswith("<"):
        return event.threshold - event.value
    return event.value - event.threshold


def order(events: Iterable[AlertEvent]) -> list[AlertEvent]:
    """Worst first: severity, then distance past the threshold, then rule and scope."""
    return sorted(
        events,
        key=lambda e: (
            SEVERITIES.index(e.severity) if e.severity in SEVERITIES else len(SEVERITIES),
            -_badness(e),
            e.rule,
            sorted(e.scope.items()),
        ),
    )


@dataclass(frozen=True)
class Digest:
    """One period's message for one receiver."""

    receiver: str
    period_start: datetime
    period_end: datetime
    fired: tuple[AlertEvent, ...]
    still_firing: tuple[AlertEvent, ...]
    resolved: tuple[AlertEvent, ...]

    @property
    def digest_id(self) -> str:
        material = f"digest|{self.receiver}|{self.period_end.isoformat()}"
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    @property
    def events(self) -> tuple[AlertEvent, ...]:
        return self.fired + self.still_firing + self.resolved

    def sections(self) -> list[tuple[str, tuple[AlertEvent, ...]]]:
        return [(FIRED, self.fired), (STILL_FIRING, self.still_firing), (RESOLVED, self.resolved)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest_id": self.digest_id,
            "receiver": self.receiver,
            "period_start": rfc3339(self.period_start),
            "period_end": rfc3339(self.period_end),
            **{name: [e.to_dict() for e in events] for name, events in self.sections()},
        }


def _event_state(event: AlertEvent) -> dict[str, Any]:
    return {"event": event.to_dict(), "extra": event.extra}


def _event_from(data: Mapping[str, Any]) -> AlertEvent:
    return replace(AlertEvent.from_dict(data["event"]), extra=dict(data["extra"]))


@dataclass
class Pending:
    """One receiver's book: the alerts firing there and this period's transitions."""

    schedule: DigestSchedule
    end: int | None = None  # the current period's end (epoch s); None before any event
    firing: dict[str, AlertEvent] = field(default_factory=dict)  # fingerprint -> latest
    fired: set[str] = field(default_factory=set)  # fingerprints that fired this period
    resolved: dict[str, AlertEvent] = field(default_factory=dict)  # resolved this period

    def length(self, end: int) -> int:
        """The period that ends at ``end``: its start is the previous period end."""
        if self.schedule.every_s is not None:
            return self.schedule.every_s
        return end - period_end(self.schedule, end - 25 * 3600)

    def add(self, event: AlertEvent) -> None:
        key = event.fingerprint
        if event.status == "firing":
            if event.muted_by is not None and key not in self.firing:
                return  # muted: never meant for people, unless it already fired here
            if key not in self.firing:  # first heard of here (a repeat: fired while muted)
                self.fired.add(key)
            self.firing[key] = event
            self.resolved.pop(key, None)
        elif key in self.firing:
            del self.firing[key]
            self.resolved[key] = event

    def close(self, name: str) -> Digest | None:
        assert self.end is not None
        digest = None
        if self.firing or self.resolved:
            end = from_epoch_s(self.end)
            fired = [e for k, e in self.firing.items() if k in self.fired]
            still = [e for k, e in self.firing.items() if k not in self.fired]
            digest = Digest(
                name,
                end - timedelta(seconds=self.length(self.end)),
                end,
                tuple(order(fired)),
                tuple(order(still)),
                tuple(order(self.resolved.values())),
            )
        self.fired, self.resolved = set(), {}
        return digest

    def advance(self, name: str, moment: int, upto: bool) -> list[Digest]:
        """Close every period that ends before ``moment`` (``upto``: at or before it)."""
        out: list[Digest] = []
        while self.end is not None and (self.end <= moment if upto else self.end < moment):
            digest = self.close(name)
            if digest is not None:
                out.append(digest)
            if self.firing:
                self.end = period_end(self.schedule, self.end + 1)
            else:  # nothing to repeat: the next period starts with the next event
                self.end = None
        return out

    def state(self) -> dict[str, Any]:
        return {
            "end": self.end,
            "firing": [_event_state(e) for e in self.firing.values()],
            "fired": sorted(self.fired),
            "resolved": [_event_state(e) for e in self.resolved.values()],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        self.end = data.get("end")
        self.firing = {e.fingerprint: e for e in map(_event_from, data.get("firing", ()))}
        self.fired = set(data.get("fired", ()))
        self.resolved = {e.fingerprint: e for e in map(_event_from, data.get("resolved", ()))}


class DigestBook:
    """Every digest receiver's pending content; pure, so it is snapshotted with the stage."""

    def __init__(self, schedules: Mapping[str, DigestSchedule]) -> None:
        self._books = {name: Pending(schedule) for name, schedule in schedules.items()}

    @classmethod
    def from_receivers(cls, receivers: Mapping[str, Any]) -> DigestBook:
        """The digest receivers of a rules file (``digest:`` set); their settings are checked."""
        return cls(
            {
                name: digest_schedule(name, config.digest)
                for name, config in receivers.items()
                if getattr(config, "digest", None) is not None
            }
        )

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._books)

    def __bool__(self) -> bool:
        return bool(self._books)

    def collect(self, events: Sequence[AlertEvent], closed_before: int) -> list[Digest]:
        """Route ``events`` (in evaluation order) into their periods; return the digests of
        the periods that ``closed_before`` (the evaluated watermark) has ended."""
        out: list[Digest] = []
        for event in events:
            moment = int(event.window_end.timestamp())
            for name in event.receivers:
                book = self._books.get(name)
                if book is None:
                    continue
                out.extend(book.advance(name, moment, upto=False))
                if book.end is None:
                    book.end = period_end(book.schedule, moment)
                book.add(event)
        for name, book in self._books.items():
            out.extend(book.advance(name, closed_before, upto=True))
        return sorted(out, key=lambda d: (d.period_end, d.receiver))

    def pending(self) -> dict[str, int]:
        """Alerts each digest receiver would list now (for logs)."""
        return {name: len(b.firing) + len(b.resolved) for name, b in self._books.items()}

    def state(self) -> dict[str, Any]:
        return {name: book.state() for name, book in self._books.items()}

    def restore(self, data: Mapping[str, Any]) -> None:
        for name, stored in data.items():
            book = self._books.get(name)
            if book is not None:  # a receiver no longer a digest: its pending content goes
                book.restore(stored)
