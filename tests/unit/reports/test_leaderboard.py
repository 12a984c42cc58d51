"""The leaderboard from per-contributor rows: minimum samples, fair ranking, coaching floors.

Ranked by the lower bound of the 95 % Wilson interval of the audit pass rate;
flagged for coaching when the upper bound is below a floor. The bounds quoted
in comments are those of ``schemas.stats.wilson_interval`` (checked against an
independent computation in tests/unit/schemas/test_stats.py).
"""

from __future__ import annotations

from typing import Any

from reports.sections.leaderboard import coaching_thresholds, leaderboard
from reports.types import Options
from tests.unit.reports.rows import (
    APEX,
    HUASHU,
    IN_HOUSE,
    MEDICAL,
    SPEECH,
    quality_rule,
    ruleset,
    sums,
)

HOUR = 3600.0
GOLD_RULE = {
    "name": "gold_accuracy_low",
    "metric": "gold_accuracy",
    "scope": ["project_id", "vendor_id"],
    "window": "1h",
    "op": "<",
    "threshold": 0.75,
    "receivers": ["log"],
}
RULES = ruleset(
    quality_rule(),  # 0.85 per vendor ...
    quality_rule(name="annotator_quality_low", scope=["annotator_id"], threshold=0.75),  # ... 0.75
    GOLD_RULE,
)


def person(annotator: str, vendor: str, **fields: Any) -> dict[str, Any]:
    """A row as ``reports.queries.annotator_sums`` returns it."""
    return sums(annotator_id=annotator, vendor_id=vendor, projects=[MEDICAL, SPEECH], **fields)


PEOPLE = [
    person(
        "华数-0033",
        HUASHU,
        tasks_submitted=40,
        handle_time_sum_s=800.0,
        audits=10,
        audits_approved=10,
        gold_submitted=10,
        gold_correct=9,
    ),
    person(
        "华数-0042",
        HUASHU,
        tasks_submitted=25,
        handle_time_sum_s=1000.0,
        audits=10,
        audits_approved=10,
    ),
    person(
        "apx-0022", APEX, tasks_submitted=30, handle_time_sum_s=900.0, audits=20, audits_approved=20
    ),
    person(
        "apx-0039",
        APEX,
        tasks_submitted=50,
        handle_time_sum_s=1500.0,
        audits=8,
        audits_approved=5,
        gold_submitted=4,
        gold_correct=1,
    ),
    person(
        "staff-01",
        IN_HOUSE,
        tasks_submitted=30,
        handle_time_sum_s=600.0,
        audits=6,
        audits_approved=5,
        gold_submitted=10,
        gold_correct=6,
    ),
    person(
        "华数-0051",
        HUASHU,
        tasks_submitted=120,
        handle_time_sum_s=2400.0,
        audits=40,
        audits_approved=20,
        gold_submitted=30,
        gold_correct=15,
    ),
    person("tiny-0001", APEX, tasks_submitted=3, audits=3, audits_approved=3),  # too few tasks
    person("lurker", APEX, tasks_submitted=25, audits=4, audits_approved=4),  # too few audits
    person("idle", APEX),  # nothing in the period
]


def test_ranked_by_the_lower_bound_then_audits_then_id() -> None:
    board = leaderboard(PEOPLE, HOUR, RULES, Options())
    assert (board.active, board.ranked) == (8, 6)
    assert (board.confidence, board.min_tasks, board.min_audits, board.min_gold) == (
        0.95,
        20,
        5,
        5,
    )
    # Lower bounds: 20/20 0.839; 10/10 0.722 (twice: same audits, by id); 5/6 0.436;
    # 20/40 0.352; 5/8 0.306.
    assert [a.annotator_id for a in board.top] == [
        "apx-0022",
        "华数-0033",
        "华数-0042",
        "staff-01",
        "华数-0051",
        "apx-0039",
    ]
    first = board.top[0].bounds["audit_pass_rate"]
    assert (first.successes, first.trials, round(first.low or 0, 4)) == (20, 20, 0.8389)
    staff = board.top[3]
    assert staff.vendor == "(in-house)"
    assert staff.projects == [MEDICAL, SPEECH]
    assert staff.figures.rate("aht_s") == 20.0


def test_coaching_below_the_floors_of_the_rules() -> None:
    board = leaderboard(PEOPLE, HOUR, RULES, Options())
    assert board.thresholds == {
        "audit_pass_rate": (0.75, "rule annotator_quality_low"),  # the narrower scope
        "gold_accuracy": (0.75, "rule gold_accuracy_low"),
    }
    assert [(a.annotator_id, a.reasons) for a in board.coaching] == [
        # 20/40 approved, at most 64.8 %; 15/30 gold, at most 66.8 %.
        (
            "华数-0051",
            [
                "audit pass rate 50.0% of 40 audits, at most 64.8%: below 75.0% "
                "(rule annotator_quality_low)",
                "gold accuracy 50.0% of 30 gold tasks, at most 66.8%: below 75.0% "
                "(rule gold_accuracy_low)",
            ],
        ),
    ]
    assert board.coaching_total == 1


def test_a_low_rate_on_few_samples_is_not_a_verdict() -> None:
    """5/8 approved (62.5 %) and 6/10 gold (60 %) are below the floors as rates, but
    their upper bounds (86.3 %, 83.2 %) are not: the samples cannot say it yet."""
    board = leaderboard(PEOPLE, HOUR, RULES, Options())
    flagged = {a.annotator_id for a in board.coaching}
    assert "apx-0039" not in flagged and "staff-01" not in flagged
    rates = {a.annotator_id: a.figures.rate("audit_pass_rate") for a in board.top}
    assert rates["apx-0039"] == 0.625
    # More evidence at the same rate is a verdict.
    many = [
        person("apx-0039", APEX, tasks_submitted=500, audits=80, audits_approved=50),
    ]
    assert [a.annotator_id for a in leaderboard(many, HOUR, RULES, Options()).coaching] == [
        "apx-0039"
    ]


def test_without_floors_the_lowest_pass_rates_need_coaching() -> None:
    stalled = {
        "name": "queue_stalled",
        "metric": "throughput_per_hour",
        "window": "5m",
        "op": "<",
        "threshold": 1,
        "receivers": ["log"],
    }
    board = leaderboard(PEOPLE, HOUR, ruleset(stalled), Options(top_n=2, coaching_n=3))
    assert [a.annotator_id for a in board.top] == ["apx-0022", "华数-0033"]
    assert board.ranked == 6
    # The lowest upper bounds: 20/40 0.648, 5/8 0.863, 5/6 0.970.
    assert [a.annotator_id for a in board.coaching] == ["华数-0051", "apx-0039", "staff-01"]
    assert {r for a in board.coaching for r in a.reasons} == {"lowest audit pass rate"}
    assert board.coaching_total == 6
    assert board.thresholds == {}


def test_minimums_are_options() -> None:
    board = leaderboard(PEOPLE, HOUR, RULES, Options(min_tasks=1, min_audits=1))
    assert board.ranked == 8
    assert board.top[0].annotator_id == "apx-0022"  # 20 audits at 100 % beat tiny's 3
    # 4/4 has a lower bound of 0.510, 3/3 0.439: both below 10/10 (0.722).
    assert [a.annotator_id for a in board.top][:6] == [
        "apx-0022",
        "华数-0033",
        "华数-0042",
        "lurker",
        "tiny-0001",
        "staff-01",
    ]
    # With a stricter confidence the bounds widen, the order of evidence stays.
    strict = leaderboard(PEOPLE, HOUR, RULES, Options(confidence=0.99))
    assert strict.confidence == 0.99
    low95 = board.top[0].bounds["audit_pass_rate"].low
    low99 = strict.top[0].bounds["audit_pass_rate"].low
    assert low95 is not None and low99 is not None and low99 < low95


def test_coaching_thresholds_take_quality_floors_only() -> None:
    rules = ruleset(
        quality_rule(op="<=", threshold=0.8),
        quality_rule(name="too_good", op=">", threshold=0.99),  # a ceiling, not a floor
        {
            "name": "rework_high",
            "metric": "rework_rate",
            "window": "1h",
            "op": ">",
            "threshold": 0.1,
            "receivers": ["log"],
        },
    )
    assert coaching_thresholds(rules) == {"audit_pass_rate": (0.8, "rule vendor_quality_low")}


def test_no_contributors() -> None:
    board = leaderboard([], HOUR, RULES, Options())
    assert (board.active, board.ranked, board.top, board.coaching) == (0, 0, [], [])
