"""The aggregate contract: field names, key dimensions and derived rates.

One place for the definitions used by the stream (what it counts), the sink
(its columns), the alert evaluator (rule metrics) and the reports. Rates are
always computed from summed numerators and denominators, never averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

KEY_DIMENSIONS = ("project_id", "queue_id", "vendor_id", "locale", "source", "annotator_id")

COUNT_FIELDS = (
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "turnaround_count",
    "gold_submitted",
    "gold_correct",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
    "audit_score_count",
)
SUM_FIELDS = (
    "handle_time_sum_s",
    "turnaround_sum_s",
    "audit_score_sum",
    "audit_time_sum_s",
)
MAX_FIELDS = ("handle_time_max_s", "turnaround_max_s")

# Column order of metrics_1m and of every serialized aggregate.
AGGREGATE_FIELDS = (
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "handle_time_sum_s",
    "handle_time_max_s",
    "turnaround_count",
    "turnaround_sum_s",
    "turnaround_max_s",
    "gold_submitted",
    "gold_correct",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
    "audit_score_sum",
    "audit_score_count",
    "audit_time_sum_s",
)
assert set(AGGREGATE_FIELDS) == set(COUNT_FIELDS) | set(SUM_FIELDS) | set(MAX_FIELDS)

WINDOW_SECONDS = 60

# Serialized aggregates (checkpoints, closed windows handed to alerting) keep
# sums and maxima of seconds and scores as integers of micro-units: exact and
# independent of event order. Divide by MICRO for public units.
MICRO = 1_000_000
MICRO_FIELD_NAMES = frozenset((*SUM_FIELDS, *MAX_FIELDS))


@dataclass(frozen=True)
class Rate:
    """A derived metric: numerator / denominator, undefined when the denominator is 0."""

    name: str
    numerator: Callable[[Mapping[str, float]], float]
    denominator: Callable[[Mapping[str, float]], float]
    description: str

    def value(self, sums: Mapping[str, float]) -> float | None:
        denominator = self.denominator(sums)
        if denominator == 0:
            return None
        return self.numerator(sums) / denominator


def _f(name: str) -> Callable[[Mapping[str, float]], float]:
    return lambda s: s.get(name, 0)


def throughput_rate(window_seconds: float) -> Rate:
    """Tasks submitted per hour over a window of the given length."""
    return Rate(
        "throughput_per_hour",
        _f("tasks_submitted"),
        lambda s: window_seconds / 3600.0,
        "tasks_submitted / window hours",
    )


RATES: dict[str, Rate] = {
    rate.name: rate
    for rate in (
        Rate(
            "aht_s",
            _f("handle_time_sum_s"),
            _f("tasks_submitted"),
            "handle_time_sum_s / tasks_submitted",
        ),
        Rate("audit_pass_rate", _f("audits_approved"), _f("audits"), "audits_approved / audits"),
        Rate("audit_reject_rate", _f("audits_rejected"), _f("audits"), "audits_rejected / audits"),
        Rate(
            "mean_audit_score",
            _f("audit_score_sum"),
            _f("audit_score_count"),
            "audit_score_sum / audit_score_count",
        ),
        Rate(
            "gold_accuracy",
            _f("gold_correct"),
            _f("gold_submitted"),
            "gold_correct / gold_submitted",
        ),
        Rate(
            "rework_rate",
            _f("rework_submitted"),
            _f("tasks_submitted"),
            "rework_submitted / tasks_submitted",
        ),
        Rate(
            "skip_rate",
            _f("tasks_skipped"),
            lambda s: (
                s.get("tasks_submitted", 0) + s.get("tasks_skipped", 0) + s.get("tasks_expired", 0)
            ),
            "tasks_skipped / (tasks_submitted + tasks_skipped + tasks_expired)",
        ),
        Rate(
            "turnaround_avg_s",
            _f("turnaround_sum_s"),
            _f("turnaround_count"),
            "turnaround_sum_s / turnaround_count",
        ),
    )
}

# SQL spelling of the same rates, for views and reports (NULL on a zero denominator).
RATE_SQL: dict[str, str] = {
    "aht_s": "handle_time_sum_s / nullIf(tasks_submitted, 0)",
    "audit_pass_rate": "audits_approved / nullIf(audits, 0)",
    "audit_reject_rate": "audits_rejected / nullIf(audits, 0)",
    "mean_audit_score": "audit_score_sum / nullIf(audit_score_count, 0)",
    "gold_accuracy": "gold_correct / nullIf(gold_submitted, 0)",
    "rework_rate": "rework_submitted / nullIf(tasks_submitted, 0)",
    "skip_rate": "tasks_skipped / nullIf(tasks_submitted + tasks_skipped + tasks_expired, 0)",
    "turnaround_avg_s": "turnaround_sum_s / nullIf(turnaround_count, 0)",
}
assert set(RATE_SQL) == set(RATES)
