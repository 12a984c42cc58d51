"""An independent Wilson interval for the tests: the score test inverted by bisection.

It does not use the closed form of ``schemas.stats``: the interval is every p
with (p_hat - p)^2 <= z^2 p (1 - p) / n, each edge found by bisection, and z
comes from ``math.erf`` by bisection too (not ``statistics.NormalDist``).
"""

from __future__ import annotations

import math


def z_quantile(confidence: float) -> float:
    """Phi(z) = 0.5 (1 + erf(z / sqrt 2)) = 0.5 + confidence / 2, solved by bisection."""
    target = 0.5 + confidence / 2
    low, high = 0.0, 10.0
    for _ in range(200):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def score_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Every p the score test does not reject, found by bisection on each side of p_hat."""
    z = z_quantile(confidence)
    p_hat = successes / n

    def rejected(p: float) -> bool:
        return (p_hat - p) ** 2 > z * z * p * (1 - p) / n

    def edge(inside: float, outside: float) -> float:
        for _ in range(200):
            mid = (inside + outside) / 2
            if rejected(mid):
                outside = mid
            else:
                inside = mid
        return (inside + outside) / 2

    low = 0.0 if not rejected(0.0) else edge(p_hat, 0.0)
    high = 1.0 if not rejected(1.0) else edge(p_hat, 1.0)
    return low, high
