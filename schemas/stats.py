"""Fair judgements of people by a rate: the Wilson score interval, in Python and in SQL.

Why a bound and not the rate: 3 approvals out of 3 audits is a pass rate of
100 %, 95 out of 100 is 95 %, yet the second is far better evidence of good
work. The Wilson score interval says which rates the samples are compatible
with; its lower bound is the rate we can vouch for, its upper bound the best
the person may really be doing. So every ranking of people by a rate (the
report's leaderboard, ``annotel squad``, the BI views) orders them by the lower
bound, and "needs coaching" means the upper bound is below the target: the
judgement holds with the samples we have. A minimum sample still applies on
top (an interval from 2 audits says little to a person in a 1:1).

One module for every user: the reports, the commands and the SQL of the
ClickHouse views (``wilson_sql``) all read their bounds from here. Pure: the
standard library only, and nothing of ours (``sinks.schema`` spells the views
with it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TypeVar

from schemas import units

DEFAULT_CONFIDENCE = 0.95

T = TypeVar("T")


def z_score(confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The two-sided standard normal quantile: 1.96 for 95 %."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(
    successes: float, trials: float, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / trials``; ``None`` without trials.

    The closed form of the interval whose every rate p passes the score test
    |successes/trials - p| <= z * sqrt(p (1 - p) / trials).
    """
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} / {trials}")
    if trials == 0:
        return None
    z = z_score(confidence)
    n = float(trials)
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    scale = 1 + z2 / n
    # At 0 or all successes the bound is exactly 0 or 1; the formula leaves ~1e-17.
    low = 0.0 if successes == 0 else max(0.0, (centre - spread) / scale)
    high = 1.0 if successes == trials else min(1.0, (centre + spread) / scale)
    return low, high


def wilson_sql(
    successes: str, trials: str, side: str, confidence: float = DEFAULT_CONFIDENCE
) -> str:
    """The same bound as a ClickHouse expression of two numeric expressions (NULL without
    trials). ``side`` is ``lower`` or ``upper``; the z of ``confidence`` is a literal."""
    if side not in ("lower", "upper"):
        raise ValueError(f"side is lower or upper, got {side!r}")
    z = z_score(confidence)
    z2 = z * z
    n = f"nullIf(toFloat64({trials}), 0)"
    p = f"({successes}) / {n}"
    sign, edge, exact = ("-", "0", "0") if side == "lower" else ("+", trials, "1")
    bound = (
        f"(({p}) + {z2!r} / (2 * {n}) {sign} {z!r} * sqrt(({p}) * (1 - ({p})) / {n} "
        f"+ {z2!r} / (4 * {n} * {n}))) / (1 + {z2!r} / {n})"
    )
    # At 0 or all successes the bound is exactly 0 or 1 (the formula leaves ~1e-17).
    return (
        f"multiIf(toFloat64({trials}) = 0, NULL, ({successes}) = ({edge}), {exact}, "
        f"least(greatest({bound}, 0), 1))"
    )


@dataclass(frozen=True)
class Bounded:
    """A rate with the samples behind it and its interval (``None`` without samples)."""

    successes: int
    trials: int
    low: float | None
    high: float | None

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None


def bounded(successes: float, trials: float, confidence: float = DEFAULT_CONFIDENCE) -> Bounded:
    interval = wilson_interval(successes, trials, confidence)
    low, high = interval if interval is not None else (None, None)
    return Bounded(int(successes), int(trials), low, high)


def rank_fairly(
    items: Sequence[T],
    key: Callable[[T], Bounded],
    *,
    min_trials: int,
    name: Callable[[T], str],
    higher_is_better: bool = True,
) -> tuple[list[T], list[T]]:
    """(ranked, too small): items with at least ``min_trials`` samples, best first.

    Best first means the highest lower bound for a rate where higher is
    better, the lowest upper bound where lower is better; then more samples
    first (more evidence), then by name, so the order is total.
    """
    ranked = [item for item in items if key(item).trials >= max(min_trials, 1)]
    small = [item for item in items if key(item).trials < max(min_trials, 1)]

    def order(item: T) -> tuple[float, int, str]:
        b = key(item)
        assert b.low is not None and b.high is not None
        return (-b.low if higher_is_better else b.high, -b.trials, name(item))

    ranked.sort(key=order)
    return ranked, small


def ranking_note(confidence: float, min_trials: int, samples: str) -> str:
    """The one line every fair ranking carries."""
    return (
        f"Ranked by the lower bound of the {units.percent(confidence, 0)} Wilson score "
        "interval (the "
        f"rate the samples vouch for), from at least {min_trials} {samples}; fewer are not ranked."
    )
