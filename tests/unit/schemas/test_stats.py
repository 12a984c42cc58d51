"""The Wilson bounds against an independent computation, and fair rankings on hand-built cases.

The independent computation (``tests.wilson``) does not use the closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.stats import (
    Bounded,
    bounded,
    rank_fairly,
    ranking_note,
    wilson_interval,
    wilson_sql,
    z_score,
)
from tests.wilson import score_interval as _score_interval
from tests.wilson import z_quantile as _z


def test_z_matches_an_independent_quantile() -> None:
    assert z_score() == pytest.approx(1.959963984540054, abs=1e-12)
    for confidence in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
        assert z_score(confidence) == pytest.approx(_z(confidence), abs=1e-9)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            z_score(bad)


@pytest.mark.parametrize(
    ("successes", "n"),
    [
        (0, 1),
        (1, 1),
        (3, 3),
        (95, 100),
        (0, 10),
        (10, 10),
        (5, 10),
        (1, 40),
        (81, 263),
        (999, 1000),
    ],
)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_equals_the_inverted_score_test(successes: int, n: int, confidence: float) -> None:
    interval = wilson_interval(successes, n, confidence)
    assert interval is not None
    low, high = _score_interval(successes, n, confidence)
    assert interval[0] == pytest.approx(low, abs=1e-9)
    assert interval[1] == pytest.approx(high, abs=1e-9)


@given(
    st.integers(min_value=1, max_value=5000).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_wilson_equals_the_inverted_score_test_anywhere(case: tuple[int, int]) -> None:
    successes, n = case
    interval = wilson_interval(successes, n)
    assert interval is not None
    low, high = _score_interval(successes, n, 0.95)
    assert interval[0] == pytest.approx(low, abs=1e-8)
    assert interval[1] == pytest.approx(high, abs=1e-8)
    assert 0.0 <= interval[0] <= successes / n <= interval[1] <= 1.0


def test_known_values_and_edges() -> None:
    # 10 out of 10 at 95%: the textbook lower bound 0.7225.
    ten = wilson_interval(10, 10)
    assert ten is not None
    assert round(ten[0], 4) == 0.7225 and ten[1] == 1.0
    zero = wilson_interval(0, 10)
    assert zero is not None and zero[0] == 0.0 and round(zero[1], 4) == 0.2775
    assert wilson_interval(0, 0) is None
    for bad in ((4, 3), (-1, 3), (1, -1)):
        with pytest.raises(ValueError):
            wilson_interval(*bad)
    b = bounded(3, 3)
    assert (b.successes, b.trials, b.rate) == (3, 3, 1.0)
    assert bounded(0, 0) == Bounded(0, 0, None, None)


def test_sql_spelling_names_the_same_constants() -> None:
    z = repr(z_score())
    sql = wilson_sql("audits_approved", "audits", "lower")
    assert "nullIf(toFloat64(audits), 0)" in sql and f" - {z} * sqrt(" in sql
    assert sql.startswith("multiIf(toFloat64(audits) = 0, NULL, (audits_approved) = (0), 0, ")
    upper = wilson_sql("a", "b", "upper")
    assert f" + {z} * sqrt(" in upper and "(a) = (b), 1, " in upper
    with pytest.raises(ValueError):
        wilson_sql("a", "b", "middle")


@dataclass(frozen=True)
class Person:
    name: str
    approved: int
    audits: int


def _pass_rate(p: Person) -> Bounded:
    return bounded(p.approved, p.audits)


def _names(people: list[Person]) -> list[str]:
    return [p.name for p in people]


def test_three_out_of_three_ranks_below_95_out_of_100() -> None:
    people = [Person("lucky", 3, 3), Person("steady", 95, 100)]
    ranked, small = rank_fairly(people, _pass_rate, min_trials=1, name=lambda p: p.name)
    assert _names(ranked) == ["steady", "lucky"]
    assert small == []
    # By the raw rate the order would be the other way round.
    assert sorted(people, key=lambda p: -p.approved / p.audits)[0].name == "lucky"


def test_ranking_by_lower_bound_with_minimum_sample_and_ties() -> None:
    people = [
        Person("a-few", 5, 5),  # 100%, lower bound 0.566: above 60% of 100 (0.502)
        Person("many-good", 180, 200),  # 90%, lower bound 0.851
        Person("tiny", 2, 2),  # below the minimum sample
        Person("some-good", 46, 50),  # 92%, lower bound 0.812
        Person("twin-b", 90, 100),
        Person("twin-a", 90, 100),
        Person("poor", 60, 100),
    ]
    ranked, small = rank_fairly(people, _pass_rate, min_trials=5, name=lambda p: p.name)
    assert _names(ranked) == ["many-good", "twin-a", "twin-b", "some-good", "a-few", "poor"]
    assert _names(small) == ["tiny"]
    # Lower is better (e.g. a rework rate): the lowest upper bound first.
    reworks = [Person("r-small", 0, 5), Person("r-large", 2, 200), Person("r-high", 30, 100)]
    ranked, _ = rank_fairly(
        reworks, _pass_rate, min_trials=5, name=lambda p: p.name, higher_is_better=False
    )
    assert _names(ranked) == ["r-large", "r-high", "r-small"]


def test_needs_coaching_is_an_upper_bound_below_the_target() -> None:
    """The convention the sections apply: a judgement that holds with the samples we have."""
    target = 0.85
    few = bounded(2, 3)  # 67%, but 3 audits cannot say it is below 85%
    many = bounded(60, 100)  # 60%, and 100 audits can
    assert few.high is not None and many.high is not None
    assert few.rate is not None and few.rate < target and few.high >= target
    assert many.high < target


def test_ranking_note_is_one_line() -> None:
    note = ranking_note(0.95, 10, "audits")
    assert "\n" not in note and "95% Wilson score interval" in note and "10 audits" in note
