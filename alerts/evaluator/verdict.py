"""A rule window's value, its samples, and whether it breaches the rule.

The arithmetic of an alert, apart from its lifecycle: the rate of the
window's summed aggregate (``schemas.metrics``, the same definitions the
report reads), the samples that make it trustworthy (``min_samples``), the
threshold comparison with its hysteresis, and for anomaly rules the judgement
against the series' own baseline (module docstring of ``alerts.evaluator``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from alerts.rules import THROUGHPUT, TURNAROUND_MAX, AnomalyRule, Rule, compare
from schemas.metrics import AGGREGATE_FIELDS, MICRO, MICRO_FIELD_NAMES, RATES, Rate

_IDX = {name: i for i, name in enumerate(AGGREGATE_FIELDS)}
_DIVISORS = tuple(MICRO if name in MICRO_FIELD_NAMES else 1 for name in AGGREGATE_FIELDS)
_OUTCOMES = tuple(_IDX[name] for name in ("tasks_submitted", "tasks_skipped", "tasks_expired"))


@dataclass(frozen=True)
class Verdict:
    """One rule window of one series. ``breach`` None: not judged (no data, or no baseline)."""

    value: float | None
    samples: int
    has_data: bool  # enough samples (or absent throughput): it may enter a baseline
    breach: bool | None
    keep_firing: bool
    threshold: float
    extra: dict[str, float] = field(default_factory=dict)


def measure(rule: Rule, vector: list[int], throughput: Rate) -> tuple[float | None, int]:
    """The rule window's value and samples (the denominator that makes it trustworthy).

    ``throughput`` is the throughput rate over the rule's window length.
    """
    if rule.metric == THROUGHPUT:
        samples = sum(vector[i] for i in _OUTCOMES)
        sums = {"tasks_submitted": float(vector[_IDX["tasks_submitted"]])}
        return throughput.value(sums), samples
    if rule.metric == TURNAROUND_MAX:
        samples = vector[_IDX["turnaround_count"]]
        value = vector[_IDX["turnaround_max_s"]] / MICRO if samples else None
        return value, samples
    rate: Rate = RATES[rule.metric]
    sums = {
        name: vector[i] / _DIVISORS[i] if _DIVISORS[i] != 1 else float(vector[i])
        for i, name in enumerate(AGGREGATE_FIELDS)
    }
    return rate.value(sums), int(rate.denominator(sums))


def judge(
    rule: Rule,
    vector: list[int] | None,
    absent: bool,
    baseline: list[float],
    last_threshold: float,
    throughput: Rate,
) -> Verdict:
    """The verdict on one rule window: ``vector`` its sums (None: no events in it).

    ``absent``: a window without events counts as throughput 0. An anomaly rule
    appends the value to ``baseline`` (the series' own) and reports
    ``last_threshold`` (the firing event's) while it cannot judge.
    """
    value: float | None = None
    samples = 0
    if absent:
        value = 0.0
    elif vector is not None:
        value, samples = measure(rule, vector, throughput)
    has_data = value is not None and (absent or samples >= rule.min_samples)
    if isinstance(rule, AnomalyRule):
        return _anomaly(rule, baseline, last_threshold, value if has_data else None, samples)
    if not has_data or value is None:
        return Verdict(value, samples, False, None, False, rule.threshold)
    breach = compare(rule.op, value, rule.threshold)
    keep_firing = compare(rule.op, value, rule.resolve_at)
    return Verdict(value, samples, True, breach, keep_firing, rule.threshold)


def _anomaly(
    rule: AnomalyRule, baseline: list[float], last: float, value: float | None, samples: int
) -> Verdict:
    """Judge against the previous windows with data, then add this one to the baseline."""
    if value is None:
        return Verdict(None, samples, False, None, False, last)
    verdict = Verdict(value, samples, True, None, False, last)
    if len(baseline) >= rule.baseline_windows:
        mean = statistics.mean(baseline)
        std = statistics.stdev(baseline)
        sigma = rule.sigma(mean, std)
        upper, lower = mean + rule.z * sigma, mean - rule.z * sigma
        above = rule.direction != "below" and sigma > 0 and value > upper
        below = rule.direction != "above" and sigma > 0 and value < lower
        use_lower = rule.direction == "below" or (rule.direction == "both" and value < mean)
        breach = above or below
        extra = {"mean": mean, "std": std}
        bound = lower if use_lower else upper
        verdict = Verdict(value, samples, True, breach, breach, bound, extra)
    baseline.append(value)
    del baseline[: -rule.baseline_windows]
    return verdict
