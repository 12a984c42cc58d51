"""The metrics a report shows and the figures of a group: summed fields, rates derived last.

Rates always come from summed numerators and denominators through
``schemas.metrics`` (``RATES``, ``throughput_rate``), never from averages of
rates; every section builds its numbers from ``Figures``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from alerts.rules import THROUGHPUT
from reports import fmt
from schemas import units
from schemas.metrics import AGGREGATE_FIELDS, MAX_FIELDS, RATES, throughput_rate

# Machine labels carry the model as annotator_id; they are not contributors.
MACHINE_SOURCE = "machine"


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    unit: str  # for axes
    higher_is_better: bool
    samples: str  # the field that says how much evidence a value rests on
    is_share: bool  # a 0-1 rate, shown in %

    def show(self, value: float | None) -> str:
        return units.metric_value(self.name, value)


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo(
            THROUGHPUT, "Throughput", "tasks submitted per hour", True, "tasks_submitted", False
        ),
        MetricInfo(
            "aht_s", "Average handle time (AHT)", "seconds", False, "tasks_submitted", False
        ),
        MetricInfo(
            "audit_pass_rate", "Audit pass rate", "% of audits approved", True, "audits", True
        ),
        MetricInfo(
            "gold_accuracy",
            "Gold accuracy",
            "% of gold tasks correct",
            True,
            "gold_submitted",
            True,
        ),
    )
}
TREND_METRICS = tuple(METRICS)


@dataclass(frozen=True)
class Figures:
    """The summed aggregate fields of a group over ``seconds`` of the period."""

    sums: Mapping[str, float]
    seconds: float

    def rate(self, metric: str) -> float | None:
        if metric == THROUGHPUT:
            if self.seconds <= 0:
                return None
            return throughput_rate(self.seconds).value(self.sums)
        return RATES[metric].value(self.sums)

    def n(self, name: str) -> int:
        return int(self.sums.get(name, 0))

    def samples(self, metric: str) -> int:
        return self.n(METRICS[metric].samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sums": dict(self.sums),
            "seconds": self.seconds,
            "rates": {name: self.rate(name) for name in (THROUGHPUT, *RATES)},
        }


def combine(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Sum aggregate fields over rows (maxima for the max fields)."""
    total: dict[str, float] = dict.fromkeys(AGGREGATE_FIELDS, 0.0)
    for row in rows:
        for name in AGGREGATE_FIELDS:
            value = float(row.get(name) or 0)
            total[name] = max(total[name], value) if name in MAX_FIELDS else total[name] + value
    return total


def vendor_key(row: Mapping[str, Any]) -> str:
    """The vendor a row is shown under: its id, (in-house) or (machine labels)."""
    return fmt.vendor(str(row.get("vendor_id") or ""), row.get("source") == MACHINE_SOURCE)
