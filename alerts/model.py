"""What the alert subsystem hands around: alert events.

The evaluator produces ``AlertEvent`` values; the stream publishes them to the
``annotation.alerts`` topic and the ``alerts`` table before any receiver sees
them, so history is complete even when a receiver is down. Receivers
(``alerts.receivers``) format the same values for Slack, PagerDuty,
Alertmanager or plain JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from schemas.units import parse_utc, rfc3339

Status = Literal["firing", "resolved"]
Severity = Literal["critical", "error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "error", "warning", "info")
NO_DATA_REASON = "no_data"  # ``resolved_reason`` of an alert resolved for lack of data
# The in-house team is the empty ``vendor_id``; people read it by these names unless the
# rules file's ``labels.in_house`` says otherwise.
IN_HOUSE = "in-house"
IN_HOUSE_ZH = "自有团队"
IN_HOUSE_DIMENSION = "vendor_id"


def display_scope(scope: Mapping[str, str], in_house: str) -> dict[str, str]:
    """The scope as people read it: the empty vendor is the in-house team, by name."""
    return {
        dim: in_house if dim == IN_HOUSE_DIMENSION and not value else value
        for dim, value in scope.items()
    }


@dataclass(frozen=True)
class Contributor:
    """One of the largest contributors to a breach, one level below the alert's scope.

    ``dimension`` is a key dimension (``annotator_id``) or ``error_category``.
    For a count behind a rate (failed audits, missed gold answers, error
    categories): ``count`` and its ``share`` of the scope's total. For a value
    that moved (handle time, throughput): ``delta``, how much this member moved
    the scope's value, in the metric's unit, and its ``share`` of the whole move.
    """

    dimension: str
    value: str
    count: int | None = None
    share: float | None = None
    delta: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "value": self.value,
            "count": self.count,
            "share": self.share,
            "delta": self.delta,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contributor:
        return cls(
            str(data["dimension"]),
            str(data["value"]),
            data.get("count"),
            data.get("share"),
            data.get("delta"),
        )


def fingerprint(rule: str, scope: Mapping[str, str]) -> str:
    """Stable id of one alert series: the rule name and its sorted scope labels.

    16 hex digits, the length Alertmanager uses; it is also the PagerDuty
    ``dedup_key``, so trigger and resolve always meet.
    """
    material = orjson.dumps([rule, sorted(scope.items())])
    return hashlib.sha256(material).hexdigest()[:16]


@dataclass(frozen=True)
class AlertEvent:
    """One notification-worthy transition (or a repeat of a still-firing alert).

    ``window_start`` / ``window_end`` are the bounds of the rule window whose
    close caused it (event time, UTC). ``starts_at`` is when the breach began
    (start of the first breaching window of the run); ``ends_at`` is set on
    resolve (start of the first good window). ``muted_by`` names the silence or
    the inhibiting alert: a muted event is recorded but not sent to receivers.
    """

    fingerprint: str
    rule: str
    status: Status
    severity: Severity
    scope: dict[str, str]  # the scope labels only, e.g. project_id, vendor_id
    labels: dict[str, str]  # alertname, severity, scope labels and the rule's labels
    annotations: dict[str, str]
    metric: str
    value: float | None
    threshold: float
    window_start: datetime
    window_end: datetime
    starts_at: datetime
    ends_at: datetime | None = None
    receivers: tuple[str, ...] = ()
    repeat: bool = False
    muted_by: str | None = None
    explanation: tuple[Contributor, ...] = ()
    resolved_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """Deterministic id of this notification: the same transition replayed has the same id."""
        material = f"{self.fingerprint}|{self.status}|{self.window_start.isoformat()}|{self.repeat}"
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "status": self.status,
            "severity": self.severity,
            "labels": self.labels,
            "annotations": self.annotations,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "window_start": rfc3339(self.window_start),
            "window_end": rfc3339(self.window_end),
            "starts_at": rfc3339(self.starts_at),
            "ends_at": rfc3339(self.ends_at),
            "scope": self.scope,
            "receivers": list(self.receivers),
            "repeat": self.repeat,
            "muted_by": self.muted_by,
            "explanation": [c.to_dict() for c in self.explanation],
            "resolved_reason": self.resolved_reason,
        }

    def to_json(self) -> bytes:
        """The payload on the ``annotation.alerts`` topic (UTF-8, Chinese kept as is)."""
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        def when(text: str | None) -> datetime | None:
            return None if text is None else parse_utc(text)

        window_start = when(data["window_start"])
        window_end = when(data["window_end"])
        starts_at = when(data["starts_at"])
        assert window_start and window_end and starts_at
        return cls(
            fingerprint=data["fingerprint"],
            rule=data["rule"],
            status=data["status"],
            severity=data["severity"],
            scope=dict(data["scope"]),
            labels=dict(data["labels"]),
            annotations=dict(data["annotations"]),
            metric=data["metric"],
            value=data["value"],
            threshold=data["threshold"],
            window_start=window_start,
            window_end=window_end,
            starts_at=starts_at,
            ends_at=when(data.get("ends_at")),
            receivers=tuple(data.get("receivers", ())),
            repeat=bool(data.get("repeat", False)),
            muted_by=data.get("muted_by"),
            explanation=tuple(Contributor.from_dict(c) for c in data.get("explanation") or ()),
            resolved_reason=data.get("resolved_reason"),
        )
