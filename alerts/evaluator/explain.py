"""Why an alert fires: the largest contributors to its breach, one level below its scope.

Computed from the same rule window as the alert's value (the sums handed to
the evaluator, broken down by the rule's ``explain`` dimensions), never from a
query. Two kinds of answer, by what the metric is:

- a rate of counts (audit pass rate, gold accuracy, rework, skips): the
  members with the most *bad* counts behind it (audits not approved, missed
  gold answers, reworked tasks), each with its share of the scope's total;
- a measured value (handle time, mean score, turnaround): how much each
  member moved the scope's value from the threshold. For a ratio R = N / D
  with members (n_i, d_i): ``c_i = (n_i - T d_i) / D``; the c_i add up to
  exactly ``R - T``, so ``c_i / (R - T)`` is the member's share of the breach.
  (``Base``, the last window that did not breach, generalises T to R0 with a
  second term ``- (n'_i - R0 d'_i) / D'``; throughput moves by
  ``(s_i - s'_i) / hours``. The evaluator passes no base yet.)

Error categories (``error_category``, audit metrics) are counts of the
errors audits found in the scope's window, each with its share of them all.

Only members that pushed the value towards the breach are listed, largest
first, at most ``TOP`` per dimension.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerts.model import Contributor
from alerts.rules import ERROR_CATEGORY, THROUGHPUT, TURNAROUND_MAX, AnomalyRule, Rule
from schemas.metrics import AGGREGATE_FIELDS, MICRO, MICRO_FIELD_NAMES, RATES

TOP = 5  # contributors per dimension at most
# Rates of counts: their explanation counts the bad side (``bad``).
COUNT_RATES = frozenset(
    ("audit_pass_rate", "audit_reject_rate", "gold_accuracy", "rework_rate", "skip_rate")
)

_IDX = {name: i for i, name in enumerate(AGGREGATE_FIELDS)}
_SUBMITTED = _IDX["tasks_submitted"]
_TURNAROUND_MAX = _IDX["turnaround_max_s"]

# dimension -> member value -> the member's sums over the rule window
Members = Mapping[str, Mapping[str, Sequence[int]]]


@dataclass(frozen=True)
class Base:
    """What a measured value moved from: the last window of the series that did not breach."""

    value: float
    members: Members


def _sums(vector: Sequence[int]) -> dict[str, float]:
    return {
        name: vector[i] / MICRO if name in MICRO_FIELD_NAMES else float(vector[i])
        for i, name in enumerate(AGGREGATE_FIELDS)
    }


def _pair(metric: str, vector: Sequence[int]) -> tuple[float, float]:
    """(numerator, denominator) of the metric's rate over one member's sums."""
    rate = RATES[metric]
    sums = _sums(vector)
    return rate.numerator(sums), rate.denominator(sums)


def by_series(
    breakdown: Mapping[str, Mapping[tuple[str, ...], list[int]]],
) -> dict[tuple[str, ...], dict[str, dict[str, list[int]]]]:
    """A window's breakdowns (dimension -> (*series key, member) -> sums) per series key."""
    grouped: dict[tuple[str, ...], dict[str, dict[str, list[int]]]] = {}
    for dim, parts in breakdown.items():
        for part_key, vector in parts.items():
            grouped.setdefault(part_key[:-1], {}).setdefault(dim, {})[part_key[-1]] = vector
    return grouped


def low_is_bad(rule: Rule, value: float | None, threshold: float) -> bool:
    """Whether the breach is the value being too low (a pass rate) rather than too high."""
    if isinstance(rule, AnomalyRule):
        return value is not None and value < threshold
    return rule.op in ("<", "<=")


def explain(
    rule: Rule,
    value: float | None,
    threshold: float,
    hours: float,
    members: Members,
    base: Base | None,
) -> tuple[Contributor, ...]:
    """The contributors of one firing series' rule window (``members``: its breakdowns;
    ``hours``: the window's length, for throughput)."""
    if value is None:
        return ()
    low = low_is_bad(rule, value, threshold)
    found: list[Contributor] = []
    for dim in rule.explain:
        breakdown = members.get(dim, {})
        if dim == ERROR_CATEGORY:  # counts of errors found by audits, one per category
            found.extend(_largest(dim, {category: n[0] for category, n in breakdown.items()}))
        elif rule.metric in COUNT_RATES:
            found.extend(_bad_counts(rule.metric, dim, breakdown, low))
        elif rule.metric == TURNAROUND_MAX:
            found.extend(_maxima(dim, breakdown, low))
        else:
            before = base.members.get(dim, {}) if base is not None else None
            origin = base.value if base is not None else None
            found.extend(_moves(rule, dim, value, threshold, hours, breakdown, before, origin, low))
    return tuple(found)


def _largest(dim: str, counts: Mapping[str, int]) -> list[Contributor]:
    total = sum(counts.values())
    ranked = sorted(((n, m) for m, n in counts.items() if n > 0), key=lambda x: (-x[0], x[1]))
    return [Contributor(dim, member, n, n / total) for n, member in ranked[:TOP]]


def _bad_counts(
    metric: str, dim: str, breakdown: Mapping[str, Sequence[int]], low: bool
) -> list[Contributor]:
    """Members by the counts on the bad side of the rate: ``den - num`` when a low rate is
    the breach (audits not approved), ``num`` when a high one is (reworked tasks)."""
    bad: dict[str, int] = {}
    for member, vector in breakdown.items():
        numerator, denominator = _pair(metric, vector)
        bad[member] = round(denominator - numerator) if low else round(numerator)
    return _largest(dim, bad)


def _maxima(dim: str, breakdown: Mapping[str, Sequence[int]], low: bool) -> list[Contributor]:
    """A maximum has no shares: the members whose own maximum is the most extreme."""
    values = {m: v[_TURNAROUND_MAX] / MICRO for m, v in breakdown.items() if any(v)}
    ranked = sorted(values.items(), key=lambda x: (x[1] if low else -x[1], x[0]))
    return [Contributor(dim, member, delta=value) for member, value in ranked[:TOP]]


def _moves(
    rule: Rule,
    dim: str,
    value: float,
    threshold: float,
    hours: float,
    now: Mapping[str, Sequence[int]],
    before: Mapping[str, Sequence[int]] | None,
    origin: float | None,
    low: bool,
) -> list[Contributor]:
    """Each member's part in the move from the base (module docstring), towards the breach."""
    moved: dict[str, float] = {}
    if rule.metric == THROUGHPUT:
        start = origin if origin is not None else 0.0
        for member in now.keys() | (before or {}).keys():
            current = now[member][_SUBMITTED] if member in now else 0
            earlier = before[member][_SUBMITTED] if before and member in before else 0
            moved[member] = (current - earlier) / hours
    else:
        start = origin if origin is not None else threshold
        pairs = {m: _pair(rule.metric, v) for m, v in now.items()}
        old = {m: _pair(rule.metric, v) for m, v in (before or {}).items()}
        total = sum(d for _, d in pairs.values())
        total_before = sum(d for _, d in old.values())
        for member in pairs.keys() | old.keys():
            part = 0.0
            if member in pairs and total:
                n, d = pairs[member]
                part += (n - start * d) / total
            if member in old and total_before:
                n, d = old[member]
                part -= (n - start * d) / total_before
            moved[member] = part
    move = value - start
    sign = -1.0 if low else 1.0
    ranked = sorted(
        ((part, member) for member, part in moved.items() if part * sign > 0),
        key=lambda x: (-x[0] * sign, x[1]),
    )
    return [
        Contributor(dim, member, delta=part, share=part / move if move else None)
        for part, member in ranked[:TOP]
    ]
